package hub

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/httpx"
)

func newHub(t *testing.T) *Hub {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = "test-hub"
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Bus.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.closeStores(context.Background()) })
	return h
}

// TestOpenAPIDescribesTheAPI: the OpenAPI document lists exactly the routes
// the hub serves, and every route but the document needs credentials.
func TestOpenAPIDescribesTheAPI(t *testing.T) {
	h := newHub(t)
	documented, err := httpx.OpenAPIOperations(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, r := range h.apiRoutes() {
		served = append(served, r.Pattern)
	}
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("OpenAPI documents %v\nthe hub serves %v", documented, served)
	}
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	for _, op := range served {
		method, path, _ := strings.Cut(op, " ")
		path = regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(path, "x")
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusUnauthorized
		switch path {
		case "/api/v1/openapi.json", "/api/v1/catalogue", "/api/v1/atlas": // public
			want = http.StatusOK
		case "/api/v1/catalogue/x": // public, and there is no such dataset
			want = http.StatusNotFound
		}
		if resp.StatusCode != want {
			t.Errorf("anonymous %s %s: %d, want %d", method, path, resp.StatusCode, want)
		}
	}
}

func TestAPIWithToken(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	if err := h.users.Put(ctx, "ops", auth.RolePlatformAdmin, "long enough"); err != nil {
		t.Fatal(err)
	}
	tok, _, err := h.users.IssueToken(ctx, "ops", "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "oslo", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "oslo", "test"); !errors.Is(err, ErrNodeExists) {
		t.Fatalf("second registration: %v", err)
	}
	if _, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "Oslo!", "test"); !errors.Is(err, fed.ErrBadName) {
		t.Fatalf("bad name: %v", err)
	}
	if err := h.reg.load(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/api/v1/nodes/oslo"); code != 200 || !strings.Contains(body, `"state": "never"`) {
		t.Fatalf("node: %d %s", code, body)
	}
	if code, _ := get("/api/v1/nodes/nowhere"); code != 404 {
		t.Fatalf("unknown node: %d", code)
	}
	if code, body := get("/api/v1/nope"); code != 404 || !strings.Contains(body, "no such API endpoint") {
		t.Fatalf("unknown endpoint: %d %s", code, body)
	}
	// The registration was logged once.
	if code, body := get("/api/v1/audit/checkpoint"); code != 200 || !strings.Contains(body, "test-hub") {
		t.Fatalf("checkpoint: %d %s", code, body)
	}
	es, err := h.audit.Entries(ctx, 0, int(h.audit.Size()))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Type == "node.registered" && e.Subject == "oslo" {
			n++
		}
	}
	if err := h.reg.load(ctx); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("node.registered logged %d times", n)
	}
}

// nodeLog opens an audit log signed with the node key of creds.
func nodeLog(t *testing.T, creds bus.Credentials, dir string) (*audit.Log, note.Verifier) {
	t.Helper()
	signer, err := note.NewSigner(creds.AuditKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.VerifierFromSigner(creds.AuditKey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(context.Background(), audit.Options{Dir: dir, Origin: v.Name(), Signer: signer, Verifier: v, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l, v
}

func appendN(t *testing.T, l *audit.Log, what string, n int) []byte {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if _, err := l.Append(ctx, audit.Event{Type: what, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestWitness: the hub cosigns a node's checkpoints only when they are signed
// by that node's registered key and consistent with what it witnessed.
func TestWitness(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	creds, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "oslo", "test")
	if err != nil {
		t.Fatal(err)
	}
	other, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "bergen", "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.reg.load(ctx); err != nil {
		t.Fatal(err)
	}
	good, v := nodeLog(t, creds, filepath.Join(t.TempDir(), "good"))
	fork, _ := nodeLog(t, creds, filepath.Join(t.TempDir(), "fork"))
	stranger, _ := nodeLog(t, other, filepath.Join(t.TempDir(), "bergen"))

	cp3 := appendN(t, good, "a", 3)
	size, cosigned, err := h.witnessCheckpoint(ctx, "oslo", fed.CheckpointRequest{Node: "oslo", Checkpoint: cp3})
	if err != nil || size != 3 {
		t.Fatalf("first checkpoint: %d %v", size, err)
	}
	if _, err := audit.ParseWitnessed(cosigned, v, h.keys.AuditVerifier); err != nil {
		t.Fatalf("cosignature: %v", err)
	}
	// The same checkpoint again gives back the stored cosignature.
	if size, again, err := h.witnessCheckpoint(ctx, "oslo", fed.CheckpointRequest{Node: "oslo", Checkpoint: cp3}); err != nil || size != 3 || string(again) != string(cosigned) {
		t.Fatalf("repeat: %d %v", size, err)
	}
	// A forked history of the same size is refused.
	fcp := appendN(t, fork, "b", 3)
	if _, _, err := h.witnessCheckpoint(ctx, "oslo", fed.CheckpointRequest{Node: "oslo", Checkpoint: fcp, OldSize: 3}); !errors.Is(err, audit.ErrInconsistent) {
		t.Fatalf("fork: %v", err)
	}
	// Another node's checkpoint is not oslo's.
	scp := appendN(t, stranger, "c", 4)
	if _, _, err := h.witnessCheckpoint(ctx, "oslo", fed.CheckpointRequest{Node: "oslo", Checkpoint: scp, OldSize: 3}); !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("stranger: %v", err)
	}
	// Growth with a proof from the last witnessed size is cosigned; a proof
	// from elsewhere is refused with the right size to prove from.
	cp5 := appendN(t, good, "a", 2)
	if size, _, err := h.witnessCheckpoint(ctx, "oslo", fed.CheckpointRequest{Node: "oslo", Checkpoint: cp5, OldSize: 1}); !errors.Is(err, ErrStaleProof) || size != 3 {
		t.Fatalf("stale proof: %d %v", size, err)
	}
	proof, err := good.ConsistencyProof(ctx, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if size, _, err := h.witnessCheckpoint(ctx, "oslo", fed.CheckpointRequest{Node: "oslo", Checkpoint: cp5, OldSize: 3, Proof: proof}); err != nil || size != 5 {
		t.Fatalf("growth: %d %v", size, err)
	}
	// A growing fork with a forged proof is refused.
	fcp6 := appendN(t, fork, "b", 3)
	fproof, _ := fork.ConsistencyProof(ctx, 5, 6)
	if _, _, err := h.witnessCheckpoint(ctx, "oslo", fed.CheckpointRequest{Node: "oslo", Checkpoint: fcp6, OldSize: 5, Proof: fproof}); !errors.Is(err, audit.ErrInconsistent) {
		t.Fatalf("forked growth: %v", err)
	}
	if n, ok := h.reg.get("oslo"); !ok || n.Witnessed != 5 {
		t.Fatalf("registry witnessed %+v", n)
	}
}
