package pixel

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/testenv"
)

var (
	corpusOnce  sync.Once
	corpusFiles []testenv.CorpusFile
)

// corpusPath returns the path of the corpus file with the given source and base name,
// failing the test when the corpus is installed but the file is not (skipping or failing
// as testenv.Corpus decides when the corpus is missing).
func corpusPath(t testing.TB, source, name string) string {
	t.Helper()
	files := testenv.Corpus(t)
	for _, f := range files {
		if f.Source == source && (filepath.Base(f.Path) == name || filepath.Base(f.Path) == filepath.Base(name) && filepath.Ext(name) == "") {
			return f.Path
		}
	}
	t.Fatalf("corpus %s has no file %s", source, name)
	return ""
}

// openFrames parses a corpus file and opens its frames.
func openFrames(t testing.TB, source, name string) *Frames {
	t.Helper()
	f := parseCorpus(t, source, name)
	fr, err := Open(f)
	if err != nil {
		t.Fatalf("%s: Open: %v", name, err)
	}
	return fr
}

// parseCorpus parses a corpus file.
func parseCorpus(t testing.TB, source, name string) *dicom.File {
	t.Helper()
	f, c, err := dicom.ParseFile(corpusPath(t, source, name), dicom.ParseOptions{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return f
}

// decode decodes frame i of a corpus file.
func decode(t testing.TB, source, name string, i int) *Samples {
	t.Helper()
	s, err := openFrames(t, source, name).Decode(i)
	if err != nil {
		t.Fatalf("%s frame %d: Decode: %v", name, i, err)
	}
	return s
}

// maxDiff returns the largest absolute difference between two sample sets of the same
// shape, failing the test if the shapes differ.
func maxDiff(t testing.TB, a, b *Samples) int64 {
	t.Helper()
	if a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels || len(a.Data) != len(b.Data) {
		t.Fatalf("shapes differ: %d×%d×%d vs %d×%d×%d", a.Width, a.Height, a.Channels, b.Width, b.Height, b.Channels)
	}
	var m int64
	for k := range a.Data {
		d := a.Data[k] - b.Data[k]
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}
