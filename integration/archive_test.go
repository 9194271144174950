package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/dimse"
	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/testenv"
)

// archiveNode is a hub and one node "alpha" as separate processes, with a data holder's
// API token at the node.
type archiveNode struct {
	dir, nodeURL, token, cfg string
	dimseAddr                string // set when the node's DIMSE section is the default one
	hubURL, hubYAML          string
	hubBase                  string // the hub's configuration without the caller's extra sections
	hub, node                *proc
}

func startArchiveNode(t *testing.T) *archiveNode {
	t.Helper()
	return startArchiveNodeWith(t, "")
}

// startArchiveNodeWith is startArchiveNode with extra YAML appended to the node's
// configuration (top-level sections such as dimse: or deid:).
func startArchiveNodeWith(t *testing.T, extraYAML string) *archiveNode {
	t.Helper()
	return startArchiveHub(t, "", extraYAML)
}

// startArchiveHub is startArchiveNodeWith with extra YAML appended to the hub's
// configuration as well (top-level sections such as oidc: or access:); the hub's part
// of it is kept in hubExtra, for restarts with another configuration (restartHub).
func startArchiveHub(t *testing.T, hubExtra, extraYAML string) *archiveNode {
	t.Helper()
	dir := t.TempDir()
	hubURL := "http://" + freeAddr(t)
	hubYAML := filepath.Join(dir, "hub.yaml")
	hubBase := fmt.Sprintf("name: itest-hub\ndata_dir: %s\nhttp:\n  listen: %s\nbus:\n  listen: %s\n",
		filepath.Join(dir, "hub"), strings.TrimPrefix(hubURL, "http://"), freeAddr(t))
	writeFile(t, hubYAML, hubBase+hubExtra)
	creds := filepath.Join(dir, "alpha.creds")
	cie(t, false, "admin", "node", "add", "alpha", "--hub-config", hubYAML, "--out", creds)
	a := &archiveNode{dir: dir, nodeURL: "http://" + freeAddr(t), cfg: filepath.Join(dir, "alpha.yaml"), hubURL: hubURL, hubYAML: hubYAML, hubBase: hubBase}
	if !strings.Contains(extraYAML, "dimse:") {
		a.dimseAddr = freeAddr(t)
		extraYAML += fmt.Sprintf("dimse:\n  listen: %s\n", a.dimseAddr)
	}
	writeFile(t, a.cfg, fmt.Sprintf("name: alpha\ndata_dir: %s\ncredentials: %s\nhttp:\n  listen: %s\n",
		filepath.Join(dir, "alpha"), creds, strings.TrimPrefix(a.nodeURL, "http://"))+extraYAML)
	cie(t, false, "admin", "user", "add", "holder", "--role", "data_holder", "--password", "correct horse battery", "--node-config", a.cfg)
	tok, _ := run(t, false, "admin", "token", "add", "holder", "--node-config", a.cfg)
	a.token = strings.TrimSpace(tok)
	a.hub = start(t, "hub", filepath.Join(dir, "hub.log"), "hub", "--config", hubYAML)
	waitReady(t, hubURL, "hub")
	a.startNode(t)
	return a
}

func (a *archiveNode) startNode(t *testing.T) {
	t.Helper()
	a.node = start(t, "alpha", filepath.Join(a.dir, "alpha.log"), "node", "--config", a.cfg)
	waitReady(t, a.nodeURL, "node")
}

// waitReady waits until the server at base answers its readiness probe.
func waitReady(t *testing.T, base, what string) {
	t.Helper()
	waitFor(t, 30*time.Second, what+" ready", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// restartHub stops the hub and starts it again with hubExtra appended to its base
// configuration; it returns once every node in nodes is online again, seen with token.
func (a *archiveNode) restartHub(t *testing.T, hubExtra, token string, nodes ...string) {
	t.Helper()
	a.hub.stop()
	writeFile(t, a.hubYAML, a.hubBase+hubExtra)
	a.hub = start(t, "hub", filepath.Join(a.dir, "hub.log"), "hub", "--config", a.hubYAML)
	waitFor(t, 30*time.Second, "nodes online at the restarted hub", func() bool {
		st := nodeStates(t, a.hubURL, token)
		for _, n := range nodes {
			if st[n].State != "online" {
				return false
			}
		}
		return true
	})
}

// addNode registers another node at a's hub, with a local data holder (an API token in
// the returned archiveNode's token) and extra YAML appended to its configuration, and
// starts it. The returned archiveNode shares a's hub.
func (a *archiveNode) addNode(t *testing.T, name, holder, extraYAML string) *archiveNode {
	t.Helper()
	creds := filepath.Join(a.dir, name+".creds")
	cie(t, false, "admin", "node", "add", name, "--hub-config", a.hubYAML, "--out", creds)
	b := &archiveNode{dir: a.dir, nodeURL: "http://" + freeAddr(t), cfg: filepath.Join(a.dir, name+".yaml"), hubURL: a.hubURL, hubYAML: a.hubYAML, hubBase: a.hubBase, hub: a.hub}
	writeFile(t, b.cfg, fmt.Sprintf("name: %s\ndata_dir: %s\ncredentials: %s\nhttp:\n  listen: %s\n",
		name, filepath.Join(a.dir, name), creds, strings.TrimPrefix(b.nodeURL, "http://"))+extraYAML)
	cie(t, false, "admin", "user", "add", holder, "--role", "data_holder", "--password", "correct horse battery", "--node-config", b.cfg)
	tok, _ := run(t, false, "admin", "token", "add", holder, "--node-config", b.cfg)
	b.token = strings.TrimSpace(tok)
	b.node = start(t, name, filepath.Join(a.dir, name+".log"), "node", "--config", b.cfg)
	waitReady(t, b.nodeURL, name)
	return b
}

// countInstances asks the node's QIDO-RS for every instance.
func (a *archiveNode) instances(t *testing.T) map[string]bool {
	t.Helper()
	var list []map[string]struct {
		Value []any `json:"Value"`
	}
	if code, err := getJSON(context.Background(), a.nodeURL+"/dicomweb/instances?limit=10000", a.token, &list); err != nil || code != 200 {
		t.Fatalf("QIDO instances: %d %v", code, err)
	}
	out := map[string]bool{}
	for _, m := range list {
		out[m["00080018"].Value[0].(string)] = true
	}
	return out
}

// TestIngestCommand sends the pydicom corpus with cie ingest and finds it through QIDO-RS.
func TestIngestCommand(t *testing.T) {
	var folder string
	for _, cf := range testenv.Corpus(t) {
		if cf.Source == "pydicom" && strings.Contains(cf.Path, "/test_files/") {
			folder = cf.Path[:strings.Index(cf.Path, "/test_files/")+len("/test_files")]
			break
		}
	}
	a := startArchiveNode(t)
	out, _ := run(t, false, "ingest", folder, "--node", a.nodeURL, "--token", a.token, "-q")
	t.Logf("cie ingest: %s", firstLines(out, 4))
	var sent, stored, dups, failed int
	if _, err := fmt.Sscanf(out, "%d files sent in", &sent); err != nil {
		t.Fatalf("ingest output: %s", out)
	}
	i := strings.Index(out, ": ")
	if _, err := fmt.Sscanf(out[i+2:], "%d stored (%d of them already there), %d not stored", &stored, &dups, &failed); err != nil {
		t.Fatalf("ingest output: %s", out)
	}
	if stored+failed != sent || stored < 50 || failed < 10 || !strings.Contains(out, "quarantined (no-pixel-cleaning-rule)") {
		t.Fatalf("ingest: sent %d, stored %d, failed %d:\n%s", sent, stored, failed, out)
	}
	if n := len(a.instances(t)); n != stored-dups {
		t.Fatalf("QIDO finds %d instances; ingest stored %d (%d duplicates)", n, stored, dups)
	}
	// A wrong token is refused with a clear message, and nothing is stored.
	if out := cie(t, true, "ingest", folder, "--node", a.nodeURL, "--token", "cie_wrong", "-q"); !strings.Contains(out, "401") {
		t.Fatalf("ingest with a wrong token: %s", out)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// TestIngestKill9 kills the node with SIGKILL in the middle of an ingest of 1,000 files,
// over STOW-RS and over DIMSE C-STORE: after a restart every acknowledged instance is
// there, every indexed instance can be retrieved whole, and sending everything again
// completes the set.
func TestIngestKill9(t *testing.T) {
	files := syntheticSeries(t, 1000)
	for _, transport := range []string{"stow", "dimse"} {
		t.Run(transport, func(t *testing.T) { kill9(t, transport, files) })
	}
}

func kill9(t *testing.T, transport string, files [][]byte) {
	a := startArchiveNode(t)
	c := &dicomweb.Client{BaseURL: a.nodeURL + "/dicomweb", Token: a.token, HTTP: &http.Client{Timeout: 30 * time.Second}}
	// send stores file i and reports whether the node acknowledged it.
	newSender := func() (send func(i int) bool, done func()) {
		if transport == "stow" {
			return func(i int) bool {
				data := files[i]
				res, err := c.Store(context.Background(), []dicomweb.Part{{Name: fmt.Sprint(i), Open: func() (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(data)), nil
				}}})
				return err == nil && res.Stored == 1
			}, func() {}
		}
		as, err := dimse.Dial(context.Background(), a.dimseAddr, "KILLTEST", "CIE", []dimse.PresentationContext{
			{AbstractSyntax: "1.2.840.10008.5.1.4.1.1.2", TransferSyntaxes: []string{dicom.ExplicitVRLittleEndianUID}}}, nil)
		if err != nil {
			t.Errorf("dial: %v", err)
			return func(int) bool { return false }, func() {}
		}
		return func(i int) bool {
			f, err := dicom.Parse(bytes.NewReader(files[i]), int64(len(files[i])), dicom.ParseOptions{})
			if err != nil {
				t.Error(err)
				return false
			}
			var buf bytes.Buffer
			if _, err := f.Dataset.WriteTo(&buf); err != nil {
				t.Error(err)
				return false
			}
			st, err := as.Store(context.Background(), "1.2.840.10008.5.1.4.1.1.2", syntheticUID(i), dicom.ExplicitVRLittleEndianUID, &buf)
			return err == nil && st.IsSuccess()
		}, func() { as.Abort() }
	}
	var mu sync.Mutex
	acked := map[int]bool{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send, done := newSender()
			defer done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) || !send(i) {
					return // finished, or the node is gone
				}
				mu.Lock()
				acked[i] = true
				mu.Unlock()
			}
		}()
	}
	waitFor(t, 60*time.Second, "300 instances acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 300
	})
	a.node.kill()
	wg.Wait()
	mu.Lock()
	nAcked := len(acked)
	mu.Unlock()
	t.Logf("%s: killed the node after %d acknowledged instances (%d files started)", transport, nAcked, min(int(next.Load()), len(files)))

	// The node's pseudonyms of the original UIDs, from its own key.
	key, err := deid.ReadKeyFile(filepath.Join(a.dir, "alpha", "keys", "deid.key"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := deid.NewPseudonyms(key)
	if err != nil {
		t.Fatal(err)
	}
	a.startNode(t)
	have := a.instances(t)
	for i := range acked {
		if !have[ps.UID(syntheticUID(i))] {
			t.Errorf("acknowledged instance %d (%s) lost", i, syntheticUID(i))
		}
	}
	// Every indexed instance is whole: retrieve each and parse it.
	for uid := range have {
		var m []map[string]struct {
			Value []any `json:"Value"`
		}
		if code, err := getJSON(context.Background(), a.nodeURL+"/dicomweb/instances?SOPInstanceUID="+uid, a.token, &m); err != nil || code != 200 || len(m) != 1 {
			t.Fatalf("QIDO %s: %d %v", uid, code, err)
		}
		url := m[0]["00081190"].Value[0].(string)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		i := bytes.Index(body, []byte("DICM"))
		if resp.StatusCode != 200 || i < 128 {
			t.Fatalf("retrieve %s: %d", uid, resp.StatusCode)
		}
		part := body[i-128:]
		if j := bytes.LastIndex(part, []byte("\r\n--")); j > 0 {
			part = part[:j]
		}
		if _, err := dicom.Parse(bytes.NewReader(part), int64(len(part)), dicom.ParseOptions{}); err != nil {
			t.Fatalf("instance %s is not whole after the crash: %v", uid, err)
		}
	}
	// Sending everything again completes the set, storing the rest once.
	for i := 0; i < len(files); i += 50 {
		var parts []dicomweb.Part
		for _, data := range files[i:min(i+50, len(files))] {
			parts = append(parts, dicomweb.Part{Name: "x", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
		}
		if _, err := c.Store(context.Background(), parts); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(a.instances(t)); n != len(files) {
		t.Fatalf("%d instances after sending all again, want %d", n, len(files))
	}
}

// syntheticSeries makes n distinct CT instances from pydicom's CT_small.dcm, as one
// series, by giving each its own SOP Instance UID and position.
func syntheticSeries(t *testing.T, n int) [][]byte {
	t.Helper()
	var src string
	for _, cf := range testenv.Corpus(t) {
		if filepath.Base(cf.Path) == "CT_small.dcm" {
			src = cf.Path
		}
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		f, err := dicom.Parse(bytes.NewReader(raw), int64(len(raw)), dicom.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uid := syntheticUID(i)
		for _, s := range []struct {
			ds  *dicom.Dataset
			tag dicom.Tag
			vr  dicom.VR
			v   string
		}{
			{f.Dataset, tags.SOPInstanceUID, dicom.UI, uid},
			{f.Meta, tags.MediaStorageSOPInstanceUID, dicom.UI, uid},
			{f.Dataset, tags.SeriesInstanceUID, dicom.UI, "1.2.826.0.1.3680043.8.498.7777.0"},
			{f.Dataset, tags.InstanceNumber, dicom.IS, fmt.Sprint(i + 1)},
		} {
			if err := s.ds.Set(s.tag, s.vr, dicom.PadText(s.vr, s.v)); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		out[i] = buf.Bytes()
	}
	return out
}

// syntheticUID is the SOP Instance UID of syntheticSeries' file i.
func syntheticUID(i int) string { return fmt.Sprintf("1.2.826.0.1.3680043.8.498.7777.%d", i+1) }
