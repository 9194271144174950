package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/bus/bustls"
	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/store"
)

// ErrNodeExists is returned when registering a name that is taken.
var ErrNodeExists = errors.New("node already registered")

// RegisterNode registers a new node in the hub's store and returns the
// credentials the node dials the hub with: its bus key, the hub's bus URL
// (tls:// unless bus.tls is off) and the CA the node trusts for it (BusCA),
// the hub's audit verifier key, and the node's own audit signing key (whose
// verifier the hub keeps, to witness the node's checkpoints). The running hub
// picks the registration up within seconds and logs it.
func RegisterNode(ctx context.Context, db *store.DB, cfg Config, keys Keys, name, by string) (bus.Credentials, error) {
	if err := fed.ValidNodeName(name); err != nil {
		return bus.Credentials{}, err
	}
	hubURL := cfg.Bus.PublicURL
	if cfg.Bus.TLS != BusTLSOff {
		hubURL = tlsURL(hubURL)
	}
	hubCA, err := BusCA(cfg)
	if err != nil {
		return bus.Credentials{}, fmt.Errorf("registering node %s: %w", name, err)
	}
	creds, pub, err := bus.NewCredentials(name, hubURL)
	if err != nil {
		return bus.Credentials{}, fmt.Errorf("registering node %s: %w", name, err)
	}
	creds.HubCA = string(hubCA)
	skey, vkey, err := audit.GenerateKey("cie-node-" + name)
	if err != nil {
		return bus.Credentials{}, fmt.Errorf("registering node %s: %w", name, err)
	}
	creds.HubKey = keys.AuditVKey
	creds.AuditKey = skey
	_, err = db.Exec(ctx, `INSERT INTO nodes (name, nkey, audit_key, registered_ms, registered_by) VALUES (?, ?, ?, ?, ?)`,
		name, pub, vkey, time.Now().UnixMilli(), by)
	if err != nil {
		if errors.Is(store.Classify(err), store.ErrConflict) {
			return bus.Credentials{}, fmt.Errorf("registering node %s: %w", name, ErrNodeExists)
		}
		return bus.Credentials{}, fmt.Errorf("registering node %s: %w", name, err)
	}
	return creds, nil
}

// BusCA returns the PEM-encoded CA certificate(s) that node credentials
// carry for cfg's bus: with bus.tls auto, the hub's own CA, made on first
// use under DATA_DIR/keys (so `cie admin node add` before the hub's first
// start and the hub agree on it); with files, the content of bus.tls_ca, or
// nothing when it is not set (nodes then trust their system's CAs); with
// off, nothing.
func BusCA(cfg Config) ([]byte, error) {
	switch cfg.Bus.TLS {
	case BusTLSOff:
		return nil, nil
	case BusTLSFiles:
		if cfg.Bus.TLSCA == "" {
			return nil, nil
		}
		b, err := os.ReadFile(cfg.Bus.TLSCA)
		if err != nil {
			return nil, config.Errorf("bus.tls_ca", "%v", err)
		}
		if _, err := bustls.CertPool(b); err != nil {
			return nil, config.Errorf("bus.tls_ca", "%s: %v", cfg.Bus.TLSCA, err)
		}
		return b, nil
	default:
		ca, _, err := bustls.LoadOrCreateCA(keyDir(cfg), time.Now())
		if err != nil {
			return nil, err
		}
		return ca.PEM, nil
	}
}

// busServerTLS returns the TLS configuration of the hub's bus server for
// cfg, nil with bus.tls off.
func busServerTLS(cfg Config, log *slog.Logger) (*tls.Config, error) {
	switch cfg.Bus.TLS {
	case BusTLSOff:
		log.Warn("bus: TLS is off (bus.tls: off); node traffic travels in clear")
		return nil, nil
	case BusTLSFiles:
		tc, err := bustls.LoadServerFiles(cfg.Bus.TLSCert, cfg.Bus.TLSKey)
		if err != nil {
			return nil, config.Errorf("bus.tls_cert", "%v", err)
		}
		return tc, nil
	default:
		tc, _, err := bustls.Auto(keyDir(cfg), cfg.BusHosts(), log)
		return tc, err
	}
}

// keyDir is the folder of the hub's keys.
func keyDir(cfg Config) string { return filepath.Join(cfg.DataDir, "keys") }

// tlsURL turns the nats:// URLs of a bus URL list into tls:// ones.
func tlsURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(p), "nats://"); ok {
			parts[i] = "tls://" + rest
		}
	}
	return strings.Join(parts, ",")
}

// RegisteredNodes lists the names of the registered nodes.
func RegisteredNodes(ctx context.Context, db *store.DB) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT name FROM nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("listing nodes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
