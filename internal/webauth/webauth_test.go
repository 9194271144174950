package webauth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	hubmig "github.com/cancerimage/cie/internal/hub/migrations"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/web"
)

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/audit": "/audit", "/nodes?x=1": "/nodes?x=1", "": "", "https://evil.example/": "", "//evil.example": "",
		"/\\evil.example": "", "audit": "", "/a\r\nSet-Cookie: x": "",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func newGate(t *testing.T) (*Gate, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, filepath.Join(dir, "t.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, hubmig.FS, hubmig.Table); err != nil {
		t.Fatal(err)
	}
	users := auth.NewUsers(db)
	if err := users.Put(ctx, "ana", auth.RoleResearcher, "password one"); err != nil {
		t.Fatal(err)
	}
	if err := users.Put(ctx, "ops", auth.RolePlatformAdmin, "password two"); err != nil {
		t.Fatal(err)
	}
	signer, verifier, err := audit.LoadOrCreateKey(filepath.Join(dir, "audit.key"), "test")
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.Open(ctx, audit.Options{Dir: filepath.Join(dir, "audit"), Origin: "test", Signer: signer, Verifier: verifier, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close(context.Background()) })
	sessions, _ := auth.NewSessions([]byte(strings.Repeat("s", 32)), false)
	site, err := web.New(web.Options{Product: "hub"})
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{Users: users, Sessions: sessions, Site: site, Audit: al, Log: log, Realm: "test", Home: "/home"}
	mux := http.NewServeMux()
	g.Register(mux)
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.RequireRole(w, r, "admins only", auth.RolePlatformAdmin); ok {
			io.WriteString(w, "secret page")
		}
	})
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "home") })
	mux.HandleFunc("GET /api", g.API(func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		io.WriteString(w, p.User+" via "+p.Via)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return g, srv
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login fetches the login form with client and posts it.
func login(t *testing.T, c *http.Client, base, path, user, pw string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the login page:\n%s", page)
	}
	form := url.Values{"csrf": {string(m[1])}, "username": {user}, "password": {pw}}
	if n := regexp.MustCompile(`name="next" value="([^"]+)"`).FindSubmatch(page); n != nil {
		form.Set("next", string(n[1]))
	}
	resp, err = c.PostForm(base+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func TestLoginFlow(t *testing.T) {
	g, srv := newGate(t)
	// A protected page sends an anonymous visitor to log in, and back after.
	c := client()
	resp, body := login(t, c, srv.URL, "/admin", "ops", "password two")
	if resp.StatusCode != 200 || body != "secret page" {
		t.Fatalf("after login: %d %q", resp.StatusCode, body)
	}
	// A researcher is refused the admin page with the reason.
	c2 := client()
	if _, body := login(t, c2, srv.URL, "/login", "ana", "password one"); body != "home" {
		t.Fatalf("login without next: %q", body)
	}
	resp, _ = c2.Get(srv.URL + "/admin")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "admins only") {
		t.Fatalf("researcher on admin page: %d", resp.StatusCode)
	}
	// The session works for the API too.
	resp, _ = c2.Get(srv.URL + "/api")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ana via session" {
		t.Fatalf("api with session: %q", b)
	}
	// Wrong password: 401, no session.
	c3 := client()
	resp, body = login(t, c3, srv.URL, "/login", "ana", "wrong password")
	if resp.StatusCode != 401 || !strings.Contains(body, "Wrong user name or password") {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// A login form posted without the visitor's CSRF token is refused.
	resp, err := client().PostForm(srv.URL+"/login", url.Values{"username": {"ana"}, "password": {"password one"}, "csrf": {"forged"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("forged CSRF: %d", resp.StatusCode)
	}
	// Logins, failures and logouts are in the audit log.
	ctx := context.Background()
	if err := g.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	es, err := g.Audit.Entries(ctx, 0, int(g.Audit.Size()))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range es {
		types = append(types, e.Type+":"+e.Actor)
	}
	if got := strings.Join(types, " "); got != "login:ops login:ana login.failed:ana" {
		t.Fatalf("audit events: %s", got)
	}
}

func TestAPIRejections(t *testing.T) {
	_, srv := newGate(t)
	for _, c := range []struct{ auth, want string }{
		{"", `Bearer realm="test"`},
		{"Bearer cie_" + strings.Repeat("x", 43), `Bearer error="invalid_token"`},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/api", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != c.want {
			t.Errorf("%q: %d %q", c.auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}
