package search

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/node/search/searchscale"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/testenv"
)

// qThree is the benchmark's three-clause query.
const qThree = `{"ast":{"operand":"AND","children":[
	{"key":"SNOMEDCT263495000","type":"EQUALS","value":"SNOMEDCT248152002"},
	{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40,"max":60}},
	{"key":"RID10311","type":"EQUALS","value":"RID10312"}]}}`

// BenchmarkThreeClauses evaluates a three-clause query (sex, age at diagnosis,
// modality) on the snapshot (logging how long reading it took) of about 10,000
// generated studies in one published dataset, made by package searchscale. SQLite;
// PostgreSQL too when CIE_TEST_POSTGRES is set.
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
			mapping, err := os.ReadFile("../../app/demo-clinical-mapping.yaml")
			if err != nil {
				b.Fatal(err)
			}
			studies, err := searchscale.Fill(ctx, db, "bench", 7, 4600, string(mapping))
			if err != nil {
				b.Fatal(err)
			}
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
