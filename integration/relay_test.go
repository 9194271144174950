package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/synth"
)

// TestRelay reaches a node's DICOMweb through the hub, over the bus: the same answers as
// the node gives directly, a 200 MB series streamed with bounded memory on both sides,
// and the node's own policy on who may read.
func TestRelay(t *testing.T) {
	a := startArchiveNode(t)
	// A hub user of the same name as the node's data holder and a member of the node at
	// the hub, with a hub token.
	cie(t, false, "admin", "user", "add", "holder", "--role", "data_holder", "--node", "alpha", "--password", "correct horse battery", "--hub-config", a.hubYAML)
	hubTok, _ := run(t, false, "admin", "token", "add", "holder", "--hub-config", a.hubYAML)
	hubTok = strings.TrimSpace(hubTok)
	cie(t, false, "admin", "user", "add", "stranger", "--role", "data_holder", "--password", "correct horse battery", "--hub-config", a.hubYAML)
	strangerTok, _ := run(t, false, "admin", "token", "add", "stranger", "--hub-config", a.hubYAML)
	strangerTok = strings.TrimSpace(strangerTok)
	waitFor(t, 30*time.Second, "alpha online at the hub", func() bool {
		return nodeStates(t, a.hubURL, hubTok)["alpha"].State == "online"
	})

	// A 200 MB CT series: 400 slices of 512×512, generated, stored over STOW-RS.
	g, err := synth.New(synth.Options{Seed: 7, Node: "relay", Patients: 1, Rows: 512, Columns: 512, MinSlices: 400, MaxSlices: 400, MaxSeriesPerStudy: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := &dicomweb.Client{BaseURL: a.nodeURL + "/dicomweb", Token: a.token, HTTP: &http.Client{Timeout: 5 * time.Minute}}
	var batch []dicomweb.Part
	var total int64
	flush := func() {
		if len(batch) == 0 {
			return
		}
		res, err := c.Store(context.Background(), batch)
		if err != nil || res.Failed > 0 {
			t.Fatalf("STOW: %+v %v", res, err)
		}
		batch = nil
	}
	p, err := g.Patient(0)
	if err != nil {
		t.Fatal(err)
	}
	for in, err := range g.Instances(p.Studies[0].Series[0]) { // one series is enough
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := in.File.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		total += int64(buf.Len())
		data := buf.Bytes()
		batch = append(batch, dicomweb.Part{Name: in.SOPInstanceUID, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
		if len(batch) == 25 {
			flush()
		}
	}
	flush()
	t.Logf("stored one series of %.0f MB", float64(total)/1e6)
	if total < 200e6 {
		t.Fatalf("the series is only %d bytes", total)
	}

	direct := func(path string) (*http.Response, []byte) { return fetch(t, a.nodeURL+"/dicomweb"+path, a.token, "") }
	relayed := func(path, tok string) (*http.Response, []byte) {
		return fetch(t, a.hubURL+"/nodes/alpha/dicomweb"+path, tok, "")
	}
	// QIDO through the hub answers as the node does, with URLs that point through the hub.
	_, d := direct("/studies")
	resp, r := relayed("/studies", hubTok)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/dicom+json" {
		t.Fatalf("relayed QIDO: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), r)
	}
	if !bytes.Equal(bytes.ReplaceAll(r, []byte(a.hubURL+"/nodes/alpha/dicomweb"), []byte(a.nodeURL+"/dicomweb")), d) {
		t.Fatalf("relayed QIDO differs:\n%s\n%s", r, d)
	}
	study := between(string(d), `"0020000D":{"vr":"UI","Value":["`, `"`)
	_, sd := direct("/studies/" + study + "/series")
	series := between(string(sd), `"0020000E":{"vr":"UI","Value":["`, `"`)

	// The series, 200 MB, through the hub: the same instances, and memory stays bounded.
	hubRSS, nodeRSS := rssWatcher(a.hub.cmd.Process.Pid), rssWatcher(a.node.cmd.Process.Pid)
	start := time.Now()
	resp, body := relayedStream(t, a.hubURL+"/nodes/alpha/dicomweb/studies/"+study+"/series/"+series, hubTok)
	took := time.Since(start)
	hubPeak, hubBase := hubRSS()
	nodePeak, nodeBase := nodeRSS()
	if resp.StatusCode != 200 {
		t.Fatalf("relayed retrieve: %d", resp.StatusCode)
	}
	_, directBody := fetchMultipart(t, a.nodeURL+"/dicomweb/studies/"+study+"/series/"+series, a.token)
	if len(body) != 400 || !equalSets(body, directBody) {
		t.Fatalf("relayed series: %d parts, direct %d, same set %v", len(body), len(directBody), equalSets(body, directBody))
	}
	t.Logf("%.0f MB series through the hub in %.1f s (%.0f MB/s); RSS growth: hub %.0f MB (from %.0f), node %.0f MB (from %.0f)",
		float64(total)/1e6, took.Seconds(), float64(total)/1e6/took.Seconds(), float64(hubPeak-hubBase)/1e6, float64(hubBase)/1e6, float64(nodePeak-nodeBase)/1e6, float64(nodeBase)/1e6)
	if hubPeak-hubBase > 100<<20 || nodePeak-nodeBase > 100<<20 {
		t.Errorf("memory grew by more than 100 MB while relaying a 200 MB series: hub %d, node %d bytes", hubPeak-hubBase, nodePeak-nodeBase)
	}

	// Policy: no credentials, a user the node does not know, an unknown node.
	for _, c := range []struct {
		url, tok string
		want     int
	}{
		{a.hubURL + "/nodes/alpha/dicomweb/studies", "", 401},
		{a.hubURL + "/nodes/alpha/dicomweb/studies", strangerTok, 403},
		{a.hubURL + "/nodes/nosuch/dicomweb/studies", hubTok, 404},
	} {
		if resp, b := fetch(t, c.url, c.tok, ""); resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d: %s", c.url, resp.StatusCode, c.want, b)
		}
	}
	// An offline node is reported as such.
	a.node.kill()
	waitFor(t, 15*time.Second, "alpha offline", func() bool { return nodeStates(t, a.hubURL, hubTok)["alpha"].State == "offline" })
	if resp, b := fetch(t, a.hubURL+"/nodes/alpha/dicomweb/studies", hubTok, ""); resp.StatusCode != 502 || !strings.Contains(string(b), "offline") {
		t.Errorf("offline node: %d %s", resp.StatusCode, b)
	}
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	return s[:strings.Index(s, b)]
}

func fetch(t *testing.T, url, token, accept string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp, b
}

// relayedStream reads a multipart answer part by part (never all of it in memory) and
// returns the SHA-256 of each part.
func relayedStream(t *testing.T, url, token string) (*http.Response, []string) {
	t.Helper()
	return fetchMultipart(t, url, token)
}

func fetchMultipart(t *testing.T, url, token string) (*http.Response, []string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp, nil
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("%s: content type %q", url, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var sums []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return resp, sums
		}
		if err != nil {
			t.Fatalf("%s: part %d: %v", url, len(sums)+1, err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, p); err != nil {
			t.Fatalf("%s: part %d: %v", url, len(sums)+1, err)
		}
		sums = append(sums, fmt.Sprintf("%x", h.Sum(nil)))
	}
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rssWatcher samples a process's resident set every 50 ms from now on; the function it
// returns stops sampling and gives the peak and the first sample.
func rssWatcher(pid int) func() (peak, base int64) {
	var mu sync.Mutex
	var max, first int64 = 0, -1
	done := make(chan struct{})
	sample := func() {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				mu.Lock()
				if first < 0 {
					first = kb << 10
				}
				if kb<<10 > max {
					max = kb << 10
				}
				mu.Unlock()
			}
		}
	}
	sample()
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() (int64, int64) {
		close(done)
		sample()
		mu.Lock()
		defer mu.Unlock()
		return max, first
	}
}
