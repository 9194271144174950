package bus

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DefaultListen is the bus address of a hub whose config names none.
const DefaultListen = "0.0.0.0:4222"

// Dead-peer detection: the server pings a quiet client every pingInterval
// and drops it after maxPingsOut unanswered pings, so a node whose machine
// vanished without closing its TCP connection is reported gone within about
// (maxPingsOut+1)*pingInterval. A closed connection (process killed,
// connection reset) is reported at once.
const (
	pingInterval = 3 * time.Second
	maxPingsOut  = 2
)

// startTimeout bounds how long StartServer waits for the server to be ready
// when ctx has no earlier deadline.
const startTimeout = 30 * time.Second

// watchSubject carries the server's connect and disconnect events for the
// global account, where all clients live.
const watchSubject = "$SYS.ACCOUNT." + server.DEFAULT_GLOBAL_ACCOUNT + ".*"

// ServerConfig configures the hub's embedded bus server.
type ServerConfig struct {
	// Listen is the host:port nodes dial; port 0 picks a free port (see
	// Server.ClientURL). Empty means DefaultListen.
	Listen string
	// DataDir is where JetStream keeps its streams. Required.
	DataDir string
	// Auth maps node keys to node names at connect time. Required.
	Auth Authorizer
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// TLS, when not nil, is the server side of TLS (see bustls): every TCP
	// client must then speak TLS, and ClientURL is a tls:// URL. Nil
	// means plain TCP. The hub's in-process connections need no TLS.
	TLS *tls.Config
}

// tlsTimeout bounds a client's TLS handshake, in seconds (nats-server's
// default is 2 s, short for a node far away on a slow link).
const tlsTimeout = 5

// ConnEvent reports a node connection established or closed.
type ConnEvent struct {
	Node      string    // the node, as the Authorizer named it
	Connected bool      // true when established, false when closed
	Time      time.Time // when the server saw it
	Remote    string    // the node's address, host:port
}

// Server is the hub's embedded NATS server with JetStream.
type Server struct {
	ns     *server.Server
	tls    bool
	auth   *authenticator
	nlog   *natsLogger
	log    *slog.Logger
	cancel context.CancelFunc

	watchConn *nats.Conn

	// deliver serialises event delivery with Watch, so that every watcher
	// sees the live connections first, then every change, in order.
	deliver  sync.Mutex
	watchers []func(ConnEvent)

	mu   sync.Mutex
	live map[uint64]ConnEvent // node connections by server client id

	shutdownOnce sync.Once
	done         chan struct{}
}

// StartServer starts the bus server and returns once it accepts
// connections. ctx bounds the start only; the server runs until Shutdown.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.Auth == nil {
		return nil, errors.New("bus: start server: no Authorizer")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("bus: start server: no DataDir for JetStream")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("bus: start server: listen address %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("bus: start server: listen address %q: bad port", cfg.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT // to nats-server, 0 means its default port
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	hubSecret, err := secret()
	if err != nil {
		return nil, fmt.Errorf("bus: start server: %w", err)
	}
	sysSecret, err := secret()
	if err != nil {
		return nil, fmt.Errorf("bus: start server: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &authenticator{
		ctx:       runCtx,
		auth:      cfg.Auth,
		log:       log,
		hubSecret: hubSecret,
		sysSecret: sysSecret,
		conns:     make(map[uint64]connInfo),
	}
	opts := &server.Options{
		ServerName:                 "cie-hub",
		Host:                       host,
		Port:                       port,
		JetStream:                  true,
		StoreDir:                   cfg.DataDir,
		CustomClientAuthentication: a,
		AlwaysEnableNonce:          true, // nodes sign the nonce with their nkey
		NoSigs:                     true, // the hub process owns its signals
		PingInterval:               pingInterval,
		MaxPingsOut:                maxPingsOut,
		Debug:                      log.Enabled(ctx, slog.LevelDebug),
	}
	if cfg.TLS != nil {
		tc := cfg.TLS.Clone()
		if tc.MinVersion < tls.VersionTLS12 {
			tc.MinVersion = tls.VersionTLS12
		}
		opts.TLS = true
		opts.TLSConfig = tc
		opts.TLSTimeout = tlsTimeout
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bus: start server: %w", err)
	}
	a.ns = ns
	nlog := newNATSLogger(log)
	ns.SetLogger(nlog, opts.Debug, false)
	s := &Server{ns: ns, tls: cfg.TLS != nil, auth: a, nlog: nlog, log: log, cancel: cancel, done: make(chan struct{}), live: map[uint64]ConnEvent{}}

	ns.Start()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Shutdown(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("bus: start server on %s: %w", cfg.Listen, err)
	}
	if !ns.JetStreamEnabled() {
		_ = s.Shutdown(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("bus: start server on %s: JetStream did not start (see the log)", cfg.Listen)
	}
	if err := s.startWatch(); err != nil {
		_ = s.Shutdown(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("bus: start server on %s: %w", cfg.Listen, err)
	}
	log.Info("bus: server started", "url", s.ClientURL(), "tls", s.tls, "data_dir", cfg.DataDir)
	return s, nil
}

func secret() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generating internal secret: %w", err)
	}
	return []byte(hex.EncodeToString(b)), nil
}

// waitReady waits until the server accepts connections, failed, or ctx ends.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if s.ns.ReadyForConnections(time.Millisecond) {
			return nil
		}
		select {
		case <-s.nlog.fatc:
			return errors.New(s.nlog.fatalLine())
		case <-ctx.Done():
			if f := s.nlog.fatalLine(); f != "" {
				return errors.New(f)
			}
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// ClientURL returns the URL on which this process can reach the server,
// with the real port when Listen asked for port 0: tls://host:port when the
// server requires TLS, else nats://host:port. An unspecified listen host
// (0.0.0.0, ::) is given as the loopback address. Nodes elsewhere need the
// hub's public address instead.
func (s *Server) ClientURL() string {
	scheme := "nats://"
	if s.tls {
		scheme = "tls://"
	}
	addr, ok := s.ns.Addr().(*net.TCPAddr)
	if !ok || addr == nil {
		return scheme + strings.TrimPrefix(s.ns.ClientURL(), "nats://")
	}
	ip := addr.IP
	if ip == nil || ip.IsUnspecified() {
		if ip != nil && ip.To4() == nil {
			ip = net.IPv6loopback
		} else {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	return scheme + net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
}

// ConnectHub returns an in-process connection with full rights, for the hub
// itself. It authenticates with a secret made at start that never leaves the
// process. opts are applied after the package's own (name, in-process server).
func (s *Server) ConnectHub(opts ...nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{
		nats.Name(hubUser),
		nats.InProcessServer(s.ns),
		nats.Token(string(s.auth.hubSecret)),
	}, opts...)
	nc, err := nats.Connect("", all...)
	if err != nil {
		return nil, fmt.Errorf("bus: hub connection: %w", err)
	}
	return nc, nil
}

// Watch registers fn to be told of node connections: first one call for
// each node connection open now, then one for every connection established
// or closed from then on. Calls are made one at a time, in the order the
// server saw the events; fn must not block for long, nor call Watch (it may
// call Connected and DisconnectNode). Closing the server reports no
// disconnections.
func (s *Server) Watch(fn func(ConnEvent)) {
	s.deliver.Lock()
	defer s.deliver.Unlock()
	s.mu.Lock()
	open := slices.Collect(maps.Values(s.live))
	s.mu.Unlock()
	slices.SortFunc(open, func(a, b ConnEvent) int { return a.Time.Compare(b.Time) })
	for _, ev := range open {
		fn(ev)
	}
	s.watchers = append(s.watchers, fn)
}

// Connected returns the nodes that have at least one open connection, sorted.
func (s *Server) Connected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var nodes []string
	for _, ev := range s.live {
		nodes = append(nodes, ev.Node)
	}
	slices.Sort(nodes)
	return slices.Compact(nodes)
}

// DisconnectNode closes every open connection of node and returns how many
// it closed. Call it after removing the node's key from the Authorizer, so
// that the node cannot come back.
func (s *Server) DisconnectNode(node string) int {
	s.mu.Lock()
	var ids []uint64
	for id, ev := range s.live {
		if ev.Node == node {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, id := range ids {
		if err := s.ns.DisconnectClientByID(id); err == nil {
			n++
		}
	}
	if n > 0 {
		s.log.Info("bus: node disconnected by the hub", "node", node, "connections", n)
	}
	return n
}

// startWatch subscribes, as a system account user, to the server's client
// connect and disconnect events.
func (s *Server) startWatch() error {
	nc, err := nats.Connect("",
		nats.Name(watchUser),
		nats.InProcessServer(s.ns),
		nats.Token(string(s.auth.sysSecret)),
		nats.NoReconnect(),
	)
	if err != nil {
		return fmt.Errorf("watch connection: %w", err)
	}
	if _, err := nc.Subscribe(watchSubject, s.onEvent); err != nil {
		nc.Close()
		return fmt.Errorf("watch subscription: %w", err)
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return fmt.Errorf("watch subscription: %w", err)
	}
	s.watchConn = nc
	return nil
}

func (s *Server) onEvent(m *nats.Msg) {
	var ev ConnEvent
	var id uint64
	switch {
	case strings.HasSuffix(m.Subject, ".DISCONNECT"):
		var dm server.DisconnectEventMsg
		if err := json.Unmarshal(m.Data, &dm); err != nil {
			s.log.Warn("bus: bad disconnect event", "err", err)
			return
		}
		id, ev.Time = dm.Client.ID, dm.Time
	case strings.HasSuffix(m.Subject, ".CONNECT"):
		var cm server.ConnectEventMsg
		if err := json.Unmarshal(m.Data, &cm); err != nil {
			s.log.Warn("bus: bad connect event", "err", err)
			return
		}
		id, ev.Time, ev.Connected = cm.Client.ID, cm.Time, true
	default:
		return
	}
	ci, ok := s.auth.lookup(id, !ev.Connected)
	if !ok {
		return // the hub's own connections
	}
	ev.Node, ev.Remote = ci.node, ci.remote
	s.log.Info("bus: node connection", "node", ev.Node, "connected", ev.Connected, "remote", ev.Remote)
	s.deliver.Lock()
	defer s.deliver.Unlock()
	s.mu.Lock()
	if ev.Connected {
		s.live[id] = ev
	} else {
		delete(s.live, id)
	}
	s.mu.Unlock()
	for _, fn := range s.watchers {
		fn(ev)
	}
}

// Shutdown closes every connection and stops the server, waiting until it is
// down or ctx ends. It may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		if s.watchConn != nil {
			s.watchConn.Close()
		}
		s.cancel()
		go func() {
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
			close(s.done)
		}()
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bus: shutdown: %w", ctx.Err())
	}
}
