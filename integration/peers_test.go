package integration

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/testenv"
)

// Helpers shared by the tests against real peers (dcmtk, Orthanc, dicomweb-client).

// requireTool returns the path of a program; a missing one fails the test when
// testenv.RequireAll() and skips it otherwise, naming the Debian package to install.
func requireTool(t testing.TB, name, debPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if testenv.RequireAll() {
			t.Fatalf("%s not found (Debian package %s); CI=true or %s=1 requires it", name, debPackage, testenv.RequireAllEnv)
		}
		t.Skipf("%s not found: install Debian package %s", name, debPackage)
	}
	return p
}

// requireFile is requireTool for a file (a plugin, a configuration).
func requireFile(t testing.TB, path, debPackage string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if testenv.RequireAll() {
			t.Fatalf("%v (Debian package %s); CI=true or %s=1 requires it", err, debPackage, testenv.RequireAllEnv)
		}
		t.Skipf("%v: install Debian package %s", err, debPackage)
	}
}

// pydicomTestFiles returns the folder of pydicom's test_files (from the test corpora).
func pydicomTestFiles(t *testing.T) string {
	t.Helper()
	for _, cf := range testenv.Corpus(t) {
		if cf.Source == "pydicom" && strings.Contains(cf.Path, "/test_files/") {
			return cf.Path[:strings.Index(cf.Path, "/test_files/")+len("/test_files")]
		}
	}
	t.Fatal("pydicom's test_files not among the corpus files")
	return ""
}

// runTool runs a program in dir (if not empty) and returns its combined output.
func runTool(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// quarantined is one file in a node's quarantine, with the SOP Instance UID of the file
// it keeps ("" when it cannot be read).
type quarantined struct {
	archive.QuarantinedFile
	SOPUID string
}

// nodeArchive reads a stopped node's quarantine and ingest runs through the archive
// package, from its data folder.
func (a *archiveNode) nodeArchive(t *testing.T) ([]quarantined, []archive.IngestRun) {
	t.Helper()
	ctx := context.Background()
	data := filepath.Join(a.dir, "alpha")
	cfg := node.Config{DataDir: data, DB: filepath.Join(data, "node.db")}
	db, err := node.OpenStore(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("opening the node's store: %v", err)
	}
	defer db.Close()
	ar := archive.New(archive.Options{DB: db})
	files, _, err := ar.Quarantine(ctx, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []quarantined
	for _, f := range files {
		q := quarantined{QuarantinedFile: f}
		// The file kept is the blob quarantine/<id>.dcm of the node's file:// blob store.
		if df, c, err := dicom.ParseFile(filepath.Join(data, "blobs", "quarantine", f.ID+".dcm"), dicom.ParseOptions{}); err == nil {
			q.SOPUID = df.Dataset.Text(tags.SOPInstanceUID)
			c.Close()
		}
		out = append(out, q)
	}
	runs, err := ar.Recent(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return out, runs
}

// do sends a request with the node's token and returns the status, headers and body.
func (a *archiveNode) do(t *testing.T, method, url, accept string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, body
}

// qido asks the node's QIDO-RS at a path (e.g. "/studies") and returns, per result, the
// first value of each attribute as a string, by tag key ("0020000D").
func (a *archiveNode) qido(t *testing.T, path string) []map[string]string {
	t.Helper()
	var list []map[string]struct {
		Value []any `json:"Value"`
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	if code, err := getJSON(context.Background(), a.nodeURL+"/dicomweb"+path+sep+"limit=10000", a.token, &list); err != nil || code != 200 {
		t.Fatalf("QIDO %s: %d %v", path, code, err)
	}
	out := make([]map[string]string, len(list))
	for i, m := range list {
		out[i] = map[string]string{}
		for k, v := range m {
			if len(v.Value) > 0 {
				if s, ok := v.Value[0].(string); ok {
					out[i][k] = s
				}
			}
		}
	}
	return out
}
