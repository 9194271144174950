package hub

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/auth/oidcop"
	"github.com/cancerimage/cie/internal/auth/oidcrp"
)

// oidcHub starts a hub over a real HTTP listener whose public URL is known
// before the hub is made (the embedded issuer and the redirect URL need it).
func oidcHub(t *testing.T, set func(c *Config)) (*Hub, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return oidcHubAt(t, addr, set)
}

// browser is an HTTP client with a cookie jar that follows redirects, like
// a browser; stopAt, when set, stops before following a redirect to a URL
// whose path it names (to look at or tamper with the callback).
type browser struct {
	t      *testing.T
	c      *http.Client
	jar    *cookiejar.Jar
	stopAt string
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, jar: jar}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if b.stopAt != "" && req.URL.Path == b.stopAt {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: resp.Request.URL, body: string(body), header: resp.Header}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	formRe   = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// submit fills the first form of p whose action contains action with the
// hidden fields and extra, resolves the action against p's URL and posts it.
func (b *browser) submit(p page, action string, extra url.Values) page {
	b.t.Helper()
	for _, m := range formRe.FindAllStringSubmatch(p.body, -1) {
		act := html.UnescapeString(m[1])
		if !strings.Contains(act, action) {
			continue
		}
		form := url.Values{}
		for _, h := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
			form.Set(h[1], html.UnescapeString(h[2]))
		}
		for k, v := range extra {
			form[k] = v
		}
		target, err := p.url.Parse(act)
		if err != nil {
			b.t.Fatal(err)
		}
		return b.post(target.String(), form)
	}
	b.t.Fatalf("no form with action %q on %s (%d):\n%s", action, p.url, p.status, p.body)
	return page{}
}

// loginAt goes through the hub's login page to the provider's form and
// fills it; it returns the page the redirects end at.
func (b *browser) loginAt(hubURL, next, user, password string) page {
	b.t.Helper()
	p := b.get(hubURL + "/login?next=" + url.QueryEscape(next))
	if !strings.Contains(p.body, `name="password"`) {
		b.t.Fatalf("login did not reach a password form: %s %d\n%s", p.url, p.status, p.body)
	}
	return b.submit(p, "/login", url.Values{"username": {user}, "password": {password}, "action": {"login"}})
}

// me returns who the hub's API says the browser is (status, user, role).
func (b *browser) me(hubURL string) (int, map[string]string) {
	b.t.Helper()
	p := b.get(hubURL + "/api/v1/me")
	var m map[string]string
	_ = json.Unmarshal([]byte(p.body), &m)
	return p.status, m
}

func (b *browser) cookie(u, name string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// jwtClaims decodes the payload of a JWT (already verified by the hub; the
// test only reads it).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func noSession(t *testing.T, b *browser, hubURL, what string) {
	t.Helper()
	if st, m := b.me(hubURL); st != http.StatusUnauthorized {
		t.Errorf("%s: a session was made: %d %v", what, st, m)
	}
}

// TestOIDCEmbedded: the hub's login page sends the browser to the embedded
// provider, whose form checks the hub's users; the session's role comes
// from the ID token's roles claim. Wrong passwords, a forged provider form
// and a cancelled login make no session; logout ends the session at the hub
// and at the provider.
func TestOIDCEmbedded(t *testing.T) {
	h, hubURL := oidcHub(t, func(c *Config) { c.OIDC.Embedded = true })
	ctx := context.Background()
	if err := h.users.Put(ctx, "ops", auth.RolePlatformAdmin, "ops password"); err != nil {
		t.Fatal(err)
	}
	if err := h.users.Put(ctx, "rita", auth.RoleResearcher, "rita password"); err != nil {
		t.Fatal(err)
	}

	// Discovery and JWKS are served under /oidc.
	b := newBrowser(t)
	d := b.get(hubURL + "/oidc/.well-known/openid-configuration")
	var disc map[string]any
	if err := json.Unmarshal([]byte(d.body), &disc); err != nil || disc["issuer"] != hubURL+"/oidc" || disc["jwks_uri"] != hubURL+"/oidc/keys" {
		t.Fatalf("discovery: %d %s", d.status, d.body)
	}
	if k := b.get(hubURL + "/oidc/keys"); k.status != 200 || !strings.Contains(k.body, `"RS256"`) {
		t.Fatalf("jwks: %d %s", k.status, k.body)
	}

	// A wrong password stays at the provider's form.
	p := b.loginAt(hubURL, "/audit", "ops", "not the password")
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong user name or password") {
		t.Fatalf("wrong password: %d %s", p.status, p.body)
	}
	noSession(t, b, hubURL, "wrong password")
	// The provider's form without its CSRF token is refused.
	forged := b.post(p.url.String(), url.Values{"id": {regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(p.body)[1]},
		"csrf": {"forged"}, "username": {"ops"}, "password": {"ops password"}, "action": {"login"}})
	if forged.status != http.StatusForbidden {
		t.Fatalf("forged provider form: %d %s", forged.status, forged.body)
	}
	noSession(t, b, hubURL, "forged provider form")

	// The right password ends on the page asked for, with a session whose
	// role is the one in the ID token.
	p = b.loginAt(hubURL, "/audit", "ops", "ops password")
	if p.status != 200 || p.url.Path != "/audit" || !strings.Contains(p.body, "Audit log") {
		t.Fatalf("login: %d %s\n%s", p.status, p.url, p.body)
	}
	st, m := b.me(hubURL)
	if st != 200 || m["user"] != "ops" || m["role"] != auth.RolePlatformAdmin || m["via"] != "session" {
		t.Fatalf("me: %d %v", st, m)
	}
	idt := jwtClaims(t, b.cookie(hubURL, oidcrp.IDTokenCookie))
	if aud, _ := idt["aud"].([]any); idt["iss"] != hubURL+"/oidc" || idt["sub"] != "ops" || len(aud) != 1 || aud[0] != EmbeddedClientID {
		t.Fatalf("ID token claims: %v", idt)
	}
	if roles, _ := idt["roles"].([]any); len(roles) != 1 || roles[0] != auth.RolePlatformAdmin {
		t.Fatalf("roles claim: %v", idt)
	}
	for _, c := range b.c.Jar.Cookies(p.url) {
		if c.Name == auth.SessionCookie && c.Value == "" {
			t.Fatal("empty session cookie")
		}
	}

	// Logout: CSRF-checked, then through the provider's end_session back to
	// the login page, with no session left.
	if bad := b.post(hubURL+"/logout", url.Values{"csrf": {"nope"}}); bad.status != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", bad.status)
	}
	if st, _ := b.me(hubURL); st != 200 {
		t.Fatal("session lost after a refused logout")
	}
	var copied string // the session cookie, as someone who copied it would keep it
	for _, c := range b.c.Jar.Cookies(p.url) {
		if c.Name == auth.SessionCookie {
			copied = c.Value
		}
	}
	home := b.get(hubURL + "/nodes")
	out := b.submit(home, "/logout", nil)
	if out.status != 200 || out.url.Path != "/login" || !strings.Contains(out.body, "You are logged out") {
		t.Fatalf("logout: %d %s\n%s", out.status, out.url, out.body)
	}
	noSession(t, b, hubURL, "after logout")
	// The copied cookie no longer opens the session (logout ends it at the hub).
	req, _ := http.NewRequest("GET", hubURL+"/api/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: copied})
	if copied == "" {
		t.Fatal("no session cookie to copy")
	} else if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a copy of the session cookie after logout: %d, want 401", resp.StatusCode)
		}
	}
	if b.cookie(hubURL, oidcrp.IDTokenCookie) != "" {
		t.Fatal("ID token cookie kept after logout")
	}

	// Cancel at the provider: access denied, shown on the hub's login page.
	c := newBrowser(t)
	lp := c.get(hubURL + "/login")
	cancelled := c.submit(lp, "/login", url.Values{"username": {"rita"}, "action": {"cancel"}})
	if cancelled.status != http.StatusForbidden || !strings.Contains(cancelled.body, "cancelled or access was denied") {
		t.Fatalf("cancel: %d %s\n%s", cancelled.status, cancelled.url, cancelled.body)
	}
	noSession(t, c, hubURL, "cancelled login")

	// Local password login is not offered beside the provider.
	if r := c.post(hubURL+"/login", url.Values{"username": {"rita"}, "password": {"rita password"}}); r.status == 200 || r.status == http.StatusSeeOther {
		t.Fatalf("password form still accepted: %d", r.status)
	}
	noSession(t, c, hubURL, "password post")

	// The signing key persists: a second provider over the same folder
	// publishes the same JWKS.
	before := b.get(hubURL + "/oidc/keys").body
	p2, err := oidcop.New(ctx, oidcop.Options{Issuer: hubURL + "/oidc", KeyDir: filepath.Join(h.cfg.DataDir, "keys"),
		Users: oidcop.LocalUsers(h.users), Log: slog.New(slog.DiscardHandler),
		Clients: []oidcop.Client{{ID: "x", Secret: "y", RedirectURIs: []string{"http://x/cb"}}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p2.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/oidc/keys", nil))
	if rec.Body.String() != before {
		t.Fatalf("JWKS changed across restarts:\n%s\n%s", before, rec.Body.String())
	}
}

// buildProvider builds cmd/cie-oidcop once per test binary.
var buildProvider = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cie-oidcop")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cie-oidcop")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/cancerimage/cie/internal/auth/oidcop/cmd/cie-oidcop").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// startProvider runs cie-oidcop as a separate process and returns its
// issuer.
func startProvider(t *testing.T, cfg map[string]any) string {
	t.Helper()
	bin, err := buildProvider()
	if err != nil {
		t.Fatalf("building cie-oidcop: %v", err)
	}
	dir := t.TempDir()
	cfg["listen"] = "127.0.0.1:0"
	cfg["key_dir"] = filepath.Join(dir, "keys")
	b, _ := json.Marshal(cfg)
	path := filepath.Join(dir, "idp.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, path)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("cie-oidcop did not start: %q %v\n%s", line, err, stderr.String())
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "ready "))
}

// TestOIDCExternalProvider: the hub logs in through a provider it does not
// embed, started as a separate process, whose users carry their roles in a
// "groups" claim with values such as "/cie/researcher", mapped by the hub's
// role_map. It also covers the personal API token page and its CSRF checks,
// a missing role claim, an unmapped group, a name that belongs to a local
// account, and logout.
func TestOIDCExternalProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts cie-oidcop")
	}
	// The hub's URL must be known to register it at the provider.
	srv := httptest.NewUnstartedServer(nil)
	hubURL := "http://" + srv.Listener.Addr().String()
	srv.Listener.Close()
	secret := auth.RandomSecret(24)
	issuer := startProvider(t, map[string]any{
		"role_claim": "groups",
		"title":      "Second IdP",
		"users": []map[string]any{
			{"username": "rita", "subject": "3f6c-rita", "name": "Rita Researcher", "email": "rita@example.org", "password_hash": hash(t, "rita pw"), "roles": []string{"/other", "/cie/researcher"}},
			{"username": "olga", "subject": "77-olga", "password_hash": hash(t, "olga pw"), "roles": []string{"/cie/admins"}},
			{"username": "nora", "subject": "88-nora", "password_hash": hash(t, "nora pw")},
			{"username": "ulla", "subject": "99-ulla", "password_hash": hash(t, "ulla pw"), "roles": []string{"/unrelated"}},
			{"username": "ops", "subject": "11-ops", "password_hash": hash(t, "ops pw"), "roles": []string{"/cie/admins"}},
			{"username": "hana", "subject": "12-hana", "password_hash": hash(t, "hana pw"), "roles": []string{"/cie/holders", "/cie/nodes/oslo", "/unrelated", "/cie/nodes/valencia"}},
		},
		"clients": []map[string]any{{"id": "cie-test-hub", "secret": secret,
			"redirect_uris":             []string{hubURL + "/login/oidc/callback"},
			"post_logout_redirect_uris": []string{hubURL + "/login?flash=logged-out"}}},
	})
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, got := oidcHubAt(t, srv.Listener.Addr().String(), func(c *Config) {
		c.OIDC.Issuer = issuer
		c.OIDC.ClientID = "cie-test-hub"
		c.OIDC.ClientSecretFile = secretFile
		c.OIDC.RoleClaim = "groups"
		c.OIDC.RoleMap = []string{"/cie/researcher=researcher", "/cie/admins=platform_admin", "/cie/holders=data_holder"}
		c.OIDC.NodeClaim = "groups"
		c.OIDC.NodeMap = []string{"/cie/nodes/oslo=oslo", "/cie/nodes/valencia=valencia"}
		c.OIDC.Name = "Second IdP"
	})
	if got != hubURL {
		t.Fatalf("hub at %s, registered as %s", got, hubURL)
	}
	ctx := context.Background()
	if err := h.users.Put(ctx, "ops", auth.RolePlatformAdmin, "local ops password"); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	p := b.loginAt(hubURL, "/tokens", "rita", "rita pw")
	if p.status != 200 || p.url.Path != "/tokens" || !strings.Contains(p.body, "API tokens") {
		t.Fatalf("login: %d %s\n%s", p.status, p.url, p.body)
	}
	st, m := b.me(hubURL)
	if st != 200 || m["user"] != "rita" || m["role"] != auth.RoleResearcher {
		t.Fatalf("me: %d %v", st, m)
	}
	if idt := jwtClaims(t, b.cookie(hubURL, oidcrp.IDTokenCookie)); idt["iss"] != issuer || idt["sub"] != "3f6c-rita" {
		t.Fatalf("ID token: %v", idt)
	}
	if u, err := h.users.Get(ctx, "rita"); err != nil || u.Role != auth.RoleResearcher {
		t.Fatalf("rita not recorded: %+v %v", u, err)
	}
	if _, err := h.users.Login(ctx, "rita", ""); err == nil {
		t.Fatal("an OIDC user can log in with an empty password")
	}
	// The node claim (here the same groups claim) makes a data holder a member of the
	// nodes its values map to, replacing what was there; a researcher gets none.
	if err := h.members.Set(ctx, "rita", []string{"linkoping"}); err != nil {
		t.Fatal(err)
	}
	hb := newBrowser(t)
	if p := hb.loginAt(hubURL, "/nodes", "hana", "hana pw"); p.status != 200 {
		t.Fatalf("hana's login: %d %s", p.status, p.body)
	}
	if ns, err := h.members.Nodes(ctx, "hana"); err != nil || !slices.Equal(ns, []string{"oslo", "valencia"}) {
		t.Fatalf("hana's nodes from the claim: %v %v", ns, err)
	}
	newBrowser(t).loginAt(hubURL, "/nodes", "rita", "rita pw")
	if ns, _ := h.members.Nodes(ctx, "rita"); len(ns) != 0 {
		t.Fatalf("rita's nodes after a login without node values: %v", ns)
	}

	// Personal API tokens: made and revoked with CSRF-checked forms.
	other := newBrowser(t)
	other.loginAt(hubURL, "/nodes", "olga", "olga pw")
	otherCSRF := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(other.get(hubURL + "/tokens").body)[1]
	for name, form := range map[string]url.Values{
		"no token":        {"label": {"laptop"}},
		"another's token": {"label": {"laptop"}, "csrf": {otherCSRF}},
		"a token made up": {"label": {"laptop"}, "csrf": {"x" + otherCSRF}},
	} {
		if r := b.post(hubURL+"/tokens", form); r.status != http.StatusForbidden {
			t.Errorf("create with %s: %d", name, r.status)
		}
	}
	if ts, _ := h.users.Tokens(ctx, "rita"); len(ts) != 0 {
		t.Fatalf("tokens made without CSRF: %v", ts)
	}
	made := b.submit(b.get(hubURL+"/tokens"), "/tokens", url.Values{"label": {"analysis script"}})
	tok := regexp.MustCompile(`cie_[A-Za-z0-9_-]{40,}`).FindString(made.body)
	if made.status != 200 || tok == "" {
		t.Fatalf("token not shown: %d\n%s", made.status, made.body)
	}
	api := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", hubURL+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if st, body := api(tok); st != 200 || !strings.Contains(body, `"user": "rita"`) || !strings.Contains(body, `"via": "token"`) || !strings.Contains(body, `"role": "researcher"`) {
		t.Fatalf("token: %d %s", st, body)
	}
	ts, _ := h.users.Tokens(ctx, "rita")
	if len(ts) != 1 || ts[0].Label != "analysis script" {
		t.Fatalf("tokens: %+v", ts)
	}
	revoke := hubURL + "/tokens/" + ts[0].ID + "/revoke"
	if r := b.post(revoke, url.Values{"csrf": {otherCSRF}}); r.status != http.StatusForbidden {
		t.Fatalf("revoke with another's CSRF: %d", r.status)
	}
	if r := other.post(revoke, url.Values{"csrf": {otherCSRF}}); r.status != http.StatusNotFound {
		t.Fatalf("revoke of someone else's token: %d", r.status)
	}
	if st, _ := api(tok); st != 200 {
		t.Fatal("token revoked by a refused form")
	}
	list := b.get(hubURL + "/tokens")
	if r := b.submit(list, "/revoke", nil); r.status != 200 || r.url.Path != "/tokens" || !strings.Contains(r.body, "revoked") {
		t.Fatalf("revoke: %d %s", r.status, r.url)
	}
	if st, _ := api(tok); st != http.StatusUnauthorized {
		t.Fatalf("revoked token still works: %d", st)
	}

	// Logout ends the session, also at the provider (RP-initiated logout).
	out := b.submit(b.get(hubURL+"/nodes"), "/logout", nil)
	if out.status != 200 || out.url.Path != "/login" || !strings.Contains(out.body, "You are logged out") {
		t.Fatalf("logout: %d %s\n%s", out.status, out.url, out.body)
	}
	noSession(t, b, hubURL, "after logout")

	// Refusals, each with a clear message and no session.
	for _, c := range []struct{ user, pw, want string }{
		{"nora", "nora pw", "did not say which role you have"},
		{"ulla", "ulla pw", "has no role in cie"},
		{"ops", "ops pw", "belongs to a local account"},
	} {
		nb := newBrowser(t)
		p := nb.loginAt(hubURL, "/nodes", c.user, c.pw)
		if p.status != http.StatusForbidden || !strings.Contains(html.UnescapeString(p.body), c.want) {
			t.Errorf("%s: %d %s\n%s", c.user, p.status, p.url, p.body)
		}
		noSession(t, nb, hubURL, c.user)
	}
	if u, err := h.users.Get(ctx, "ops"); err != nil || u.Role != auth.RolePlatformAdmin {
		t.Fatalf("local ops changed: %+v %v", u, err)
	}
	if _, err := h.users.Login(ctx, "ops", "local ops password"); err != nil {
		t.Fatalf("local ops password lost: %v", err)
	}
}

// oidcHubAt is oidcHub on a given address.
func oidcHubAt(t *testing.T, addr string, set func(c *Config)) (*Hub, string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{}}
	base := "http://" + addr
	cfg := DefaultConfig()
	cfg.Name = "test-hub"
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = addr
	cfg.HTTP.PublicURL = base
	cfg.Bus.Listen = "127.0.0.1:0"
	set(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); h.closeStores(context.Background()) })
	return h, base
}

// swapper serves a provider and, when told, replaces the id_token of the
// next token response with another real ID token: the substitution attacks
// a relying party must notice.
type swapper struct {
	h    http.Handler
	mu   sync.Mutex
	swap string
}

func (s *swapper) set(tok string) { s.mu.Lock(); s.swap = tok; s.mu.Unlock() }

func (s *swapper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/oauth/token") {
		s.h.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	s.mu.Lock()
	var m map[string]any
	if s.swap != "" && json.Unmarshal(body, &m) == nil && m["id_token"] != nil {
		m["id_token"], s.swap = s.swap, ""
		body, _ = json.Marshal(m)
	}
	s.mu.Unlock()
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// inProcessProvider serves an oidcop provider with rita (researcher) on a
// test server; clients all use secret.
func inProcessProvider(t *testing.T, idTTL time.Duration, secret string, clients map[string]string) (string, *swapper) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	users, err := oidcop.StaticUsers([]oidcop.StaticUser{{Username: "rita", PasswordHash: hash(t, "rita pw"), Roles: []string{auth.RoleResearcher}}})
	if err != nil {
		t.Fatal(err)
	}
	var cs []oidcop.Client
	for id, redirect := range clients {
		cs = append(cs, oidcop.Client{ID: id, Secret: secret, RedirectURIs: []string{redirect}})
	}
	p, err := oidcop.New(context.Background(), oidcop.Options{Issuer: issuer, KeyDir: t.TempDir(), Users: users, Clients: cs,
		IDTokenLifetime: idTTL, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sw := &swapper{h: p.Handler()}
	srv.Config.Handler = sw
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer, sw
}

// directFlow logs rita in at a provider as client clientID, with the test
// as the client: it returns a real ID token issued to that client. It also
// checks that the provider refuses the same code a second time.
func directFlow(t *testing.T, issuer, clientID, secret, redirect string) string {
	t.Helper()
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Scopes: []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}
	v := oauth2.GenerateVerifier()
	b := newBrowser(t)
	cb, _ := url.Parse(redirect)
	b.stopAt = cb.Path
	p := b.get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("nonce", "n-"+clientID)))
	p = b.submit(p, "/login", url.Values{"username": {"rita"}, "password": {"rita pw"}, "action": {"login"}})
	loc, err := url.Parse(p.header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("no code: %d %s %s", p.status, p.header.Get("Location"), p.body)
	}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v)); err == nil {
		t.Fatal("the provider accepted a code twice")
	}
	id, _ := tok.Extra("id_token").(string)
	if id == "" {
		t.Fatal("no id_token")
	}
	return id
}

// TestOIDCFailures: every way a login can go wrong ends on the login page
// with a message that says what went wrong, and without a session.
func TestOIDCFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	hubURL := "http://" + addr
	callback := hubURL + "/login/oidc/callback"
	secret := auth.RandomSecret(24)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	issuerA, swapA := inProcessProvider(t, 0, secret, map[string]string{"hub": callback, "other": "http://other.invalid/cb"})
	issuerB, _ := inProcessProvider(t, 0, secret, map[string]string{"hub": callback})
	external := func(issuer string) func(c *Config) {
		return func(c *Config) {
			c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecretFile = issuer, "hub", secretFile
		}
	}
	_, hub := oidcHubAt(t, addr, external(issuerA))

	fails := func(name string, p page, b *browser, status int, want string) {
		t.Helper()
		if p.status != status || !strings.Contains(html.UnescapeString(p.body), want) {
			t.Errorf("%s: %d at %s, want %d with %q\n%s", name, p.status, p.url, status, want, p.body)
		}
		noSession(t, b, hub, name)
	}

	t.Run("wrong state", func(t *testing.T) {
		b := newBrowser(t)
		b.stopAt = "/login/oidc/callback"
		p := b.loginAt(hub, "/nodes", "rita", "rita pw")
		loc, _ := url.Parse(p.header.Get("Location"))
		q := loc.Query()
		q.Set("state", q.Get("state")+"x")
		loc.RawQuery = q.Encode()
		b.stopAt = ""
		fails("wrong state", b.get(loc.String()), b, http.StatusUnauthorized, "does not belong to the login started in this browser")
	})
	t.Run("replayed code", func(t *testing.T) {
		b := newBrowser(t)
		b.stopAt = "/login/oidc/callback"
		p := b.loginAt(hub, "/nodes", "rita", "rita pw")
		loc := p.header.Get("Location")
		state := b.cookie(hub, oidcrp.StateCookie)
		b.stopAt = ""
		if ok := b.get(loc); ok.status != 200 || ok.url.Path != "/nodes" {
			t.Fatalf("first use: %d %s", ok.status, ok.url)
		}
		// Another browser replays the answer with the same state cookie.
		c := newBrowser(t)
		u, _ := url.Parse(hub)
		c.jar.SetCookies(u, []*http.Cookie{{Name: oidcrp.StateCookie, Value: state, Path: "/"}})
		fails("replayed code", c.get(loc), c, http.StatusUnauthorized, "already used")
		// Without the cookie it is not even a login started here.
		d := newBrowser(t)
		fails("replay without cookie", d.get(loc), d, http.StatusUnauthorized, "not from a login started here")
	})
	t.Run("token for another audience", func(t *testing.T) {
		swapA.set(directFlow(t, issuerA, "other", secret, "http://other.invalid/cb"))
		b := newBrowser(t)
		fails("audience", b.loginAt(hub, "/nodes", "rita", "rita pw"), b, http.StatusUnauthorized, "meant for another application")
	})
	t.Run("token from another issuer", func(t *testing.T) {
		swapA.set(directFlow(t, issuerB, "hub", secret, callback))
		b := newBrowser(t)
		fails("issuer", b.loginAt(hub, "/nodes", "rita", "rita pw"), b, http.StatusUnauthorized, "came from another issuer")
	})
	t.Run("forged signature", func(t *testing.T) {
		tok := directFlow(t, issuerA, "hub", secret, callback)
		parts := strings.Split(tok, ".")
		claims := jwtClaims(t, tok)
		claims["groups"] = []string{"platform_admin"}
		body, _ := json.Marshal(claims)
		swapA.set(parts[0] + "." + base64.RawURLEncoding.EncodeToString(body) + "." + parts[2])
		b := newBrowser(t)
		fails("signature", b.loginAt(hub, "/nodes", "rita", "rita pw"), b, http.StatusUnauthorized, "not signed by the provider")
	})
	t.Run("denied at the provider", func(t *testing.T) {
		b := newBrowser(t)
		p := b.get(hub + "/login")
		fails("denied", b.submit(p, "/login", url.Values{"action": {"cancel"}}), b, http.StatusForbidden, "cancelled or access was denied")
	})
	t.Run("unknown issuer", func(t *testing.T) {
		nothing := httptest.NewServer(http.NotFoundHandler())
		defer nothing.Close()
		_, h2 := oidcHub(t, func(c *Config) { external(nothing.URL)(c); c.OIDC.RedirectURL = "http://127.0.0.1:1/cb" })
		b := newBrowser(t)
		p := b.get(h2 + "/login")
		if p.status != http.StatusBadGateway || !strings.Contains(p.body, "could not be reached or is not an OpenID provider") {
			t.Errorf("unknown issuer: %d\n%s", p.status, p.body)
		}
		noSession(t, b, h2, "unknown issuer")
	})
	t.Run("expired token", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrE := ln.Addr().String()
		ln.Close()
		cbE := "http://" + addrE + "/login/oidc/callback"
		issuerE, swapE := inProcessProvider(t, time.Second, secret, map[string]string{"hub": cbE})
		_, hubE := oidcHubAt(t, addrE, external(issuerE))
		old := directFlow(t, issuerE, "hub", secret, cbE)
		exp := time.Unix(int64(jwtClaims(t, old)["exp"].(float64)), 0)
		time.Sleep(time.Until(exp.Add(2500 * time.Millisecond))) // past expiry and the verifier's 1 s leeway
		swapE.set(old)
		b := newBrowser(t)
		p := b.loginAt(hubE, "/nodes", "rita", "rita pw")
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "has expired") {
			t.Errorf("expired: %d\n%s", p.status, p.body)
		}
		noSession(t, b, hubE, "expired")
	})
}

func TestOIDCConfig(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.DataDir = t.TempDir()
		return c
	}
	c := base()
	c.OIDC.Embedded = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.OIDC.RedirectURL != "http://127.0.0.1:8080/login/oidc/callback" || c.OIDC.RoleClaim != "roles" {
		t.Fatalf("defaults: %+v", c.OIDC)
	}
	for name, set := range map[string]func(c *Config){
		"oidc.issuer":             func(c *Config) { c.OIDC.Issuer = "not a url" },
		"oidc.client_id":          func(c *Config) { c.OIDC.Issuer = "https://idp.example" },
		"oidc.role_map":           func(c *Config) { c.OIDC.Embedded, c.OIDC.RoleMap = true, []string{"x=king"} },
		"oidc.default_role":       func(c *Config) { c.OIDC.Embedded, c.OIDC.DefaultRole = true, "king" },
		"oidc.client_secret_file": func(c *Config) { c.OIDC.ClientSecretFile = "/x" },
		"oidc.node_map": func(c *Config) {
			c.OIDC.Embedded, c.OIDC.NodeClaim, c.OIDC.NodeMap = true, "groups", []string{"/g=Oslo!"}
		},
	} {
		c := base()
		set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c = base()
	c.OIDC.Embedded, c.OIDC.NodeMap = true, []string{"/g=oslo"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "only with oidc.node_claim") {
		t.Errorf("node_map without node_claim: %v", err)
	}
	if got, _ := mapNodes(nil, []string{"oslo", "/group", "Bad"}); !slices.Equal(got, []string{"oslo"}) {
		t.Errorf("node names as values: %v", got)
	}
	if got, _ := mapNodes([]string{"/g/a=oslo", "/g/b=oslo", "/g/c=bergen"}, []string{"/g/a", "/g/b", "oslo", "/g/c"}); !slices.Equal(got, []string{"oslo", "oslo", "bergen"}) {
		t.Errorf("mapped values: %v", got)
	}
}
