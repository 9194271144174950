package hub

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/bus/bustls"
	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/store"
)

func TestBusTLSConfig(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.DataDir = t.TempDir()
		return c
	}
	c := base()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Bus.TLS != BusTLSAuto || c.Bus.PublicURL != "tls://127.0.0.1:4222" {
		t.Fatalf("defaults: tls %q, public_url %q", c.Bus.TLS, c.Bus.PublicURL)
	}
	c = base()
	c.Bus.TLS = "" // a config written before bus.tls existed
	if err := c.Validate(); err != nil || c.Bus.TLS != BusTLSAuto {
		t.Fatalf("empty bus.tls: %q, %v", c.Bus.TLS, err)
	}
	c = base()
	c.Bus.TLS = BusTLSOff
	if err := c.Validate(); err != nil || c.Bus.PublicURL != "nats://127.0.0.1:4222" {
		t.Fatalf("tls off: public_url %q, %v", c.Bus.PublicURL, err)
	}

	for name, tc := range map[string]struct {
		set   func(*Config)
		field string
	}{
		"bad mode":            {func(c *Config) { c.Bus.TLS = "on" }, "bus.tls"},
		"files without cert":  {func(c *Config) { c.Bus.TLS = BusTLSFiles; c.Bus.TLSKey = "k.pem" }, "bus.tls_cert"},
		"files without key":   {func(c *Config) { c.Bus.TLS = BusTLSFiles; c.Bus.TLSCert = "c.pem" }, "bus.tls_key"},
		"cert with auto":      {func(c *Config) { c.Bus.TLSCert = "c.pem" }, "bus.tls_cert"},
		"ca with off":         {func(c *Config) { c.Bus.TLS = BusTLSOff; c.Bus.TLSCA = "ca.pem" }, "bus.tls_ca"},
		"tls:// with tls off": {func(c *Config) { c.Bus.TLS = BusTLSOff; c.Bus.PublicURL = "tls://h:4222" }, "bus.public_url"},
	} {
		c := base()
		tc.set(&c)
		err := c.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != tc.field {
			t.Errorf("%s: err = %v, want a FieldError for %s", name, err, tc.field)
		}
	}
}

// TestRegisterNodeTLS: the credentials of a node carry a tls:// URL and the
// CA the hub's bus presents.
func TestRegisterNodeTLS(t *testing.T) {
	ctx := context.Background()
	t.Run("auto", func(t *testing.T) {
		h := newHub(t)
		creds, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "oslo", "test")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(creds.HubURL, "tls://") {
			t.Errorf("hub_url %q, want tls://", creds.HubURL)
		}
		pem, err := os.ReadFile(filepath.Join(h.cfg.DataDir, "keys", bustls.CACertFile))
		if err != nil {
			t.Fatal(err)
		}
		if creds.HubCA == "" || creds.HubCA != string(pem) {
			t.Errorf("hub_ca is not the hub's CA:\n%s", creds.HubCA)
		}
		other, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "bergen", "test")
		if err != nil || other.HubCA != creds.HubCA {
			t.Errorf("second node got another CA (%v)", err)
		}
	})
	t.Run("auto with a nats:// public_url", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.Bus.PublicURL = "nats://hub.example.org:4222"
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		h, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer h.closeStores(ctx)
		creds, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "oslo", "test")
		if err != nil {
			t.Fatal(err)
		}
		if creds.HubURL != "tls://hub.example.org:4222" || creds.HubCA == "" {
			t.Errorf("hub_url %q, hub_ca set %v", creds.HubURL, creds.HubCA != "")
		}
	})
	t.Run("off", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.Bus.TLS = BusTLSOff
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		h, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer h.closeStores(ctx)
		creds, err := RegisterNode(ctx, h.db, h.cfg, h.keys, "oslo", "test")
		if err != nil {
			t.Fatal(err)
		}
		if creds.HubURL != "nats://127.0.0.1:4222" || creds.HubCA != "" {
			t.Errorf("hub_url %q, hub_ca %q", creds.HubURL, creds.HubCA)
		}
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "keys", bustls.CACertFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a CA was made with tls off: %v", err)
		}
	})
	t.Run("files", func(t *testing.T) {
		ca, _, err := bustls.LoadOrCreateCA(t.TempDir(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ tlsCA, want string }{{caFile, string(ca.PEM)}, {"", ""}} {
			cfg := DefaultConfig()
			cfg.DataDir = t.TempDir()
			cfg.Bus.TLS, cfg.Bus.TLSCert, cfg.Bus.TLSKey, cfg.Bus.TLSCA = BusTLSFiles, "c.pem", "k.pem", tc.tlsCA
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			creds, err := RegisterNode(ctx, mustStore(t, cfg), cfg, Keys{}, "oslo", "test")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(creds.HubURL, "tls://") || creds.HubCA != tc.want {
				t.Errorf("tls_ca %q: hub_url %q, hub_ca %q", tc.tlsCA, creds.HubURL, creds.HubCA)
			}
		}
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.Bus.TLS, cfg.Bus.TLSCert, cfg.Bus.TLSKey, cfg.Bus.TLSCA = BusTLSFiles, "c.pem", "k.pem", filepath.Join(t.TempDir(), "missing.pem")
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		_, err = RegisterNode(ctx, mustStore(t, cfg), cfg, Keys{}, "oslo", "test")
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != "bus.tls_ca" {
			t.Errorf("missing tls_ca file: %v", err)
		}
	})
}

// TestHubBusTLS runs a hub with the default config: its bus presents a
// certificate from the CA that RegisterNode put into the credentials, made
// before the hub first started, and a node dials it over TLS.
func TestHubBusTLS(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Name = "test-hub"
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Bus.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	db := mustStore(t, cfg)
	keys, err := LoadKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := RegisterNode(ctx, db, cfg, keys, "oslo", "test") // like `cie admin node add` before `cie hub`
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(rctx) }()
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("hub did not stop")
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for h.BusURL() == "" {
		if time.Now().After(deadline) {
			t.Fatal("bus did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasPrefix(h.BusURL(), "tls://") {
		t.Fatalf("bus URL %s, want tls://", h.BusURL())
	}
	creds.HubURL = h.BusURL() // the real port; the config said 0
	connected := make(chan struct{}, 1)
	nc, err := bus.Dial(t.Context(), creds, bus.DialOptions{OnConnect: func() { connected <- struct{}{} }})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer nc.Close()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("node did not connect")
	}
	if st, err := nc.TLSConnectionState(); err != nil || !st.HandshakeComplete {
		t.Fatalf("node connection is not TLS: %v", err)
	}
	// A plain node (credentials without CA, nats:// URL) is refused.
	plain := creds
	plain.HubCA, plain.HubURL = "", "nats://"+strings.TrimPrefix(h.BusURL(), "tls://")
	if pc, err := bus.Dial(t.Context(), plain, bus.DialOptions{}); err == nil {
		pc.Close()
		t.Fatal("a node without the hub's CA connected")
	} else if !errors.Is(err, bus.ErrUntrusted) {
		t.Fatalf("plain node: %v", err)
	}
}

func mustStore(t *testing.T, cfg Config) *store.DB {
	t.Helper()
	db, err := OpenStore(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
