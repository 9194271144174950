// Package settings keeps small named values in a role's settings table
// (name TEXT PRIMARY KEY, value TEXT), and records configuration changes in
// the role's audit log.
package settings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/store"
)

// Get returns the value of name, or "" and false when unset.
func Get(ctx context.Context, db *store.DB, name string) (string, bool, error) {
	var v string
	err := db.QueryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if err != nil {
		if errors.Is(store.Classify(err), store.ErrNotFound) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading setting %s: %w", name, err)
	}
	return v, true, nil
}

// Put sets name to value.
func Put(ctx context.Context, tx *store.Tx, name, value string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM settings WHERE name = ?`, name); err != nil {
		return fmt.Errorf("writing setting %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)`, name, value); err != nil {
		return fmt.Errorf("writing setting %s: %w", name, err)
	}
	return nil
}

// Digest hashes the effective configuration cfg (a pointer to a config
// struct) and returns the hash and every field's value by key.
func Digest(cfg any) (string, map[string]string) {
	fields := map[string]string{}
	h := sha256.New()
	for _, f := range config.Fields(cfg) {
		fields[f.Key] = f.String()
		fmt.Fprintf(h, "%s=%s\n", f.Key, f.String())
	}
	return hex.EncodeToString(h.Sum(nil)), fields
}

// LogConfigChange appends a config.changed event to log when the effective
// configuration cfg differs from the one recorded last, naming the fields
// that changed, and records the new one. It does nothing when unchanged.
func LogConfigChange(ctx context.Context, db *store.DB, log *audit.Log, actor string, cfg any) (bool, error) {
	sum, fields := Digest(cfg)
	last, _, err := Get(ctx, db, "config_sha256")
	if err != nil {
		return false, err
	}
	if last == sum {
		return false, nil
	}
	var prev map[string]string
	if s, ok, err := Get(ctx, db, "config_fields"); err != nil {
		return false, err
	} else if ok {
		_ = json.Unmarshal([]byte(s), &prev) // an unreadable old value: every field counts as changed
	}
	ev := audit.Event{Type: "config.changed", Actor: actor, Fields: map[string]string{"sha256": sum}}
	for k, v := range fields {
		if old, ok := prev[k]; !ok || old != v {
			ev.Fields["set."+k] = v
		}
	}
	if _, err := log.Append(ctx, ev); err != nil {
		return false, fmt.Errorf("logging config change: %w", err)
	}
	cur, err := json.Marshal(fields)
	if err != nil {
		return false, fmt.Errorf("encoding config: %w", err)
	}
	return true, db.Tx(ctx, func(tx *store.Tx) error {
		if err := Put(ctx, tx, "config_sha256", sum); err != nil {
			return err
		}
		return Put(ctx, tx, "config_fields", string(cur))
	})
}
