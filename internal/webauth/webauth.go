// Package webauth is the sign-in side of a role's HTTP server, shared by the
// hub and the node: the login and logout forms (CSRF-checked, audit-logged),
// pages rendered with the visitor's identity, role checks for pages, and the
// bearer-token-or-session guard of the JSON API.
package webauth

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/web"
)

// Gate holds what signing in needs. All fields are required.
type Gate struct {
	Users    *auth.Users
	Sessions *auth.Sessions
	Site     *web.Site
	Audit    *audit.Log
	Log      *slog.Logger
	Realm    string // names the server in WWW-Authenticate, e.g. "cie hub"
	Home     string // where a login without ?next lands
	// LoginData, when set, makes the data of the login page shown again
	// after a failed password login (so that it keeps its provider buttons);
	// nil: just the password form.
	LoginData func(next string) web.LoginData
	// Notices, when set, counts the unread notifications of a logged-in user for the
	// page header.
	Notices func(r *http.Request, user string) int
}

// Register adds GET and POST /login and POST /logout to mux.
func (g *Gate) Register(mux httpx.Mux) {
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		g.Render(w, r, http.StatusOK, "login", "", "Log in", web.LoginData{Next: localPath(r.URL.Query().Get("next"))})
	})
	mux.HandleFunc("POST /login", g.login)
	mux.HandleFunc("POST /logout", g.logout)
}

// Principal returns who makes the request: a bearer token, else a session.
// A bad token is an error wrapping auth.ErrBadToken, never a fallback to the
// session.
func (g *Gate) Principal(r *http.Request) (auth.Principal, bool, error) {
	if tok := auth.Bearer(r); tok != "" {
		u, err := g.Users.Authenticate(r.Context(), tok)
		if err != nil {
			return auth.Principal{}, false, err
		}
		return auth.Principal{User: u.Name, Role: u.Role, Via: "token", Token: true}, true, nil
	}
	if s, ok := g.Sessions.Read(r); ok {
		return auth.Principal{User: s.User, Role: s.Role, Via: "session"}, true, nil
	}
	return auth.Principal{}, false, nil
}

// API wraps a JSON API handler: it requires a bearer token or a session and
// answers 401 with a JSON error otherwise.
func (g *Gate) API(fn func(http.ResponseWriter, *http.Request, auth.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok, err := g.Principal(r)
		switch {
		case errors.Is(err, auth.ErrBadToken):
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			httpx.Error(w, http.StatusUnauthorized, "%v", err)
		case err != nil:
			httpx.Error(w, http.StatusInternalServerError, "checking credentials: %v", err)
		case !ok:
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+g.Realm+`"`)
			httpx.Error(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token>")
		default:
			fn(w, r.WithContext(auth.WithPrincipal(r.Context(), p)), p)
		}
	}
}

// Render renders a page in the layout with the visitor's identity and CSRF
// token.
func (g *Gate) Render(w http.ResponseWriter, r *http.Request, status int, page, active, title string, data any) {
	p := web.Page{Title: title, Active: active, Data: data}
	if s, ok := g.Sessions.Read(r); ok {
		p.User = &web.User{Name: s.User, Role: s.Role}
		p.CSRF = g.Sessions.CSRF(s)
		if g.Notices != nil {
			p.Notices = g.Notices(r, s.User)
		}
	} else {
		p.CSRF = g.Sessions.CSRF(g.Sessions.Anonymous(w, r))
	}
	if r.URL.Query().Get("flash") == "logged-out" {
		p.Flash = "You are logged out."
	}
	g.Site.Render(w, status, page, p)
}

// RenderError renders the error page.
func (g *Gate) RenderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	g.Render(w, r, status, "error", "", http.StatusText(status), web.ErrorData{Status: status, Message: msg})
}

// RequireRole returns the visitor's session if it holds one of roles. Else it
// answers for the caller (a redirect to the login page, or 403 with why) and
// returns false.
func (g *Gate) RequireRole(w http.ResponseWriter, r *http.Request, why string, roles ...string) (auth.Session, bool) {
	s, ok := g.Sessions.Read(r)
	if !ok {
		http.Redirect(w, r, "/login?next="+r.URL.Path, http.StatusSeeOther)
		return s, false
	}
	if !slices.Contains(roles, s.Role) {
		g.RenderError(w, r, http.StatusForbidden, why)
		return s, false
	}
	return s, true
}

// PasswordLogin handles the local password form (POST /login), for pages
// that register their own GET /login, such as the OIDC login.
func (g *Gate) PasswordLogin(w http.ResponseWriter, r *http.Request) { g.login(w, r) }

func (g *Gate) login(w http.ResponseWriter, r *http.Request) {
	anon := g.Sessions.Anonymous(w, r)
	if !g.Sessions.CheckCSRF(r, anon) {
		g.RenderError(w, r, http.StatusForbidden, "The form expired or did not come from this site. Reload the page and try again.")
		return
	}
	ctx := r.Context()
	name := strings.TrimSpace(r.PostFormValue("username"))
	u, err := g.Users.Login(ctx, name, r.PostFormValue("password"))
	if err != nil {
		if _, aerr := g.Audit.Append(ctx, audit.Event{Type: "login.failed", Actor: name, Fields: map[string]string{"remote": r.RemoteAddr}}); aerr != nil {
			g.Log.Error("logging failed login", "err", aerr)
		}
		msg := "Wrong user name or password."
		if !errors.Is(err, auth.ErrBadCredentials) {
			msg = "Login is not possible right now."
			g.Log.Error("login", "err", err)
		}
		data := web.LoginData{Next: localPath(r.PostFormValue("next"))}
		if g.LoginData != nil {
			data = g.LoginData(data.Next)
		}
		g.Site.Render(w, http.StatusUnauthorized, "login", web.Page{Title: "Log in", Error: msg, CSRF: g.Sessions.CSRF(anon), Data: data})
		return
	}
	if _, err := g.Audit.Append(ctx, audit.Event{Type: "login", Actor: u.Name, Fields: map[string]string{"role": u.Role, "remote": r.RemoteAddr, "method": "password"}}); err != nil {
		g.Log.Error("logging login", "err", err)
		g.RenderError(w, r, http.StatusInternalServerError, "Login could not be recorded in the audit log, so it was refused.")
		return
	}
	g.Sessions.Start(w, u)
	next := localPath(r.PostFormValue("next"))
	if next == "" {
		next = g.Home
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// LocalPath returns p if it is a path on this site, else "" (no open
// redirects to other hosts).
func LocalPath(p string) string { return localPath(p) }

// localPath returns p if it is a path on this site, else "" (no open
// redirects to other hosts).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return ""
	}
	return p
}

func (g *Gate) logout(w http.ResponseWriter, r *http.Request) {
	if s, ok := g.Sessions.Read(r); ok {
		if !g.Sessions.CheckCSRF(r, s) {
			g.RenderError(w, r, http.StatusForbidden, "The form did not come from this site.")
			return
		}
		if err := g.Sessions.Revoke(s); err != nil {
			g.Log.Error("ending session", "err", err)
			g.RenderError(w, r, http.StatusInternalServerError, "The session could not be ended; try again.")
			return
		}
		if _, err := g.Audit.Append(r.Context(), audit.Event{Type: "logout", Actor: s.User}); err != nil {
			g.Log.Error("logging logout", "err", err)
		}
	}
	g.Sessions.End(w)
	http.Redirect(w, r, "/login?flash=logged-out", http.StatusSeeOther)
}
