package catalogue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// memSource is a Source over a slice.
type memSource struct {
	ds  []Dataset
	err error
}

func (m *memSource) Datasets(context.Context) ([]Dataset, error) { return m.ds, m.err }

func (m *memSource) Dataset(_ context.Context, id string) (Dataset, error) {
	if m.err != nil {
		return Dataset{}, m.err
	}
	for _, d := range m.ds {
		if d.ID == id {
			return d, nil
		}
	}
	return Dataset{}, fmt.Errorf("no %q: %w", id, ErrNotFound)
}

// fdpServer serves an FDP over src at a test server whose URL is the
// catalogue's base URL, under the given path prefix.
func fdpServer(t *testing.T, src Source, prefix string) (*httptest.Server, Catalog) {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	c := testCatalog()
	c.BaseURL = srv.URL + prefix
	fdp, err := NewFDP(c, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/fdp", fdp)
	mux.Handle(prefix+"/fdp/", fdp)
	h = mux
	return srv, c
}

func fdpDatasets() []Dataset {
	a, b, c := sampleDataset("pub-a"), sampleDataset("pub-b"), sampleDataset("withdrawn")
	b.Title = "Breast MR"
	if err := c.Apply(ActionInvalidate, c.Modified.Add(time.Hour)); err != nil {
		panic(err)
	}
	draft := New("draft-1", "valencia", time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC))
	draft.Title = "not yet"
	return []Dataset{b, draft, c, a}
}

func get(t *testing.T, url, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestFDPHarvest walks the FAIR Data Point the way a harvester does: from
// /fdp, asking for Turtle, following every link to a record of this server
// (ldp:contains, fdp-o:metadataCatalog, r3d:dataCatalog, dcat:dataset,
// dcat:distribution), parsing every document. It must find exactly the
// published datasets, each described as the model says, and every record must
// say the same in JSON-LD.
func TestFDPHarvest(t *testing.T) {
	for _, prefix := range []string{"", "/hub"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			ds := fdpDatasets()
			srv, c := fdpServer(t, &memSource{ds: ds}, prefix)
			follow := []string{nsLDP + "contains", nsFDPO + "metadataCatalog", nsR3D + "dataCatalog", nsDCAT + "dataset", nsDCAT + "distribution"}
			seen := map[string]bool{}
			queue := []string{srv.URL + prefix + "/fdp"}
			found := map[string]graph{}
			types := map[string]bool{}
			for len(queue) > 0 {
				u := queue[0]
				queue = queue[1:]
				if seen[u] {
					continue
				}
				seen[u] = true
				resp, body := get(t, u, "text/turtle")
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %s\n%s", u, resp.Status, body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "text/turtle; charset=utf-8" {
					t.Errorf("GET %s: Content-Type %q", u, ct)
				}
				ts, err := parseTurtle(body, u)
				if err != nil {
					t.Fatalf("GET %s: %v\n%s", u, err, body)
				}
				g := newGraph(ts)
				self := iriOf(u)
				if len(g[self]) == 0 {
					t.Fatalf("GET %s: the document does not describe %s", u, u)
				}
				for _, ty := range g.objs(self, nsRDF+"type") {
					types[ty.Value] = true
					if ty.Value == nsDCAT+"Dataset" {
						found[u] = g
					}
				}
				if id, ok := g.one(self, nsFDPO+"metadataIdentifier"); !ok || id.Value != u {
					t.Errorf("GET %s: fdp-o:metadataIdentifier %v", u, id)
				}
				for _, tr := range ts {
					for _, p := range follow {
						if tr.P.Value == p && tr.O.Kind == 'I' && strings.HasPrefix(tr.O.Value, srv.URL) {
							queue = append(queue, tr.O.Value)
						}
					}
				}
				// The same record as JSON-LD says the same.
				resp, js := get(t, u, "application/ld+json")
				if ct := resp.Header.Get("Content-Type"); ct != "application/ld+json" {
					t.Errorf("GET %s as JSON-LD: Content-Type %q", u, ct)
				}
				var doc map[string]any
				if err := json.Unmarshal([]byte(js), &doc); err != nil {
					t.Fatalf("GET %s as JSON-LD: %v", u, err)
				}
				jts, err := jsonldTriples(doc)
				if err != nil {
					t.Fatalf("GET %s as JSON-LD: %v", u, err)
				}
				if a, b := canonical(ts), canonical(jts); !reflect.DeepEqual(a, b) {
					t.Errorf("GET %s: JSON-LD and Turtle differ:\n%s\n---\n%s", u, strings.Join(a, "\n"), strings.Join(b, "\n"))
				}
			}
			for _, ty := range []string{nsFDPO + "FAIRDataPoint", nsR3D + "Repository", nsDCAT + "Catalog", nsDCAT + "Dataset", nsDCAT + "Distribution"} {
				if !types[ty] {
					t.Errorf("no record of type %s", ty)
				}
			}
			var got []string
			for u := range found {
				got = append(got, u)
			}
			sort.Strings(got)
			want := []string{c.DatasetIRI("pub-a"), c.DatasetIRI("pub-b")}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("harvested %v, want %v", got, want)
			}
			for _, d := range ds {
				if g, ok := found[c.DatasetIRI(d.ID)]; ok {
					if got, want := datasetFromGraph(t, g, c, c.DatasetIRI(d.ID)), comparable(d); !reflect.DeepEqual(got, want) {
						t.Errorf("dataset %s:\n got %+v\nwant %+v", d.ID, got, want)
					}
				}
			}
		})
	}
}

// TestFDPCKANHarvesterPath follows exactly the steps of the CKAN FAIR Data
// Point harvester (ckanext-fairdatapoint): the objects of ldp:contains in the
// FDP record are fetched; their dcat:Catalog subjects are fetched; the objects
// of dcat:dataset there are the records.
func TestFDPCKANHarvesterPath(t *testing.T) {
	srv, c := fdpServer(t, &memSource{ds: fdpDatasets()}, "")
	fetch := func(u string) graph {
		_, body := get(t, u, "text/turtle")
		ts, err := parseTurtle(body, u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		return newGraph(ts)
	}
	var records []string
	root := fetch(srv.URL + "/fdp")
	for _, props := range root {
		for _, contained := range props[nsLDP+"contains"] {
			for _, cat := range fetch(contained.Value).subjectsOfType(nsDCAT + "Catalog") {
				g := fetch(cat.Value)
				for _, d := range g.objs(cat, nsDCAT+"dataset") {
					records = append(records, d.Value)
				}
			}
		}
	}
	sort.Strings(records)
	if want := []string{c.DatasetIRI("pub-a"), c.DatasetIRI("pub-b")}; !reflect.DeepEqual(records, want) {
		t.Errorf("records %v, want %v", records, want)
	}
}

func TestFDPErrors(t *testing.T) {
	src := &memSource{ds: fdpDatasets()}
	srv, c := fdpServer(t, src, "")
	for _, tc := range []struct {
		path, accept string
		status       int
	}{
		{"/fdp", "", http.StatusOK},
		{"/fdp/", "*/*", http.StatusOK},
		{"/fdp", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", http.StatusOK},
		{"/fdp", "application/rdf+xml", http.StatusNotAcceptable},
		{"/fdp", "text/turtle;q=0", http.StatusNotAcceptable},
		{"/fdp/dataset/draft-1", "", http.StatusNotFound},
		{"/fdp/dataset/nope", "", http.StatusNotFound},
		{"/fdp/dataset/..%2Fx", "", http.StatusNotFound},
		{"/fdp/distribution/draft-1", "", http.StatusNotFound},
		{"/fdp/catalog/other", "", http.StatusNotFound},
		{"/fdp/elsewhere", "", http.StatusNotFound},
		{"/fdp/dataset/withdrawn", "", http.StatusOK},
		{"/fdp/distribution/pub-a", "", http.StatusOK},
	} {
		resp, body := get(t, srv.URL+tc.path, tc.accept)
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s (Accept %q): %s, want %d\n%s", tc.path, tc.accept, resp.Status, tc.status, body)
		}
	}
	// The withdrawn dataset says so, and the catalogue does not list it.
	_, body := get(t, srv.URL+"/fdp/dataset/withdrawn", "")
	ts, err := parseTurtle(body, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := newGraph(ts).one(iriOf(c.DatasetIRI("withdrawn")), nsADMS+"status"); st.Value != datasetStatus+"WITHDRAWN" {
		t.Errorf("withdrawn dataset status %v", st)
	}
	_, body = get(t, srv.URL+"/fdp/catalog/cie", "")
	if strings.Contains(body, "withdrawn") || strings.Contains(body, "draft-1") {
		t.Errorf("catalogue lists an unpublished dataset:\n%s", body)
	}

	resp, err := http.Post(srv.URL+"/fdp", "text/turtle", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
	resp, err = http.Head(srv.URL + "/fdp")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") == "" {
		t.Errorf("HEAD: %s", resp.Status)
	}

	// A failing source is a 500 that does not leak the error.
	src.err = errors.New("database password is hunter2")
	for _, p := range []string{"/fdp", "/fdp/catalog/cie", "/fdp/dataset/pub-a"} {
		resp, body := get(t, srv.URL+p, "")
		if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "hunter2") {
			t.Errorf("GET %s with a failing source: %s %q", p, resp.Status, body)
		}
	}
}

func TestNewFDPRefusesBadCatalog(t *testing.T) {
	c := testCatalog()
	c.BaseURL = "hub.example.org/"
	if _, err := NewFDP(c, &memSource{}, nil); err == nil || !strings.Contains(err.Error(), "base_url") {
		t.Errorf("bad base URL: %v", err)
	}
	c = testCatalog()
	c.License = ""
	if _, err := NewFDP(c, &memSource{}, nil); err == nil || !strings.Contains(err.Error(), "license") {
		t.Errorf("no licence: %v", err)
	}
	if _, err := NewFDP(testCatalog(), nil, nil); err == nil {
		t.Error("nil source accepted")
	}
}

func TestNegotiate(t *testing.T) {
	offers := []Format{FormatJSON, FormatJSONLD, FormatTurtle}
	for _, tc := range []struct {
		accept string
		want   Format
		ok     bool
	}{
		{"", FormatJSON, true},
		{"*/*", FormatJSON, true},
		{"application/ld+json", FormatJSONLD, true},
		{"text/turtle", FormatTurtle, true},
		{"text/turtle;q=0.5, application/ld+json;q=0.9", FormatJSONLD, true},
		{"text/*", FormatTurtle, true},
		{"application/json, text/turtle", FormatJSON, true},
		{"text/turtle, */*;q=0.1", FormatTurtle, true},
		{"*/*, text/turtle;q=0", FormatJSON, true},
		{"text/html", 0, false},
		{"application/json;q=0", 0, false},
		{"garbage;;", 0, false},
	} {
		got, ok := Negotiate(tc.accept, offers...)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Negotiate(%q) = %v, %v; want %v, %v", tc.accept, got, ok, tc.want, tc.ok)
		}
	}
}
