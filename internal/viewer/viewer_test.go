package viewer

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

const (
	study  = "1.2.826.0.1.3680043.8.498.1"
	series = "1.2.826.0.1.3680043.8.498.2"
)

func newHandler(t *testing.T, o Options) *Handler {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, target string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	htmlRef = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	// References from one built file to another: new URL(`x`, import.meta.url)
	// (workers, wasm) and relative imports (chunks).
	jsRef = regexp.MustCompile("new URL\\(`([^`]+)`,import\\.meta\\.url\\)|(?:from|import)\\s*\\(?\\s*[\"'`](\\./[^\"'`]+)[\"'`]")
)

func wantType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".wasm":
		return "application/wasm"
	}
	return "?"
}

// Every asset the page references, and every file those reference in turn
// (the decoding worker, its WebAssembly codecs, chunks), is served with its
// type and immutable caching; and there is at least one worker and one wasm.
func TestEveryReferencedAssetIsServed(t *testing.T) {
	for _, prefix := range []string{"/viewer/", "/nodes/oslo/view/"} {
		h := newHandler(t, Options{Prefix: prefix})
		res := get(t, h, h.URL("/dicomweb", study, series))
		page := body(t, res)
		if res.StatusCode != 200 {
			t.Fatalf("%s: page: %d %s", prefix, res.StatusCode, page)
		}
		if strings.Contains(page, "{{") {
			t.Errorf("%s: page has unexpanded template actions", prefix)
		}
		var queue []string
		for _, m := range htmlRef.FindAllStringSubmatch(page, -1) {
			if m[1] == "" || m[1] == "data:," {
				continue // the hidden Back link, the empty favicon
			}
			if !strings.HasPrefix(m[1], prefix+"assets/") {
				t.Errorf("%s: page references %q outside the handler's assets", prefix, m[1])
				continue
			}
			queue = append(queue, m[1])
		}
		if len(queue) < 2 {
			t.Fatalf("%s: page references %d assets, want a script and a stylesheet: %s", prefix, len(queue), page)
		}
		seen := map[string]bool{}
		kinds := map[string]int{}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			if seen[u] {
				continue
			}
			seen[u] = true
			res := get(t, h, u)
			b := body(t, res)
			if res.StatusCode != 200 {
				t.Errorf("%s: %d", u, res.StatusCode)
				continue
			}
			if got := res.Header.Get("Content-Type"); got != wantType(u) {
				t.Errorf("%s: Content-Type %q, want %q", u, got, wantType(u))
			}
			if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
				t.Errorf("%s: Cache-Control %q", u, cc)
			}
			kinds[path.Ext(u)]++
			if strings.Contains(u, "Worker") {
				kinds["worker"]++
			}
			if path.Ext(u) != ".js" {
				continue
			}
			for _, m := range jsRef.FindAllStringSubmatch(b, -1) {
				ref := m[1] + m[2]
				if strings.Contains(ref, "${") {
					continue
				}
				queue = append(queue, path.Join(path.Dir(u), ref))
			}
		}
		if kinds[".wasm"] < 3 || kinds[".js"] < 4 || kinds["worker"] < 1 || kinds[".css"] < 1 {
			t.Errorf("%s: reached %v; want the worker, >= 3 wasm codecs and the css", prefix, kinds)
		}
		t.Logf("%s: %d assets reached from the page: %v", prefix, len(seen), kinds)
	}
}

func TestPageParameters(t *testing.T) {
	h := newHandler(t, Options{})
	res := get(t, h, "/viewer/?dicomweb=/nodes/oslo/dicomweb&study="+study+"&series="+series+"&title=<b>CT</b>&back=/studies")
	page := body(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, page)
	}
	for _, want := range []string{
		`data-dicomweb="/nodes/oslo/dicomweb"`, `data-study="` + study + `"`, `data-series="` + series + `"`,
		`data-token=""`, `<title>&lt;b&gt;CT&lt;/b&gt; · cie viewer</title>`, `data-back="/studies"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if c := res.Header.Get("Content-Security-Policy"); !strings.Contains(c, "connect-src 'self';") || !strings.Contains(c, "'wasm-unsafe-eval'") {
		t.Errorf("CSP %q", c)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page Cache-Control %q", cc)
	}

	// ServePage: a token and an absolute base on another origin.
	rec := httptest.NewRecorder()
	h.ServePage(rec, httptest.NewRequest("GET", "/x", nil), Page{
		DICOMweb: "https://node.example:8443/dicomweb", Study: study, Series: series, Token: `t"<`,
	})
	page = rec.Body.String()
	if rec.Code != 200 || !strings.Contains(page, `data-token="t&#34;&lt;"`) || !strings.Contains(page, `data-dicomweb="https://node.example:8443/dicomweb"`) {
		t.Errorf("ServePage: %d %s", rec.Code, page)
	}
	if c := rec.Header().Get("Content-Security-Policy"); !strings.Contains(c, "connect-src 'self' https://node.example:8443;") {
		t.Errorf("ServePage CSP %q", c)
	}

	// The default base.
	h2 := newHandler(t, Options{DICOMweb: "/dicomweb"})
	if page := body(t, get(t, h2, h2.URL("", study, series))); !strings.Contains(page, `data-dicomweb="/dicomweb"`) {
		t.Errorf("default base not used: %s", page)
	}
}

func TestBadPageRequests(t *testing.T) {
	h := newHandler(t, Options{})
	for _, q := range []string{
		"study=" + study + "&series=" + series, // no base, no default
		"dicomweb=https://evil.example/dw&study=" + study + "&series=" + series,
		"dicomweb=//evil.example/dw&study=" + study + "&series=" + series,
		"dicomweb=/%5Cevil.example&study=" + study + "&series=" + series,
		"dicomweb=/dw?x=1&study=" + study + "&series=" + series,
		"dicomweb=/dw&study=1.2.x&series=" + series,
		"dicomweb=/dw&study=" + study + "&series=",
		"dicomweb=/dw&study=" + study + "&series=1..2",
		"dicomweb=/dw&study=" + study + "&series=" + series + "&back=https://evil.example/",
	} {
		res := get(t, h, "/viewer/?"+q)
		if b := body(t, res); res.StatusCode != 400 || !strings.HasPrefix(b, "viewer: ") {
			t.Errorf("%s: %d %q, want 400 with a message", q, res.StatusCode, b)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/viewer/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestUnknownPaths404(t *testing.T) {
	h := newHandler(t, Options{})
	for _, p := range []string{
		"/viewer/index.html", "/viewer/assets/", "/viewer/assets/nope.js", "/viewer/assets/../index.html",
		"/viewer/assets/x/../../index.html", "/viewer/other", "/viewer", "/", "/viewer/dist/index.html",
	} {
		if res := get(t, h, p); res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
	}
}

func TestAssetGzipAndETag(t *testing.T) {
	h := newHandler(t, Options{})
	var name string
	var plain []byte
	for n, a := range h.assets {
		if strings.HasSuffix(n, ".wasm") {
			name, plain = n, a.data
			break
		}
	}
	if name == "" {
		t.Fatal("no wasm asset")
	}
	u := "/viewer/assets/" + name
	res := get(t, h, u, "Accept-Encoding", "br, gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("headers %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("gzip body differs from the asset (err %v)", err)
	}
	res = get(t, h, u, "Accept-Encoding", "gzip;q=0")
	if res.Header.Get("Content-Encoding") != "" || body(t, res) != string(plain) {
		t.Errorf("gzip;q=0 still got gzip")
	}
	etag := res.Header.Get("ETag")
	if res := get(t, h, u, "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", res.StatusCode)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{Prefix: "viewer/"}, {Prefix: "/viewer"}, {DICOMweb: "ftp://x/y"}} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
