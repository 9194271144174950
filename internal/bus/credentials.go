package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/cancerimage/cie/internal/bus/bustls"
	"github.com/cancerimage/cie/internal/fed"
)

// Credentials is what `cie admin node add NAME` writes to a file and what
// `cie node` reads: everything a node needs to join the hub's bus.
//
// Seed is a secret. Credentials print and log with the seed redacted (String,
// LogValue); only WriteCredentials and encoding/json see it.
type Credentials struct {
	// Node is the node's name (fed.ValidNodeName).
	Node string `json:"node"`
	// HubURL is the hub's bus, nats://host:port, or tls://host:port for a
	// bus that requires TLS (ws:// and wss:// are accepted too; a
	// comma-separated list names several servers).
	HubURL string `json:"hub_url"`
	// HubCA is the PEM-encoded certificate of the CA the node trusts for
	// the hub's bus: with it, or with a tls:// HubURL, Dial requires TLS and
	// checks the hub's certificate against this CA only (against the system
	// roots when HubCA is empty). Not a secret.
	HubCA string `json:"hub_ca,omitempty"`
	// Seed is the node's nkey user seed ("SU…"), the secret that proves it.
	Seed string `json:"seed"`
	// HubKey is the hub's audit verifier key, filled in by the caller; this
	// package only carries it.
	HubKey string `json:"hub_key,omitempty"`
	// AuditKey is the node's own audit signing key (secret, note format),
	// generated at registration; the hub keeps its verifier to witness the
	// node's checkpoints. Carried, not interpreted, by this package.
	AuditKey string `json:"audit_key,omitempty"`
}

// NewCredentials makes a new nkey user for node and returns its credentials
// and public key; the hub stores the public key with the node's name (see
// Authorizer), the node gets the credentials.
func NewCredentials(node, hubURL string) (Credentials, string, error) {
	if err := fed.ValidNodeName(node); err != nil {
		return Credentials{}, "", fmt.Errorf("new credentials: %w", err)
	}
	if err := checkHubURL(hubURL); err != nil {
		return Credentials{}, "", fmt.Errorf("new credentials for node %q: hub URL: %w", node, err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return Credentials{}, "", fmt.Errorf("new credentials for node %q: creating nkey: %w", node, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return Credentials{}, "", fmt.Errorf("new credentials for node %q: nkey seed: %w", node, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return Credentials{}, "", fmt.Errorf("new credentials for node %q: nkey public key: %w", node, err)
	}
	return Credentials{Node: node, HubURL: hubURL, Seed: string(seed)}, pub, nil
}

// Validate checks every field and returns an error naming the first bad one.
func (c Credentials) Validate() error {
	if c.Node == "" {
		return errors.New(`field "node" is missing`)
	}
	if err := fed.ValidNodeName(c.Node); err != nil {
		return fmt.Errorf(`field "node": %w`, err)
	}
	if c.HubURL == "" {
		return errors.New(`field "hub_url" is missing`)
	}
	if err := checkHubURL(c.HubURL); err != nil {
		return fmt.Errorf(`field "hub_url": %w`, err)
	}
	if c.Seed == "" {
		return errors.New(`field "seed" is missing`)
	}
	if _, err := userKey(c.Seed); err != nil {
		return fmt.Errorf(`field "seed": %w`, err)
	}
	if c.HubCA != "" {
		if _, err := bustls.CertPool([]byte(c.HubCA)); err != nil {
			return fmt.Errorf(`field "hub_ca": %w`, err)
		}
	}
	return nil
}

// UsesTLS reports whether Dial speaks TLS with these credentials: when
// HubCA is set or HubURL names a tls:// or wss:// server.
func (c Credentials) UsesTLS() bool {
	if c.HubCA != "" {
		return true
	}
	for _, one := range strings.Split(c.HubURL, ",") {
		if u, err := url.Parse(strings.TrimSpace(one)); err == nil && (u.Scheme == "tls" || u.Scheme == "wss") {
			return true
		}
	}
	return false
}

// PublicKey returns the public nkey of the credentials' seed.
func (c Credentials) PublicKey() (string, error) {
	kp, err := userKey(c.Seed)
	if err != nil {
		return "", fmt.Errorf("credentials of node %q: seed: %w", c.Node, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("credentials of node %q: public key: %w", c.Node, err)
	}
	return pub, nil
}

// String describes c with the seed redacted.
func (c Credentials) String() string {
	ca := "none"
	if c.HubCA != "" {
		ca = "set"
	}
	return fmt.Sprintf("bus.Credentials{Node:%q HubURL:%q HubCA:%s Seed:[redacted] HubKey:%q AuditKey:[redacted]}", c.Node, c.HubURL, ca, c.HubKey)
}

// LogValue logs c with the seed redacted.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("node", c.Node), slog.String("hub_url", c.HubURL))
}

// userKey parses seed as an nkey user seed.
func userKey(seed string) (nkeys.KeyPair, error) {
	prefix, _, err := nkeys.DecodeSeed([]byte(seed))
	if err != nil {
		return nil, fmt.Errorf("not a valid nkey seed: %w", err)
	}
	if prefix != nkeys.PrefixByteUser {
		return nil, fmt.Errorf("not a user seed (it is a %s seed)", prefix)
	}
	kp, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		return nil, fmt.Errorf("not a valid nkey seed: %w", err)
	}
	return kp, nil
}

func checkHubURL(s string) error {
	for _, one := range strings.Split(s, ",") {
		one = strings.TrimSpace(one)
		u, err := url.Parse(one)
		if err != nil {
			return fmt.Errorf("%q: %w", one, err)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("%q: scheme must be nats, tls, ws or wss", one)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%q: no host", one)
		}
		if u.User != nil {
			return fmt.Errorf("%q: must not carry a user or password", one)
		}
	}
	return nil
}

// WriteCredentials writes c to path as JSON, readable by the owner only
// (0600). It replaces an existing file atomically (temporary file + rename),
// so a reader never sees half a file.
func WriteCredentials(path string, c Credentials) (err error) {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable; best effort
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// ReadCredentials reads and validates a file written by WriteCredentials. Its
// errors name the file and the bad field.
func ReadCredentials(path string) (Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("reading credentials: %w", err)
	}
	var c Credentials
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Credentials{}, fmt.Errorf("credentials %s: field %q: %w", path, te.Field, err)
		}
		return Credentials{}, fmt.Errorf("credentials %s: not a JSON credentials file: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, fmt.Errorf("credentials %s: %w", path, err)
	}
	return c, nil
}
