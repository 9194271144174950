package search

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/archive/archivetest"
	"github.com/cancerimage/cie/internal/node/dataset"
	"github.com/cancerimage/cie/internal/synth"
	"github.com/cancerimage/cie/internal/testenv"
)

// The demo's seed and node (internal/app: DemoSeed, DemoSynth), with tiny images and
// few slices: the plan of patients, studies and series is what the test needs.
const (
	demoSeed     = 20261122
	demoNode     = "oslo"
	demoPatients = 50
)

// row is one generated series as the test knows it from the generator and the files,
// never from the node's SQL.
type row struct {
	p      *synth.Patient
	st     *synth.Study
	se     *synth.Series
	issuer string // Issuer of Patient ID of the study's files
	manu   string // Manufacturer of the series' files
}

// fixture is a node store filled with the demo's generated data: the files ingested
// through the archive (de-identification included), the clinical table imported with
// the demo's mapping, and three datasets: CT studies and MR studies (published) and
// every study (a draft, which no search may see).
type fixture struct {
	a    *archive.Archive
	ev   *Evaluator
	rows []row
	ct   string // dataset IDs
	mr   string
}

func newFixture(t testing.TB, dbURL string) *fixture {
	t.Helper()
	ctx := context.Background()
	o := synth.DemoOptions(demoNode, demoSeed)
	o.Patients, o.MaxSeriesPerStudy, o.SourceAE = demoPatients, 3, "DEMO-PACS"
	o.Rows, o.Columns, o.MinSlices, o.MaxSlices = 8, 8, 1, 2
	g, err := synth.New(o)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{a: archivetest.OpenDB(t, dbURL)}
	f.ev = NewEvaluator(f.a.DB())
	issuers := map[string]string{} // study UID → issuer
	manus := map[string]string{}   // series UID → manufacturer
	var buf bytes.Buffer
	err = g.Walk(func(in *synth.Instance) error {
		issuers[in.Series.Study.UID] = in.File.Dataset.Text(tags.IssuerOfPatientID)
		manus[in.Series.UID] = in.File.Dataset.Text(tags.Manufacturer)
		buf.Reset()
		if _, err := in.File.WriteTo(&buf); err != nil {
			return err
		}
		out, err := f.a.Ingest(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), archive.Source{Kind: "ingest", Name: in.SOPInstanceUID})
		if err != nil {
			return err
		}
		if out.Status != archive.Stored {
			t.Fatalf("instance %s: %+v", in.SOPInstanceUID, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range g.Patients() {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				f.rows = append(f.rows, row{p: p, st: st, se: se, issuer: issuers[st.UID], manu: manus[se.UID]})
			}
		}
	}

	// The clinical table with the demo's mapping.
	var csv bytes.Buffer
	if err := synth.WriteClinicalCSV(&csv, g.Clinical()); err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile("../../app/demo-clinical-mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := cdm.ReadMapping(strings.NewReader(strings.Replace(string(mb), "ISSUERS", strings.Join(g.PatientIDIssuers(), ", "), 1)))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := deid.NewPseudonyms(archivetest.Key)
	if err != nil {
		t.Fatal(err)
	}
	im := &cdm.Importer{Store: cdm.NewStore(f.a.DB()), Identity: cdm.Identity{Pseudonyms: ps}}
	rep, err := im.Import(ctx, "test", cdm.Input{Source: "clinical.csv", Data: &csv, Mapping: m})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("clinical import: %+v", rep.Problems)
	}

	ds := dataset.NewStore(f.a.DB(), f.a.Index(), f.a, f.a.Blobs(), f.a.Audit(), demoNode)
	studiesWith := func(mod string) []string {
		rows, err := f.a.DB().Query(ctx, `SELECT study_uid FROM studies WHERE modalities LIKE ? ORDER BY study_uid`, "%"+mod+"%")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	mk := func(title string, studies []string, publish bool) string {
		meta := catalogue.Dataset{
			Title: title, Description: "Generated data.", Keywords: []string{"demo"},
			CancerTypes:  []catalogue.Code{catalogue.Terms(catalogue.KindCancerType)[0].Code},
			BodyParts:    []catalogue.Code{catalogue.Terms(catalogue.KindBodyPart)[0].Code},
			AccessRights: catalogue.AccessRestricted, License: "https://creativecommons.org/licenses/by-nc/4.0/",
			Contact:      catalogue.Contact{Name: "Data desk", Email: "data@example.org"},
			Publisher:    catalogue.Publisher{Name: "Example Hospital", URL: "https://hospital.example.org"},
			InteropLevel: catalogue.Tier2,
		}
		d, err := ds.Create(ctx, "holder", meta, studies)
		if err != nil {
			t.Fatal(err)
		}
		if publish {
			if _, err := ds.Apply(ctx, "holder", d.ID, catalogue.ActionPublish); err != nil {
				t.Fatal(err)
			}
		}
		return d.ID
	}
	f.ct = mk("CT studies", studiesWith("CT"), true)
	f.mr = mk("MR studies", studiesWith("MR"), true)
	mk("Everything (draft)", studiesWith(""), false)
	return f
}

// inDataset reports whether a generated study belongs to a dataset of the fixture.
func (f *fixture) inDataset(id string, st *synth.Study) bool {
	mod := map[string]string{f.ct: "CT", f.mr: "MR"}[id]
	for _, se := range st.Series {
		if se.Modality == mod {
			return true
		}
	}
	return false
}

// expect counts, from the generator alone, the studies of dataset id with a series
// for which match holds, and their subjects: distinct (Patient ID, issuer) pairs, for
// a patient's studies under another Issuer of Patient ID get another pseudonym.
func (f *fixture) expect(id string, match func(r row) bool) (subjects, studies int) {
	subj, stud := map[string]bool{}, map[*synth.Study]bool{}
	for _, r := range f.rows {
		if f.inDataset(id, r.st) && match(r) {
			stud[r.st] = true
			subj[r.p.ID+"\x00"+r.issuer] = true
		}
	}
	return len(subj), len(stud)
}

// engines runs fn with a demo fixture on SQLite and on PostgreSQL.
func engines(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, e := range []struct {
		name string
		url  func(t testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return t.TempDir() + "/node.db" }},
		{"postgres", testenv.Postgres},
	} {
		t.Run(e.name, func(t *testing.T) {
			fn(t, newFixture(t, e.url(t)))
		})
	}
}
