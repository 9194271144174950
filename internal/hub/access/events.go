package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/store"
)

// Event types, as notices and webhooks name them.
const (
	EventSubmitted  = "request.submitted"
	EventReviewed   = "request.reviewed"
	EventAbandoned  = "request.abandoned"
	EventPartMoved  = "part.moved"
	EventMessage    = "message.added"
	EventAttachment = "attachment.added"
	EventVisaIssued = "visa.issued"
	EventRevoked    = "visa.revoked"
)

// Event is a change of a request that people and nodes are told about.
type Event struct {
	Type    string    `json:"type"`
	Request string    `json:"request"`
	Title   string    `json:"title"`
	Node    string    `json:"node"`
	Dataset string    `json:"dataset,omitempty"`
	State   string    `json:"state,omitempty"`
	Actor   string    `json:"actor"`
	Time    time.Time `json:"time"`
}

// Notice is an in-app notification of one user.
type Notice struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Request string    `json:"request,omitempty"`
	Text    string    `json:"text"`
	Read    bool      `json:"read"`
}

func randomID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// pending collects, inside a transaction, the notices to write and the events to
// publish once it committed.
type pending struct {
	events []Event
}

// notify writes a notice for the researcher of r and the members of nodes, except the
// actor, and records ev (one per node of nodes, for the nodes' webhooks).
func (s *Store) notify(ctx context.Context, tx *store.Tx, pd *pending, r *Request, actor string, nodes []string, ev Event, text string) error {
	users := []string{r.Researcher}
	nodes = slices.Compact(slices.Sorted(slices.Values(nodes)))
	for _, n := range nodes {
		rows, err := tx.Query(ctx, `SELECT user_name FROM user_nodes WHERE node = ?`, n)
		if err != nil {
			return fmt.Errorf("reading the members of %s: %w", n, err)
		}
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return err
			}
			users = append(users, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	slices.Sort(users)
	now := s.now().UTC()
	for _, u := range slices.Compact(users) {
		if u == actor {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notices (id, user_name, time_ms, request_id, body) VALUES (?, ?, ?, ?, ?)`,
			randomID("n-"), u, now.UnixMilli(), r.ID, text); err != nil {
			return fmt.Errorf("writing a notice: %w", err)
		}
	}
	ev.Request, ev.Title, ev.Actor, ev.Time = r.ID, r.Title, actor, now
	for _, n := range nodes {
		e := ev
		e.Node = n
		pd.events = append(pd.events, e)
	}
	return nil
}

func (s *Store) publish(pd *pending) {
	if s.OnEvent == nil {
		return
	}
	for _, e := range pd.events {
		s.OnEvent(e)
	}
}

func nodesOf(r *Request) []string {
	var out []string
	for _, p := range r.Parts {
		out = append(out, p.Node)
	}
	return out
}

// Notices returns the newest notices of user, at most limit.
func (s *Store) Notices(ctx context.Context, user string, limit int) ([]Notice, error) {
	rows, err := s.db.Query(ctx, `SELECT id, time_ms, request_id, body, read_ms FROM notices WHERE user_name = ?
		ORDER BY time_ms DESC, id LIMIT ?`, user, limit)
	if err != nil {
		return nil, fmt.Errorf("reading notices of %s: %w", user, err)
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		var ms int64
		var read *int64
		if err := rows.Scan(&n.ID, &ms, &n.Request, &n.Text, &read); err != nil {
			return nil, fmt.Errorf("reading notices of %s: %w", user, err)
		}
		n.Time, n.Read = time.UnixMilli(ms).UTC(), read != nil
		out = append(out, n)
	}
	return out, rows.Err()
}

// Unread counts user's unread notices.
func (s *Store) Unread(ctx context.Context, user string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM notices WHERE user_name = ? AND read_ms IS NULL`, user).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting notices of %s: %w", user, err)
	}
	return n, nil
}

// MarkRead marks all of user's notices read.
func (s *Store) MarkRead(ctx context.Context, user string) error {
	_, err := s.db.Exec(ctx, `UPDATE notices SET read_ms = ? WHERE user_name = ? AND read_ms IS NULL`, s.now().UnixMilli(), user)
	if err != nil {
		return fmt.Errorf("marking notices of %s read: %w", user, err)
	}
	return nil
}

func label(s string) string { return strings.ReplaceAll(s, "_", " ") }
