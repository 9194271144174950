package archive

import (
	"bytes"
	"context"
	"sync"
	"testing"
)

// TestConcurrentIngestsShareIndexWrites: many ingests at once, each instance sent twice,
// on every backend: each instance is indexed once, reported stored once and a duplicate
// once, and the study counts add up.
func TestConcurrentIngestsShareIndexWrites(t *testing.T) {
	files := synthFiles(t, 16)
	backends(t, withPacks|withFiles, func(t *testing.T, a *Archive) {
		ctx := context.Background()
		var mu sync.Mutex
		status := map[string][]Status{}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range files {
					f := files[(i+w*2)%len(files)]
					out, err := a.Ingest(ctx, bytes.NewReader(f), int64(len(f)), Source{Kind: "test"})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					status[out.SOPUID] = append(status[out.SOPUID], out.Status)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(status) != len(files) {
			t.Fatalf("%d instances ingested, want %d", len(status), len(files))
		}
		for sop, st := range status {
			stored := 0
			for _, s := range st {
				if s == Stored {
					stored++
				} else if s != Duplicate {
					t.Errorf("%s: %s", sop, s)
				}
			}
			if stored != 1 || len(st) != 8 {
				t.Errorf("%s: %v, want stored once of 8", sop, st)
			}
			in, err := a.ix.Get(ctx, sop)
			if err != nil {
				t.Fatal(err)
			}
			if why := a.check(ctx, in); why != "" {
				t.Errorf("%s: %s", sop, why)
			}
		}
		c, err := a.ix.Counts(ctx)
		if err != nil || int(c.Instances) != len(files) {
			t.Fatalf("index counts %+v, %v; want %d instances", c, err, len(files))
		}
	})
}
