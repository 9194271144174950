package web

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 14, 2, 5, 0, time.UTC)

func newSite(t *testing.T, product string) (*Site, *[]error) {
	t.Helper()
	var errs []error
	s, err := New(Options{
		Product: product,
		Name:    "cie " + product + " test",
		Version: "v9.8.7-test",
		OnError: func(err error) { errs = append(errs, err) },
		Now:     func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, &errs
}

func render(t *testing.T, s *Site, status int, page string, p Page) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Render(rec, status, page, p)
	return rec.Code, rec.Header(), rec.Body.String()
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("body does not contain %q", w)
		}
	}
}

func mustNotContain(t *testing.T, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("body contains %q", b)
		}
	}
}

func sampleNodes() NodesData {
	return NodesData{Now: testNow, Nodes: []NodeRow{
		{Name: "oslo", State: "online", LastSeen: testNow.Add(-3 * time.Second), Version: "v0.1.0",
			Since: testNow.Add(-2 * time.Hour), HTTPURL: "https://oslo.example:8443", DIMSE: "CIE_OSLO@10.0.0.5:11112", Witnessed: 18234},
		{Name: "lisboa", State: "offline", LastSeen: testNow.Add(-17 * time.Minute), Version: "v0.0.9",
			Since: testNow.Add(-17 * time.Minute), Witnessed: 441},
		{Name: "<script>alert(1)</script>", State: "never"},
	}}
}

func sampleAudit() AuditData {
	return AuditData{
		Origin:     "cie.example/audit",
		Size:       5123,
		Checkpoint: "cie.example/audit\n5123\nq0hK3yOZl1B4xK8S7P5Zf6m0mJQ2pI2b2vWmRk1s9vQ=\n\n— cie.example/audit Az3PqE0b<sig>\n",
		Entries: []AuditRow{
			{Index: 5122, Time: testNow.Add(-time.Minute), Type: "access.granted", Actor: "holder:oslo/dr.berg",
				Subject: "dataset/oslo-prostate-mri", Fields: map[string]string{"request": "REQ-42", "expires": "2027-03-01"}},
			{Index: 5121, Time: testNow.Add(-time.Hour), Type: "query", Actor: "researcher:<b>eve</b>", Subject: "search/7f3c"},
		},
		Witnessed: []WitnessRow{{Node: "oslo", Size: 18234, Time: testNow.Add(-12 * time.Second), Root: "b3f1c0a9d2e4f5a6978877665544332211"}},
	}
}

func TestNewRejectsUnknownProduct(t *testing.T) {
	if _, err := New(Options{Product: "laptop"}); err == nil {
		t.Fatal("New accepted product \"laptop\"")
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(Options{Product: "node"})
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.Name != "cie node" || s.opts.Version != "dev" || !slices.Equal(s.opts.Nav, NodeNav) {
		t.Errorf("defaults: %+v", s.opts)
	}
	want := []string{"archive", "atlas", "audit", "basket", "catalogue", "dataset", "error", "explorer", "images", "login", "node-clinical", "node-datasets", "node-home", "node-search", "nodes", "notices", "passport", "placeholder", "request", "requests", "tokens"}
	if got := s.Pages(); !slices.Equal(got, want) {
		t.Errorf("Pages() = %v, want %v", got, want)
	}
}

func TestNodesPage(t *testing.T) {
	s, errs := newSite(t, "hub")
	code, h, body := render(t, s, http.StatusOK, "nodes", Page{Title: "Nodes", Active: "nodes",
		User: &User{Name: "Ingrid", Role: "platform admin"}, CSRF: "tok", Data: sampleNodes()})
	if code != 200 || len(*errs) > 0 {
		t.Fatalf("status %d, errors %v", code, *errs)
	}
	if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	mustContain(t, body,
		"<!doctype html>", "<title>Nodes · cie hub test</title>",
		`<table id="nodes"`, `hx-get="/nodes/table"`, `hx-trigger="every 2s"`, `hx-swap="outerHTML"`,
		`data-node="oslo" data-state="online"`, `data-node="lisboa" data-state="offline"`, `data-state="never"`,
		"3 s ago", "17 min ago", ">never<", "never connected", "v0.1.0", "18\u202f234", "CIE_OSLO@10.0.0.5:11112",
		`href="/nodes" class="active" aria-current="page"`, "cie v9.8.7-test",
		`/static/vendor/htmx.min.js?v=`, `/static/cie.css?v=`,
		"1 online", "1 offline", "1 never connected",
	)
	// html/template escaping: a node name cannot inject markup.
	mustNotContain(t, body, "<script>alert(1)</script>")
	mustContain(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;", `data-node="&lt;script&gt;alert(1)&lt;/script&gt;"`)
}

func TestNodesEmpty(t *testing.T) {
	s, _ := newSite(t, "hub")
	code, _, body := render(t, s, 200, "nodes", Page{Active: "nodes", Data: NodesData{Now: testNow}})
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	mustContain(t, body, "No nodes are registered yet", `hx-get="/nodes/table"`)
}

func TestNodesTablePartial(t *testing.T) {
	s, errs := newSite(t, "hub")
	rec := httptest.NewRecorder()
	s.Partial(rec, "nodes-table", sampleNodes())
	body := rec.Body.String()
	if rec.Code != 200 || len(*errs) > 0 {
		t.Fatalf("status %d, errors %v", rec.Code, *errs)
	}
	mustContain(t, body, `id="nodes-table"`, `<table id="nodes"`, `data-state="online"`, `data-state="offline"`,
		`data-state="never"`, `hx-get="/nodes/table"`, "&lt;script&gt;")
	mustNotContain(t, body, "<html", "<header", "<script>alert")
	if !strings.HasPrefix(strings.TrimSpace(body), `<div id="nodes-table"`) {
		t.Errorf("partial does not start with its swap container: %.60q", body)
	}
}

func TestAuditPage(t *testing.T) {
	for _, product := range []string{"hub", "node"} {
		t.Run(product, func(t *testing.T) {
			s, errs := newSite(t, product)
			code, _, body := render(t, s, 200, "audit", Page{Title: "Audit", Active: "audit", Data: sampleAudit()})
			if code != 200 || len(*errs) > 0 {
				t.Fatalf("status %d, errors %v", code, *errs)
			}
			mustContain(t, body, `<pre class="checkpoint">cie.example/audit`+"\n5123\n", "Az3PqE0b&lt;sig&gt;",
				"5123 entries", "2026-03-01 14:01:05Z", "access.granted", "holder:oslo/dr.berg",
				`<span class="k">expires</span>=<span class="v">2027-03-01</span>`,
				"researcher:&lt;b&gt;eve&lt;/b&gt;", `data-index="5122"`)
			// Fields are sorted by key.
			if strings.Index(body, ">expires<") > strings.Index(body, ">request<") {
				t.Error("fields not sorted by key")
			}
			// Newest first, as given.
			if strings.Index(body, `data-index="5122"`) > strings.Index(body, `data-index="5121"`) {
				t.Error("entries reordered")
			}
			if strings.Contains(body, `id="audit-queued"`) {
				t.Error("a queue shown with nothing queued")
			}
			queued := sampleAudit()
			queued.Queued, queued.QueuedEvery = 3, 10*time.Second
			if _, _, qb := render(t, s, 200, "audit", Page{Title: "Audit", Active: "audit", Data: queued}); !strings.Contains(qb, "3 search events, recorded and moved into the log within 10s") {
				t.Error("queued search events not shown")
			}
			hasWitness := strings.Contains(body, "Witnessed node checkpoints")
			if hasWitness != (product == "hub") {
				t.Errorf("witnessed table shown=%v for %s", hasWitness, product)
			}
			if product == "hub" {
				mustContain(t, body, `<tr data-node="oslo">`, "b3f1c0a9d2e4f5a6…", `title="b3f1c0a9d2e4f5a6978877665544332211"`)
			}
		})
	}
}

func TestPlaceholderPage(t *testing.T) {
	s, _ := newSite(t, "hub")
	_, _, body := render(t, s, 200, "placeholder", Page{Active: "search",
		Data: PlaceholderData{What: "Search", Issue: "https://github.com/cancerimage/cie/issues/12"}})
	mustContain(t, body, "Search is not available in this version of cie.", "Federated search will",
		`<a href="https://github.com/cancerimage/cie/issues/12">`)
	_, _, body = render(t, s, 200, "placeholder", Page{Data: PlaceholderData{What: "Benchmarks", Issue: "#31", About: "Leaderboards."}})
	mustContain(t, body, "Benchmarks is not available in this version of cie.", "Leaderboards.", "Tracked in #31.")
	// An Issue that is not http(s) is never a link (no javascript: URLs).
	_, _, body = render(t, s, 200, "placeholder", Page{Data: PlaceholderData{What: "X", Issue: "javascript:alert(1)"}})
	mustNotContain(t, body, `href="javascript:`)
}

func TestNodeHomePage(t *testing.T) {
	s, errs := newSite(t, "node")
	d := NodeHomeData{Name: "oslo", Hub: "tls://hub.example:4222", Connected: true, Since: testNow.Add(-2 * time.Hour),
		Version: "v0.1.0", DataDir: "/var/lib/cie", AuditSize: 18240, Witnessed: 18234}
	code, _, body := render(t, s, 200, "node-home", Page{Title: "Overview", Active: "home", Data: d})
	if code != 200 || len(*errs) > 0 {
		t.Fatalf("status %d, errors %v", code, *errs)
	}
	mustContain(t, body, "<h1>oslo</h1>", `data-state="online"`, "connected", "tls://hub.example:4222",
		"2026-03-01 12:02:05Z", "(2 h ago)", "/var/lib/cie", "18\u202f240", "18\u202f234 entries", "(6 not yet)",
		`href="/" class="active"`, `href="/audit"`)
	mustNotContain(t, body, "/catalogue")

	d.Connected = false
	_, _, body = render(t, s, 200, "node-home", Page{Data: d})
	mustContain(t, body, `data-state="offline"`, "disconnected")
	d.Since = time.Time{}
	_, _, body = render(t, s, 200, "node-home", Page{Data: d})
	mustContain(t, body, `data-state="never"`, "never connected")
}

func TestErrorPage(t *testing.T) {
	s, _ := newSite(t, "hub")
	code, _, body := render(t, s, http.StatusNotFound, "error", Page{Title: "Not found",
		Data: ErrorData{Status: 404, Message: "No dataset <oslo-brain>."}})
	if code != 404 {
		t.Fatalf("status %d", code)
	}
	mustContain(t, body, ">404<", "Not Found", "No dataset &lt;oslo-brain&gt;.")
}

func TestLoginPage(t *testing.T) {
	s, _ := newSite(t, "hub")
	_, _, body := render(t, s, 200, "login", Page{Title: "Log in", CSRF: "c5rf-t0k3n", Error: "Unknown username or wrong password."})
	mustContain(t, body, `<form method="post" action="/login"`, `name="username"`, `name="password"`, `type="password"`,
		`<input type="hidden" name="csrf" value="c5rf-t0k3n">`, "Unknown username or wrong password.")
	if n := strings.Count(body, "Unknown username"); n != 1 {
		t.Errorf("error shown %d times", n)
	}
	// The login page does not link to itself.
	mustNotContain(t, body, `href="/login"`)
}

func TestHeaderAnonymousAndLoggedIn(t *testing.T) {
	s, _ := newSite(t, "hub")
	data := PlaceholderData{What: "Jobs"}

	_, _, anon := render(t, s, 200, "placeholder", Page{Active: "jobs", Data: data, Flash: "Logged out"})
	mustContain(t, anon, `<a class="btn btn-quiet" href="/login">Log in</a>`, "Logged out")
	mustNotContain(t, anon, `action="/logout"`, "hx-headers")

	_, _, in := render(t, s, 200, "placeholder", Page{Active: "jobs", Data: data, CSRF: "abc123",
		User: &User{Name: "Ana <Rossi>", Role: "researcher"}})
	mustContain(t, in, "Ana &lt;Rossi&gt;", `<span class="who-role">researcher</span>`,
		`<form method="post" action="/logout"`, `<input type="hidden" name="csrf" value="abc123">`, "Log out",
		`hx-headers="{&#34;X-CSRF-Token&#34;:&#34;abc123&#34;}"`)
	mustNotContain(t, in, `href="/login"`)
}

func TestBrokenPageIs500(t *testing.T) {
	s, errs := newSite(t, "hub")
	code, h, body := render(t, s, 200, "no-such-page", Page{})
	if code != http.StatusInternalServerError {
		t.Fatalf("status %d", code)
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/plain") || strings.Contains(body, "<") {
		t.Errorf("500 is not a clean plain message: %q %q", h.Get("Content-Type"), body)
	}
	if len(*errs) != 1 || !strings.Contains((*errs)[0].Error(), "no-such-page") {
		t.Errorf("OnError got %v", *errs)
	}

	// A template execution error (wrong Data type) gives a clean 500, not half a page.
	code, _, body = render(t, s, 200, "nodes", Page{Data: "not NodesData"})
	if code != http.StatusInternalServerError || strings.Contains(body, "<html") {
		t.Errorf("bad data: status %d, body %.80q", code, body)
	}

	rec := httptest.NewRecorder()
	s.Partial(rec, "no-such-partial", nil)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("unknown partial: status %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	s.Partial(rec, "layout", nil)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("layout as partial: status %d", rec.Code)
	}

	// Without OnError nothing panics either.
	s2, err := New(Options{Product: "node"})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	s2.Render(rec, 200, "missing", Page{})
	if rec.Code != 500 {
		t.Errorf("status %d", rec.Code)
	}
}

func TestStatic(t *testing.T) {
	s, _ := newSite(t, "hub")
	mux := http.NewServeMux()
	mux.Handle("/static/", s.Static())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		return resp, string(b)
	}

	for path, want := range map[string]string{
		"/static/vendor/htmx.min.js": "text/javascript; charset=utf-8",
		"/static/cie.css":            "text/css; charset=utf-8",
		"/static/favicon.svg":        "image/svg+xml",
	} {
		resp, body := get(path)
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != want {
			t.Errorf("%s: Content-Type %q, want %q", path, ct, want)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("%s: Cache-Control %q", path, cc)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("ETag") == "" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
		if len(body) == 0 {
			t.Errorf("%s: empty", path)
		}
	}
	if _, body := get("/static/vendor/htmx.min.js"); !strings.Contains(body, "htmx") {
		t.Error("htmx.min.js does not look like htmx")
	}

	// The versioned URL the templates use is cacheable forever.
	u, err := s.assetURL("cie.css")
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := get(u)
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("versioned URL: Cache-Control %q", cc)
	}
	// Revalidation by ETag.
	resp, _ = get("/static/cie.css", "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d", resp.StatusCode)
	}
	for _, p := range []string{"/static/", "/static/nope.js", "/static/vendor/README.md", "/static/../web.go"} {
		if resp, _ := get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestAgo(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"}, {500 * time.Millisecond, "just now"}, {3 * time.Second, "3 s ago"},
		{59 * time.Second, "59 s ago"}, {5 * time.Minute, "5 min ago"}, {3 * time.Hour, "3 h ago"},
		{47 * time.Hour, "47 h ago"}, {72 * time.Hour, "3 d ago"}, {-4 * time.Second, "in 4 s"},
	} {
		if got := ago(testNow.Add(-c.d), testNow); got != c.want {
			t.Errorf("ago(-%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := ago(time.Time{}, testNow); got != "never" {
		t.Errorf("ago(zero) = %q", got)
	}
}

func TestNum(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 9021: "9021", 18234: "18\u202f234", 1234567: "1\u202f234\u202f567"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
}

// errWriter fails every write, as a client that went away.
type errWriter struct{ *httptest.ResponseRecorder }

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("gone") }

func TestRenderToFailingWriterDoesNotPanic(t *testing.T) {
	s, _ := newSite(t, "hub")
	w := errWriter{httptest.NewRecorder()}
	s.Render(w, 200, "nodes", Page{Data: sampleNodes()})
	s.Partial(w, "nodes-table", sampleNodes())
}

func TestNodeClinicalPage(t *testing.T) {
	s, errs := newSite(t, "node")
	d := ClinicalData{Tables: []ClinicalTable{{Name: "cdm_patient", Label: "Patients", Rows: 12345}}, Linked: 7,
		Studies: []ClinicalStudy{{StudyUID: "2.25.1", PatientID: "CIEAAAA", Sex: "female", Age: "61", Diagnosis: "Breast Cancer"}},
		Report: &ClinicalReport{Source: "c.csv", Format: "csv", Lines: 3, Records: 2, Count: 1,
			Problems: []ClinicalProblem{{Line: 3, Reason: "value <X> not in map"}},
			Changes:  []ClinicalChange{{Table: "cdm_patient", Inserted: 2}}}}
	code, _, body := render(t, s, 200, "node-clinical", Page{Title: "Clinical data", Active: "clinical", CSRF: "tok", Data: d})
	if code != 200 || len(*errs) > 0 {
		t.Fatalf("status %d, errors %v", code, *errs)
	}
	mustContain(t, body, "<h1>Clinical data</h1>", `data-table="cdm_patient">12`+"\u202f"+`345<`, `data-count="linked">7<`,
		`action="/clinical/import"`, `enctype="multipart/form-data"`, `name="csrf" value="tok"`, `href="/clinical" class="active"`,
		"3 lines read: 2 records imported, 1 with problems.", `<tr data-line="3"><td class="num">3</td><td>value &lt;X&gt; not in map</td>`,
		"Breast Cancer", "No imports yet.")
	_, _, body = render(t, s, 200, "node-clinical", Page{Data: ClinicalData{}})
	mustContain(t, body, "No study of the archive has clinical data yet.")
	mustNotContain(t, body, `id="clinical-report"`)
}
