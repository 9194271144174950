package auth

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hubmig "github.com/cancerimage/cie/internal/hub/migrations"
	nodemig "github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/testenv"
)

// forEachStore runs fn on the hub's and the node's schema, on SQLite and
// on PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	schemas := []struct {
		name  string
		fs    fs.FS
		table string
	}{{"hub", hubmig.FS, hubmig.Table}, {"node", nodemig.FS, nodemig.Table}}
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, s := range schemas {
			t.Run(engine+"/"+s.name, func(t *testing.T) {
				url := filepath.Join(t.TempDir(), "t.db")
				if engine == "postgres" {
					url = testenv.Postgres(t)
				}
				ctx := context.Background()
				db, err := store.Open(ctx, url, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if err := db.Migrate(ctx, s.fs, s.table); err != nil {
					t.Fatal(err)
				}
				fn(t, db)
			})
		}
	}
}

func TestUsersAndTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := NewUsers(db)
		if err := u.Put(ctx, "ana", RoleResearcher, "a good password"); err != nil {
			t.Fatal(err)
		}
		if err := u.Put(ctx, "ana", RoleDataHolder, "another password"); err != nil {
			t.Fatal(err)
		}
		got, err := u.Login(ctx, "ana", "another password")
		if err != nil || got.Role != RoleDataHolder {
			t.Fatalf("login: %+v %v", got, err)
		}
		if _, err := u.Login(ctx, "ana", "a good password"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("old password accepted: %v", err)
		}
		if _, err := u.Login(ctx, "nobody", "whatever1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("unknown user: %v", err)
		}
		for _, bad := range []struct{ name, role, pw string }{{"Ana", RoleResearcher, "12345678"}, {"bob", "king", "12345678"}, {"bob", RoleResearcher, "short"}} {
			if err := u.Put(ctx, bad.name, bad.role, bad.pw); err == nil {
				t.Errorf("Put(%q, %q, %q) accepted", bad.name, bad.role, bad.pw)
			}
		}

		tok, info, err := u.IssueToken(ctx, "ana", "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, TokenPrefix) {
			t.Fatalf("token %q", tok)
		}
		who, err := u.Authenticate(ctx, tok)
		if err != nil || who.Name != "ana" || who.Role != RoleDataHolder {
			t.Fatalf("authenticate: %+v %v", who, err)
		}
		// The token itself is stored nowhere.
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM tokens WHERE hash = ? OR label = ?`, tok, tok).Scan(&n); err != nil || n != 0 {
			t.Fatalf("token stored in clear: %d %v", n, err)
		}
		if _, err := u.Authenticate(ctx, tok+"x"); !errors.Is(err, ErrBadToken) {
			t.Fatalf("altered token: %v", err)
		}
		if _, err := u.Authenticate(ctx, "Bearer nonsense"); !errors.Is(err, ErrBadToken) {
			t.Fatalf("junk token: %v", err)
		}
		if err := u.RevokeToken(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := u.Authenticate(ctx, tok); !errors.Is(err, ErrBadToken) {
			t.Fatalf("revoked token accepted: %v", err)
		}
		if err := u.RevokeToken(ctx, info.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revoke: %v", err)
		}
		ts, err := u.Tokens(ctx, "ana")
		if err != nil || len(ts) != 1 || ts[0].Revoked.IsZero() {
			t.Fatalf("tokens: %+v %v", ts, err)
		}
		// A token issued elsewhere can be imported, once.
		if _, err := u.ImportToken(ctx, "ana", "demo", tok); err == nil {
			t.Fatal("importing a known token twice succeeded")
		}
		if _, err := u.ImportToken(ctx, "ana", "demo", "short"); !errors.Is(err, ErrBadToken) {
			t.Fatalf("short import: %v", err)
		}
		if _, _, err := u.IssueToken(ctx, "ghost", "x"); err == nil {
			t.Fatal("token for unknown user issued")
		}
	})
}

func TestSessionsAndCSRF(t *testing.T) {
	s, err := NewSessions([]byte(strings.Repeat("k", 32)), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSessions([]byte("short"), false); err == nil {
		t.Fatal("short key accepted")
	}
	rec := httptest.NewRecorder()
	sess := s.Start(rec, User{Name: "ana", Role: RoleResearcher})
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Name != SessionCookie {
		t.Fatalf("cookie attributes: %+v", cookie)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookie)
	got, ok := s.Read(req)
	if !ok || got.User != "ana" || got.ID != sess.ID {
		t.Fatalf("read: %+v %v", got, ok)
	}
	// A forged cookie (changed role) is refused.
	forged := *cookie
	forged.Value = strings.Replace(cookie.Value, cookie.Value[:4], "eyJ1", 1) + "x"
	req2 := httptest.NewRequest("GET", "/", nil)
	req2.AddCookie(&forged)
	if _, ok := s.Read(req2); ok {
		t.Fatal("forged cookie accepted")
	}
	// Another key does not accept it.
	other, _ := NewSessions([]byte(strings.Repeat("o", 32)), false)
	if _, ok := other.Read(req); ok {
		t.Fatal("cookie accepted under another key")
	}
	// Expired.
	s.now = func() time.Time { return time.Now().Add(SessionTTL + time.Minute) }
	if _, ok := s.Read(req); ok {
		t.Fatal("expired session accepted")
	}
	s.now = time.Now

	// CSRF: the session's token passes, another session's does not.
	form := url.Values{"csrf": {s.CSRF(sess)}}
	post := httptest.NewRequest("POST", "/x", strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !s.CheckCSRF(post, sess) {
		t.Fatal("valid CSRF token refused")
	}
	post2 := httptest.NewRequest("POST", "/x", strings.NewReader(url.Values{"csrf": {s.CSRF(Session{ID: "other"})}}.Encode()))
	post2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.CheckCSRF(post2, sess) {
		t.Fatal("CSRF token of another session accepted")
	}
	post3 := httptest.NewRequest("POST", "/x", nil)
	if s.CheckCSRF(post3, sess) {
		t.Fatal("missing CSRF token accepted")
	}
}

func TestBearer(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer cie_abc")
	if Bearer(r) != "cie_abc" {
		t.Fatal(Bearer(r))
	}
	r.Header.Set("Authorization", "Basic xyz")
	if Bearer(r) != "" {
		t.Fatal("basic taken as bearer")
	}
}

func TestPutExternal(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := NewUsers(db)
		got, err := u.PutExternal(ctx, "rita@example.org", RoleResearcher)
		if err != nil || got.Name != "rita@example.org" || got.Role != RoleResearcher {
			t.Fatalf("create: %+v %v", got, err)
		}
		if got, err = u.PutExternal(ctx, "rita@example.org", RoleDataHolder); err != nil || got.Role != RoleDataHolder {
			t.Fatalf("role update: %+v %v", got, err)
		}
		if _, err := u.Login(ctx, "rita@example.org", ""); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("external user logs in with an empty password: %v", err)
		}
		if err := u.Put(ctx, "ops", RolePlatformAdmin, "a long password"); err != nil {
			t.Fatal(err)
		}
		if _, err := u.PutExternal(ctx, "ops", RoleResearcher); !errors.Is(err, ErrLocalAccount) {
			t.Fatalf("local account taken over: %v", err)
		}
		if got, _ := u.Get(ctx, "ops"); got.Role != RolePlatformAdmin {
			t.Fatalf("local account changed: %+v", got)
		}
		for _, bad := range []struct{ name, role string }{{"Rita", RoleResearcher}, {"rita", "king"}} {
			if _, err := u.PutExternal(ctx, bad.name, bad.role); err == nil {
				t.Errorf("PutExternal(%q, %q) accepted", bad.name, bad.role)
			}
		}
	})
}

// TestRevokedSessions checks that a session ended by logout is refused even with a copy
// of its cookie, that other sessions are not, and that the list survives a restart and
// drops expired entries.
func TestRevokedSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ended.jsonl")
	ended, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewSessions([]byte(strings.Repeat("k", 32)), false)
	s.Ended = ended
	cookieOf := func(u string) (*http.Request, Session) {
		rec := httptest.NewRecorder()
		sess := s.Start(rec, User{Name: u, Role: RoleResearcher})
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(rec.Result().Cookies()[0])
		return req, sess
	}
	a, sa := cookieOf("ana")
	b, _ := cookieOf("bo")
	if err := s.Revoke(sa); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Read(a); ok {
		t.Fatal("a session ended by logout is still accepted")
	}
	if _, ok := s.Read(b); !ok {
		t.Fatal("another session was ended too")
	}
	// After a restart.
	again, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Ended = again
	if _, ok := s.Read(a); ok {
		t.Fatal("the ended session is accepted after a restart")
	}
	// An expired entry is dropped when the list is opened.
	if err := again.Revoke(Session{ID: "old", Expires: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	third, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	if third.Revoked("old") || !third.Revoked(sa.ID) {
		t.Fatalf("after reopening: old %v, ana's %v", third.Revoked("old"), third.Revoked(sa.ID))
	}
}
