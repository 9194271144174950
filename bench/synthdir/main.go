// Command synthdir writes generated DICOM (internal/synth) to a folder for the
// benchmarks: dir/<patient>/<study>/<series>/<n>.dcm. It stops after -limit
// instances (whole patients are written in parallel, so the last ones may be cut
// short) and prints the counts.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cancerimage/cie/internal/synth"
)

var errLimit = errors.New("limit reached")

func main() {
	out := flag.String("out", "", "output folder (required)")
	node := flag.String("node", "bench", "node name (country of names and identifiers)")
	seed := flag.Uint64("seed", 1, "seed")
	patients := flag.Int("patients", 100, "patients")
	rows := flag.Int("rows", 128, "image rows and columns")
	minS := flag.Int("min-slices", 24, "fewest instances per image series")
	maxS := flag.Int("max-slices", 40, "most instances per image series")
	maxSeries := flag.Int("max-series", 0, "most series per study (0: no cap)")
	seg := flag.Float64("seg", 0, "fraction of studies with a segmentation")
	limit := flag.Int("limit", 0, "stop after this many instances (0: all)")
	flag.Parse()
	if *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	g, err := synth.New(synth.Options{Seed: *seed, Node: *node, Patients: *patients, Rows: *rows, Columns: *rows,
		MinSlices: *minS, MaxSlices: *maxS, MaxSeriesPerStudy: *maxSeries, SEGFraction: *seg})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var next, written, bytes atomic.Int64
	var mu sync.Mutex
	studies, series := map[string]bool{}, map[string]bool{}
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= g.Options().Patients {
					return
				}
				p, _ := g.Patient(i)
				err := g.WalkPatient(p, func(in *synth.Instance) error {
					if *limit > 0 && written.Add(1) > int64(*limit) {
						return errLimit
					} else if *limit == 0 {
						written.Add(1)
					}
					se := in.Series
					path := filepath.Join(*out, p.ID, se.Study.UID, fmt.Sprintf("%03d_%s", se.Number, se.Modality), fmt.Sprintf("%04d.dcm", in.Number))
					if err := synth.WriteFile(path, in.File); err != nil {
						return err
					}
					if st, err := os.Stat(path); err == nil {
						bytes.Add(st.Size())
					}
					mu.Lock()
					studies[se.Study.UID], series[se.UID] = true, true
					mu.Unlock()
					return nil
				})
				if errors.Is(err, errLimit) {
					next.Store(int64(g.Options().Patients))
					return
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n := written.Load()
	if *limit > 0 && n > int64(*limit) {
		n = int64(*limit)
	}
	fmt.Printf("%d instances, %d series, %d studies, %.1f MB in %s\n", n, len(series), len(studies), float64(bytes.Load())/1e6, *out)
}
