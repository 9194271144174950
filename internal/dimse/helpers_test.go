package dimse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/testenv"
)

// requireTool returns the path of a command-line tool; a missing tool fails the test when
// testenv.RequireAll() and skips it otherwise.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if testenv.RequireAll() {
			t.Fatalf("%s not found (Debian package dcmtk); CI=true or %s=1 requires it", name, testenv.RequireAllEnv)
		}
		t.Skipf("%s not found: install Debian package dcmtk", name)
	}
	return p
}

// pydicomDir returns pydicom's test_files folder, failing or skipping like requireTool.
func pydicomDir(t testing.TB) string {
	t.Helper()
	dir := "/usr/lib/python3/dist-packages/pydicom/data/test_files"
	if _, err := os.Stat(dir); err != nil {
		if testenv.RequireAll() {
			t.Fatalf("pydicom test files missing (%v); install python3-pydicom", err)
		}
		t.Skipf("pydicom test files missing (%v); install python3-pydicom", err)
	}
	return dir
}

// testLogger logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// received is one instance a testStore got.
type received struct {
	callingAE, sopClass, sopInstance string
	ts                               dicom.TransferSyntax
	data                             []byte // the bare data set as received
	path                             string // the Part 10 file written with dicom.NewFile
}

// testStore is a StoreHandler that writes each instance as a Part 10 file (dicom.NewFile)
// into dir and keeps what it received.
type testStore struct {
	dir string
	mu  sync.Mutex
	got []received
	// fail, when set, makes Store return it.
	fail func(req *StoreRequest) (Status, error)
}

func (s *testStore) Store(ctx context.Context, req *StoreRequest) (Status, error) {
	if s.fail != nil {
		if st, err := s.fail(req); st != StatusSuccess || err != nil {
			return st, err
		}
	}
	data := make([]byte, req.Size)
	if _, err := req.Data.ReadAt(data, 0); err != nil && err != io.EOF {
		return StatusProcessingFailure, fmt.Errorf("reading spool: %w", err)
	}
	ds, err := dicom.ParseDataset(bytes.NewReader(data), int64(len(data)), req.TransferSyntax, dicom.ParseOptions{})
	if err != nil {
		return StatusCannotUnderstand, fmt.Errorf("parsing data set: %w", err)
	}
	f, err := dicom.NewFile(ds, req.TransferSyntax, req.SOPClassUID, req.SOPInstanceUID, req.CallingAE)
	if err != nil {
		return StatusProcessingFailure, err
	}
	s.mu.Lock()
	n := len(s.got)
	s.mu.Unlock()
	path := filepath.Join(s.dir, fmt.Sprintf("%05d-%s.dcm", n, req.CallingAE))
	out, err := os.Create(path)
	if err != nil {
		return StatusOutOfResources, err
	}
	if _, err := f.WriteTo(out); err != nil {
		out.Close()
		return StatusOutOfResources, err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return StatusOutOfResources, err
	}
	if err := out.Close(); err != nil {
		return StatusOutOfResources, err
	}
	s.mu.Lock()
	s.got = append(s.got, received{req.CallingAE, req.SOPClassUID, req.SOPInstanceUID, req.TransferSyntax, data, path})
	s.mu.Unlock()
	return StatusSuccess, nil
}

func (s *testStore) byAE() map[string][]received {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string][]received{}
	for _, r := range s.got {
		m[r.callingAE] = append(m[r.callingAE], r)
	}
	return m
}

// startServer runs a Server on a loopback port until the test ends and returns its
// address. The test fails if Serve returns an error.
func startServer(t testing.TB, cfg Config, store StoreHandler, find FindHandler) (string, *Server) {
	t.Helper()
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = t.TempDir()
	}
	srv, err := NewServer(cfg, testLogger(t), store, find)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return 10 s after cancel")
		}
	})
	return ln.Addr().String(), srv
}

func hostPort(t testing.TB, addr string) (string, string) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// runTool runs a dcmtk tool with a deadline and returns its combined output and error.
func runTool(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, requireTool(t, name), args...).CombinedOutput()
	return string(out), err
}

// dataSetBytes returns the bytes of a Part 10 file after its meta group, and its parse.
func dataSetBytes(t testing.TB, path string) ([]byte, *dicom.File, error) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := dicom.Parse(bytes.NewReader(raw), int64(len(raw)), dicom.ParseOptions{})
	if err != nil {
		return nil, nil, err
	}
	if f.Meta == nil || f.Preamble == nil {
		return nil, f, fmt.Errorf("no Part 10 meta group")
	}
	var n countWriter
	if _, err := f.Meta.WriteTo(&n); err != nil {
		return nil, nil, err
	}
	return raw[132+int64(n) : int64(len(raw))-f.TrailingPadding()], f, nil
}
