package oidcop

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cancerimage/cie/internal/auth"
)

// CSRFCookie is the cookie the login form's CSRF token is bound to.
const CSRFCookie = "cie_oidcop"

const loginHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · {{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f6f8;color:#1d2733;margin:0}
main{max-width:22rem;margin:8vh auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 .25rem}p.muted{color:#5b6773;margin:0 0 1.25rem}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #b8c2cc;border-radius:4px;font-size:1rem}
.buttons{display:flex;gap:.5rem;margin-top:1.25rem}
button{flex:1;padding:.6rem;border-radius:4px;border:1px solid #1b5e9e;font-size:1rem;cursor:pointer}
button.primary{background:#1b5e9e;color:#fff}button.quiet{background:#fff;color:#1b5e9e}
.error{background:#fdecea;color:#8a1c13;padding:.6rem .75rem;border-radius:4px}
</style>
</head>
<body>
<main>
{{if .Fatal}}
<h1>Login not possible</h1>
<p class="error" role="alert">{{.Fatal}}</p>
{{else}}
<h1>Log in</h1>
<p class="muted">to {{.Title}}{{with .Client}} for <strong>{{.}}</strong>{{end}}</p>
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="id" value="{{.ID}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="username">Username</label>
<input id="username" name="username" type="text" value="{{.Username}}" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<div class="buttons">
<button type="submit" name="action" value="login" class="primary">Log in</button>
<button type="submit" name="action" value="cancel" class="quiet" formnovalidate>Cancel</button>
</div>
</form>
{{end}}
</main>
</body>
</html>`

const loggedOutHTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Logged out · {{.}}</title></head>
<body style="font-family:system-ui,sans-serif"><main style="max-width:22rem;margin:8vh auto"><h1>Logged out</h1><p>You are logged out of {{.}}.</p></main></body></html>`

// loginUI is the provider's login page.
type loginUI struct {
	p       *Provider
	csrfKey []byte
	page    *template.Template
	byePage *template.Template
}

type loginPage struct {
	Title, Client, Action, ID, CSRF, Username, Error, Fatal string
}

func (l *loginUI) parse() error {
	var err error
	if l.page, err = template.New("login").Parse(loginHTML); err != nil {
		return fmt.Errorf("oidcop: login page: %w", err)
	}
	if l.byePage, err = template.New("logged-out").Parse(loggedOutHTML); err != nil {
		return fmt.Errorf("oidcop: logged-out page: %w", err)
	}
	return nil
}

func (l *loginUI) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		l.p.opts.Log.Error("rendering the login page", "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (l *loginUI) fatal(w http.ResponseWriter, status int, msg string) {
	l.render(w, status, l.page, loginPage{Title: l.p.opts.Title, Fatal: msg})
}

// browserKey returns the random value of the CSRF cookie, setting it first
// if the browser has none.
func (l *loginUI) browserKey(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && len(c.Value) >= 16 {
		return c.Value
	}
	v := auth.RandomSecret(16)
	path := l.p.prefix + "/"
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: v, Path: path, HttpOnly: true, Secure: l.p.opts.Secure, SameSite: http.SameSiteStrictMode})
	return v
}

func (l *loginUI) csrf(id, browser string) string {
	m := hmac.New(sha256.New, l.csrfKey)
	m.Write([]byte(id + "\x00" + browser))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (l *loginUI) pageFor(w http.ResponseWriter, r *http.Request, a *authRequest) loginPage {
	return loginPage{
		Title: l.p.opts.Title, Client: a.clientID, Action: l.p.prefix + "/login", ID: a.id,
		CSRF: l.csrf(a.id, l.browserKey(w, r)),
	}
}

const expiredMsg = "This login has expired or is unknown. Go back to the application and log in again."

func (l *loginUI) show(w http.ResponseWriter, r *http.Request) {
	a, err := l.p.store.request(r.URL.Query().Get("id"))
	if err != nil {
		l.fatal(w, http.StatusBadRequest, expiredMsg)
		return
	}
	pg := l.pageFor(w, r, a)
	pg.Username = a.loginHint
	l.render(w, http.StatusOK, l.page, pg)
}

func (l *loginUI) submit(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("id")
	a, err := l.p.store.request(id)
	if err != nil {
		l.fatal(w, http.StatusBadRequest, expiredMsg)
		return
	}
	c, cerr := r.Cookie(CSRFCookie)
	if cerr != nil || !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(l.csrf(id, c.Value))) {
		l.fatal(w, http.StatusForbidden, "The form expired or did not come from this page. Go back to the application and log in again.")
		return
	}
	log := l.p.opts.Log.With("client", a.clientID)
	if r.PostFormValue("action") == "cancel" {
		log.Info("login cancelled at the provider")
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("the user cancelled the login"), l.p.op)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("username"))
	u, err := l.p.opts.Users.Authenticate(r.Context(), name, r.PostFormValue("password"))
	if err != nil {
		pg := l.pageFor(w, r, a)
		pg.Username = name
		status := http.StatusUnauthorized
		if errors.Is(err, ErrBadCredentials) {
			log.Info("failed login at the provider", "user", name)
			pg.Error = "Wrong user name or password."
		} else {
			log.Error("checking a password", "user", name, "err", err)
			pg.Error = "Login is not possible right now."
			status = http.StatusInternalServerError
		}
		l.render(w, status, l.page, pg)
		return
	}
	if err := l.p.store.markDone(id, u.Subject); err != nil {
		l.fatal(w, http.StatusBadRequest, expiredMsg)
		return
	}
	log.Info("login at the provider", "user", u.Username, "sub", u.Subject)
	http.Redirect(w, r, l.p.callbackURL(id), http.StatusSeeOther)
}

func (l *loginUI) loggedOut(w http.ResponseWriter, r *http.Request) {
	l.render(w, http.StatusOK, l.byePage, l.p.opts.Title)
}
