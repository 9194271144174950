package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/app"
	"github.com/cancerimage/cie/internal/synth"
)

type demoFile struct {
	Hub struct {
		URL string `json:"url"`
	} `json:"hub"`
	Nodes []struct {
		Name  string `json:"name"`
		URL   string `json:"url"`
		DIMSE string `json:"dimse"`
	} `json:"nodes"`
	Users []struct {
		Name     string `json:"name"`
		Role     string `json:"role"`
		Node     string `json:"node"`
		Password string `json:"password"`
		Token    string `json:"token"`
	} `json:"users"`
}

// runDemo starts `cie demo` and waits until it says it is ready.
func runDemo(t *testing.T, dir string) (*exec.Cmd, <-chan error, time.Duration) {
	t.Helper()
	cmd := exec.Command(cieBin, "demo", "--dir", dir, "--random-ports", "--patients", "2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "cie demo is ready") {
				close(ready)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("demo exited before ready: %v\n%s", err, out.String())
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("demo not ready after 90 s:\n%s", out.String())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	return cmd, done, time.Since(begin)
}

func stopDemo(t *testing.T, cmd *exec.Cmd, done <-chan error) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo exited with %v after Ctrl-C", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30 s of Ctrl-C")
	}
}

func status(t *testing.T, method, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func body(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestDemo runs `cie demo`: three nodes come online, demo.json lists URLs and
// working logins and tokens, every role answers its probes, metrics and
// OpenAPI document, Ctrl-C stops every process, and a second run reuses the
// data.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	cmd, done, took := runDemo(t, dir)
	t.Logf("demo ready %.2f s after start (first run, binary already built)", took.Seconds())

	var df demoFile
	data, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &df); err != nil {
		t.Fatal(err)
	}
	if len(df.Nodes) != 3 || df.Hub.URL == "" {
		t.Fatalf("demo.json: %s", data)
	}
	roles := map[string]bool{}
	for _, u := range df.Users {
		roles[u.Role] = true
		if u.Password == "" || !strings.HasPrefix(u.Token, "cie_") {
			t.Fatalf("user %s without password or token", u.Name)
		}
		var me struct{ User, Role string }
		if code, err := getJSON(context.Background(), df.Hub.URL+"/api/v1/me", u.Token, &me); err != nil || code != 200 || me.User != u.Name || me.Role != u.Role {
			t.Fatalf("token of %s at the hub: %d %v %+v", u.Name, code, err, me)
		}
	}
	for _, r := range []string{"researcher", "data_holder", "node_admin", "platform_admin"} {
		if !roles[r] {
			t.Errorf("no demo user with role %s", r)
		}
	}
	states := nodeStates(t, df.Hub.URL, df.Users[0].Token)
	for _, n := range df.Nodes {
		if states[n.Name].State != "online" {
			t.Errorf("node %s is %q", n.Name, states[n.Name].State)
		}
	}

	// Each node holds what the generator made for it, sent over C-STORE and de-identified.
	for _, n := range df.Nodes {
		g, err := synth.New(app.DemoSynth(n.Name, 2))
		if err != nil {
			t.Fatal(err)
		}
		want := g.Summary()
		var holder string
		for _, u := range df.Users {
			if u.Name == n.Name+"-holder" {
				holder = u.Token
			}
		}
		var insts []map[string]struct {
			Value []any `json:"Value"`
		}
		if code, err := getJSON(context.Background(), n.URL+"/dicomweb/instances?limit=10000", holder, &insts); err != nil || code != 200 {
			t.Fatalf("%s QIDO: %d %v", n.Name, code, err)
		}
		if len(insts) != want.Instances {
			t.Errorf("node %s holds %d instances, the generator made %d", n.Name, len(insts), want.Instances)
		}
		for _, in := range insts {
			if pid := in["00100020"].Value[0].(string); !strings.HasPrefix(pid, "CIE") {
				t.Fatalf("node %s: patient ID %q is not a pseudonym", n.Name, pid)
			}
		}
		if !strings.Contains(n.DIMSE, "@127.0.0.1:") {
			t.Errorf("node %s: DICOM address %q", n.Name, n.DIMSE)
		}
	}

	// Every node published its demo datasets; the hub's public catalogue lists them.
	waitFor(t, 15*time.Second, "a demo dataset of every node in the catalogue", func() bool {
		var cat struct {
			Datasets []struct {
				Node  string `json:"node"`
				State string `json:"state"`
			} `json:"datasets"`
		}
		if code, err := getJSON(context.Background(), df.Hub.URL+"/api/v1/catalogue", "", &cat); err != nil || code != 200 {
			return false
		}
		nodes := map[string]bool{}
		for _, d := range cat.Datasets {
			if d.State == "published" {
				nodes[d.Node] = true
			}
		}
		return len(nodes) == len(df.Nodes)
	})

	// Probes, metrics, OpenAPI on every role; the API refuses anonymous callers.
	bases := []string{df.Hub.URL}
	for _, n := range df.Nodes {
		bases = append(bases, n.URL)
	}
	for _, b := range bases {
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"} {
			if c := status(t, "GET", b+p, ""); c != 200 {
				t.Errorf("GET %s%s: %d", b, p, c)
			}
		}
	}
	if m := body(t, df.Hub.URL+"/metrics"); !strings.Contains(m, `cie_hub_nodes{state="online"} 3`) || !strings.Contains(m, `cie_http_requests_total{code="200",role="hub",route="GET /readyz"}`) {
		t.Errorf("hub metrics lack the node states or request counts:\n%s", m)
	}
	if m := body(t, df.Nodes[0].URL+"/metrics"); !strings.Contains(m, "cie_node_hub_connected 1") {
		t.Errorf("node metrics do not show the hub connection")
	}
	if c := status(t, "GET", df.Hub.URL+"/api/v1/nodes", ""); c != 401 {
		t.Errorf("anonymous /api/v1/nodes: %d", c)
	}
	if c := status(t, "GET", df.Hub.URL+"/api/v1/nodes", "cie_"+strings.Repeat("A", 43)); c != 401 {
		t.Errorf("forged token: %d", c)
	}
	// A node user's token works at its node, not at another node.
	for _, u := range df.Users {
		if u.Node == "" {
			continue
		}
		for _, n := range df.Nodes {
			want := 401
			if n.Name == u.Node {
				want = 200
			}
			if c := status(t, "GET", n.URL+"/api/v1/status", u.Token); c != want {
				t.Errorf("%s's token at node %s: %d, want %d", u.Name, n.Name, c, want)
			}
		}
	}

	stopDemo(t, cmd, done)
	addrs := bases
	for _, n := range df.Nodes {
		_, a, _ := strings.Cut(n.DIMSE, "@")
		addrs = append(addrs, a)
	}
	for _, b := range addrs {
		addr := strings.TrimPrefix(b, "http://")
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still listening after the demo stopped", addr)
		}
	}

	// Again: the same data, users and tokens.
	cmd, done, took = runDemo(t, dir)
	t.Logf("demo ready %.2f s after start (second run)", took.Seconds())
	var again demoFile
	data, _ = os.ReadFile(filepath.Join(dir, "demo.json"))
	_ = json.Unmarshal(data, &again)
	if again.Users[0].Token != df.Users[0].Token || again.Hub.URL != df.Hub.URL {
		t.Fatalf("second run changed demo.json")
	}
	if c := status(t, "GET", df.Hub.URL+"/api/v1/me", df.Users[0].Token); c != 200 {
		t.Fatalf("token after restart: %d", c)
	}
	stopDemo(t, cmd, done)
}
