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
	// Issue, if set, signs a visa when a part reaches MadeAvailable; the visa is
	// recorded with the move, and a failure to issue it fails the move.
	Issue IssueFunc
	// OnEvent, if set, is told about every change after it was committed, once per
	// node concerned (the hub sends the node's webhook). It must not block.
	OnEvent func(Event)
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
	pd := &pending{}
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
			if _, err := tx.Exec(ctx, `DELETE FROM baskets WHERE user_name = ? AND dataset = ?`, a.User, p.Dataset); err != nil {
				return err
			}
		}
		return s.notify(ctx, tx, pd, r, a.User, nodesOf(r), Event{Type: EventSubmitted, State: string(r.State)},
			fmt.Sprintf("%s asks for access: “%s”", a.User, r.Title))
	})
	if err != nil {
		return nil, fmt.Errorf("submitting access request: %w", err)
	}
	s.publish(pd)
	return r, nil
}

// Get returns a request the actor may see: the researcher who asked, a data holder of a
// node with a part in it, or a platform admin.
func (s *Store) Get(ctx context.Context, a Actor, id string) (*Request, error) {
	return s.loadFor(ctx, s.db, a, id)
}

// loadFor loads request id for a: ErrNotFound, not even its existence, if a may not see it.
func (s *Store) loadFor(ctx context.Context, q querier, a Actor, id string) (*Request, error) {
	r, err := s.load(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if !canSee(a, r) {
		return nil, fmt.Errorf("request %s: %w", id, ErrNotFound)
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
	rows, err = q.Query(ctx, `SELECT name, author, size, sha256, blob_key FROM access_attachments WHERE request_id = ? ORDER BY name`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var at Attachment
		if err := rows.Scan(&at.Name, &at.Author, &at.Size, &at.SHA256, &at.Key); err != nil {
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
	return s.setState(ctx, a, id, []RequestState{UnderReview}, to, EventReviewed)
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
	return s.setState(ctx, a, id, []RequestState{Submitted, UnderReview, InProgress}, Abandoned, EventAbandoned)
}

func (s *Store) setState(ctx context.Context, a Actor, id string, from []RequestState, to RequestState, event string) (*Request, error) {
	var out *Request
	pd := &pending{}
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
		return s.notify(ctx, tx, pd, r, a.User, nodesOf(r), Event{Type: event, State: string(to)},
			fmt.Sprintf("%s: request “%s” is now %s", a.User, r.Title, label(string(to))))
	})
	if err != nil {
		return nil, err
	}
	s.publish(pd)
	return out, nil
}

// MovePart moves one dataset of a request to a new state; only a data holder (or admin)
// of the dataset's node may, while the request is in progress. It returns the request
// after the move; a part now MadeAvailable is an approval for the caller to act on.
func (s *Store) MovePart(ctx context.Context, a Actor, id, node, dataset string, to PartState) (*Request, error) {
	if !a.holds(node) {
		return nil, fmt.Errorf("%w: %s is not a data holder of node %s", ErrForbidden, a.User, node)
	}
	var out *Request
	pd := &pending{}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.loadFor(ctx, tx, a, id)
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
		text := fmt.Sprintf("%s moved dataset %s of “%s” to %s", a.User, dataset, r.Title, to.Label())
		if err := s.notify(ctx, tx, pd, r, a.User, []string{node}, Event{Type: EventPartMoved, Dataset: dataset, State: string(to)}, text); err != nil {
			return err
		}
		if to != MadeAvailable || s.Issue == nil {
			return nil
		}
		v, err := s.Issue(ctx, r, r.Parts[i])
		if err != nil {
			return fmt.Errorf("issuing the visa: %w", err)
		}
		if err := insertVisa(ctx, tx, v); err != nil {
			return err
		}
		return s.notify(ctx, tx, pd, r, a.User, []string{node}, Event{Type: EventVisaIssued, Dataset: dataset, State: string(to)},
			fmt.Sprintf("A visa for dataset %s (%s) was issued to %s, valid until %s", dataset, r.Model, r.Researcher, v.Expires.Format("2006-01-02")))
	})
	if err != nil {
		return nil, fmt.Errorf("moving %s of request %s: %w", dataset, id, err)
	}
	s.publish(pd)
	return out, nil
}

// AddMessage adds a message to a request's conversation; anyone who may see the request
// may write. A data holder writes for their node when node is set.
func (s *Store) AddMessage(ctx context.Context, a Actor, id, node, text string) (*Request, error) {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > 20000 {
		return nil, invalid("text", "a message has 1 to 20,000 characters")
	}
	if node != "" && !a.holds(node) {
		return nil, fmt.Errorf("%w: %s cannot write for node %s", ErrForbidden, a.User, node)
	}
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, err
	}
	var out *Request
	pd := &pending{}
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
		if err != nil {
			return err
		}
		out = r
		to := nodesOf(r)
		if node != "" {
			to = []string{node}
		}
		return s.notify(ctx, tx, pd, r, a.User, to, Event{Type: EventMessage}, fmt.Sprintf("%s wrote on “%s”: %s", a.User, r.Title, clip(text, 120)))
	})
	if err != nil {
		return nil, err
	}
	s.publish(pd)
	return out, nil
}

// clip shortens s to n runes, with "…".
func clip(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}

// AddAttachment records a file attached to a request by anyone who may see it, while
// the request is not ended. The content is in the hub's blob store under at.Key already;
// the caller deletes it if this fails. A name is used once per request (ErrTransition).
func (s *Store) AddAttachment(ctx context.Context, a Actor, id string, at Attachment) (*Request, error) {
	if at.Name == "" || len(at.Name) > 200 || strings.ContainsAny(at.Name, "/\\\x00\r\n") {
		return nil, invalid("file", "a file name of 1 to 200 characters without slashes")
	}
	var out *Request
	pd := &pending{}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.loadFor(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(r.Attachments, func(x Attachment) bool { return x.Name == at.Name }) {
			return fmt.Errorf("%w: request %s has a file %q already", ErrTransition, id, at.Name)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO access_attachments (request_id, name, author, size, sha256, blob_key) VALUES (?, ?, ?, ?, ?, ?)`,
			id, at.Name, a.User, at.Size, at.SHA256, at.Key); err != nil {
			return fmt.Errorf("recording attachment %s: %w", at.Name, err)
		}
		at.Author = a.User
		r.Attachments = append(r.Attachments, at)
		slices.SortFunc(r.Attachments, func(x, y Attachment) int { return strings.Compare(x.Name, y.Name) })
		out = r
		return s.notify(ctx, tx, pd, r, a.User, nodesOf(r), Event{Type: EventAttachment}, fmt.Sprintf("%s attached %s to “%s”", a.User, at.Name, r.Title))
	})
	if err != nil {
		return nil, err
	}
	s.publish(pd)
	return out, nil
}
