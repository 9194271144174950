package members

import (
	"context"
	"fmt"
	"slices"

	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/store"
)

// Store keeps memberships in the hub's SQL store (table user_nodes).
type Store struct{ db *store.DB }

// New returns the store over db, migrated with the hub's migrations.
func New(db *store.DB) *Store { return &Store{db: db} }

// Check returns an error naming the first node that is not a valid node name.
func Check(nodes []string) error {
	for _, n := range nodes {
		if err := fed.ValidNodeName(n); err != nil {
			return err
		}
	}
	return nil
}

// Set makes user a member of exactly nodes (none: of no node). The user must exist.
func (s *Store) Set(ctx context.Context, user string, nodes []string) error {
	if err := Check(nodes); err != nil {
		return err
	}
	nodes = slices.Compact(slices.Sorted(slices.Values(nodes)))
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM user_nodes WHERE user_name = ?`, user); err != nil {
			return err
		}
		for _, n := range nodes {
			if _, err := tx.Exec(ctx, `INSERT INTO user_nodes (user_name, node) VALUES (?, ?)`, user, n); err != nil {
				return store.Classify(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("setting the nodes of %s: %w", user, err)
	}
	return nil
}

// Nodes returns the nodes user belongs to, sorted.
func (s *Store) Nodes(ctx context.Context, user string) ([]string, error) {
	return s.list(ctx, `SELECT node FROM user_nodes WHERE user_name = ? ORDER BY node`, user)
}

// Users returns the members of node, sorted.
func (s *Store) Users(ctx context.Context, node string) ([]string, error) {
	return s.list(ctx, `SELECT user_name FROM user_nodes WHERE node = ? ORDER BY user_name`, node)
}

// All returns every user's nodes.
func (s *Store) All(ctx context.Context) (map[string][]string, error) {
	rows, err := s.db.Query(ctx, `SELECT user_name, node FROM user_nodes ORDER BY user_name, node`)
	if err != nil {
		return nil, fmt.Errorf("listing memberships: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var u, n string
		if err := rows.Scan(&u, &n); err != nil {
			return nil, fmt.Errorf("listing memberships: %w", err)
		}
		out[u] = append(out[u], n)
	}
	return out, rows.Err()
}

func (s *Store) list(ctx context.Context, q, arg string) ([]string, error) {
	rows, err := s.db.Query(ctx, q, arg)
	if err != nil {
		return nil, fmt.Errorf("reading memberships of %s: %w", arg, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("reading memberships of %s: %w", arg, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
