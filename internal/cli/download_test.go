package cli

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDownload: cie download asks the hub's relay for a study as a ZIP with the token,
// unpacks it into OUT, prints a progress line and a summary; a refusal names the
// node's reason and fails; a ZIP with a name leaving OUT is refused.
func TestDownload(t *testing.T) {
	zipOf := func(files map[string]string) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for name, data := range files {
			w, _ := zw.Create(name)
			w.Write([]byte(data))
		}
		zw.Close()
		return b.Bytes()
	}
	good := zipOf(map[string]string{"1.2/1.2.3/1.2.3.4.dcm": "first", "1.2/1.2.3/1.2.3.5.dcm": "second"})
	evil := zipOf(map[string]string{"../escaped.dcm": "x"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		switch {
		case r.URL.Path == "/nodes/oslo/dicomweb/studies/1.2" && r.Header.Get("Accept") == "application/zip":
			w.Header().Set("Content-Type", "application/zip")
			w.Write(good)
		case r.URL.Path == "/nodes/oslo/dicomweb/studies/6.6":
			w.Header().Set("Content-Type", "application/zip")
			w.Write(evil)
		case r.URL.Path == "/api/v1/images/oslo-ds":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"node":"oslo","more":false,"studies":[{"uid":"1.2"}]}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(403)
			w.Write([]byte(`{"status":403,"error":"view access does not permit download"}`))
		}
	}))
	defer srv.Close()
	out := t.TempDir()
	stdout, stderr, code := cie(t, "download", "--hub", srv.URL, "--token", "tok", "--node", "oslo", "--study", "1.2", "--out", out)
	if code != 0 || !strings.Contains(stdout, "1 of 1 studies from node oslo: 2 files") || !strings.Contains(stderr, "received") {
		t.Fatalf("download: %d\n%s\n%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "1.2", "1.2.3", "1.2.3.5.dcm")); err != nil || string(b) != "second" {
		t.Fatalf("written file: %q %v", b, err)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".cie-download-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	out2 := t.TempDir()
	if stdout, _, code := cie(t, "download", "--hub", srv.URL, "--token", "tok", "--dataset", "oslo-ds", "--out", out2); code != 0 || !strings.Contains(stdout, "2 files") {
		t.Fatalf("download by dataset: %d %s", code, stdout)
	}
	_, stderr, code = cie(t, "download", "--hub", srv.URL, "--token", "tok", "--node", "oslo", "--study", "9.9", "--out", out)
	if code == 0 || !strings.Contains(stderr, "view access does not permit download") {
		t.Fatalf("refused download: %d %s", code, stderr)
	}
	_, stderr, code = cie(t, "download", "--hub", srv.URL, "--token", "tok", "--node", "oslo", "--study", "6.6", "--out", filepath.Join(out, "sub"))
	if code == 0 || !strings.Contains(stderr, "not a local file name") {
		t.Fatalf("escaping ZIP: %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "escaped.dcm")); err == nil {
		t.Fatal("a file was written outside OUT")
	}
	if _, _, code := cie(t, "download", "--hub", srv.URL, "--token", "tok", "--study", "1.2"); code == 0 {
		t.Fatal("--study without --node accepted")
	}
}
