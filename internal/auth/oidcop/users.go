package oidcop

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/store"
)

// LocalUsers returns Users over a role's own users table: the subject and
// the user name are the local user name, and the role claim holds the
// user's one cie role. Accounts without a password (made by an external
// OIDC login) cannot log in here.
func LocalUsers(u *auth.Users) Users { return localUsers{u} }

type localUsers struct{ u *auth.Users }

func (l localUsers) Authenticate(ctx context.Context, name, password string) (User, error) {
	u, err := l.u.Login(ctx, name, password)
	if errors.Is(err, auth.ErrBadCredentials) {
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("checking local user %s: %w", name, err)
	}
	return localUser(u), nil
}

func (l localUsers) Lookup(ctx context.Context, subject string) (User, error) {
	u, err := l.u.Get(ctx, subject)
	if errors.Is(err, store.ErrNotFound) {
		return User{}, fmt.Errorf("%w %s", ErrUnknownUser, subject)
	}
	if err != nil {
		return User{}, fmt.Errorf("reading local user %s: %w", subject, err)
	}
	return localUser(u), nil
}

func localUser(u auth.User) User {
	return User{Subject: u.Name, Username: u.Name, Name: u.Name, Roles: []string{u.Role}}
}

// StaticUser is one entry of a fixed user list.
type StaticUser struct {
	Username     string   `json:"username"`
	Subject      string   `json:"subject,omitempty"` // Username when empty
	Name         string   `json:"name,omitempty"`
	Email        string   `json:"email,omitempty"`
	PasswordHash string   `json:"password_hash"` // bcrypt
	Roles        []string `json:"roles"`         // values of the role claim; none: the claim is left out
}

// StaticUsers returns Users over a fixed list. It fails on a duplicate
// user name or subject, or a password hash that is not bcrypt.
func StaticUsers(list []StaticUser) (Users, error) {
	s := staticUsers{byName: map[string]StaticUser{}, bySub: map[string]StaticUser{}}
	for _, u := range list {
		if u.Subject == "" {
			u.Subject = u.Username
		}
		if u.Username == "" {
			return nil, errors.New("oidcop: static user without a user name")
		}
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			return nil, fmt.Errorf("oidcop: static user %s: password_hash: %w", u.Username, err)
		}
		if _, dup := s.byName[u.Username]; dup {
			return nil, fmt.Errorf("oidcop: static user %s listed twice", u.Username)
		}
		if _, dup := s.bySub[u.Subject]; dup {
			return nil, fmt.Errorf("oidcop: subject %s listed twice", u.Subject)
		}
		s.byName[u.Username], s.bySub[u.Subject] = u, u
	}
	return s, nil
}

type staticUsers struct{ byName, bySub map[string]StaticUser }

// staticDummy is compared against for unknown names, so that they take as
// long as a wrong password.
var staticDummy = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not anyone's password"), bcrypt.DefaultCost)
	return h
})

func (s staticUsers) Authenticate(ctx context.Context, name, password string) (User, error) {
	u, ok := s.byName[name]
	if !ok {
		_ = bcrypt.CompareHashAndPassword(staticDummy(), []byte(password))
		return User{}, ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	return u.user(), nil
}

func (s staticUsers) Lookup(ctx context.Context, subject string) (User, error) {
	u, ok := s.bySub[subject]
	if !ok {
		return User{}, fmt.Errorf("%w %s", ErrUnknownUser, subject)
	}
	return u.user(), nil
}

func (u StaticUser) user() User {
	return User{Subject: u.Subject, Username: u.Username, Name: u.Name, Email: u.Email, Roles: u.Roles}
}
