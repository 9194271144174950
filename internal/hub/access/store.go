package access

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/store"
)

// Actor is who acts on a request, as the hub knows them.
type Actor struct {
	User string
	Role string
	// Nodes are the nodes whose data holder the actor is.
	Nodes []string
}

func (a Actor) holds(node string) bool {
	return (a.Role == auth.RoleDataHolder || a.Role == auth.RoleNodeAdmin) && slices.Contains(a.Nodes, node)
}

// Store keeps access requests in the hub's SQL store.
type Store struct {
	db  *store.DB
	now func() time.Time
	// AutoReview moves submitted requests straight to InProgress (no platform review).
	AutoReview bool
}

// NewStore returns the store over db (migrated with the hub's migrations).
func NewStore(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "req-" + hex.EncodeToString(b[:])
}

// Submit files a researcher's request.
func (s *Store) Submit(ctx context.Context, a Actor, d Draft) (*Request, error) {
	if a.User == "" {
		return nil, fmt.Errorf("%w: log in to ask for access", ErrForbidden)
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	state := UnderReview
	if s.AutoReview {
		state = InProgress
	}
	r := &Request{ID: newID(), Researcher: a.User, Title: strings.TrimSpace(d.Title), Description: d.Description,
		Purpose: d.Purpose, Model: d.Model, State: state, Created: now, Updated: now}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO access_requests (id, researcher, title, description, purpose, model, state, created_ms, updated_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Researcher, r.Title, r.Description, r.Purpose, string(r.Model), string(r.State),
			now.UnixMilli(), now.UnixMilli()); err != nil {
			return err
		}
		for _, p := range d.Datasets {
			part := Part{Node: p.Node, Dataset: p.Dataset, State: PartSubmitted, Updated: now}
			if _, err := tx.Exec(ctx, `INSERT INTO access_parts (request_id, node, dataset, state, updated_ms) VALUES (?, ?, ?, ?, ?)`,
				r.ID, part.Node, part.Dataset, string(part.State), now.UnixMilli()); err != nil {
				return err
			}
			r.Parts = append(r.Parts, part)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("submitting access request: %w", err)
	}
	return r, nil
}

// Get returns a request the actor may see: the researcher who asked, a data holder of a
// node with a part in it, or a platform admin.
func (s *Store) Get(ctx context.Context, a Actor, id string) (*Request, error) {
	r, err := s.load(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if !canSee(a, r) {
		return nil, fmt.Errorf("request %s: %w", id, ErrNotFound) // not even its existence
	}
	return r, nil
}

func canSee(a Actor, r *Request) bool {
	if a.Role == auth.RolePlatformAdmin || a.User == r.Researcher {
		return true
	}
	for _, p := range r.Parts {
		if a.holds(p.Node) {
			return true
		}
	}
	return false
}

type querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) load(ctx context.Context, q querier, id string) (*Request, error) {
	r := &Request{}
	var model, state string
	var created, updated int64
	err := q.QueryRow(ctx, `SELECT id, researcher, title, description, purpose, model, state, created_ms, updated_ms
		FROM access_requests WHERE id = ?`, id).Scan(&r.ID, &r.Researcher, &r.Title, &r.Description, &r.Purpose, &model, &state, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("request %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading request %s: %w", id, err)
	}
	r.Model, r.State = Model(model), RequestState(state)
	r.Created, r.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	rows, err := q.Query(ctx, `SELECT node, dataset, state, updated_ms FROM access_parts WHERE request_id = ? ORDER BY node, dataset`, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p Part
		var st string
		var ms int64
		if err := rows.Scan(&p.Node, &p.Dataset, &st, &ms); err != nil {
			rows.Close()
			return nil, err
		}
		p.State, p.Updated = PartState(st), time.UnixMilli(ms).UTC()
		r.Parts = append(r.Parts, p)
	}
	rows.Close()
	rows, err = q.Query(ctx, `SELECT time_ms, author, node, body FROM access_messages WHERE request_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var m Message
		var ms int64
		if err := rows.Scan(&ms, &m.Author, &m.Node, &m.Text); err != nil {
			rows.Close()
			return nil, err
		}
		m.Time = time.UnixMilli(ms).UTC()
		r.Messages = append(r.Messages, m)
	}
	rows.Close()
	rows, err = q.Query(ctx, `SELECT name, size, sha256, blob_key FROM access_attachments WHERE request_id = ? ORDER BY name`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var at Attachment
		if err := rows.Scan(&at.Name, &at.Size, &at.SHA256, &at.Key); err != nil {
			return nil, err
		}
		r.Attachments = append(r.Attachments, at)
	}
	return r, rows.Err()
}

// List returns the requests the actor may see, newest first: their own as a researcher,
// those with a part at one of their nodes as a data holder, all for a platform admin.
func (s *Store) List(ctx context.Context, a Actor) ([]*Request, error) {
	q := `SELECT id FROM access_requests ORDER BY created_ms DESC, id`
	var args []any
	switch {
	case a.Role == auth.RolePlatformAdmin:
	case (a.Role == auth.RoleDataHolder || a.Role == auth.RoleNodeAdmin) && len(a.Nodes) > 0:
		q = `SELECT DISTINCT r.id, r.created_ms FROM access_requests r JOIN access_parts p ON p.request_id = r.id
			WHERE p.node IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(a.Nodes)), ", ") + `) ORDER BY r.created_ms DESC, r.id`
		for _, n := range a.Nodes {
			args = append(args, n)
		}
	default:
		q = `SELECT id FROM access_requests WHERE researcher = ? ORDER BY created_ms DESC, id`
		args = []any{a.User}
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing requests: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		dest := []any{&id}
		if strings.Contains(q, "DISTINCT") {
			var ms int64
			dest = append(dest, &ms)
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]*Request, 0, len(ids))
	for _, id := range ids {
		r, err := s.load(ctx, s.db, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Review is the platform's decision on a request under review: approve moves it to
// InProgress (the data holders decide), decline ends it.
func (s *Store) Review(ctx context.Context, a Actor, id string, approve bool) (*Request, error) {
	if a.Role != auth.RolePlatformAdmin {
		return nil, fmt.Errorf("%w: only a platform admin reviews requests", ErrForbidden)
	}
	to := InProgress
	if !approve {
		to = Declined
	}
	return s.setState(ctx, id, []RequestState{UnderReview}, to)
}

// Abandon withdraws a request; only its researcher may, before it concluded.
func (s *Store) Abandon(ctx context.Context, a Actor, id string) (*Request, error) {
	r, err := s.Get(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if r.Researcher != a.User {
		return nil, fmt.Errorf("%w: only %s may abandon request %s", ErrForbidden, r.Researcher, id)
	}
	return s.setState(ctx, id, []RequestState{Submitted, UnderReview, InProgress}, Abandoned)
}

func (s *Store) setState(ctx context.Context, id string, from []RequestState, to RequestState) (*Request, error) {
	var out *Request
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.load(ctx, tx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(from, r.State) {
			return fmt.Errorf("%w: request %s is %s", ErrTransition, id, r.State)
		}
		now := s.now().UTC()
		if _, err := tx.Exec(ctx, `UPDATE access_requests SET state = ?, updated_ms = ? WHERE id = ?`, string(to), now.UnixMilli(), id); err != nil {
			return err
		}
		r.State, r.Updated = to, now
		out = r
		return nil
	})
	return out, err
}

// MovePart moves one dataset of a request to a new state; only a data holder (or admin)
// of the dataset's node may, while the request is in progress. It returns the request
// after the move; a part now MadeAvailable is an approval for the caller to act on.
func (s *Store) MovePart(ctx context.Context, a Actor, id, node, dataset string, to PartState) (*Request, error) {
	if !a.holds(node) {
		return nil, fmt.Errorf("%w: %s is not a data holder of node %s", ErrForbidden, a.User, node)
	}
	var out *Request
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.load(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.State != InProgress {
			return fmt.Errorf("%w: request %s is %s, not in progress", ErrTransition, id, r.State)
		}
		i := slices.IndexFunc(r.Parts, func(p Part) bool { return p.Node == node && p.Dataset == dataset })
		if i < 0 {
			return fmt.Errorf("request %s has no dataset %s of node %s: %w", id, dataset, node, ErrNotFound)
		}
		if !CanMove(r.Parts[i].State, to) {
			return fmt.Errorf("%w: dataset %s cannot go from %s to %s", ErrTransition, dataset, r.Parts[i].State, to)
		}
		now := s.now().UTC()
		if _, err := tx.Exec(ctx, `UPDATE access_parts SET state = ?, updated_ms = ? WHERE request_id = ? AND node = ? AND dataset = ?`,
			string(to), now.UnixMilli(), id, node, dataset); err != nil {
			return err
		}
		r.Parts[i].State, r.Parts[i].Updated = to, now
		r.derive()
		if _, err := tx.Exec(ctx, `UPDATE access_requests SET state = ?, updated_ms = ? WHERE id = ?`, string(r.State), now.UnixMilli(), id); err != nil {
			return err
		}
		r.Updated = now
		out = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("moving %s of request %s: %w", dataset, id, err)
	}
	return out, nil
}

// AddMessage adds a message to a request's conversation; anyone who may see the request
// may write. A data holder writes for their node when node is set.
func (s *Store) AddMessage(ctx context.Context, a Actor, id, node, text string) (*Request, error) {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > 20000 {
		return nil, fmt.Errorf("%w: a message has 1 to 20,000 characters", ErrInvalid)
	}
	if node != "" && !a.holds(node) {
		return nil, fmt.Errorf("%w: %s cannot write for node %s", ErrForbidden, a.User, node)
	}
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, err
	}
	var out *Request
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		var seq int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM access_messages WHERE request_id = ?`, id).Scan(&seq); err != nil {
			return err
		}
		now := s.now().UTC()
		if _, err := tx.Exec(ctx, `INSERT INTO access_messages (request_id, seq, time_ms, author, node, body) VALUES (?, ?, ?, ?, ?, ?)`,
			id, seq, now.UnixMilli(), a.User, node, text); err != nil {
			return err
		}
		r, err := s.load(ctx, tx, id)
		out = r
		return err
	})
	return out, err
}
