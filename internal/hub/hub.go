package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/auth/oidcop"
	"github.com/cancerimage/cie/internal/auth/oidcrp"
	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/hub/access"
	"github.com/cancerimage/cie/internal/hub/members"
	"github.com/cancerimage/cie/internal/hub/migrations"
	"github.com/cancerimage/cie/internal/settings"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/version"
	"github.com/cancerimage/cie/internal/viewer"
	"github.com/cancerimage/cie/internal/visa"
	"github.com/cancerimage/cie/internal/web"
	"github.com/cancerimage/cie/internal/webauth"
)

// Hub is a running (or ready to run) hub.
type Hub struct {
	cfg       Config
	log       *slog.Logger
	db        *store.DB
	users     *auth.Users
	members   *members.Store
	access    *access.Store
	blobs     *blob.Store // attachments of access requests
	hooks     *webhooks
	sessions  *auth.Sessions
	audit     *audit.Log
	keys      Keys
	witness   *audit.Witness
	reg       *registry
	gate      *webauth.Gate
	witnessed *prometheus.CounterVec
	site      *web.Site
	metrics   *httpx.Metrics
	ready     *httpx.Ready
	viewer    *viewer.Handler
	fdp       *catalogue.FDP
	visas     *visa.Issuer
	op        *oidcop.Provider // the embedded OpenID provider, if configured
	login     *oidcrp.Login    // the OIDC login, if configured
	searches  searchStore      // recent federated search results, for download
	atlas     atlasCache       // the public atlas's totals

	mu      sync.Mutex
	bus     *bus.Server
	nc      *nats.Conn
	httpURL string // the address actually listened on
}

// Keys are the hub's long-lived keys, kept under DATA_DIR/keys.
type Keys struct {
	AuditSigner   note.Signer
	AuditVerifier note.Verifier
	AuditVKey     string // the verifier key in note format, given to nodes
	Session       []byte
}

// AuditOrigin is the origin line of the hub's audit checkpoints.
func (c Config) AuditOrigin() string { return c.Name }

// LoadKeys reads the hub's keys from its data folder, creating them on first use.
func LoadKeys(cfg Config) (Keys, error) {
	dir := filepath.Join(cfg.DataDir, "keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Keys{}, fmt.Errorf("creating key folder: %w", err)
	}
	s, v, err := audit.LoadOrCreateKey(filepath.Join(dir, "audit.key"), cfg.AuditOrigin())
	if err != nil {
		return Keys{}, fmt.Errorf("loading hub audit key: %w", err)
	}
	vkey, err := audit.ReadVerifierKey(filepath.Join(dir, "audit.key"))
	if err != nil {
		return Keys{}, fmt.Errorf("loading hub audit key: %w", err)
	}
	sk, err := auth.LoadOrCreateKey(filepath.Join(dir, "session.key"))
	if err != nil {
		return Keys{}, err
	}
	return Keys{AuditSigner: s, AuditVerifier: v, AuditVKey: vkey, Session: sk}, nil
}

// OpenStore opens and migrates the hub's SQL store.
func OpenStore(ctx context.Context, cfg Config, log *slog.Logger) (*store.DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data folder: %w", err)
	}
	db, err := store.OpenMigrated(ctx, cfg.DB, log, migrations.FS, migrations.Table)
	if err != nil {
		return nil, fmt.Errorf("opening hub store: %w", err)
	}
	return db, nil
}

// New opens everything the hub keeps on disk: store, keys and audit log.
// Run starts serving.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Hub, error) {
	db, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	h := &Hub{cfg: cfg, log: log, db: db, users: auth.NewUsers(db), members: members.New(db), metrics: httpx.NewMetrics("hub"), ready: httpx.NewReady("starting")}
	fail := func(err error) (*Hub, error) { h.closeStores(context.Background()); return nil, err }
	if h.keys, err = LoadKeys(cfg); err != nil {
		return fail(err)
	}
	if h.sessions, err = auth.NewSessions(h.keys.Session, cfg.SecureCookies); err != nil {
		return fail(err)
	}
	if h.sessions.Ended, err = auth.OpenRevocations(filepath.Join(cfg.DataDir, "sessions-ended.jsonl")); err != nil {
		return fail(err)
	}
	h.audit, err = audit.Open(ctx, audit.Options{
		Dir: filepath.Join(cfg.DataDir, "audit"), Origin: cfg.AuditOrigin(),
		Signer: h.keys.AuditSigner, Verifier: h.keys.AuditVerifier, Logger: log,
	})
	if err != nil {
		return fail(fmt.Errorf("opening hub audit log: %w", err))
	}
	h.witness = audit.NewWitness(h.keys.AuditSigner)
	if h.site, err = web.New(web.Options{Product: "hub", Name: "cie hub", Nav: web.HubNav, Version: version.String()}); err != nil {
		return fail(err)
	}
	if h.viewer, err = viewer.New(viewer.Options{Prefix: "/viewer/"}); err != nil {
		return fail(fmt.Errorf("viewer: %w", err))
	}
	if h.fdp, err = catalogue.NewFDP(h.catalogueInfo(), catalogueSource{h}, log.With("part", "fdp")); err != nil {
		return fail(err)
	}
	if h.visas, err = h.openVisaIssuer(); err != nil {
		return fail(err)
	}
	if h.blobs, err = blob.Open(ctx, cfg.Blob); err != nil {
		return fail(fmt.Errorf("opening the hub's blob store: %w", err))
	}
	if err := h.setupAccess(); err != nil {
		return fail(err)
	}
	h.reg = newRegistry(h)
	h.gate = &webauth.Gate{Users: h.users, Sessions: h.sessions, Site: h.site, Audit: h.audit, Log: log, Realm: "cie hub", Home: "/nodes"}
	if err := h.setupOIDC(ctx); err != nil {
		return fail(err)
	}
	h.witnessed = newWitnessCounter()
	h.metrics.Registry.MustRegister(collector{h}, h.witnessed)
	if err := h.logConfigChange(ctx); err != nil {
		return fail(err)
	}
	return h, nil
}

func (h *Hub) closeStores(ctx context.Context) {
	if h.blobs != nil {
		if err := h.blobs.Close(); err != nil {
			h.log.Warn("closing blob store", "err", err)
		}
	}
	if h.audit != nil {
		if err := h.audit.Close(ctx); err != nil {
			h.log.Warn("closing audit log", "err", err)
		}
	}
	if err := h.db.Close(); err != nil {
		h.log.Warn("closing store", "err", err)
	}
}

// logConfigChange appends a config.changed event when the effective
// configuration differs from the one logged last.
func (h *Hub) logConfigChange(ctx context.Context) error {
	_, err := settings.LogConfigChange(ctx, h.db, h.audit, "hub", &h.cfg)
	return err
}

// NodeForKey implements bus.Authorizer: it returns the registered node that
// holds the public nkey.
func (h *Hub) NodeForKey(ctx context.Context, key string) (string, error) {
	var name string
	err := h.db.QueryRow(ctx, `SELECT name FROM nodes WHERE nkey = ?`, key).Scan(&name)
	if err != nil {
		if errors.Is(store.Classify(err), store.ErrNotFound) {
			return "", bus.ErrUnknownKey
		}
		return "", fmt.Errorf("looking up node key: %w", err)
	}
	return name, nil
}

// Run serves the bus and HTTP until ctx is done, then stops cleanly.
func (h *Hub) Run(ctx context.Context) error {
	defer h.closeStores(context.Background())
	ln, err := httpx.Listen(h.cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	h.mu.Lock()
	h.httpURL = "http://" + ln.Addr().String()
	h.mu.Unlock()

	busLog := h.log.With("part", "bus")
	busTLS, err := busServerTLS(h.cfg, busLog)
	if err != nil {
		return fmt.Errorf("starting bus: %w", err)
	}
	srv, err := bus.StartServer(ctx, bus.ServerConfig{
		Listen: h.cfg.Bus.Listen, DataDir: filepath.Join(h.cfg.DataDir, "bus"), Auth: h, Logger: busLog, TLS: busTLS,
	})
	if err != nil {
		return fmt.Errorf("starting bus: %w", err)
	}
	nc, err := srv.ConnectHub(nats.Name("hub"))
	if err != nil {
		_ = srv.Shutdown(context.Background())
		return fmt.Errorf("connecting to own bus: %w", err)
	}
	h.mu.Lock()
	h.bus, h.nc = srv, nc
	h.mu.Unlock()
	if err := h.subscribe(ctx, nc); err != nil {
		nc.Close()
		_ = srv.Shutdown(context.Background())
		return err
	}
	srv.Watch(h.reg.connEvent)

	visaDone := make(chan struct{})
	vctx, stopVisas := context.WithCancel(ctx)
	go func() { defer close(visaDone); h.runVisas(vctx) }()
	defer func() { stopVisas(); <-visaDone }()

	hookDone := make(chan struct{})
	hctx, stopHooks := context.WithCancel(ctx)
	go func() { defer close(hookDone); h.hooks.run(hctx) }()
	defer func() { stopHooks(); <-hookDone }()

	regDone := make(chan struct{})
	rctx, stopReg := context.WithCancel(ctx)
	go func() { defer close(regDone); h.reg.run(rctx) }()

	h.ready.OK()
	h.log.Info("hub ready", "http", h.httpURL, "bus", srv.ClientURL(), "version", version.String())
	err = httpx.Serve(ctx, ln, h.Handler(), h.log)

	h.ready.NotReady("stopping")
	stopReg()
	<-regDone
	h.reg.stopAll(context.Background())
	if derr := nc.Drain(); derr != nil {
		h.log.Debug("draining hub bus connection", "err", derr)
	}
	if serr := srv.Shutdown(context.Background()); serr != nil {
		h.log.Warn("stopping bus", "err", serr)
	}
	h.log.Info("hub stopped")
	return err
}

// BusURL returns the client URL of the running bus.
func (h *Hub) BusURL() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bus == nil {
		return ""
	}
	return h.bus.ClientURL()
}
