// Command indexscale fills a node index on SQLite (or the -db URL) with generated headers
// (synth.ScaleOptions: -patients patients, about 2.2 studies each and 1–3 series of
// 30–56 instances per study; 5,000 patients give about 11,000 studies and 1,090,000
// instances), no pixel storage: synth → index.FromDataset → index.PutMany in batches.
// It reports the load rate and the database size, then runs a QIDO-RS-like query mix
// through index.Search (-n rounds) and prints p50/p99 per query and each query's plan
// (EXPLAIN QUERY PLAN), flagging plans that scan a table.
//
//	go run ./bench/indexscale -patients 5000 -db /tmp/scale.db
//	go run ./bench/indexscale -db /tmp/scale.db -reuse   # queries only, on a filled index
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/synth"
)

func main() {
	dbPath := flag.String("db", "", "SQLite file or postgres:// URL (default: a temporary file)")
	patients := flag.Int("patients", 5000, "patients to generate")
	seed := flag.Uint64("seed", 1, "seed")
	batch := flag.Int("batch", 2000, "instances per PutMany")
	rounds := flag.Int("n", 20, "rounds over the query mix")
	reuse := flag.Bool("reuse", false, "do not load: query the index already in -db")
	flag.Parse()
	ctx := context.Background()
	if *dbPath == "" {
		dir, err := os.MkdirTemp("", "indexscale")
		check(err)
		defer os.RemoveAll(dir)
		*dbPath = filepath.Join(dir, "node.db")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.OpenMigrated(ctx, *dbPath, log, migrations.FS, migrations.Table)
	check(err)
	defer db.Close()
	ix := index.New(db)
	fmt.Printf("CPUs %d, load %s\n", runtime.NumCPU(), loadavg())

	if !*reuse {
		g, err := synth.New(synth.ScaleOptions("oslo", *seed, *patients))
		check(err)
		load(ctx, ix, g, *batch)
		fmt.Printf("database: %s (load %s)\n", dbSize(*dbPath), loadavg())
	}
	c, err := ix.Counts(ctx)
	check(err)
	fmt.Printf("index: %d patients, %d studies, %d series, %d instances\n", c.Patients, c.Studies, c.Series, c.Instances)
	queries(ctx, db, ix, *rounds)
}

// load generates the patients on all CPUs but one and indexes them in batches on one writer.
func load(ctx context.Context, ix *index.Index, g *synth.Generator, batch int) {
	recs := make(chan index.Record, 4*batch)
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := max(1, runtime.NumCPU()-1)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= g.Options().Patients {
					return
				}
				p, _ := g.Patient(i)
				check(g.WalkPatient(p, func(in *synth.Instance) error {
					r, err := index.FromDataset(in.File.Dataset, in.File.TS.UID)
					if err != nil {
						return err
					}
					sum := sha256.Sum256([]byte(r.SOPUID))
					r.Size, r.SHA256, r.Source = 150_000, hex.EncodeToString(sum[:]), "scale"
					r.BlobKey = "dicom/" + r.StudyUID + "/" + r.SeriesUID + "/" + r.SOPUID + ".dcm"
					recs <- r
					return nil
				}))
			}
		}()
	}
	go func() { wg.Wait(); close(recs) }()
	start := time.Now()
	var n, added int
	var putTime time.Duration
	buf := make([]index.Record, 0, batch)
	flush := func() {
		t := time.Now()
		k, err := ix.PutMany(ctx, buf, time.Now())
		check(err)
		putTime += time.Since(t)
		added += k
		buf = buf[:0]
	}
	last := time.Now()
	for r := range recs {
		buf = append(buf, r)
		n++
		if len(buf) == batch {
			flush()
		}
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			fmt.Printf("  %d instances, %.0f/s (load %s)\n", n, float64(n)/time.Since(start).Seconds(), loadavg())
		}
	}
	if len(buf) > 0 {
		flush()
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("loaded %d instances (%d new) in %.1f s: %.0f instances/s overall (generation on %d CPUs in parallel), %.0f instances/s in PutMany alone (%.1f s), batches of %d\n",
		n, added, secs, float64(n)/secs, workers, float64(n)/putTime.Seconds(), putTime.Seconds(), batch)
}

type namedQuery struct {
	name string
	q    index.Query
}

// queries samples values from the index and runs the mix.
func queries(ctx context.Context, db *store.DB, ix *index.Index, rounds int) {
	type study struct{ uid, pid, name, date, acc, mods string }
	rows, err := db.Query(ctx, `SELECT study_uid, patient_id, patient_name, study_date, accession, modalities FROM studies ORDER BY study_uid`)
	check(err)
	var all []study
	for rows.Next() {
		var s study
		check(rows.Scan(&s.uid, &s.pid, &s.name, &s.date, &s.acc, &s.mods))
		all = append(all, s)
	}
	check(rows.Err())
	rows.Close()
	if len(all) < 10 {
		check(fmt.Errorf("only %d studies", len(all)))
	}
	var series []string
	rows, err = db.Query(ctx, `SELECT series_uid FROM series ORDER BY series_uid LIMIT 10`)
	check(err)
	for rows.Next() {
		var s string
		check(rows.Scan(&s))
		series = append(series, s)
	}
	rows.Close()
	const k = 10
	var mix []namedQuery
	m := func(kv ...any) map[dicom.Tag]string {
		out := map[dicom.Tag]string{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(dicom.Tag)] = kv[i+1].(string)
		}
		return out
	}
	for i := range k {
		st := all[(2*i+1)*len(all)/(2*k)]
		name, _, _ := strings.Cut(st.name, "^")
		if r := []rune(name); len(r) > 5 {
			name = string(r[:5])
		}
		d, _ := time.Parse("20060102", st.date)
		mix = append(mix,
			namedQuery{"PatientID exact", index.Query{Match: m(tags.PatientID, st.pid), Limit: 100}},
			namedQuery{"PatientName wildcard", index.Query{Match: m(tags.PatientName, name+"*"), Limit: 100}},
			namedQuery{"StudyDate range (1 week)", index.Query{Match: m(tags.StudyDate, d.AddDate(0, 0, -7).Format("20060102")+"-"+st.date), Limit: 100}},
			namedQuery{"ModalitiesInStudy", index.Query{Match: m(tags.ModalitiesInStudy, []string{"CT", "MR", "PT"}[i%3]), Limit: 100}},
			namedQuery{"AccessionNumber", index.Query{Match: m(tags.AccessionNumber, st.acc), Limit: 100}},
			namedQuery{"paging (limit/offset)", index.Query{Limit: 100, Offset: i * len(all) / k}},
			namedQuery{"CT in date range (1 year)", index.Query{Match: m(tags.ModalitiesInStudy, "CT", tags.StudyDate, d.AddDate(-1, 0, 0).Format("20060102")+"-"+st.date), Limit: 100}},
			namedQuery{"series of a study", index.Query{Level: index.SeriesLevel, StudyUID: st.uid}},
			namedQuery{"instances of a series", index.Query{Level: index.InstanceLevel, StudyUID: st.uid, SeriesUID: firstSeries(ctx, db, st.uid)}},
			namedQuery{"SOPInstanceUID lookup", index.Query{Level: index.InstanceLevel, Match: m(tags.SOPInstanceUID, firstInstance(ctx, db, st.uid))}},
		)
	}
	lat := map[string][]time.Duration{}
	hits := map[string]int{}
	var overall []time.Duration
	for r := range rounds {
		for _, nq := range mix {
			t := time.Now()
			res, err := ix.Search(ctx, nq.q)
			d := time.Since(t)
			check(err)
			lat[nq.name] = append(lat[nq.name], d)
			overall = append(overall, d)
			if r == 0 {
				hits[nq.name] += len(res)
			}
		}
	}
	fmt.Printf("query mix, %d rounds × %d queries (load %s):\n", rounds, len(mix), loadavg())
	fmt.Printf("  %-28s %9s %9s %8s\n", "query", "p50 ms", "p99 ms", "results")
	seen := map[string]bool{}
	for _, nq := range mix {
		if seen[nq.name] {
			continue
		}
		seen[nq.name] = true
		fmt.Printf("  %-28s %9.3f %9.3f %8d\n", nq.name, pct(lat[nq.name], 50), pct(lat[nq.name], 99), hits[nq.name]/k)
	}
	fmt.Printf("  %-28s %9.3f %9.3f\n", "overall", pct(overall, 50), pct(overall, 99))
	fmt.Println("plans:")
	seen = map[string]bool{}
	for _, nq := range mix {
		if seen[nq.name] {
			continue
		}
		seen[nq.name] = true
		plan, err := ix.Plan(ctx, nq.q)
		check(err)
		flag := ""
		for _, l := range plan {
			if strings.HasPrefix(l, "SCAN ") && !strings.Contains(l, " USING ") || strings.Contains(l, "Seq Scan") {
				flag = "  <-- scans"
			}
		}
		fmt.Printf("  %s%s\n", nq.name, flag)
		for _, l := range plan {
			fmt.Printf("      %s\n", l)
		}
	}
}

func firstSeries(ctx context.Context, db *store.DB, study string) string {
	var s string
	check(db.QueryRow(ctx, `SELECT series_uid FROM series WHERE study_uid = ? ORDER BY series_uid LIMIT 1`, study).Scan(&s))
	return s
}

func firstInstance(ctx context.Context, db *store.DB, study string) string {
	var s string
	check(db.QueryRow(ctx, `SELECT sop_uid FROM instances WHERE study_uid = ? ORDER BY sop_uid LIMIT 1`, study).Scan(&s))
	return s
}

func pct(l []time.Duration, p int) float64 {
	s := append([]time.Duration(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Microseconds()) / 1000
}

func dbSize(path string) string {
	var total int64
	for _, suf := range []string{"", "-wal", "-shm"} {
		if st, err := os.Stat(path + suf); err == nil {
			total += st.Size()
		}
	}
	return fmt.Sprintf("%.0f MB (with WAL)", float64(total)/1e6)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "indexscale:", err)
		os.Exit(1)
	}
}
