package hub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/disclosure"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/query"
)

// runHub starts a hub with its bus (plain TCP on loopback) and a search deadline.
func runHub(t *testing.T, timeout time.Duration) *Hub {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = "test-hub"
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Bus.Listen = "127.0.0.1:0"
	cfg.Bus.TLS = BusTLSOff
	cfg.Search.Timeout = timeout
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("hub did not stop")
		}
	})
	for deadline := time.Now().Add(15 * time.Second); h.BusURL() == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("bus did not start")
		}
	}
	return h
}

// fakeNode registers a node and, unless offline, connects it to the hub's bus as a
// remote hospital would, waiting until the hub shows it online.
func fakeNode(t *testing.T, h *Hub, name string, offline bool) *nats.Conn {
	t.Helper()
	ctx := context.Background()
	creds, err := RegisterNode(ctx, h.db, h.cfg, h.keys, name, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.reg.load(ctx); err != nil {
		t.Fatal(err)
	}
	if offline {
		return nil
	}
	creds.HubURL = h.BusURL()
	nc, err := bus.Dial(ctx, creds, bus.DialOptions{})
	if err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	t.Cleanup(nc.Close)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n, _ := h.reg.get(name); n.State == StateOnline {
			return nc
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s is not online", name)
		}
	}
}

// answerSearches makes nc answer node's searches after delay, recording the requests.
func answerSearches(t *testing.T, nc *nats.Conn, node string, delay time.Duration, ans fed.SearchAnswer, got chan<- fed.SearchRequest) {
	t.Helper()
	_, err := nc.Subscribe(fed.SearchSubject(node), func(m *nats.Msg) {
		var rq fed.SearchRequest
		if err := fed.Unmarshal(m.Data, &rq); err != nil {
			t.Errorf("node %s: %v", node, err)
			return
		}
		if got != nil {
			got <- rq
		}
		time.Sleep(delay)
		a := ans
		a.Node = node
		data, _ := fed.Marshal(&a)
		_ = m.Respond(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// researcher makes a user with a role and returns an API token.
func researcher(t *testing.T, h *Hub, name, role string) string {
	t.Helper()
	ctx := context.Background()
	if err := h.users.Put(ctx, name, role, "long enough"); err != nil {
		t.Fatal(err)
	}
	tok, _, err := h.users.IssueToken(ctx, name, "t")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func post(t *testing.T, url, tok, accept, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// breastMR is "female, age 40–60, breast cancer, MR".
const breastMR = `{"ast":{"operand":"AND","children":[
 {"key":"SNOMEDCT263495000","type":"EQUALS","value":"SNOMEDCT248152002"},
 {"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40,"max":60}},
 {"key":"SNOMEDCT439401001","type":"EQUALS","value":"SNOMEDCT254837009"},
 {"key":"RID10311","type":"EQUALS","value":"RID10312"}]}}`

func count(n int) disclosure.Count { return disclosure.Suppress(n, 0) }

// okAnswer is an answer with one dataset of 42 subjects and one suppressed.
var okAnswer = fed.SearchAnswer{Status: fed.SearchOK, Unsupported: []string{"C25392"},
	Collections: []fed.Collection{
		{ID: "ds-1", Name: "Breast MR", SubjectsCount: count(42), StudiesCount: count(57), AgeRange: &fed.Range{Min: 41, Max: 59}},
		{ID: "ds-2", Name: "Small", SubjectsCount: disclosure.Suppressed(10), StudiesCount: disclosure.Suppressed(10)},
	},
	Budget: &fed.Budget{Spent: 0.5, Remaining: 9.5}}

func TestSearchBadQueryNamesThePart(t *testing.T) {
	h := newHub(t)
	tok := researcher(t, h, "rita", auth.RoleResearcher)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	before := h.audit.Size()
	for _, tc := range []struct{ body, path, kind string }{
		{`{"ast":{"operand":"AND","children":[{"key":"SNOMEDCT263495000","type":"EQUALS","value":"SNOMEDCT0"}]}}`, "/ast/children/0/value", "unknown code"},
		{`{"ast":{"operand":"AND","children":[{"key":"x"},{"key":"NOPE","type":"EQUALS","value":"a"}]}}`, "/ast/children/0", "malformed query"},
		{`{"ast":{"operand":"OR","children":[{"key":"RID10311","type":"EQUALS","value":"RID10312"},{"key":"NOPE","type":"EQUALS","value":"a"}]}}`, "/ast/children/1/key", "unknown key"},
		{`{"ast":{"operand":"AND","children":[{"key":"SNOMEDCT423493009","type":"BETWEEN","value":"old"}]}}`, "/ast/children/0/value", "wrong value"},
		{`{"query":1}`, "/query", "malformed query"},
		{`not json`, "", "query is not JSON"},
	} {
		resp := post(t, srv.URL+"/api/v1/search", tok, "text/event-stream", tc.body)
		var p queryProblem
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 400 || p.Path != tc.path || p.Kind != tc.kind || p.Error == "" {
			t.Errorf("%s: %d %+v, want 400 at %q (%s)", tc.body, resp.StatusCode, p, tc.path, tc.kind)
		}
	}
	if h.audit.Size() != before {
		t.Errorf("a refused query was logged as a search (%d → %d entries)", before, h.audit.Size())
	}
}

type sseEvent struct {
	name string
	data string
	at   time.Duration
}

func readEvents(t *testing.T, body io.Reader, start time.Time) []sseEvent {
	t.Helper()
	var out []sseEvent
	var ev sseEvent
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		case line == "":
			ev.at = time.Since(start)
			out = append(out, ev)
			ev = sseEvent{}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSearchStreams: the nodes' results stream as they arrive — an offline node and
// one with nothing answering at once, a fast node before a slow one, a node past the
// deadline reported as timed out at the deadline — and the search is audit-logged.
func TestSearchStreams(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	h := runHub(t, timeout)
	tok := researcher(t, h, "rita", auth.RoleResearcher)
	reqs := make(chan fed.SearchRequest, 10)
	answerSearches(t, fakeNode(t, h, "fast", false), "fast", 0, okAnswer, reqs)
	answerSearches(t, fakeNode(t, h, "slow", false), "slow", 400*time.Millisecond,
		fed.SearchAnswer{Status: fed.SearchRefused, Message: "privacy budget spent"}, nil)
	answerSearches(t, fakeNode(t, h, "late", false), "late", 4*time.Second, okAnswer, nil)
	fakeNode(t, h, "silent", false) // connected, answers nothing
	fakeNode(t, h, "gone", true)    // registered, never connected
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()

	start := time.Now()
	resp := post(t, srv.URL+"/api/v1/search", tok, "text/event-stream", breastMR)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readEvents(t, resp.Body, start)
	if took := time.Since(start); took > timeout+700*time.Millisecond {
		t.Errorf("the stream ended after %s, deadline %s", took, timeout)
	}
	var names []string
	results := map[string]NodeResult{}
	at := map[string]time.Duration{}
	var order []string
	for _, e := range events {
		names = append(names, e.name)
		if e.name == "node" {
			var r NodeResult
			if err := json.Unmarshal([]byte(e.data), &r); err != nil {
				t.Fatal(err)
			}
			results[r.Node], at[r.Node] = r, e.at
			order = append(order, r.Node)
		}
	}
	if len(names) != 7 || names[0] != "start" || names[6] != "done" {
		t.Fatalf("events %v", names)
	}
	var st searchStart
	if err := json.Unmarshal([]byte(events[0].data), &st); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Nodes, []startNode{{"fast", true}, {"gone", false}, {"late", true}, {"silent", true}, {"slow", true}}) {
		t.Errorf("start: %+v", st.Nodes)
	}
	idx := func(n string) int { return slices.Index(order, n) }
	if order[0] != "gone" || idx("fast") > idx("slow") || idx("slow") > idx("late") || order[4] != "late" {
		t.Errorf("order %v: want gone first, fast before slow, late last", order)
	}
	for node, want := range map[string]string{"fast": fed.SearchOK, "slow": fed.SearchRefused, "late": AskTimeout, "silent": AskUnreachable, "gone": AskOffline} {
		if results[node].Status != want {
			t.Errorf("%s: %q (%s), want %q", node, results[node].Status, results[node].Message, want)
		}
	}
	if at["slow"] < 350*time.Millisecond || at["late"] < timeout-100*time.Millisecond || at["silent"] > timeout/2 || at["gone"] > timeout/2 {
		t.Errorf("arrival times %v", at)
	}
	if m := results["slow"].Message; m != "privacy budget spent" {
		t.Errorf("refusal message %q", m)
	}
	fast := results["fast"]
	if fast.Subjects.String() != "42 + < 10" || fast.Studies.String() != "57 + < 10" || !slices.Equal(fast.Unsupported, []string{"C25392"}) || fast.Budget == nil || fast.Budget.Remaining != 9.5 {
		t.Errorf("fast: %+v", fast)
	}
	var done struct {
		Nodes []struct {
			Node        string
			Collections []struct {
				SubjectsCount any `json:"subjects_count"`
			}
		}
	}
	if err := json.Unmarshal([]byte(events[6].data), &done); err != nil {
		t.Fatal(err)
	}
	for _, n := range done.Nodes {
		if n.Node == "fast" && (len(n.Collections) != 2 || n.Collections[0].SubjectsCount != 42.0 || n.Collections[1].SubjectsCount != "< 10") {
			t.Errorf("fast's datasets in the result: %+v", n.Collections)
		}
	}
	// The node got the question as asked, with the hub's hash and deadline.
	q, err := query.Parse([]byte(breastMR))
	if err != nil {
		t.Fatal(err)
	}
	rq := <-reqs
	if rq.Researcher != "rita" || rq.Hash != q.Hash().String() || rq.ID != st.ID || string(rq.Query) != compact(t, breastMR) || rq.Deadline.Sub(start) > timeout+time.Second {
		t.Errorf("request %+v", rq)
	}
	// Audit: who, the hash, the nodes asked and those not.
	es, err := h.audit.Entries(context.Background(), 0, int(h.audit.Size()))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range es {
		if e.Type == "search" && e.Subject == st.ID {
			found = true
			if e.Actor != "rita" || e.Fields["hash"] != q.Hash().String() || e.Fields["nodes"] != "fast,late,silent,slow" || e.Fields["offline"] != "gone" {
				t.Errorf("audit entry %+v", e)
			}
		}
	}
	if !found {
		t.Error("the search is not in the audit log")
	}
}

// TestSearchJSONAndDownload: without event-stream the answer is one document; the
// result can be downloaded again by its researcher only.
func TestSearchJSONAndDownload(t *testing.T) {
	h := runHub(t, time.Second)
	tok := researcher(t, h, "rita", auth.RoleResearcher)
	other := researcher(t, h, "olga", auth.RoleDataHolder)
	answerSearches(t, fakeNode(t, h, "fast", false), "fast", 0, okAnswer, nil)
	fakeNode(t, h, "gone", true)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	resp := post(t, srv.URL+"/api/v1/search", tok, "", breastMR)
	var res SearchResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if len(res.Nodes) != 2 || res.Subjects.String() != "42 + < 10" || res.Researcher != "rita" || !strings.HasPrefix(res.Hash, "sha256:") {
		t.Fatalf("result %+v", res)
	}
	get := func(tok string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/search/"+res.ID+"?download=1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	}
	r, body := get(tok)
	if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Disposition"), "search-"+res.ID+".json") || !strings.Contains(body, `"id": "`+res.ID+`"`) {
		t.Errorf("download: %d %q %s", r.StatusCode, r.Header.Get("Content-Disposition"), body)
	}
	if r, _ := get(other); r.StatusCode != 404 {
		t.Errorf("another user's download: %d", r.StatusCode)
	}
}

func TestTotal(t *testing.T) {
	var tot Total
	if tot.String() != "0" {
		t.Errorf("empty: %s", tot)
	}
	tot.Add(disclosure.Suppressed(10))
	if tot.String() != "< 10" {
		t.Errorf("one suppressed: %s", tot)
	}
	tot.Add(count(12))
	tot.Add(count(3))
	tot.Add(disclosure.Suppressed(5))
	if tot.String() != "15 + 2 × < 10" {
		t.Errorf("mixed: %s", tot)
	}
	b, _ := json.Marshal(tot)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["exact"] != 15.0 || back["suppressed"] != 2.0 || back["below"] != 10.0 || back["text"] != "15 + 2 × < 10" {
		t.Errorf("json %s", b)
	}
}

// TestBeaconMapping: Beacon filters become conditions of the vocabulary; what maps
// to nothing is an error that names the filter.
func TestBeaconMapping(t *testing.T) {
	b, err := beaconQuery([]BeaconFilter{
		{ID: "SNOMEDCT:248152002"},
		{ID: "SNOMEDCT:423493009", Operator: ">=", Value: "40"},
		{ID: "SNOMEDCT:423493009", Operator: "<=", Value: 60.0},
		{ID: "SNOMEDCT:254837009"},
		{ID: "RADLEX:RID10312"},
		{ID: "EUCAIM:CLIN1045815", Operator: "=", Value: "EUCAIM:COM1001310"},
	})
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var got []string
	for l := range q.Leaves() {
		v := l.Code
		if v == "" {
			v = strconv.FormatFloat(l.Number, 'g', -1, 64)
		}
		got = append(got, l.Key+" "+string(l.Type)+" "+v)
	}
	slices.Sort(got)
	want := []string{
		"EUCAIM_Hyper-Ontology_V1.0.CLIN1045815 EQUALS EUCAIM_Hyper-Ontology_V1.0.COM1001310",
		"RID10311 EQUALS RID10312",
		"SNOMEDCT263495000 EQUALS SNOMEDCT248152002",
		"SNOMEDCT423493009 GREATER_THAN_OR_EQUAL 40",
		"SNOMEDCT423493009 LOWER_THAN_OR_EQUAL 60",
		"SNOMEDCT439401001 EQUALS SNOMEDCT254837009",
	}
	if !slices.Equal(got, want) {
		t.Errorf("leaves\n%v\nwant\n%v", got, want)
	}
	for _, tc := range []struct {
		f    BeaconFilter
		path string
	}{
		{BeaconFilter{ID: "SNOMEDCT:1"}, "/query/filters/0/id"},
		{BeaconFilter{ID: "HP:0001"}, "/query/filters/0/id"},
		{BeaconFilter{ID: "nocurie"}, "/query/filters/0/id"},
		{BeaconFilter{ID: "EUCAIM:COM1001310"}, "/query/filters/0"},  // a code of several keys
		{BeaconFilter{ID: "SNOMEDCT:423493009"}, "/query/filters/0"}, // a key without a value
		{BeaconFilter{ID: "SNOMEDCT:423493009", Operator: "~", Value: "1"}, "/query/filters/0/operator"},
		{BeaconFilter{ID: "SNOMEDCT:423493009", Operator: ">", Value: "old"}, "/query/filters/0/value"},
		{BeaconFilter{ID: "SNOMEDCT:263495000", Operator: "=", Value: "RADLEX:RID10312"}, "/query/filters/0/value"},
	} {
		_, err := beaconQuery([]BeaconFilter{tc.f})
		be, ok := err.(*beaconError)
		if !ok || be.path != tc.path {
			t.Errorf("%+v: %v, want an error at %s", tc.f, err, tc.path)
		}
	}
}

// TestBeaconIndividuals: a Beacon request is answered by the fan-out, in Beacon's
// shape, counting only what the nodes release.
func TestBeaconIndividuals(t *testing.T) {
	h := runHub(t, time.Second)
	tok := researcher(t, h, "rita", auth.RoleResearcher)
	reqs := make(chan fed.SearchRequest, 4)
	answerSearches(t, fakeNode(t, h, "fast", false), "fast", 0, okAnswer, reqs)
	fakeNode(t, h, "gone", true)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	body := `{"meta":{"apiVersion":"v2.0"},"query":{"filters":[{"id":"SNOMEDCT:248152002"},"RADLEX:RID10312",
	  {"id":"SNOMEDCT:423493009","operator":">","value":"40"}],"requestedGranularity":"count"}}`
	resp := post(t, srv.URL+"/api/v1/beacon/individuals", tok, "", body)
	var out struct {
		Meta struct {
			BeaconID, ReturnedGranularity string
			ReceivedRequestSummary        struct{ Filters []string }
		}
		ResponseSummary struct {
			Exists          bool
			NumTotalResults *int
		}
		Info struct {
			Cie struct{ Nodes []map[string]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if !out.ResponseSummary.Exists || out.ResponseSummary.NumTotalResults == nil || *out.ResponseSummary.NumTotalResults != 42 ||
		out.Meta.ReturnedGranularity != "count" || out.Meta.BeaconID != "cie.test-hub" || len(out.Meta.ReceivedRequestSummary.Filters) != 3 || len(out.Info.Cie.Nodes) != 2 {
		t.Errorf("answer %+v", out)
	}
	rq := <-reqs
	for _, want := range []string{`"SNOMEDCT248152002"`, `"RID10312"`, `"GREATER_THAN"`} {
		if !strings.Contains(string(rq.Query), want) {
			t.Errorf("the node was asked %s, without %s", rq.Query, want)
		}
	}
	// Boolean: exists only.
	resp = post(t, srv.URL+"/api/v1/beacon/individuals", tok, "", `{"query":{"filters":["SNOMEDCT:248152002"]}}`)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"exists": true`) || strings.Contains(string(b), "numTotalResults") {
		t.Errorf("boolean: %d %s", resp.StatusCode, b)
	}
	// An unknown filter is a Beacon error naming it.
	resp = post(t, srv.URL+"/api/v1/beacon/individuals", tok, "", `{"query":{"filters":[{"id":"SNOMEDCT:999"}],"requestedGranularity":"count"}}`)
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"errorCode": 400`) || !strings.Contains(string(b), `"/query/filters/0/id"`) {
		t.Errorf("unknown filter: %d %s", resp.StatusCode, b)
	}
}

// TestAtlas: the atlas adds up the nodes' totals, keeps suppressed cells apart, shows
// them as "< 10" in its charts, and asks the nodes again only after its TTL.
func TestAtlas(t *testing.T) {
	h := runHub(t, time.Second)
	var mu sync.Mutex
	asked := 0
	for name, a := range map[string]fed.AtlasAnswer{
		"oslo": {Subjects: count(120), Studies: count(300), Modality: map[string]disclosure.Count{"MR": count(80), "CT": count(40)},
			BodyPart: map[string]disclosure.Count{"BREAST": count(70)}, CancerType: map[string]disclosure.Count{"SNOMEDCT254837009": count(70)}},
		"bergen": {Subjects: count(30), Studies: count(44), Modality: map[string]disclosure.Count{"MR": disclosure.Suppressed(10), "PT": count(30)},
			BodyPart: map[string]disclosure.Count{"BREAST": disclosure.Suppressed(10)}, CancerType: map[string]disclosure.Count{"SNOMEDCT363358000": count(30)}},
	} {
		nc := fakeNode(t, h, name, false)
		a.Node = name
		data, _ := fed.Marshal(&a)
		if _, err := nc.Subscribe(fed.AtlasSubject(name), func(m *nats.Msg) {
			mu.Lock()
			asked++
			mu.Unlock()
			_ = m.Respond(data)
		}); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	fakeNode(t, h, "gone", true)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		r, err := http.Get(srv.URL + path) // anonymous
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	code, body := get("/api/v1/atlas")
	var a struct {
		Subjects Total
		Nodes    []struct{ Node, Status string }
		Modality []struct {
			Value, Label string
			Total        struct{ Text string }
		}
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil || code != 200 {
		t.Fatalf("%d %v %s", code, err, body)
	}
	if len(a.Nodes) != 3 || a.Nodes[1].Node != "gone" || a.Nodes[1].Status != AskOffline || a.Nodes[0].Status != fed.SearchOK {
		t.Errorf("nodes %+v", a.Nodes)
	}
	var mods []string
	for _, m := range a.Modality {
		mods = append(mods, m.Label+"="+m.Total.Text)
	}
	if !slices.Equal(mods, []string{"Magnetic Resonance Imaging (MR)=80 + < 10", "Computed Tomography (CT)=40", "Positron Emission Tomography (PT)=30"}) {
		t.Errorf("modalities %v", mods)
	}
	code, page := get("/atlas")
	if code != 200 {
		t.Fatalf("atlas page: %d", code)
	}
	for _, want := range []string{"<svg", `id="by-modality"`, `data-value="80 &#43; &lt; 10"`, "Breast Cancer", "Lung Cancer", `id="atlas-subjects">150<`, `data-node="gone" data-status="offline"`, "bar-suppressed"} {
		if !strings.Contains(page, want) {
			t.Errorf("atlas page lacks %s", want)
		}
	}
	mu.Lock()
	n := asked
	mu.Unlock()
	if n != 2 {
		t.Errorf("the nodes were asked %d times for two atlas views within the TTL, want 2 (once each)", n)
	}
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
