package dicomweb

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/archive/archivetest"
	"github.com/cancerimage/cie/internal/synth"
)

// TestOpsAndScope: the guard sees each route's operation, and a scope set by
// the guard limits searches to the studies of its datasets.
func TestOpsAndScope(t *testing.T) {
	ctx := context.Background()
	a := archivetest.Open(t)
	g, err := synth.New(synth.Options{Seed: 5, Node: "t", Patients: 2, Rows: 8, Columns: 8, MinSlices: 1, MaxSlices: 1})
	if err != nil {
		t.Fatal(err)
	}
	var study, series, sop string
	studies := map[string]bool{}
	if err := g.Walk(func(in *synth.Instance) error {
		var buf bytes.Buffer
		if _, err := in.File.WriteTo(&buf); err != nil {
			return err
		}
		out, err := a.Ingest(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), archive.Source{Kind: "test"})
		if err != nil || out.Status != archive.Stored {
			t.Fatalf("ingest: %+v %v", out, err)
		}
		studies[out.StudyUID] = true
		if study == "" {
			study, series, sop = out.StudyUID, out.SeriesUID, out.SOPUID
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(studies) < 2 {
		t.Fatalf("%d studies generated, want 2 or more", len(studies))
	}
	if _, err := a.DB().Exec(ctx, `INSERT INTO datasets (id, version, state, body, root, tree_key, created_ms, updated_ms)
		VALUES ('d1', 1, 'published', '{}', '', '', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB().Exec(ctx, `INSERT INTO dataset_studies (dataset_id, study_uid) VALUES ('d1', ?)`, study); err != nil {
		t.Fatal(err)
	}

	var seen Op
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			seen = OpOf(r.Context())
			if s := r.Header.Get("X-Test-Scope"); s != "" {
				r = r.WithContext(WithScope(r.Context(), strings.Fields(strings.ReplaceAll(s, "-", ""))))
			}
			h(w, r)
		}
	}
	mux := http.NewServeMux()
	New(a, "/dicomweb", nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux, guard)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	inst := "/dicomweb/studies/" + study + "/series/" + series + "/instances/" + sop
	for _, c := range []struct {
		method, path string
		want         Op
	}{
		{"GET", "/dicomweb/studies", OpSearch},
		{"GET", "/dicomweb/series", OpSearch},
		{"GET", "/dicomweb/instances", OpSearch},
		{"GET", "/dicomweb/studies/" + study + "/series", OpSearch},
		{"GET", "/dicomweb/studies/" + study + "/instances", OpSearch},
		{"GET", "/dicomweb/studies/" + study + "/series/" + series + "/instances", OpSearch},
		{"GET", "/dicomweb/studies/" + study, OpRetrieve},
		{"GET", "/dicomweb/studies/" + study + "/series/" + series, OpRetrieve},
		{"GET", inst, OpRetrieve},
		{"GET", "/dicomweb/studies/" + study + "/metadata", OpMetadata},
		{"GET", "/dicomweb/studies/" + study + "/series/" + series + "/metadata", OpMetadata},
		{"GET", inst + "/metadata", OpMetadata},
		{"GET", inst + "/bulkdata/7FE00010", OpBulkdata},
		{"GET", inst + "/frames/1", OpFrames},
		{"GET", inst + "/rendered", OpRendered},
		{"GET", inst + "/frames/1/rendered", OpRendered},
		{"GET", inst + "/thumbnail", OpThumbnail},
		{"GET", inst + "/frames/1/thumbnail", OpThumbnail},
		{"GET", "/dicomweb/studies/" + study + "/series/" + series + "/thumbnail", OpThumbnail},
		{"GET", "/dicomweb/studies/" + study + "/thumbnail", OpThumbnail},
		{"POST", "/dicomweb/studies", OpStore},
		{"GET", "/dicomweb/nothing/here", OpNone},
	} {
		seen = ""
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if seen != c.want {
			t.Errorf("%s %s: the guard saw %q, want %q", c.method, c.path, seen, c.want)
		}
	}

	search := func(path, scope string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if scope != "" {
			req.Header.Set("X-Test-Scope", scope)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		return len(out)
	}
	if n := search("/dicomweb/studies", ""); n != len(studies) {
		t.Fatalf("unscoped: %d studies, want %d", n, len(studies))
	}
	if n := search("/dicomweb/studies", "d1"); n != 1 {
		t.Fatalf("scoped to d1: %d studies, want 1", n)
	}
	if n := search("/dicomweb/studies", "-"); n != 0 { // a scope of no datasets
		t.Fatalf("scoped to nothing: %d studies, want 0", n)
	}
	if n := search("/dicomweb/instances", "d2"); n != 0 {
		t.Fatalf("scoped to an unknown dataset: %d instances", n)
	}
	if n, all := search("/dicomweb/series", "d1"), search("/dicomweb/series", ""); n == 0 || n >= all {
		t.Fatalf("series scoped to d1: %d of %d", n, all)
	}
}
