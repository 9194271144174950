package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "cie_session"

// SessionTTL is how long a browser session lasts.
const SessionTTL = 12 * time.Hour

// Session is the content of a signed session cookie.
type Session struct {
	User    string    `json:"u"`
	Role    string    `json:"r"`
	ID      string    `json:"i"` // random per login; CSRF tokens derive from it
	Expires time.Time `json:"e"`
}

// Sessions issues and checks session cookies with an HMAC key.
type Sessions struct {
	key    []byte
	secure bool
	now    func() time.Time
	// Ended, if set, lists the sessions ended by logout (see Revocations).
	Ended *Revocations
}

// NewSessions returns Sessions keyed with key (at least 32 bytes). secure
// marks cookies Secure (set it when the site is served over HTTPS).
func NewSessions(key []byte, secure bool) (*Sessions, error) {
	if len(key) < 32 {
		return nil, errors.New("session key: at least 32 bytes")
	}
	return &Sessions{key: key, secure: secure, now: time.Now}, nil
}

func (s *Sessions) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Start sets a session cookie for u on w and returns the session.
func (s *Sessions) Start(w http.ResponseWriter, u User) Session {
	sess := Session{User: u.Name, Role: u.Role, ID: RandomSecret(16), Expires: s.now().Add(SessionTTL).UTC()}
	body, _ := json.Marshal(sess)
	payload := base64.RawURLEncoding.EncodeToString(body)
	sig := base64.RawURLEncoding.EncodeToString(s.mac("session", payload))
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: payload + "." + sig, Path: "/",
		Expires: sess.Expires, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	return sess
}

// Revoke ends sess for good (a copy of its cookie no longer works), if the Sessions
// keep a list of ended sessions.
func (s *Sessions) Revoke(sess Session) error {
	if s.Ended == nil {
		return nil
	}
	return s.Ended.Revoke(sess)
}

// End clears the session cookie.
func (s *Sessions) End(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// Read returns the valid session of r, if any.
func (s *Sessions) Read(r *http.Request) (Session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return Session{}, false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return Session{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac("session", payload)) {
		return Session{}, false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Session{}, false
	}
	var sess Session
	if json.Unmarshal(body, &sess) != nil || sess.User == "" || !s.now().Before(sess.Expires) {
		return Session{}, false
	}
	if s.Ended != nil && s.Ended.Revoked(sess.ID) {
		return Session{}, false
	}
	return sess, true
}

// CSRF returns the CSRF token for forms of session sess (empty session:
// the login form, bound to a pre-session cookie).
func (s *Sessions) CSRF(sess Session) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", sess.ID))
}

// CheckCSRF reports whether the form's csrf field matches the session.
func (s *Sessions) CheckCSRF(r *http.Request, sess Session) bool {
	got := r.PostFormValue("csrf")
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return got != "" && equal(got, s.CSRF(sess))
}

// PreSessionCookie holds a random value for anonymous visitors so that the
// login form has a CSRF token too.
const PreSessionCookie = "cie_pre"

// Anonymous returns a pseudo-session for a visitor without a session,
// setting the pre-session cookie if needed, so that its CSRF token is stable.
func (s *Sessions) Anonymous(w http.ResponseWriter, r *http.Request) Session {
	if c, err := r.Cookie(PreSessionCookie); err == nil && len(c.Value) >= 16 {
		return Session{ID: "pre:" + c.Value}
	}
	v := RandomSecret(16)
	http.SetCookie(w, &http.Cookie{Name: PreSessionCookie, Value: v, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	return Session{ID: "pre:" + v}
}

type ctxKey struct{}

// Principal is who made a request: a session user or a token holder.
type Principal struct {
	User  string
	Role  string
	Via   string // "session" or "token"
	Token bool
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// PrincipalFrom returns the principal of ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Bearer returns the bearer token of r, if any.
func Bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// LoadOrCreateKey reads a secret key (at least 32 bytes) from path, creating
// the file with a new random key, readable only by its owner, on first use.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("key file %s: shorter than 32 bytes; remove it to make a new key", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	b = []byte(RandomSecret(32))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating key file: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing key file %s: %w", path, err)
	}
	return b, nil
}
