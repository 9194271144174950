package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cancerimage/cie/internal/store"
)

// Roles a user can hold.
const (
	RoleResearcher    = "researcher"
	RoleDataHolder    = "data_holder"
	RoleNodeAdmin     = "node_admin"
	RolePlatformAdmin = "platform_admin"
)

// Roles lists every role, in order of increasing privilege.
var Roles = []string{RoleResearcher, RoleDataHolder, RoleNodeAdmin, RolePlatformAdmin}

// Sentinel errors.
var (
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrBadToken       = errors.New("invalid or revoked token")
	ErrBadRole        = errors.New("unknown role")
	ErrBadUserName    = errors.New("invalid user name")
)

// User is a local account.
type User struct {
	Name    string
	Role    string
	Created time.Time
}

// CheckRole returns ErrBadRole unless role is one of Roles.
func CheckRole(role string) error {
	for _, r := range Roles {
		if r == role {
			return nil
		}
	}
	return fmt.Errorf("%w %q (one of %s)", ErrBadRole, role, strings.Join(Roles, ", "))
}

// CheckUserName returns an error wrapping ErrBadUserName unless name is a
// valid user name: 1 to 64 lower-case letters, digits and - _ . @.
func CheckUserName(name string) error { return checkName(name) }

func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w %q: 1 to 64 characters", ErrBadUserName, name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@') {
			return fmt.Errorf("%w %q: use lower-case letters, digits and - _ . @", ErrBadUserName, name)
		}
	}
	return nil
}

// Users manages accounts and tokens in a role's store.
type Users struct {
	db  *store.DB
	now func() time.Time
}

// NewUsers returns a Users over db.
func NewUsers(db *store.DB) *Users { return &Users{db: db, now: time.Now} }

// RandomSecret returns n random bytes encoded as URL-safe base64 without padding.
func RandomSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never returns an error since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// Put creates the user or, if it exists, sets its role and password.
func (u *Users) Put(ctx context.Context, name, role, password string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := CheckRole(role); err != nil {
		return err
	}
	if len(password) < 8 {
		return fmt.Errorf("password for %s: at least 8 characters", name)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hashing password for %s: %w", name, err)
	}
	now := u.now().UnixMilli()
	return u.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET role = ?, password_hash = ? WHERE name = ?`, role, string(hash), name)
		if err != nil {
			return fmt.Errorf("updating user %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (name, role, password_hash, created_ms) VALUES (?, ?, ?, ?)`, name, role, string(hash), now); err != nil {
			return fmt.Errorf("adding user %s: %w", name, store.Classify(err))
		}
		return nil
	})
}

// ErrLocalAccount is returned by PutExternal for a name that belongs to a
// local account with a password.
var ErrLocalAccount = errors.New("the name belongs to a local account with a password")

// PutExternal creates or updates a user whose identity comes from an
// external login (OIDC): it has no password, so it can never log in with
// one, and its role is set at each login. A local account with a password
// of the same name is never taken over: that is ErrLocalAccount.
func (u *Users) PutExternal(ctx context.Context, name, role string) (User, error) {
	if err := checkName(name); err != nil {
		return User{}, err
	}
	if err := CheckRole(role); err != nil {
		return User{}, err
	}
	now := u.now().UnixMilli()
	err := u.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET role = ? WHERE name = ? AND password_hash = ''`, role, name)
		if err != nil {
			return fmt.Errorf("updating user %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (name, role, password_hash, created_ms) VALUES (?, ?, '', ?)`, name, role, now); err != nil {
			if errors.Is(store.Classify(err), store.ErrConflict) {
				return fmt.Errorf("external user %s: %w", name, ErrLocalAccount)
			}
			return fmt.Errorf("adding user %s: %w", name, store.Classify(err))
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u.Get(ctx, name)
}

// Get returns the user called name, or an error wrapping store.ErrNotFound.
func (u *Users) Get(ctx context.Context, name string) (User, error) {
	var usr User
	var ms int64
	err := u.db.QueryRow(ctx, `SELECT name, role, created_ms FROM users WHERE name = ?`, name).Scan(&usr.Name, &usr.Role, &ms)
	if err != nil {
		return User{}, fmt.Errorf("reading user %s: %w", name, store.Classify(err))
	}
	usr.Created = time.UnixMilli(ms).UTC()
	return usr, nil
}

// List returns all users ordered by name.
func (u *Users) List(ctx context.Context) ([]User, error) {
	rows, err := u.db.Query(ctx, `SELECT name, role, created_ms FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var usr User
		var ms int64
		if err := rows.Scan(&usr.Name, &usr.Role, &ms); err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		usr.Created = time.UnixMilli(ms).UTC()
		out = append(out, usr)
	}
	return out, rows.Err()
}

// dummyHash is compared against when the user does not exist, so that a
// login for an unknown name takes as long as one with a wrong password.
// It is made on first use, not at start: every cie command would pay for it.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcrypt.DefaultCost)
	return h
})

// Login checks a user name and password; it returns ErrBadCredentials for
// either an unknown user or a wrong password.
func (u *Users) Login(ctx context.Context, name, password string) (User, error) {
	var usr User
	var hash string
	var ms int64
	err := u.db.QueryRow(ctx, `SELECT name, role, password_hash, created_ms FROM users WHERE name = ?`, name).Scan(&usr.Name, &usr.Role, &hash, &ms)
	if err != nil {
		if errors.Is(store.Classify(err), store.ErrNotFound) {
			_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
			return User{}, ErrBadCredentials
		}
		return User{}, fmt.Errorf("reading user %s: %w", name, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	usr.Created = time.UnixMilli(ms).UTC()
	return usr, nil
}

// TokenPrefix starts every cie API token, so that leaked tokens are easy to
// recognise in logs and by secret scanners.
const TokenPrefix = "cie_"

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Token describes an issued API token (never the token itself).
type Token struct {
	ID      string
	User    string
	Label   string
	Created time.Time
	Revoked time.Time // zero if valid
}

// IssueToken creates a new bearer token for user and returns it; only its
// hash is stored, so the token is shown once.
func (u *Users) IssueToken(ctx context.Context, user, label string) (string, Token, error) {
	tok := TokenPrefix + RandomSecret(32)
	t, err := u.addToken(ctx, user, label, tok)
	if err != nil {
		return "", Token{}, err
	}
	return tok, t, nil
}

// ImportToken registers a token issued elsewhere (the demo gives a node
// admin the same token at the hub and at the node).
func (u *Users) ImportToken(ctx context.Context, user, label, tok string) (Token, error) {
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) < len(TokenPrefix)+32 {
		return Token{}, fmt.Errorf("importing token for %s: %w", user, ErrBadToken)
	}
	return u.addToken(ctx, user, label, tok)
}

func (u *Users) addToken(ctx context.Context, user, label, tok string) (Token, error) {
	t := Token{ID: RandomSecret(9), User: user, Label: label, Created: u.now().UTC()}
	_, err := u.db.Exec(ctx, `INSERT INTO tokens (id, user_name, label, hash, created_ms) VALUES (?, ?, ?, ?, ?)`,
		t.ID, user, label, hashToken(tok), t.Created.UnixMilli())
	if err != nil {
		return Token{}, fmt.Errorf("adding token for %s: %w", user, store.Classify(err))
	}
	return t, nil
}

// Authenticate returns the user a bearer token belongs to, or ErrBadToken.
func (u *Users) Authenticate(ctx context.Context, tok string) (User, error) {
	if !strings.HasPrefix(tok, TokenPrefix) {
		return User{}, ErrBadToken
	}
	var usr User
	var ms int64
	var revoked *int64
	err := u.db.QueryRow(ctx, `SELECT u.name, u.role, u.created_ms, t.revoked_ms FROM tokens t JOIN users u ON u.name = t.user_name WHERE t.hash = ?`,
		hashToken(tok)).Scan(&usr.Name, &usr.Role, &ms, &revoked)
	if err != nil {
		if errors.Is(store.Classify(err), store.ErrNotFound) {
			return User{}, ErrBadToken
		}
		return User{}, fmt.Errorf("checking token: %w", err)
	}
	if revoked != nil {
		return User{}, ErrBadToken
	}
	usr.Created = time.UnixMilli(ms).UTC()
	return usr, nil
}

// Tokens lists the tokens of user (all users when user is empty).
func (u *Users) Tokens(ctx context.Context, user string) ([]Token, error) {
	q := `SELECT id, user_name, label, created_ms, revoked_ms FROM tokens`
	var args []any
	if user != "" {
		q += ` WHERE user_name = ?`
		args = append(args, user)
	}
	rows, err := u.db.Query(ctx, q+` ORDER BY created_ms, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var c int64
		var r *int64
		if err := rows.Scan(&t.ID, &t.User, &t.Label, &c, &r); err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		t.Created = time.UnixMilli(c).UTC()
		if r != nil {
			t.Revoked = time.UnixMilli(*r).UTC()
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes the token with the given id.
func (u *Users) RevokeToken(ctx context.Context, id string) error {
	res, err := u.db.Exec(ctx, `UPDATE tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL`, u.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoking token %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
