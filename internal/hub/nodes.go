package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/store"
)

// ErrNodeExists is returned when registering a name that is taken.
var ErrNodeExists = errors.New("node already registered")

// RegisterNode registers a new node in the hub's store and returns the
// credentials the node dials the hub with: its bus key, the hub's bus URL,
// the hub's audit verifier key, and the node's own audit signing key (whose
// verifier the hub keeps, to witness the node's checkpoints). The running hub
// picks the registration up within seconds and logs it.
func RegisterNode(ctx context.Context, db *store.DB, cfg Config, keys Keys, name, by string) (bus.Credentials, error) {
	if err := fed.ValidNodeName(name); err != nil {
		return bus.Credentials{}, err
	}
	creds, pub, err := bus.NewCredentials(name, cfg.Bus.PublicURL)
	if err != nil {
		return bus.Credentials{}, fmt.Errorf("registering node %s: %w", name, err)
	}
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
