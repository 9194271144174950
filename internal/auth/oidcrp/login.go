package oidcrp

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/web"
	"github.com/cancerimage/cie/internal/webauth"
)

// IDTokenCookie keeps the ID token of the session, for the logout hint.
const IDTokenCookie = "cie_oidc_idt"

// Login serves a role's login and logout through an RP. All fields but
// Password are required.
type Login struct {
	RP   *RP
	Gate *webauth.Gate
	// Name is shown on the login button: "Log in with NAME".
	Name string
	// StartPath starts a login (GET, with ?next=); CallbackPath is the
	// path of Config.RedirectURL.
	StartPath, CallbackPath string
	// Password keeps the local password form on the login page (POST /login).
	Password bool
	// Secure marks the ID token cookie Secure.
	Secure bool
	// Accept turns a verified identity into the local user the session is
	// made for (e.g. recording it in the users table). An *Error it returns
	// is shown to the user; any other error is logged and a generic message
	// shown.
	Accept func(ctx context.Context, id Identity) (auth.User, error)
}

// Register adds GET /login, the start and callback paths, POST /logout and,
// with Password, POST /login to mux.
func (l *Login) Register(mux httpx.Mux) {
	mux.HandleFunc("GET /login", l.page)
	mux.HandleFunc("GET "+l.StartPath, l.start)
	mux.HandleFunc("GET "+l.CallbackPath, l.callback)
	mux.HandleFunc("POST /logout", l.logout)
	if l.Password {
		mux.HandleFunc("POST /login", l.Gate.PasswordLogin)
	}
}

// LoginData returns the login page's data: the provider button (carrying
// next) and, with Password, the form.
func (l *Login) LoginData(next string) web.LoginData {
	u := l.StartPath
	if next != "" {
		u += "?next=" + url.QueryEscape(next)
	}
	return web.LoginData{Next: next, Providers: []web.LoginProvider{{Name: l.Name, URL: u}}, NoPassword: !l.Password}
}

// page shows the login page; when the provider is the only way in and
// there is no message to show, it goes straight to the provider.
func (l *Login) page(w http.ResponseWriter, r *http.Request) {
	next := webauth.LocalPath(r.URL.Query().Get("next"))
	if !l.Password && r.URL.Query().Get("flash") == "" {
		l.start(w, r)
		return
	}
	l.Gate.Render(w, r, http.StatusOK, "login", "", "Log in", l.LoginData(next))
}

// fail shows the login page with the error's message; no session is made.
func (l *Login) fail(w http.ResponseWriter, r *http.Request, next string, err error) {
	status, msg := http.StatusInternalServerError, "Login is not possible right now."
	var e *Error
	if errors.As(err, &e) {
		msg = e.Message
		switch e.Kind {
		case KindProvider:
			status = http.StatusBadGateway
		case KindDenied, KindRole, KindUser:
			status = http.StatusForbidden
		default:
			status = http.StatusUnauthorized
		}
		l.Gate.Log.Warn("oidc login failed", "kind", e.Kind, "err", err)
		if _, aerr := l.Gate.Audit.Append(r.Context(), audit.Event{Type: "login.failed", Fields: map[string]string{
			"method": "oidc", "issuer": l.RP.cfg.Issuer, "reason": string(e.Kind), "remote": r.RemoteAddr}}); aerr != nil {
			l.Gate.Log.Error("logging failed login", "err", aerr)
		}
	} else {
		l.Gate.Log.Error("oidc login", "err", err)
	}
	p := web.Page{Title: "Log in", Error: msg, CSRF: l.Gate.Sessions.CSRF(l.Gate.Sessions.Anonymous(w, r)), Data: l.LoginData(next)}
	l.Gate.Site.Render(w, status, "login", p)
}

func (l *Login) start(w http.ResponseWriter, r *http.Request) {
	next := webauth.LocalPath(r.URL.Query().Get("next"))
	if err := l.RP.Start(w, r, next); err != nil {
		l.fail(w, r, next, err)
	}
}

func (l *Login) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := l.RP.Finish(w, r)
	if err != nil {
		l.fail(w, r, "", err)
		return
	}
	u, err := l.Accept(ctx, id)
	if err != nil {
		l.fail(w, r, id.Next, err)
		return
	}
	if _, err := l.Gate.Audit.Append(ctx, audit.Event{Type: "login", Actor: u.Name, Fields: map[string]string{
		"role": u.Role, "remote": r.RemoteAddr, "method": "oidc", "issuer": id.Issuer, "sub": id.Subject}}); err != nil {
		l.Gate.Log.Error("logging login", "err", err)
		l.Gate.RenderError(w, r, http.StatusInternalServerError, "Login could not be recorded in the audit log, so it was refused.")
		return
	}
	l.Gate.Sessions.Start(w, u)
	http.SetCookie(w, &http.Cookie{Name: IDTokenCookie, Value: id.IDToken, Path: "/", MaxAge: int(auth.SessionTTL.Seconds()),
		HttpOnly: true, Secure: l.Secure, SameSite: http.SameSiteLaxMode})
	next := id.Next
	if next == "" {
		next = l.Gate.Home
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the local session and, when the provider supports it, the
// session at the provider.
func (l *Login) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := l.Gate.Sessions.Read(r)
	if ok {
		if !l.Gate.Sessions.CheckCSRF(r, s) {
			l.Gate.RenderError(w, r, http.StatusForbidden, "The form did not come from this site.")
			return
		}
		if err := l.Gate.Sessions.Revoke(s); err != nil {
			l.Gate.Log.Error("ending session", "err", err)
			l.Gate.RenderError(w, r, http.StatusInternalServerError, "The session could not be ended; try again.")
			return
		}
		if _, err := l.Gate.Audit.Append(r.Context(), audit.Event{Type: "logout", Actor: s.User}); err != nil {
			l.Gate.Log.Error("logging logout", "err", err)
		}
	}
	var idToken string
	if c, err := r.Cookie(IDTokenCookie); err == nil {
		idToken = c.Value
	}
	l.Gate.Sessions.End(w)
	http.SetCookie(w, &http.Cookie{Name: IDTokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: l.Secure, SameSite: http.SameSiteLaxMode})
	if ok && idToken != "" {
		if u, found := l.RP.LogoutURL(idToken); found {
			http.Redirect(w, r, u, http.StatusSeeOther)
			return
		}
	}
	http.Redirect(w, r, "/login?flash=logged-out", http.StatusSeeOther)
}
