package search

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/synth"
	"github.com/cancerimage/cie/internal/testenv"
)

// qThree is the benchmark's three-clause query.
const qThree = `{"ast":{"operand":"AND","children":[
	{"key":"SNOMEDCT263495000","type":"EQUALS","value":"SNOMEDCT248152002"},
	{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40,"max":60}},
	{"key":"RID10311","type":"EQUALS","value":"RID10312"}]}}`

// BenchmarkThreeClauses evaluates a three-clause query (sex, age at diagnosis,
// modality) on the snapshot (logging how long reading it took) of about 10,000 generated studies in one published dataset, indexed with
// index.PutMany (one instance a series, as bench/indexscale does without pixels) and
// their patients' clinical rows imported into the CDM. SQLite; PostgreSQL too when
// CIE_TEST_POSTGRES is set.
func BenchmarkThreeClauses(b *testing.B) {
	urls := map[string]string{"sqlite": b.TempDir() + "/node.db"}
	if pg := os.Getenv("CIE_TEST_POSTGRES"); pg != "" {
		urls["postgres"] = ""
	}
	for _, name := range []string{"sqlite", "postgres"} {
		if _, ok := urls[name]; !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			url := urls[name]
			if name == "postgres" {
				url = testenv.Postgres(b)
			}
			ctx := context.Background()
			db, err := store.OpenMigrated(ctx, url, slog.New(slog.NewTextHandler(io.Discard, nil)), migrations.FS, migrations.Table)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			studies := loadScale(b, db, 4600)
			ev := NewEvaluator(db)
			start := time.Now()
			if err := ev.Warm(ctx); err != nil {
				b.Fatal(err)
			}
			b.Logf("reading the snapshot took %v", time.Since(start))
			q := mustParse(b, qThree)
			res, err := ev.Evaluate(ctx, q)
			if err != nil || len(res) != 1 || res[0].Studies == 0 {
				b.Fatalf("%+v %v", res, err)
			}
			b.Logf("%d studies indexed; the query matches %d studies of %d subjects", studies, res[0].Studies, res[0].Subjects)
			b.ResetTimer()
			for b.Loop() {
				if _, err := ev.Evaluate(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loadScale indexes the plan of patients generated patients (one instance a series) and
// imports their clinical rows, all studies in one published dataset; it returns the
// number of studies.
func loadScale(b *testing.B, db *store.DB, patients int) int {
	ctx := context.Background()
	g, err := synth.New(synth.ScaleOptions("bench", 7, patients))
	if err != nil {
		b.Fatal(err)
	}
	ix := index.New(db)
	var recs []index.Record
	var uids []string
	for p := range g.Patients() {
		for _, st := range p.Studies {
			uids = append(uids, st.UID)
			for _, se := range st.Series {
				recs = append(recs, index.Record{PatientID: p.ID, Sex: p.Sex, StudyUID: st.UID, StudyDate: st.Time.Format("20060102"),
					SeriesUID: se.UID, Modality: se.Modality, BodyPart: se.BodyPart, SOPUID: se.UID + ".1", BlobKey: se.UID})
			}
		}
	}
	for i := 0; i < len(recs); i += 5000 {
		if _, err := ix.PutMany(ctx, recs[i:min(i+5000, len(recs))], time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	var csv bytes.Buffer
	if err := synth.WriteClinicalCSV(&csv, g.Clinical()); err != nil {
		b.Fatal(err)
	}
	mb, err := os.ReadFile("../../app/demo-clinical-mapping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	mapping := strings.Replace(string(mb), "pseudonymized: false", "pseudonymized: true", 1)
	mapping = strings.Replace(mapping, "issuers: [ISSUERS]", "", 1)
	m, err := cdm.ReadMapping(strings.NewReader(mapping))
	if err != nil {
		b.Fatal(err)
	}
	im := &cdm.Importer{Store: cdm.NewStore(db)}
	if rep, err := im.Import(ctx, "bench", cdm.Input{Source: "clinical.csv", Data: &csv, Mapping: m}); err != nil || len(rep.Problems) > 0 {
		b.Fatalf("clinical import: %v %+v", err, rep)
	}
	body, err := json.Marshal(catalogue.Dataset{ID: "bench", Title: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	err = db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO datasets (id, version, state, body, root, tree_key, created_ms, updated_ms)
			VALUES ('bench', 1, 'published', ?, '', '', 0, 0)`, string(body)); err != nil {
			return err
		}
		for _, u := range uids {
			if _, err := tx.Exec(ctx, `INSERT INTO dataset_studies (dataset_id, study_uid) VALUES ('bench', ?)`, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return len(uids)
}
