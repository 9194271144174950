package bus

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/cancerimage/cie/internal/fed"
)

// ErrUnknownKey is returned by an Authorizer for a public key that belongs to
// no registered node.
var ErrUnknownKey = errors.New("unknown node key")

// Authorizer tells the bus server which node a public nkey belongs to. The
// hub looks it up in its store at every connect, so nodes added while the hub
// runs can connect without a restart, and removed nodes cannot reconnect.
type Authorizer interface {
	// NodeForKey returns the name of the node registered with publicKey, or
	// an error wrapping ErrUnknownKey if there is none.
	NodeForKey(ctx context.Context, publicKey string) (node string, err error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, publicKey string) (string, error)

// NodeForKey calls f.
func (f AuthorizerFunc) NodeForKey(ctx context.Context, publicKey string) (string, error) {
	return f(ctx, publicKey)
}

// authTimeout bounds one Authorizer lookup; the server's client goroutine
// waits for it.
const authTimeout = 3 * time.Second

// Internal users: connections made with the start-up secrets.
const (
	hubUser   = "cie-hub"       // ConnectHub: full rights, global account
	watchUser = "cie-hub-watch" // Watch: reads connect events, system account
)

// nodePermissions are the rights of node's connections.
func nodePermissions(node string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{fed.NodeSubjects(node)}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			fed.HubSubjects(node),
			fed.InboxPrefix(node) + ".>",
		}},
		// One answer to each request delivered to the node (the hub's
		// requests, JetStream acks), without a right on _INBOX.>.
		Response: &server.ResponsePermission{MaxMsgs: 1, Expires: server.DEFAULT_ALLOW_RESPONSE_EXPIRATION},
	}
}

// connInfo is what the authenticator learnt about an accepted node connection.
type connInfo struct {
	node   string
	remote string
}

// authenticator is the server's CustomClientAuthentication.
type authenticator struct {
	ctx       context.Context // cancelled at shutdown
	auth      Authorizer
	log       *slog.Logger
	hubSecret []byte
	sysSecret []byte
	ns        *server.Server // set before the server starts

	mu    sync.Mutex
	conns map[uint64]connInfo // node connections by server client id
}

// Check implements server.Authentication.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	remote := "unknown"
	if ra := c.RemoteAddress(); ra != nil {
		remote = ra.String()
	}
	if c.Kind() != server.CLIENT {
		a.refuse(remote, "", "connection kind not allowed", "kind", c.Kind())
		return false
	}
	o := c.GetOpts()
	if o == nil {
		a.refuse(remote, "", "no CONNECT options")
		return false
	}
	if o.Token != "" {
		return a.checkInternal(c, o, remote)
	}
	return a.checkNode(c, o, remote)
}

// checkInternal admits the hub's own in-process connections.
func (a *authenticator) checkInternal(c server.ClientAuthentication, o *server.ClientOpts, remote string) bool {
	if ra := c.RemoteAddress(); ra == nil || ra.Network() != "pipe" {
		a.refuse(remote, "", "internal secret offered over the network")
		return false
	}
	tok := []byte(o.Token)
	switch {
	case subtle.ConstantTimeCompare(tok, a.hubSecret) == 1:
		c.RegisterUser(&server.User{Username: hubUser, Account: a.ns.GlobalAccount()})
		return true
	case subtle.ConstantTimeCompare(tok, a.sysSecret) == 1:
		sys := a.ns.SystemAccount()
		if sys == nil {
			a.refuse(remote, "", "no system account")
			return false
		}
		c.RegisterUser(&server.User{
			Username: watchUser,
			Account:  sys,
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{}},
				Subscribe: &server.SubjectPermission{Allow: []string{watchSubject}},
			},
		})
		return true
	default:
		a.refuse(remote, "", "bad internal secret")
		return false
	}
}

// checkNode verifies the nonce signature of an nkey user, maps the key to a
// node through the Authorizer and gives the connection that node's rights.
func (a *authenticator) checkNode(c server.ClientAuthentication, o *server.ClientOpts, remote string) bool {
	key := o.Nkey
	if key == "" {
		a.refuse(remote, "", "no nkey offered")
		return false
	}
	if !nkeys.IsValidPublicUserKey(key) {
		a.refuse(remote, key, "not a user nkey")
		return false
	}
	nonce := c.GetNonce()
	if len(nonce) == 0 {
		a.refuse(remote, key, "no nonce was sent")
		return false
	}
	// The server's own nkey check accepts raw URL and standard base64.
	sig, err := base64.RawURLEncoding.DecodeString(o.Sig)
	if err != nil {
		sig, err = base64.StdEncoding.DecodeString(o.Sig)
	}
	if err != nil || len(sig) == 0 {
		a.refuse(remote, key, "signature is not base64")
		return false
	}
	pk, err := nkeys.FromPublicKey(key)
	if err != nil {
		a.refuse(remote, key, "bad public key", "err", err)
		return false
	}
	if err := pk.Verify(nonce, sig); err != nil {
		a.refuse(remote, key, "bad nonce signature")
		return false
	}

	ctx, cancel := context.WithTimeout(a.ctx, authTimeout)
	node, err := a.auth.NodeForKey(ctx, key)
	cancel()
	if errors.Is(err, ErrUnknownKey) {
		a.refuse(remote, key, "key of no registered node")
		return false
	}
	if err != nil {
		a.log.Error("bus: node key lookup failed, connection refused", "remote", remote, "key", key, "err", err)
		return false
	}
	if err := fed.ValidNodeName(node); err != nil {
		a.log.Error("bus: authorizer returned a bad node name, connection refused", "remote", remote, "key", key, "err", err)
		return false
	}
	if !nameMatches(o.Name, node) {
		a.refuse(remote, key, "connection name does not match the key's node", "name", o.Name, "node", node)
		return false
	}

	if id, ok := c.(interface{ GetID() uint64 }); ok {
		a.mu.Lock()
		a.conns[id.GetID()] = connInfo{node: node, remote: remote}
		a.mu.Unlock()
	}
	c.RegisterUser(&server.User{
		Username:    node,
		Account:     a.ns.GlobalAccount(),
		Permissions: nodePermissions(node),
	})
	a.log.Debug("bus: node authenticated", "node", node, "remote", remote)
	return true
}

// connName is the connection name Dial sends: the node name, then "/" and
// the caller's name if any.
func connName(node, name string) string {
	if name == "" {
		return node
	}
	return node + "/" + name
}

// nameMatches reports whether a connection name is one connName makes for
// node. The name is not trusted for anything: it is only checked, so that a
// credentials file naming the wrong node fails loudly at connect.
func nameMatches(name, node string) bool {
	return name == node || strings.HasPrefix(name, node+"/")
}

func (a *authenticator) refuse(remote, key, why string, args ...any) {
	args = append([]any{"remote", remote, "reason", why}, args...)
	if key != "" {
		args = append(args, "key", key)
	}
	a.log.Warn("bus: connection refused", args...)
}

// lookup returns what is known of a node connection, and forgets it if
// forget is set.
func (a *authenticator) lookup(id uint64, forget bool) (connInfo, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ci, ok := a.conns[id]
	if forget {
		delete(a.conns, id)
	}
	return ci, ok
}
