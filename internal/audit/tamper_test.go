package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transparency-dev/tessera/api/layout"
)

const tamperSize = 300 // one full entry bundle (0..255) and a partial one (256..299)

// bundleFile is the entry bundle file that Verify reads for bundle b.
func bundleFile(dir string, b, size uint64) string {
	if p := layout.PartialTileSize(0, b, size); p > 0 {
		path := filepath.Join(dir, layout.EntriesPath(b, p))
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	return filepath.Join(dir, layout.EntriesPath(b, 0))
}

// rewriteBundle rewrites the entry bundle holding entry index with edit.
func rewriteBundle(t *testing.T, dir string, index uint64, edit func(es [][]byte, i int) [][]byte) {
	t.Helper()
	path := bundleFile(dir, index/256, tamperSize)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	es, err := splitBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	cp := make([][]byte, len(es))
	for i, e := range es {
		cp[i] = bytes.Clone(e)
	}
	if err := os.WriteFile(path, joinBundle(edit(cp, int(index%256))), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(t *testing.T, old, new string) func([][]byte, int) [][]byte {
	return func(es [][]byte, i int) [][]byte {
		if !bytes.Contains(es[i], []byte(old)) {
			t.Fatalf("entry %q does not contain %q", es[i], old)
		}
		es[i] = bytes.Replace(es[i], []byte(old), []byte(new), 1)
		return es
	}
}

// copyDir copies a log directory, leaving out the partial bundles and tiles
// that a full one has superseded (tessera removes them after a while).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "log")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if full, ok := strings.CutSuffix(path, ".p"); ok {
				if _, err := os.Stat(full); err == nil {
					return fs.SkipDir
				}
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestVerifyNamesFirstBadEntry(t *testing.T) {
	src := t.TempDir()
	s, v := testKey(t, "node-a")
	l := openLog(t, src, s, v)
	appendN(t, l, 0, tamperSize)
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(t.Context(), VerifyOptions{Dir: src, LogVerifier: v})
	if err != nil {
		t.Fatalf("Verify on an untouched log: %v", err)
	}
	if rep.Size != tamperSize || rep.FirstBad != -1 || rep.Problem != "" || rep.Checkpoints != 1 {
		t.Fatalf("Verify on an untouched log: %+v", rep)
	}

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   int64
	}{
		{"change entry 7", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 7, replaceIn(t, `"actor":"user-7"`, `"actor":"user-8"`))
		}, 7},
		{"change entry 0", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 0, replaceIn(t, `"subject":"hub"`, `"subject":"bub"`))
		}, 0},
		{"change first entry of partial bundle", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 256, replaceIn(t, `"actor":"user-256"`, `"actor":"user-999"`))
		}, 256},
		{"change last entry", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 299, replaceIn(t, `"ip":"10.0.0.49"`, `"ip":"10.0.0.48"`))
		}, 299},
		{"change last entry of full bundle", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 255, replaceIn(t, `"actor":"user-255"`, `"actor":"user-000"`))
		}, 255},
		{"delete entry 100", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 100, func(es [][]byte, i int) [][]byte { return append(es[:i], es[i+1:]...) })
		}, 100},
		{"delete last entry", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 299, func(es [][]byte, i int) [][]byte { return es[:i] })
		}, 299},
		{"delete partial bundle", func(t *testing.T, dir string) {
			if err := os.Remove(bundleFile(dir, 1, tamperSize)); err != nil {
				t.Fatal(err)
			}
		}, 256},
		{"reorder 50 and 51", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 50, func(es [][]byte, i int) [][]byte { es[i], es[i+1] = es[i+1], es[i]; return es })
		}, 50},
		{"reorder last two", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 298, func(es [][]byte, i int) [][]byte { es[i], es[i+1] = es[i+1], es[i]; return es })
		}, 298},
		{"entry 12 is not JSON", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 12, func(es [][]byte, i int) [][]byte { es[i] = []byte(`{"index":12,`); return es })
		}, 12},
		{"entry 9 claims another index", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 9, replaceIn(t, `"index":9,`, `"index":99,`))
		}, 9},
		{"entry 10 has another prev", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 10, func(es [][]byte, i int) [][]byte {
				e, err := parseEntry(es[i])
				if err != nil {
					t.Fatal(err)
				}
				e.Prev = leafHash(es[3])
				es[i], err = marshalEntry(e)
				if err != nil {
					t.Fatal(err)
				}
				return es
			})
		}, 10},
		{"entry added at the end", func(t *testing.T, dir string) {
			rewriteBundle(t, dir, 299, func(es [][]byte, i int) [][]byte { return append(es, es[i]) })
		}, tamperSize},
		{"change entry 20 and its leaf hash in the hash tile", func(t *testing.T, dir string) {
			// The stored leaf hashes no longer match the signed root, so
			// only the hash chain can pinpoint the entry.
			rewriteBundle(t, dir, 20, replaceIn(t, `"actor":"user-20"`, `"actor":"user-21"`))
			es, _, err := readBundle(dir, 0, tamperSize)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, layout.TilePath(0, 0, 0))
			tile, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			copy(tile[20*32:], leafHash(es[20]))
			if err := os.WriteFile(path, tile, 0o644); err != nil {
				t.Fatal(err)
			}
		}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src)
			tc.tamper(t, dir)
			rep, err := Verify(t.Context(), VerifyOptions{Dir: dir, LogVerifier: v})
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("Verify: %v, want ErrTampered (report %+v)", err, rep)
			}
			if rep.FirstBad != tc.want {
				t.Errorf("FirstBad = %d, want %d; problem: %s", rep.FirstBad, tc.want, rep.Problem)
			}
			if want := fmt.Sprintf("entry %d", tc.want); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
			t.Logf("%s", err)
		})
	}

	t.Run("checkpoint signed by another key", func(t *testing.T) {
		dir := copyDir(t, src)
		_, v2 := testKey(t, "node-a")
		rep, err := Verify(t.Context(), VerifyOptions{Dir: dir, LogVerifier: v2})
		if !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrTampered) || rep.FirstBad != -1 {
			t.Errorf("Verify with another key = %+v, %v", rep, err)
		}
	})
}
