package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/bus/bustls"
	"github.com/cancerimage/cie/internal/fed"
)

// Reconnect back-off of a node: exponential from reconnectMin, capped at
// reconnectMax, plus up to half again of random jitter (so at most 3 s
// between attempts, and a restarted hub is rejoined within seconds).
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 2 * time.Second
	dialTimeout  = 5 * time.Second
)

// ErrRefused is returned by Dial when the hub refuses the credentials: the
// key is unknown to it, or registered for another node than the file says.
var ErrRefused = errors.New("hub refused the node's credentials")

// ErrUntrusted is returned by Dial when the hub's TLS certificate does not
// verify: it is not signed by the CA the credentials carry (hub_ca), or does
// not name the host of hub_url.
var ErrUntrusted = errors.New("hub's TLS certificate is not trusted")

// ErrNoTLS is returned by Dial when the credentials ask for TLS (hub_ca set,
// or a tls:// hub_url) but the hub's bus does not offer it.
var ErrNoTLS = errors.New("hub's bus does not offer TLS")

// DialOptions tune a node's connection. All fields are optional.
type DialOptions struct {
	// Logger receives connection state changes and asynchronous errors.
	Logger *slog.Logger
	// Name is added to the connection name, "node/Name", seen in the hub's
	// monitoring (for example the node's software version).
	Name string
	// OnConnect is called when the connection is established, and again
	// after each reconnect.
	OnConnect func()
	// OnDisconnect is called when the connection is lost (with the cause)
	// and when it is closed (with nil).
	OnDisconnect func(error)
	// OnError is called with asynchronous errors, such as permission
	// violations and refused reconnects, after they are logged.
	OnError func(error)
}

// Dial connects a node to the hub's bus with its credentials: nkey
// authentication with the seed, reply inboxes under fed.InboxPrefix(node),
// and reconnection forever with capped exponential back-off and jitter.
//
// When the credentials carry a CA (HubCA) or name a tls:// hub, the
// connection requires TLS 1.2 or later and trusts only that CA (the system
// roots when HubCA is empty). A hub whose certificate does not verify fails
// Dial with an error wrapping ErrUntrusted; a hub without TLS, ErrNoTLS.
//
// If the hub cannot be reached, Dial still returns a connection, which
// connects as soon as the hub is up (a node may start before its hub); its
// publications are buffered meanwhile. If the hub answers but refuses the
// credentials, Dial fails with an error wrapping ErrRefused. The first
// attempt is bounded by a 5 s timeout.
//
// The connection lives until it is closed or ctx ends, whichever is first;
// once ctx ends no more dialing is attempted.
func Dial(ctx context.Context, c Credentials, o DialOptions) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bus: dial: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("bus: dial: credentials: %w", err)
	}
	kp, err := userKey(c.Seed)
	if err != nil {
		return nil, fmt.Errorf("bus: dial: credentials: seed: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("bus: dial: credentials: seed: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", c.Node, "hub", c.HubURL)
	var tlsConf *tls.Config
	if c.UsesTLS() {
		if tlsConf, err = bustls.ClientConfig([]byte(c.HubCA)); err != nil {
			return nil, fmt.Errorf("bus: dial: credentials: field \"hub_ca\": %w", err)
		}
	}

	var (
		mu       sync.Mutex
		stopCtx  = func() bool { return false }
		notified bool // OnConnect called for the current connection
	)
	connected := func(nc *nats.Conn) {
		mu.Lock()
		first := !notified
		notified = true
		mu.Unlock()
		if !first {
			return
		}
		log.Info("bus: connected to hub", "server", nc.ConnectedUrlRedacted())
		if o.OnConnect != nil {
			o.OnConnect()
		}
	}
	opts := []nats.Option{
		nats.Name(connName(c.Node, o.Name)),
		nats.Nkey(pub, kp.Sign),
		nats.CustomInboxPrefix(fed.InboxPrefix(c.Node)),
		nats.SetCustomDialer(ctxDialer{ctx: ctx}),
		nats.Timeout(dialTimeout),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.IgnoreAuthErrorAbort(), // a hub whose store hiccups must not lose its nodes for good
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.ConnectHandler(connected), // also for a first attempt that succeeds
		nats.ReconnectHandler(func(nc *nats.Conn) {
			mu.Lock()
			notified = false
			mu.Unlock()
			connected(nc)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			mu.Lock()
			was := notified
			notified = false
			mu.Unlock()
			if !was {
				return
			}
			if err != nil {
				log.Warn("bus: disconnected from hub", "err", err)
			} else {
				log.Info("bus: disconnected from hub")
			}
			if o.OnDisconnect != nil {
				o.OnDisconnect(err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("bus: asynchronous error", "subject", sub.Subject, "err", err)
			} else {
				log.Warn("bus: asynchronous error", "err", err)
			}
			if o.OnError != nil {
				o.OnError(err)
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			mu.Lock()
			stop := stopCtx
			mu.Unlock()
			stop()
		}),
	}

	if tlsConf != nil {
		opts = append(opts, nats.Secure(tlsConf))
	}

	// One attempt first, so that refused credentials and an untrusted hub
	// fail loudly; if the hub is not there, retry in the background.
	nc, err := nats.Connect(c.HubURL, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) {
			return nil, fmt.Errorf("bus: dial %s as node %q: %w (unknown key, or key of another node): %w", c.HubURL, c.Node, ErrRefused, err)
		}
		if isCertError(err) {
			why := "it is not signed by the CA in the credentials' hub_ca (credentials issued by another hub, or the hub's bus CA was replaced?)"
			if c.HubCA == "" {
				why = "it is not signed by a CA this system trusts, and the credentials carry no hub_ca"
			}
			if herr := (x509.HostnameError{}); errors.As(err, &herr) {
				why = "it does not name the host of hub_url (is hub_url the host of the hub's bus.public_url?)"
			}
			return nil, fmt.Errorf("bus: dial %s as node %q: %w: %s: %w", c.HubURL, c.Node, ErrUntrusted, why, err)
		}
		if errors.Is(err, nats.ErrSecureConnWanted) {
			return nil, fmt.Errorf("bus: dial %s as node %q: %w, but the credentials require it (hub_ca or a tls:// hub_url; is the hub's bus.tls off?): %w",
				c.HubURL, c.Node, ErrNoTLS, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bus: dial %s: %w", c.HubURL, ctx.Err())
		}
		log.Info("bus: hub not reachable yet, will keep trying", "err", err)
		nc, err = nats.Connect(c.HubURL, append(opts, nats.RetryOnFailedConnect(true))...)
		if err != nil {
			return nil, fmt.Errorf("bus: dial %s: %w", c.HubURL, err)
		}
	}
	stop := context.AfterFunc(ctx, nc.Close)
	mu.Lock()
	stopCtx = stop
	mu.Unlock()
	if nc.IsClosed() {
		stop()
	}
	return nc, nil
}

// isCertError reports whether err is a failure to verify the server's
// certificate, which retrying cannot mend.
func isCertError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

// reconnectDelay is the wait before reconnect attempt number attempts (1, 2, …).
func reconnectDelay(attempts int) time.Duration {
	d := reconnectMax
	if attempts < 8 {
		d = min(reconnectMin<<max(attempts-1, 0), reconnectMax)
	}
	return d + rand.N(d/2+1)
}

// ctxDialer dials with a context, so that no dialing outlives it.
type ctxDialer struct{ ctx context.Context }

func (d ctxDialer) Dial(network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}
	return nd.DialContext(d.ctx, network, address)
}
