package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/freeport"
)

// cieBin is the cie binary built for these tests.
var cieBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cie-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cieBin = filepath.Join(dir, "cie")
	build := exec.Command("go", "build", "-o", cieBin, "../cmd/cie")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building cie: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cie runs the binary to completion and returns its stdout and stderr; it
// fails the test on a non-zero exit unless wantErr.
func cie(t *testing.T, wantErr bool, args ...string) string {
	t.Helper()
	stdout, stderr := run(t, wantErr, args...)
	return stdout + stderr
}

// run runs the binary to completion and returns its stdout and stderr.
func run(t *testing.T, wantErr bool, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(cieBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if (err != nil) != wantErr {
		t.Fatalf("cie %s: err=%v (want error: %v)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, wantErr, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// proc is a role running as a separate process.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t *testing.T, name, logPath string, args ...string) *proc {
	t.Helper()
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cieBin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); lf.Close(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.t.Fatalf("%s did not stop within 15 s of SIGTERM", p.name)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("%s exited with %d after SIGTERM; log:\n%s", p.name, code, readFile(p.log))
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// ports hands out the tests' addresses, each once.
var ports freeport.Picker

// freeAddr returns a free loopback address no other call has returned.
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := ports.Pick(0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// getJSON GETs url with a bearer token and decodes the JSON reply.
func getJSON(ctx context.Context, url, token string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding %s: %w: %s", url, err, body)
		}
	}
	return resp.StatusCode, nil
}

type nodeState struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Version   string `json:"version"`
	Witnessed uint64 `json:"witnessed_size"`
	HTTPURL   string `json:"http_url"`
}

// nodeStates returns the hub's view of its nodes by name.
func nodeStates(t *testing.T, hubURL, token string) map[string]nodeState {
	t.Helper()
	var body struct {
		Nodes []nodeState `json:"nodes"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := getJSON(ctx, hubURL+"/api/v1/nodes", token, &body)
	if err != nil || code != http.StatusOK {
		return nil
	}
	out := map[string]nodeState{}
	for _, n := range body.Nodes {
		out[n.Name] = n
	}
	return out
}

// waitFor polls cond every 100 ms until it holds or limit passes; it
// returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}
