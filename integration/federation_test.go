package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/testenv"
)

// TestFederation runs a hub and two nodes as separate processes, with the
// production backends too (the hub and node beta on PostgreSQL, beta's blobs
// on S3): both nodes come online, a node killed with SIGKILL is shown
// offline within 10 s and online again after a restart, the nodes rejoin a
// restarted hub by themselves, and every audit log still verifies, also
// against the checkpoints the hub witnessed; a tampered entry is then named.
func TestFederation(t *testing.T) {
	dir := t.TempDir()
	hubURL := "http://" + freeAddr(t)
	hubYAML := filepath.Join(dir, "hub.yaml")
	writeFile(t, hubYAML, fmt.Sprintf("name: itest-hub\ndata_dir: %s\ndb: %q\nhttp:\n  listen: %s\nbus:\n  listen: %s\nlog:\n  level: debug\n",
		filepath.Join(dir, "hub"), testenv.Postgres(t), strings.TrimPrefix(hubURL, "http://"), freeAddr(t)))
	cie(t, false, "migrate", "--hub-config", hubYAML)
	cie(t, false, "admin", "user", "add", "root", "--role", "platform_admin", "--password", "correct horse battery", "--hub-config", hubYAML)
	token, _ := run(t, false, "admin", "token", "add", "root", "--hub-config", hubYAML)
	token = strings.TrimSpace(token)

	nodes := map[string]string{} // name → config path
	for _, name := range []string{"alpha", "beta"} {
		creds := filepath.Join(dir, name+".creds")
		out := cie(t, false, "admin", "node", "add", name, "--hub-config", hubYAML, "--out", creds)
		if !strings.Contains(out, "Registered node "+name) {
			t.Fatalf("admin node add: %s", out)
		}
		cfg := filepath.Join(dir, name+".yaml")
		stores := ""
		if name == "beta" {
			stores = fmt.Sprintf("db: %q\nblob: %q\n", testenv.Postgres(t), testenv.S3(t))
		}
		writeFile(t, cfg, fmt.Sprintf("name: %s\ndata_dir: %s\ncredentials: %s\n%shttp:\n  listen: %s\nlog:\n  level: debug\n",
			name, filepath.Join(dir, name), creds, stores, freeAddr(t)))
		nodes[name] = cfg
	}
	// Registering a name twice is refused.
	if out := cie(t, true, "admin", "node", "add", "alpha", "--hub-config", hubYAML, "--out", filepath.Join(dir, "x.creds")); !strings.Contains(out, "already registered") {
		t.Fatalf("second registration: %s", out)
	}

	hubProc := start(t, "hub", filepath.Join(dir, "hub.log"), "hub", "--config", hubYAML)
	waitFor(t, 30*time.Second, "hub ready", func() bool {
		resp, err := http.Get(hubURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	procs := map[string]*proc{}
	for name, cfg := range nodes {
		procs[name] = start(t, name, filepath.Join(dir, name+".log"), "node", "--config", cfg)
	}
	online := func(name string) func() bool {
		return func() bool { return nodeStates(t, hubURL, token)[name].State == "online" }
	}
	for name := range nodes {
		waitFor(t, 30*time.Second, name+" online", online(name))
		// Online comes with the connection, the address with the node's hello just after.
		waitFor(t, 30*time.Second, name+"'s hello", func() bool { return nodeStates(t, hubURL, token)[name].HTTPURL != "" })
	}
	// The public Nodes page shows which nodes take part, not where they are.
	var api struct {
		Nodes []struct {
			Name    string `json:"name"`
			HTTPURL string `json:"http_url"`
		} `json:"nodes"`
	}
	if st, err := getJSON(context.Background(), hubURL+"/api/v1/nodes", token, &api); err != nil || st != 200 {
		t.Fatalf("/api/v1/nodes: %d %v", st, err)
	}
	resp, err := http.Get(hubURL + "/nodes")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, n := range api.Nodes {
		if !strings.Contains(string(page), n.Name) {
			t.Errorf("the public Nodes page does not name %s", n.Name)
		}
		if n.HTTPURL == "" || strings.Contains(string(page), n.HTTPURL) {
			t.Errorf("the public Nodes page shows the address %q of %s", n.HTTPURL, n.Name)
		}
	}

	// kill -9 one node: the hub notices within 10 s.
	procs["alpha"].kill()
	took := waitFor(t, 10*time.Second, "alpha offline after SIGKILL", func() bool {
		return nodeStates(t, hubURL, token)["alpha"].State == "offline"
	})
	t.Logf("alpha shown offline %.2f s after SIGKILL", took.Seconds())
	if s := nodeStates(t, hubURL, token)["beta"].State; s != "online" {
		t.Fatalf("beta is %s after alpha was killed", s)
	}

	// Restart: online again, and its log (appended to after a crash) verifies.
	procs["alpha"] = start(t, "alpha", filepath.Join(dir, "alpha.log"), "node", "--config", nodes["alpha"])
	took = waitFor(t, 30*time.Second, "alpha online after restart", online("alpha"))
	t.Logf("alpha online again %.2f s after restart", took.Seconds())

	// Restart the hub: the nodes rejoin by themselves.
	hubProc.stop()
	hubProc = start(t, "hub", filepath.Join(dir, "hub.log"), "hub", "--config", hubYAML)
	took = waitFor(t, 30*time.Second, "nodes online after hub restart", func() bool {
		st := nodeStates(t, hubURL, token)
		return st["alpha"].State == "online" && st["beta"].State == "online"
	})
	t.Logf("both nodes online %.2f s after the hub restarted", took.Seconds())

	// Wait until the hub has witnessed a checkpoint of each node.
	for name := range nodes {
		waitFor(t, 30*time.Second, name+" checkpoint witnessed", func() bool { return nodeStates(t, hubURL, token)[name].Witnessed > 0 })
	}
	for name, p := range procs {
		p.stop()
		out := cie(t, false, "audit", "verify", "--node-config", nodes[name], "--hub", hubURL, "--token", token)
		if !strings.Contains(out, ": OK:") {
			t.Fatalf("verify %s: %s", name, out)
		}
		t.Logf("%s: %s", name, strings.TrimSpace(out))
	}
	hubProc.stop()
	out := cie(t, false, "audit", "verify", "--hub-config", hubYAML)
	for _, want := range []string{": OK:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("verify hub: %s", out)
		}
	}

	// The hub's log holds the events of this run.
	hubLog := readAuditBundles(t, filepath.Join(dir, "hub", "audit"))
	for _, ev := range []string{`"node.registered"`, `"node.connected"`, `"node.disconnected"`, `"config.changed"`} {
		if !bytes.Contains(hubLog, []byte(ev)) {
			t.Errorf("hub audit log has no %s event", ev)
		}
	}

	// Tamper with one entry of beta's log: verify fails and names it.
	bdir := filepath.Join(dir, "beta", "audit")
	if !tamper(t, bdir, []byte(`"hub.connected"`), []byte(`"hub.CONNECTED"`)) {
		t.Fatal("found no hub.connected entry in beta's log to tamper with")
	}
	out = cie(t, true, "audit", "verify", "--node-config", nodes["beta"])
	if !strings.Contains(out, "first bad entry:") {
		t.Fatalf("verify after tampering did not name the entry: %s", out)
	}
	t.Logf("after tampering: %s", strings.TrimSpace(out))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readAuditBundles concatenates the entry bundles of a tessera log.
func readAuditBundles(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(filepath.Join(dir, "tile", "entries"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatalf("reading audit bundles: %v", err)
	}
	return all
}

// tamper replaces the first occurrence of old (same length as new) in each
// of the log's entry bundle files (tessera keeps partial bundles beside
// full ones; whichever a reader picks is changed).
func tamper(t *testing.T, dir string, old, new []byte) bool {
	t.Helper()
	done := false
	err := filepath.WalkDir(filepath.Join(dir, "tile", "entries"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if i := bytes.Index(b, old); i >= 0 {
			copy(b[i:], new)
			done = true
			return os.WriteFile(p, b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// TestBadConfig: a role with a bad configuration stops at start with a
// message naming the field and where the value came from.
func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	writeFile(t, cfg, "name: h\ndata_dir: "+dir+"\nhttp:\n  listen: 127.0.0.1:0\n  lisen: x\n")
	if out := cie(t, true, "hub", "--config", cfg); !strings.Contains(out, "config field http.lisen") || !strings.Contains(out, "no such field") {
		t.Errorf("unknown field: %s", out)
	}
	writeFile(t, cfg, "name: h\ndata_dir: "+dir+"\n")
	if out := cie(t, true, "hub", "--config", cfg, "--http.listen", "nonsense"); !strings.Contains(out, "config field http.listen") {
		t.Errorf("bad flag: %s", out)
	}
	cmd := exec.Command(cieBin, "hub", "--config", cfg)
	cmd.Env = append(os.Environ(), "CIE_LOG_LEVEL=loud")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "config field log.level") {
		t.Errorf("bad environment variable: %v %s", err, out)
	}
	if out := cie(t, true, "node", "--name", "Bad Name", "--data_dir", dir); !strings.Contains(out, "config field name") {
		t.Errorf("bad node name: %s", out)
	}
}
