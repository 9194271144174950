package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/note"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/dimse"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/node/access"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/dataset"
	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/node/pack"
	nsearch "github.com/cancerimage/cie/internal/node/search"
	"github.com/cancerimage/cie/internal/settings"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/version"
	"github.com/cancerimage/cie/internal/viewer"
	"github.com/cancerimage/cie/internal/visa"
	"github.com/cancerimage/cie/internal/web"
	"github.com/cancerimage/cie/internal/webauth"
)

// DICOMwebPrefix is where the node serves DICOMweb on its HTTP listener.
const DICOMwebPrefix = "/dicomweb"

// WitnessInterval is how often a node offers its audit checkpoint to the hub
// when its log has grown.
const WitnessInterval = 5 * time.Second

// Node is a running (or ready to run) node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	creds    bus.Credentials
	db       *store.DB
	blobs    *blob.Store
	packs    *pack.Store // nil unless the blobs are on a local disk
	users    *auth.Users
	sessions *auth.Sessions
	audit    *audit.Log
	auditKey note.Verifier
	hubKey   note.Verifier
	site     *web.Site
	gate     *webauth.Gate
	metrics  *httpx.Metrics
	ready    *httpx.Ready
	started  time.Time
	archive  *archive.Archive
	dicomweb *dicomweb.Service
	viewer   *viewer.Handler
	relayMux *http.ServeMux // DICOMweb alone, for requests relayed by the hub
	pacs     *pacs
	datasets *dataset.Store
	clinical *cdm.Importer
	visas    *visa.NodeCache
	verifier *visa.Verifier // checks visas with n.visas, logs every decision
	policy   *access.Policy // what visa holders may read
	search   *nsearch.Service
	nc       *nats.Conn // the bus connection while Run runs
	dimseAE  string     // "AE@host:port" while the DIMSE service listens

	mu        sync.Mutex
	connected bool
	since     time.Time
	hubName   string
	httpURL   string
}

// OpenStore opens and migrates the node's SQL store.
func OpenStore(ctx context.Context, cfg Config, log *slog.Logger) (*store.DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data folder: %w", err)
	}
	db, err := store.OpenMigrated(ctx, cfg.DB, log, migrations.FS, migrations.Table)
	if err != nil {
		return nil, fmt.Errorf("opening node store: %w", err)
	}
	return db, nil
}

// AuditOrigin is the origin of a node's audit checkpoints.
func AuditOrigin(name string) string { return "cie-node-" + name }

// PacksDir is the folder, in a local blob store, of the pack segments holding the
// node's instances.
const PacksDir = "packs"

// New opens everything the node keeps: credentials, store, blobs, audit log.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Node, error) {
	creds, err := bus.ReadCredentials(cfg.Credentials)
	if err != nil {
		return nil, err
	}
	if creds.Node != cfg.Name {
		return nil, fmt.Errorf("credentials file %s is for node %q, but this node is configured as %q (config field name)", cfg.Credentials, creds.Node, cfg.Name)
	}
	signer, err := note.NewSigner(creds.AuditKey)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: audit_key: %w", cfg.Credentials, err)
	}
	verifier, err := audit.VerifierFromSigner(creds.AuditKey)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: audit_key: %w", cfg.Credentials, err)
	}
	hubKey, err := note.NewVerifier(creds.HubKey)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: hub_key: %w", cfg.Credentials, err)
	}
	db, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, creds: creds, db: db, users: auth.NewUsers(db), auditKey: verifier, hubKey: hubKey,
		metrics: httpx.NewMetrics("node"), ready: httpx.NewReady("starting"), started: time.Now().UTC()}
	fail := func(err error) (*Node, error) { n.closeStores(context.Background()); return nil, err }
	if n.blobs, err = blob.Open(ctx, cfg.Blob); err != nil {
		return fail(fmt.Errorf("opening blob store: %w", err))
	}
	// On a local disk, instances go into pack segments beside the blobs (see package
	// pack); in an object store, each is an object.
	if dir := n.blobs.LocalDir(); dir != "" {
		if n.packs, err = pack.Open(filepath.Join(dir, PacksDir), pack.Options{}); err != nil {
			return fail(err)
		}
	}
	sk, err := auth.LoadOrCreateKey(filepath.Join(cfg.DataDir, "session.key"))
	if err != nil {
		return fail(err)
	}
	if n.sessions, err = auth.NewSessions(sk, cfg.SecureCookies); err != nil {
		return fail(err)
	}
	if n.sessions.Ended, err = auth.OpenRevocations(filepath.Join(cfg.DataDir, "sessions-ended.jsonl")); err != nil {
		return fail(err)
	}
	n.audit, err = audit.Open(ctx, audit.Options{Dir: filepath.Join(cfg.DataDir, "audit"), Origin: AuditOrigin(cfg.Name),
		Signer: signer, Verifier: verifier, Logger: log})
	if err != nil {
		return fail(fmt.Errorf("opening node audit log: %w", err))
	}
	if n.site, err = web.New(web.Options{Product: "node", Name: "cie node " + cfg.Name, Nav: web.NodeNav, Version: version.String()}); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Deid.KeyFile), 0o700); err != nil {
		return fail(fmt.Errorf("creating key folder: %w", err))
	}
	dkey, err := auth.LoadOrCreateKey(cfg.Deid.KeyFile)
	if err != nil {
		return fail(fmt.Errorf("config field deid.key_file: %w", err))
	}
	dopts, err := deid.ParseOptions(cfg.Deid.Options)
	if err != nil {
		return fail(fmt.Errorf("config field deid.options: %w", err))
	}
	engine, err := deid.New(dkey, dopts)
	if err != nil {
		return fail(fmt.Errorf("de-identification: %w", err))
	}
	n.archive = archive.New(archive.Options{DB: db, Blobs: n.blobs, Packs: n.packs, Engine: engine, Audit: n.audit, Logger: log.With("part", "archive"), StateDir: cfg.DataDir})
	n.clinical = &cdm.Importer{Store: cdm.NewStore(db), Identity: clinicalIdentity(engine.Pseudonyms(), dopts), Log: log.With("part", "clinical")}
	// The noise secret of the disclosure control, beside the pseudonym key: kept, for
	// another secret gives other noise and lets researchers average old and new answers.
	nkey, err := auth.LoadOrCreateKey(NoiseKeyFile(cfg))
	if err != nil {
		return fail(fmt.Errorf("noise key: %w", err))
	}
	if n.search, err = nsearch.New(nsearch.Options{Node: cfg.Name, DB: db, Policy: cfg.Search, Secret: nkey, Audit: n.audit,
		Logger: log.With("part", "search")}); err != nil {
		return fail(fmt.Errorf("config section search: %w", err))
	}
	n.pacs = newPACS(n.archive, log.With("part", "dimse"))
	n.datasets = dataset.NewStore(db, n.archive.Index(), n.archive, n.blobs, n.audit, cfg.Name)
	n.visas, err = visa.OpenNodeCache(visa.NodeCacheOptions{Dir: filepath.Join(cfg.DataDir, "visa"), Node: cfg.Name,
		Request: n.busRequest, Log: log.With("part", "visa")})
	if err != nil {
		return fail(fmt.Errorf("visa keys: %w", err))
	}
	n.verifier = visa.NewVerifier(n.visas, visa.VerifierOptions{Audit: n.audit, Leeway: cfg.VisaLeeway})
	n.policy = &access.Policy{Verifier: n.verifier, Datasets: n.datasets, Node: cfg.Name}
	if n.viewer, err = viewer.New(viewer.Options{Prefix: "/viewer/", DICOMweb: DICOMwebPrefix}); err != nil {
		return fail(fmt.Errorf("viewer: %w", err))
	}
	n.dicomweb = dicomweb.New(n.archive, DICOMwebPrefix, func(r *http.Request) string {
		if p, ok := auth.PrincipalFrom(r.Context()); ok {
			return p.User
		}
		return ""
	}, log.With("part", "dicomweb"))
	n.relayMux = http.NewServeMux()
	n.gate = &webauth.Gate{Users: n.users, Sessions: n.sessions, Site: n.site, Audit: n.audit, Log: log, Realm: "cie node " + cfg.Name, Home: "/"}
	n.dicomweb.Register(n.relayMux, n.archiveGuard)
	n.metrics.Registry.MustRegister(collector{n})
	if _, err := settings.LogConfigChange(ctx, db, n.audit, cfg.Name, &n.cfg); err != nil {
		return fail(err)
	}
	return n, nil
}

func (n *Node) closeStores(ctx context.Context) {
	if n.archive != nil {
		if err := n.archive.Close(ctx); err != nil {
			n.log.Warn("closing archive", "err", err)
		}
	}
	if n.packs != nil {
		if err := n.packs.Close(); err != nil {
			n.log.Warn("closing packs", "err", err)
		}
	}
	if n.audit != nil {
		if err := n.audit.Close(ctx); err != nil {
			n.log.Warn("closing audit log", "err", err)
		}
	}
	if n.blobs != nil {
		if err := n.blobs.Close(); err != nil {
			n.log.Warn("closing blob store", "err", err)
		}
	}
	if err := n.db.Close(); err != nil {
		n.log.Warn("closing store", "err", err)
	}
}

// Run dials the hub and serves the node's HTTP listener until ctx is done.
func (n *Node) Run(ctx context.Context) error {
	defer n.closeStores(context.Background())
	ln, err := httpx.Listen(n.cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if _, err := n.archive.Recover(ctx); err != nil {
		return fmt.Errorf("checking the archive after the last stop: %w", err)
	}
	n.mu.Lock()
	n.httpURL = "http://" + ln.Addr().String()
	n.mu.Unlock()

	events := make(chan bool, 16) // true: connected, false: disconnected
	nc, err := bus.Dial(ctx, n.creds, bus.DialOptions{
		Logger: n.log.With("part", "bus"), Name: "node " + n.cfg.Name,
		OnConnect: func() {
			select {
			case events <- true:
			default:
			}
		},
		OnDisconnect: func(error) {
			select {
			case events <- false:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("dialling hub at %s: %w", n.creds.HubURL, err)
	}
	if _, err := nc.Subscribe(fed.PingSubject(n.cfg.Name), n.onPing); err != nil {
		nc.Close()
		return fmt.Errorf("subscribing to hub requests: %w", err)
	}
	if _, err := nc.Subscribe(fed.VisaUpdateSubject(n.cfg.Name), func(m *nats.Msg) {
		if err := n.visas.HandleUpdate(m.Data); err != nil {
			n.log.Warn("visa keys from the hub", "err", err)
		}
	}); err != nil {
		nc.Close()
		return fmt.Errorf("subscribing to visa keys: %w", err)
	}
	if _, err := nc.Subscribe(fed.SearchSubject(n.cfg.Name), func(m *nats.Msg) { go n.onSearch(ctx, m) }); err != nil {
		nc.Close()
		return fmt.Errorf("subscribing to searches: %w", err)
	}
	if _, err := nc.Subscribe(fed.AtlasSubject(n.cfg.Name), func(m *nats.Msg) { go n.onAtlas(ctx, m) }); err != nil {
		nc.Close()
		return fmt.Errorf("subscribing to atlas requests: %w", err)
	}
	if _, err := nc.Subscribe(fed.RelaySubject(n.cfg.Name), func(m *nats.Msg) { n.onRelay(ctx, nc, m) }); err != nil {
		nc.Close()
		return fmt.Errorf("subscribing to relayed requests: %w", err)
	}

	if n.cfg.DIMSE.Listen != "" {
		srv, err := dimse.NewServer(dimse.Config{AETitle: n.cfg.DIMSE.AETitle, AllowedCallingAETitles: n.cfg.DIMSE.AllowedCallers,
			MaxAssociations: n.cfg.DIMSE.MaxAssociations, SpoolDir: filepath.Join(n.cfg.DataDir, "spool")},
			n.log.With("part", "dimse"), n.pacs, n.pacs)
		if err != nil {
			nc.Close()
			return fmt.Errorf("config section dimse: %w", err)
		}
		// Spool files left by a crash hold nothing acknowledged: start empty.
		if err := os.RemoveAll(filepath.Join(n.cfg.DataDir, "spool")); err != nil {
			nc.Close()
			return fmt.Errorf("clearing spool folder: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(n.cfg.DataDir, "spool"), 0o700); err != nil {
			nc.Close()
			return fmt.Errorf("creating spool folder: %w", err)
		}
		dln, err := net.Listen("tcp", n.cfg.DIMSE.Listen)
		if err != nil {
			nc.Close()
			return fmt.Errorf("config field dimse.listen: %w", err)
		}
		n.mu.Lock()
		n.dimseAE = n.cfg.DIMSE.AETitle + "@" + dln.Addr().String()
		n.mu.Unlock()
		dctx, stopDIMSE := context.WithCancel(ctx)
		dimseDone := make(chan struct{})
		go func() {
			defer close(dimseDone)
			if err := srv.Serve(dctx, dln); err != nil && dctx.Err() == nil {
				n.log.Error("DIMSE service stopped", "err", err)
			}
		}()
		pacsDone := make(chan struct{})
		go func() { defer close(pacsDone); n.pacs.run(dctx) }()
		defer func() { stopDIMSE(); <-dimseDone; <-pacsDone }()
		n.log.Info("DIMSE service listening", "ae_title", n.cfg.DIMSE.AETitle, "addr", dln.Addr().String())
	}

	n.setBus(nc)
	fedDone := make(chan struct{})
	fctx, stopFed := context.WithCancel(ctx)
	go func() { defer close(fedDone); n.federate(fctx, nc, events) }()

	go func() {
		if err := n.search.Warm(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("reading the published data for searches", "err", err)
		}
	}()
	// Searches' audit events go from their queue into the audit log; it stops (moving
	// what is left) before the stores close.
	sctx, stopSearchAudit := context.WithCancel(ctx)
	searchAuditDone := make(chan struct{})
	go func() { defer close(searchAuditDone); n.search.Run(sctx) }()
	defer func() { stopSearchAudit(); <-searchAuditDone }()
	n.ready.OK()
	n.log.Info("node ready", "node", n.cfg.Name, "http", n.httpURL, "hub", n.creds.HubURL, "version", version.String())
	err = httpx.Serve(ctx, ln, n.Handler(), n.log)
	n.ready.NotReady("stopping")
	stopFed()
	<-fedDone
	if derr := nc.Drain(); derr != nil {
		n.log.Debug("draining bus connection", "err", derr)
	}
	n.log.Info("node stopped", "node", n.cfg.Name)
	return err
}

// federate keeps the node's side of the federation: hello on every
// (re)connect, heartbeats, and witnessing of its audit checkpoints.
func (n *Node) federate(ctx context.Context, nc *nats.Conn, events <-chan bool) {
	hb := time.NewTicker(fed.HeartbeatInterval)
	defer hb.Stop()
	wt := time.NewTicker(WitnessInterval)
	defer wt.Stop()
	if nc.IsConnected() {
		n.onConnect(ctx, nc)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case up := <-events:
			if up {
				n.onConnect(ctx, nc)
			} else {
				n.setConnected(ctx, false, "")
			}
		case <-hb.C:
			if !nc.IsConnected() {
				continue
			}
			data, _ := fed.Marshal(&fed.Heartbeat{Node: n.cfg.Name, Time: time.Now().UTC()})
			if err := nc.Publish(fed.HeartbeatSubject(n.cfg.Name), data); err != nil {
				n.log.Debug("heartbeat", "err", err)
			}
		case <-wt.C:
			if nc.IsConnected() {
				if err := n.witness(ctx, nc); err != nil {
					n.log.Warn("audit checkpoint not witnessed", "err", err)
				}
			}
		}
	}
}

func (n *Node) onConnect(ctx context.Context, nc *nats.Conn) {
	data, _ := fed.Marshal(&fed.Hello{Node: n.cfg.Name, Version: version.String(), Started: n.started,
		HTTPURL: n.cfg.HTTP.PublicURL})
	msg, err := nc.RequestWithContext(withTimeout(ctx, 5*time.Second), fed.HelloSubject(n.cfg.Name), data)
	if err != nil {
		n.log.Warn("hello to hub", "err", err)
		return
	}
	var w fed.Welcome
	if err := fed.Unmarshal(msg.Data, &w); err != nil {
		n.log.Warn("hub's welcome", "err", err)
		return
	}
	if w.Error != "" {
		n.log.Error("hub refused hello", "err", w.Error)
		return
	}
	if w.AuditKey != n.creds.HubKey {
		n.log.Error("hub presents another audit key than the credentials file holds; checkpoints it cosigns will not verify",
			"got", w.AuditKey, "want", n.creds.HubKey)
	}
	n.setConnected(ctx, true, w.Hub)
	n.syncDatasets(ctx) // the hub's catalogue heals itself on every connect
	go func() {
		if err := n.visas.Refresh(ctx, "connect"); err != nil {
			n.log.Warn("fetching visa keys", "err", err)
		}
	}()
	if err := n.witness(ctx, nc); err != nil {
		n.log.Warn("audit checkpoint not witnessed", "err", err)
	}
}

func withTimeout(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	context.AfterFunc(c, cancel)
	return c
}

func (n *Node) setConnected(ctx context.Context, up bool, hub string) {
	n.mu.Lock()
	if n.connected == up {
		n.mu.Unlock()
		return
	}
	n.connected, n.since = up, time.Now().UTC()
	if hub != "" {
		n.hubName = hub
	}
	n.mu.Unlock()
	typ := "hub.connected"
	if !up {
		typ = "hub.disconnected"
	}
	if _, err := n.audit.Append(ctx, audit.Event{Type: typ, Actor: n.cfg.Name, Subject: n.creds.HubURL}); err != nil {
		n.log.Error("logging hub connection", "err", err)
	}
	n.log.Info(typ, "hub", n.creds.HubURL)
}

func (n *Node) onPing(m *nats.Msg) {
	var p fed.Ping
	if err := fed.Unmarshal(m.Data, &p); err != nil {
		n.log.Warn("bad ping", "err", err)
		return
	}
	data, _ := fed.Marshal(&fed.Pong{Node: n.cfg.Name, Time: time.Now().UTC()})
	if err := m.Respond(data); err != nil {
		n.log.Warn("answering ping", "err", err)
	}
}

// witness offers the node's latest audit checkpoint to the hub with a
// consistency proof from the last one the hub witnessed, and keeps the
// cosigned checkpoint it gets back.
func (n *Node) witness(ctx context.Context, nc *nats.Conn) error {
	if err := n.audit.Flush(ctx); err != nil {
		return err
	}
	cp, err := n.audit.Checkpoint(ctx)
	if err != nil {
		return err
	}
	parsed, err := audit.ParseCheckpoint(cp, n.auditKey)
	if err != nil {
		return err
	}
	old := n.audit.LastWitnessedSize()
	if parsed.Size == 0 || parsed.Size == old {
		return nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		var proof [][]byte
		if old > 0 {
			if proof, err = n.audit.ConsistencyProof(ctx, old, parsed.Size); err != nil {
				return err
			}
		}
		data, _ := fed.Marshal(&fed.CheckpointRequest{Node: n.cfg.Name, Checkpoint: cp, OldSize: old, Proof: proof})
		msg, err := nc.RequestWithContext(withTimeout(ctx, 10*time.Second), fed.CheckpointSubject(n.cfg.Name), data)
		if err != nil {
			return fmt.Errorf("sending checkpoint %d: %w", parsed.Size, err)
		}
		var rep fed.CheckpointReply
		if err := fed.Unmarshal(msg.Data, &rep); err != nil {
			return err
		}
		if rep.Error == "" {
			if _, err := audit.ParseWitnessed(rep.Witnessed, n.auditKey, n.hubKey); err != nil {
				return fmt.Errorf("hub's cosignature: %w", err)
			}
			return n.audit.SaveWitnessed(rep.Witnessed)
		}
		if rep.Size != old && rep.Size < parsed.Size {
			n.log.Info("hub witnessed another size last; proving from there", "ours", old, "hub", rep.Size)
			old = rep.Size
			continue
		}
		return fmt.Errorf("hub refused checkpoint %d: %s", parsed.Size, rep.Error)
	}
	return fmt.Errorf("hub refused checkpoint %d", parsed.Size)
}

// busRequest sends a request to the hub over the bus (the visa key cache uses it).
func (n *Node) busRequest(ctx context.Context, subject string, data []byte) ([]byte, error) {
	n.mu.Lock()
	nc := n.nc
	n.mu.Unlock()
	if nc == nil {
		return nil, fmt.Errorf("not connected to the hub")
	}
	m, err := nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}
