package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/testenv"
)

// TestDeidCommand runs `cie deid` on corpus files: it needs a key, prints a
// summary, writes a report that accounts for every file, keeps quarantined
// files out of the output, and writes the re-identification map encrypted.
func TestDeidCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	n := 0
	for _, cf := range testenv.Corpus(t) {
		if cf.Source != "pydicom" || n >= 60 {
			continue
		}
		b, err := os.ReadFile(cf.Path)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(in, "Doe^John", filepath.Base(cf.Path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		n++
	}
	out := filepath.Join(dir, "out")
	if msg := cie(t, true, "deid", in, out); !strings.Contains(msg, "--key-file is required") {
		t.Fatalf("without a key: %s", msg)
	}
	key := filepath.Join(dir, "deid.key")
	writeFile(t, key, "a-pseudonym-key-of-at-least-32-bytes-for-tests\n")
	holder := filepath.Join(dir, "holder.key")
	writeFile(t, holder, "the-data-holders-own-secret-key-of-32-bytes+\n")
	if msg := cie(t, true, "deid", in, out, "--key-file", key, "--option", "no-such-option"); !strings.Contains(msg, `unknown option "no-such-option"`) {
		t.Fatalf("bad option: %s", msg)
	}
	report := filepath.Join(dir, "report.json")
	reid := filepath.Join(dir, "reid.map")
	stdout, _ := run(t, false, "deid", in, out, "--key-file", key, "--report", report, "--option", "modified-dates",
		"--reid-map", reid, "--reid-key", holder, "-j", "2")
	if !strings.Contains(stdout, "files in,") || !strings.Contains(stdout, "quarantined in") {
		t.Fatalf("summary: %s", stdout)
	}
	var rep struct {
		FilesIn     int `json:"files_in"`
		FilesOut    int `json:"files_out"`
		Quarantined int `json:"quarantined"`
		Duplicates  int `json:"duplicates"`
		Files       []struct{ Input, Output, Status, Reason string }
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.FilesIn != n || rep.FilesIn != rep.FilesOut+rep.Quarantined+rep.Duplicates || len(rep.Files) != n || rep.FilesOut == 0 {
		t.Fatalf("report: %d in (%d files), %d out, %d quarantined, %d duplicates", rep.FilesIn, n, rep.FilesOut, rep.Quarantined, rep.Duplicates)
	}
	// Nothing in the output folder is named after the input, and the
	// quarantine is beside it, not in it.
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(p, "Doe") {
			t.Errorf("output path carries the input's name: %s", p)
		}
		return nil
	})
	if _, err := os.Stat(out + "-quarantine"); err != nil {
		t.Fatalf("quarantine folder: %v", err)
	}
	if m, _ := os.ReadFile(reid); len(m) == 0 || strings.Contains(string(m), "pseudonym") {
		t.Fatalf("re-identification map missing or in clear")
	}
	// The same key again: the same output paths.
	out2 := filepath.Join(dir, "out2")
	run(t, false, "deid", in, out2, "--key-file", key, "--option", "modified-dates", "-q")
	for _, f := range rep.Files {
		if f.Status == "ok" {
			if _, err := os.Stat(filepath.Join(out2, f.Output)); err != nil {
				t.Errorf("second run has no %s", f.Output)
			}
		}
	}
}
