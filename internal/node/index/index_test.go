package index

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/testenv"
)

// engines runs fn on a fresh index in SQLite and in PostgreSQL.
func engines(t *testing.T, fn func(t *testing.T, ix *Index)) {
	for _, e := range []struct {
		name string
		url  func(t testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "node.db") }},
		{"postgres", testenv.Postgres},
	} {
		t.Run(e.name, func(t *testing.T) {
			db, err := store.OpenMigrated(context.Background(), e.url(t), slog.New(slog.NewTextHandler(io.Discard, nil)), migrations.FS, migrations.Table)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, New(db))
		})
	}
}

func intp(n int) *int { return &n }

// fill indexes 3 patients × 2 studies × (CT, and MR or PT) series × 3 instances.
func fill(t *testing.T, ix *Index) {
	ctx := context.Background()
	for p := 1; p <= 3; p++ {
		for s := 1; s <= 2; s++ {
			for se, mod := range []string{"CT", map[int]string{1: "MR", 2: "PT"}[s]} {
				for i := 1; i <= 3; i++ {
					r := Record{
						PatientID: fmt.Sprintf("CIE%03d", p), PatientName: fmt.Sprintf("Pseudo^Patient%d", p), Sex: "F",
						StudyUID: fmt.Sprintf("2.25.%d%d", p, s), StudyDate: fmt.Sprintf("2020%02d15", p*3+s), StudyTime: "101500",
						Accession: fmt.Sprintf("ACC%d%d", p, s), StudyDesc: "CT chest [staging]",
						SeriesUID: fmt.Sprintf("2.25.%d%d%d", p, s, se), Modality: mod, SeriesNumber: intp(se + 1),
						SOPUID: fmt.Sprintf("2.25.%d%d%d%d", p, s, se, i), SOPClassUID: "1.2.840.10008.5.1.4.1.1.2",
						InstanceNumber: intp(i), Size: 1000, BlobKey: fmt.Sprintf("k/%d%d%d%d", p, s, se, i),
					}
					added, err := ix.Put(ctx, r, time.Now())
					if err != nil || !added {
						t.Fatalf("put %s: added %v, %v", r.SOPUID, added, err)
					}
				}
			}
		}
	}
}

func TestPutAndSearch(t *testing.T) {
	engines(t, func(t *testing.T, ix *Index) {
		ctx := context.Background()
		fill(t, ix)
		// The same instance again is indexed once.
		if added, err := ix.Put(ctx, Record{PatientID: "CIE001", StudyUID: "2.25.11", SeriesUID: "2.25.110", SOPUID: "2.25.1101", BlobKey: "x"}, time.Now()); err != nil || added {
			t.Fatalf("duplicate put: added %v, %v", added, err)
		}
		c, err := ix.Counts(ctx)
		if err != nil || c != (Counts{Patients: 3, Studies: 6, Series: 12, Instances: 36, Bytes: 36000}) {
			t.Fatalf("counts %+v, %v", c, err)
		}
		count := func(q Query) int {
			t.Helper()
			m, err := ix.Search(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			return len(m)
		}
		for _, c := range []struct {
			name string
			q    Query
			want int
		}{
			{"all studies", Query{}, 6},
			{"patient id", Query{Match: map[dicom.Tag]string{tags.PatientID: "CIE002"}}, 2},
			{"patient id wildcard", Query{Match: map[dicom.Tag]string{tags.PatientID: "CIE00?"}}, 6},
			{"patient id wildcard is case-sensitive", Query{Match: map[dicom.Tag]string{tags.PatientID: "cie*"}}, 0},
			{"patient name is not", Query{Match: map[dicom.Tag]string{tags.PatientName: "pseudo^patient1"}}, 2},
			{"patient name wildcard", Query{Match: map[dicom.Tag]string{tags.PatientName: "PSEUDO*2"}}, 2},
			{"patient name prefix", Query{Match: map[dicom.Tag]string{tags.PatientName: "pseudo^pat*"}}, 6},
			{"patient name prefix and ?", Query{Match: map[dicom.Tag]string{tags.PatientName: "PSEUDO^PATIENT?"}}, 6},
			{"patient name prefix of one", Query{Match: map[dicom.Tag]string{tags.PatientName: "Pseudo^Patient3*"}}, 2},
			{"patient name prefix of none", Query{Match: map[dicom.Tag]string{tags.PatientName: "Pseudo^Patient4*"}}, 0},
			{"literal bracket in a wildcard", Query{Match: map[dicom.Tag]string{tags.StudyDescription: "*[staging]"}}, 6},
			{"date range", Query{Match: map[dicom.Tag]string{tags.StudyDate: "20200401-20200731"}}, 3},
			{"open date range", Query{Match: map[dicom.Tag]string{tags.StudyDate: "20200801-"}}, 3},
			{"time range", Query{Match: map[dicom.Tag]string{tags.StudyTime: "1000-1015"}}, 6},
			{"uid list", Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: `2.25.11\2.25.32`}}, 2},
			{"uid list with commas", Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: "2.25.11,2.25.32,2.25.99"}}, 2},
			{"modalities in study", Query{Match: map[dicom.Tag]string{tags.ModalitiesInStudy: "PT"}}, 3},
			{"modalities list", Query{Match: map[dicom.Tag]string{tags.ModalitiesInStudy: `MR\PT`}}, 6},
			{"limit", Query{Limit: 4}, 4},
			{"offset", Query{Limit: 4, Offset: 4}, 2},
			{"series of a study", Query{Level: SeriesLevel, StudyUID: "2.25.21"}, 2},
			{"series by modality", Query{Level: SeriesLevel, Match: map[dicom.Tag]string{tags.Modality: "CT"}}, 6},
			{"series by study attribute", Query{Level: SeriesLevel, Match: map[dicom.Tag]string{tags.PatientID: "CIE003", tags.Modality: "MR"}}, 1},
			{"instances of a series", Query{Level: InstanceLevel, StudyUID: "2.25.21", SeriesUID: "2.25.210"}, 3},
			{"instance by number", Query{Level: InstanceLevel, Match: map[dicom.Tag]string{tags.InstanceNumber: "2", tags.Modality: "PT"}}, 3},
		} {
			if got := count(c.q); got != c.want {
				t.Errorf("%s: %d matches, want %d", c.name, got, c.want)
			}
		}
		m, err := ix.Search(ctx, Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: "2.25.12"}})
		if err != nil || len(m) != 1 || m[0].Study.Modalities != `CT\PT` || m[0].Study.NumSeries != 2 || m[0].Study.NumInstances != 6 {
			t.Fatalf("study 2.25.12: %+v, %v", m, err)
		}
		if _, err := ix.Search(ctx, Query{Match: map[dicom.Tag]string{tags.Modality: "CT"}}); err == nil {
			t.Error("a series attribute matched at study level")
		}
		if _, err := ix.Search(ctx, Query{Match: map[dicom.Tag]string{tags.StudyDate: "2020-01-01"}}); err == nil {
			t.Error("a date with dashes accepted as a range")
		}
		in, err := ix.Instances(ctx, "2.25.11", "2.25.110", "")
		if err != nil || len(in) != 3 || *in[0].InstanceNumber != 1 {
			t.Fatalf("instances: %+v, %v", in, err)
		}
		if _, err := ix.Instances(ctx, "2.25.99", "", ""); err == nil {
			t.Error("instances of an unknown study")
		}
	})
}

func TestFromDataset(t *testing.T) {
	for _, cf := range testenv.Corpus(t) {
		if filepath.Base(cf.Path) != "CT_small.dcm" {
			continue
		}
		f, c, err := dicom.ParseFile(cf.Path, dicom.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r, err := FromDataset(f.Dataset, f.TS.UID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Manufacturer != "GE MEDICAL SYSTEMS" {
			t.Errorf("manufacturer %q", r.Manufacturer)
		}
		if r.Modality != "CT" || r.Rows != 128 || r.Columns != 128 || r.Frames != 1 || r.PatientName != "CompressedSamples^CT1" || r.StudyDate != "20040119" {
			t.Errorf("record %+v", r)
		}
		f.Dataset.Delete(tags.SOPInstanceUID)
		if _, err := FromDataset(f.Dataset, f.TS.UID); err == nil {
			t.Error("a data set without SOP Instance UID indexed")
		}
		return
	}
	t.Fatal("CT_small.dcm not in the corpus")
}

// TestManufacturer finds a series' manufacturer in the index as indexed.
func TestManufacturer(t *testing.T) {
	engines(t, func(t *testing.T, ix *Index) {
		ctx := context.Background()
		r := Record{PatientID: "P", StudyUID: "2.25.1", SeriesUID: "2.25.2", SOPUID: "2.25.3", Modality: "MR",
			Manufacturer: "SIEMENS", BlobKey: "k"}
		if _, err := ix.Put(ctx, r, time.Now()); err != nil {
			t.Fatal(err)
		}
		var m string
		if err := ix.db.QueryRow(ctx, `SELECT manufacturer FROM series WHERE series_uid = ?`, "2.25.2").Scan(&m); err != nil || m != "SIEMENS" {
			t.Fatalf("manufacturer %q, %v", m, err)
		}
	})
}

// TestPutManyCounts indexes in batches what fill indexes one by one (with a duplicate in
// a batch and one of an earlier batch) and finds the same counts and modalities.
func TestPutManyCounts(t *testing.T) {
	engines(t, func(t *testing.T, ix *Index) {
		ctx := context.Background()
		var recs []Record
		for p := 1; p <= 3; p++ {
			for s := 1; s <= 2; s++ {
				for se, mod := range []string{"CT", map[int]string{1: "MR", 2: "PT"}[s]} {
					for i := 1; i <= 3; i++ {
						recs = append(recs, Record{PatientID: fmt.Sprintf("CIE%03d", p), StudyUID: fmt.Sprintf("2.25.%d%d", p, s),
							SeriesUID: fmt.Sprintf("2.25.%d%d%d", p, s, se), Modality: mod, SOPUID: fmt.Sprintf("2.25.%d%d%d%d", p, s, se, i),
							Size: 1000, BlobKey: "k"})
					}
				}
			}
		}
		first := append(append([]Record(nil), recs[:20]...), recs[3]) // a duplicate in the batch
		if n, err := ix.PutMany(ctx, first, time.Now()); err != nil || n != 20 {
			t.Fatalf("first batch: %d added, %v", n, err)
		}
		if n, err := ix.PutMany(ctx, recs[10:], time.Now()); err != nil || n != len(recs)-20 {
			t.Fatalf("second batch: %d added, %v", n, err)
		}
		c, err := ix.Counts(ctx)
		if err != nil || c != (Counts{Patients: 3, Studies: 6, Series: 12, Instances: 36, Bytes: 36000}) {
			t.Fatalf("counts %+v, %v", c, err)
		}
		for _, m := range mustSearch(t, ix, Query{Level: SeriesLevel}) {
			if m.Series.NumInstances != 3 || m.Study.NumInstances != 6 || m.Study.NumSeries != 2 {
				t.Errorf("series %s: %d instances, study %d instances in %d series", m.Series.UID, m.Series.NumInstances, m.Study.NumInstances, m.Study.NumSeries)
			}
		}
		m := mustSearch(t, ix, Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: "2.25.22"}})
		if len(m) != 1 || m[0].Study.Modalities != `CT\PT` {
			t.Fatalf("study 2.25.22: %+v", m)
		}
		var studies int
		if err := ix.db.QueryRow(ctx, `SELECT SUM(num_studies) FROM patients`).Scan(&studies); err != nil || studies != 6 {
			t.Fatalf("patients' studies: %d, %v", studies, err)
		}
	})
}

func mustSearch(t *testing.T, ix *Index, q Query) []Match {
	t.Helper()
	m, err := ix.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestScopedSearch: a scoped search sees only the studies of the datasets
// named, at every level, and nothing when no dataset is named.
func TestScopedSearch(t *testing.T) {
	engines(t, func(t *testing.T, ix *Index) {
		ctx := context.Background()
		fill(t, ix)
		for id, studies := range map[string][]string{"d1": {"2.25.11", "2.25.21"}, "d2": {"2.25.21", "2.25.32"}} {
			if _, err := ix.db.Exec(ctx, `INSERT INTO datasets (id, version, state, body, root, tree_key, created_ms, updated_ms)
				VALUES (?, 1, 'published', '{}', '', '', 0, 0)`, id); err != nil {
				t.Fatal(err)
			}
			for _, s := range studies {
				if _, err := ix.db.Exec(ctx, `INSERT INTO dataset_studies (dataset_id, study_uid) VALUES (?, ?)`, id, s); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, c := range []struct {
			name string
			q    Query
			want int
		}{
			{"unscoped", Query{}, 6},
			{"one dataset", Query{Scoped: true, Datasets: []string{"d1"}}, 2},
			{"two datasets overlap", Query{Scoped: true, Datasets: []string{"d1", "d2"}}, 3},
			{"unknown dataset", Query{Scoped: true, Datasets: []string{"nope"}}, 0},
			{"no dataset", Query{Scoped: true}, 0},
			{"series", Query{Level: SeriesLevel, Scoped: true, Datasets: []string{"d2"}}, 4},
			{"series of a study outside", Query{Level: SeriesLevel, StudyUID: "2.25.12", Scoped: true, Datasets: []string{"d1", "d2"}}, 0},
			{"instances with a match", Query{Level: InstanceLevel, Scoped: true, Datasets: []string{"d1"}, Match: map[dicom.Tag]string{tags.Modality: "CT"}}, 6},
		} {
			m, err := ix.Search(ctx, c.q)
			if err != nil || len(m) != c.want {
				t.Errorf("%s: %d matches (%v), want %d", c.name, len(m), err, c.want)
			}
		}
	})
}

// TestStudiesIngested: the studies of instances stored from a source in a time window.
func TestStudiesIngested(t *testing.T) {
	engines(t, func(t *testing.T, ix *Index) {
		ctx := context.Background()
		t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		for i, r := range []struct {
			study, source string
			at            time.Time
		}{{"2.25.1", "stow", t0}, {"2.25.1", "stow", t0.Add(time.Second)}, {"2.25.2", "stow", t0.Add(2 * time.Second)},
			{"2.25.3", "upload", t0.Add(time.Second)}, {"2.25.4", "stow", t0.Add(time.Hour)}} {
			if _, err := ix.Put(ctx, Record{PatientID: "P", StudyUID: r.study, SeriesUID: r.study + ".1", SOPUID: fmt.Sprintf("%s.1.%d", r.study, i),
				BlobKey: fmt.Sprint(i), Source: r.source}, r.at); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ix.StudiesIngested(ctx, "stow", t0, t0.Add(time.Minute))
		if err != nil || fmt.Sprint(got) != "[2.25.1 2.25.2]" {
			t.Fatalf("studies ingested: %v %v", got, err)
		}
	})
}

// TestConcurrentModalities: series of one study with different modalities indexed by
// concurrent writers (as several associations do) all end up in the study's
// Modalities in Study, and its counts add up.
func TestConcurrentModalities(t *testing.T) {
	engines(t, func(t *testing.T, ix *Index) {
		ctx := context.Background()
		mods := []string{"CT", "MR", "PT", "SEG", "US", "NM", "CR", "DX"}
		for round := range 5 {
			study := fmt.Sprintf("2.25.9%d", round)
			var wg sync.WaitGroup
			errs := make(chan error, len(mods))
			for i, m := range mods {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var recs []Record
					for j := range 3 {
						recs = append(recs, Record{PatientID: "CIE9", StudyUID: study, SeriesUID: fmt.Sprintf("%s.%d", study, i),
							Modality: m, SOPUID: fmt.Sprintf("%s.%d.%d", study, i, j), Size: 10, BlobKey: "k"})
					}
					_, err := ix.PutMany(ctx, recs, time.Now())
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			m := mustSearch(t, ix, Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: study}})
			want := append([]string(nil), mods...)
			sort.Strings(want)
			if len(m) != 1 || m[0].Study.Modalities != strings.Join(want, `\`) || m[0].Study.NumSeries != len(mods) || m[0].Study.NumInstances != 3*len(mods) {
				t.Fatalf("round %d: %+v", round, m)
			}
		}
	})
}
