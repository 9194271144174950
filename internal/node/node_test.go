package node

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/httpx"
)

func newNode(t *testing.T, name string) (*Node, Config) {
	t.Helper()
	dir := t.TempDir()
	creds, _, err := bus.NewCredentials(name, "nats://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if creds.AuditKey, _, err = audit.GenerateKey(AuditOrigin(name)); err != nil {
		t.Fatal(err)
	}
	if _, creds.HubKey, err = audit.GenerateKey("hub"); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.DataDir = dir
	cfg.Credentials = filepath.Join(dir, "node.creds")
	if err := bus.WriteCredentials(cfg.Credentials, creds); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.closeStores(context.Background()) })
	return n, cfg
}

func TestOpenAPIDescribesTheAPI(t *testing.T) {
	n, _ := newNode(t, "oslo")
	documented, err := httpx.OpenAPIOperations(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, r := range n.apiRoutes() {
		served = append(served, r.Pattern)
	}
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("OpenAPI documents %v\nthe node serves %v", documented, served)
	}
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	for _, op := range served {
		method, path, _ := strings.Cut(op, " ")
		path = strings.NewReplacer("{id}", "x", "{action}", "publish").Replace(path)
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusUnauthorized
		if path == "/api/v1/openapi.json" {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Errorf("anonymous %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestCredentialsMustMatch: a node refuses credentials issued to another node.
func TestCredentialsMustMatch(t *testing.T) {
	_, cfg := newNode(t, "oslo")
	cfg.Name = "bergen"
	_, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), `is for node "oslo"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestConfigChangeLogged: a changed configuration is logged once, naming
// the changed field; an unchanged restart logs nothing.
func TestConfigChangeLogged(t *testing.T) {
	n, cfg := newNode(t, "oslo")
	size := n.audit.Size()
	n.closeStores(context.Background())
	n2, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if n2.audit.Size() != size {
		t.Fatalf("unchanged restart logged %d entries", n2.audit.Size()-size)
	}
	n2.closeStores(context.Background())
	cfg.HTTP.Listen = "127.0.0.1:9999"
	cfg.HTTP.PublicURL = ""
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n3, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n3.closeStores(context.Background())
	es, err := n3.audit.Entries(context.Background(), size, 1)
	if err != nil || len(es) != 1 {
		t.Fatalf("entries: %v %v", es, err)
	}
	if es[0].Type != "config.changed" || es[0].Fields["set.http.listen"] != "127.0.0.1:9999" || es[0].Fields["set.name"] != "" {
		t.Fatalf("entry %+v", es[0])
	}
}
