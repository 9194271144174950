package access

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/store"
)

// Visa is a visa the hub issued on an approval (a part that reached MadeAvailable).
type Visa struct {
	JTI       string    `json:"jti"`
	User      string    `json:"user"`
	Node      string    `json:"node"`
	Dataset   string    `json:"dataset"`
	Request   string    `json:"request"`
	Access    Model     `json:"access"`
	Token     string    `json:"-"`
	Issued    time.Time `json:"issued"`
	Expires   time.Time `json:"expires"`
	Revoked   time.Time `json:"revoked,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// Valid reports whether v is neither expired nor revoked at now.
func (v Visa) Valid(now time.Time) bool { return v.Revoked.IsZero() && now.Before(v.Expires) }

// IssueFunc signs a visa for an approved part of r; the store records it in the same
// transaction as the move, so that a move whose visa cannot be issued does not happen.
type IssueFunc func(ctx context.Context, r *Request, p Part) (Visa, error)

const visaColumns = `jti, user_name, node, dataset, request_id, access, token, issued_ms, expires_ms, revoked_ms, revoked_by, reason`

func scanVisa(sc interface{ Scan(...any) error }) (Visa, error) {
	var v Visa
	var access string
	var issued, expires int64
	var revoked *int64
	if err := sc.Scan(&v.JTI, &v.User, &v.Node, &v.Dataset, &v.Request, &access, &v.Token, &issued, &expires, &revoked, &v.RevokedBy, &v.Reason); err != nil {
		return Visa{}, err
	}
	v.Access, v.Issued, v.Expires = Model(access), time.UnixMilli(issued).UTC(), time.UnixMilli(expires).UTC()
	if revoked != nil {
		v.Revoked = time.UnixMilli(*revoked).UTC()
	}
	return v, nil
}

func insertVisa(ctx context.Context, tx *store.Tx, v Visa) error {
	_, err := tx.Exec(ctx, `INSERT INTO access_visas (jti, user_name, node, dataset, request_id, access, token, issued_ms, expires_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, v.JTI, v.User, v.Node, v.Dataset, v.Request, string(v.Access), v.Token,
		v.Issued.UnixMilli(), v.Expires.UnixMilli())
	if err != nil {
		return fmt.Errorf("recording visa %s: %w", v.JTI, err)
	}
	return nil
}

func (s *Store) queryVisas(ctx context.Context, where string, args ...any) ([]Visa, error) {
	rows, err := s.db.Query(ctx, `SELECT `+visaColumns+` FROM access_visas WHERE `+where+` ORDER BY issued_ms DESC, jti`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading visas: %w", err)
	}
	defer rows.Close()
	var out []Visa
	for rows.Next() {
		v, err := scanVisa(rows)
		if err != nil {
			return nil, fmt.Errorf("reading visas: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Visas returns the visas the actor may see, newest first: a researcher their own, a
// data holder or node admin those for their nodes' datasets, a platform admin all.
func (s *Store) Visas(ctx context.Context, a Actor) ([]Visa, error) {
	switch {
	case a.Role == auth.RolePlatformAdmin:
		return s.queryVisas(ctx, `1 = 1`)
	case (a.Role == auth.RoleDataHolder || a.Role == auth.RoleNodeAdmin) && len(a.Nodes) > 0:
		args := []any{a.User}
		for _, n := range a.Nodes {
			args = append(args, n)
		}
		return s.queryVisas(ctx, `user_name = ? OR node IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(a.Nodes)), ", ")+`)`, args...)
	case a.User == "":
		return nil, fmt.Errorf("%w: log in to see visas", ErrForbidden)
	}
	return s.queryVisas(ctx, `user_name = ?`, a.User)
}

// ValidVisas returns user's visas that are unexpired and unrevoked now, for the
// datasets of node (any node if node is empty).
func (s *Store) ValidVisas(ctx context.Context, user, node string) ([]Visa, error) {
	now := s.now().UnixMilli()
	if node == "" {
		return s.queryVisas(ctx, `user_name = ? AND revoked_ms IS NULL AND expires_ms > ?`, user, now)
	}
	return s.queryVisas(ctx, `user_name = ? AND node = ? AND revoked_ms IS NULL AND expires_ms > ?`, user, node, now)
}

// RevokeFunc revokes a visa where it is verified (the hub's revocation list, pushed to
// the nodes); it runs inside the store's transaction, so that a failure changes nothing.
type RevokeFunc func(v Visa, reason string) error

// RevokeVisa revokes the visa jti: a data holder or node admin of its node, or a
// platform admin, may. Revoking it again is a conflict (ErrTransition).
func (s *Store) RevokeVisa(ctx context.Context, a Actor, jti, reason string, revoke RevokeFunc) (Visa, error) {
	reason = strings.TrimSpace(reason)
	if len(reason) > 255 {
		return Visa{}, invalid("reason", "at most 255 characters")
	}
	var out Visa
	pd := &pending{}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		v, err := scanVisa(tx.QueryRow(ctx, `SELECT `+visaColumns+` FROM access_visas WHERE jti = ?`, jti))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("visa %s: %w", jti, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("reading visa %s: %w", jti, err)
		}
		if a.Role != auth.RolePlatformAdmin && !a.holds(v.Node) {
			if v.User == a.User {
				return fmt.Errorf("%w: a visa is revoked by a data holder of %s or a platform admin", ErrForbidden, v.Node)
			}
			return fmt.Errorf("visa %s: %w", jti, ErrNotFound)
		}
		if !v.Revoked.IsZero() {
			return fmt.Errorf("%w: visa %s was revoked already", ErrTransition, jti)
		}
		now := s.now().UTC()
		if _, err := tx.Exec(ctx, `UPDATE access_visas SET revoked_ms = ?, revoked_by = ?, reason = ? WHERE jti = ?`,
			now.UnixMilli(), a.User, reason, jti); err != nil {
			return fmt.Errorf("revoking visa %s: %w", jti, err)
		}
		v.Revoked, v.RevokedBy, v.Reason = now, a.User, reason
		r, err := s.load(ctx, tx, v.Request)
		if err != nil {
			return err
		}
		text := fmt.Sprintf("%s revoked the visa for dataset %s of request “%s”", a.User, v.Dataset, r.Title)
		if reason != "" {
			text += ": " + reason
		}
		if err := s.notify(ctx, tx, pd, r, a.User, []string{v.Node}, Event{Type: EventRevoked, Dataset: v.Dataset}, text); err != nil {
			return err
		}
		if err := revoke(v, reason); err != nil {
			return fmt.Errorf("revoking visa %s: %w", jti, err)
		}
		out = v
		return nil
	})
	if err != nil {
		return Visa{}, err
	}
	s.publish(pd)
	return out, nil
}
