package node

import (
	_ "embed"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/version"
	"github.com/cancerimage/cie/internal/web"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the node's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// Handler returns the node's HTTP handler: pages, API, probes and metrics.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	httpx.Probes(mux, n.ready)
	mux.Handle("GET /metrics", n.metrics.Handler())
	mux.Handle("GET /static/", http.StripPrefix("/static/", n.site.Static()))

	mux.HandleFunc("GET /{$}", n.homePage)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		n.render(w, r, http.StatusOK, "login", "", "Log in", nil)
	})
	mux.HandleFunc("POST /login", n.login)
	mux.HandleFunc("POST /logout", n.logout)
	mux.HandleFunc("GET /audit", n.auditPage)

	for _, rt := range n.apiRoutes() {
		mux.HandleFunc(rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusNotFound, "no such API endpoint: %s %s", r.Method, r.URL.Path)
	})
	return n.metrics.Instrument(mux, n.log)
}

// Route is one endpoint of a JSON API.
type Route struct {
	Pattern string // "METHOD /path", as http.ServeMux takes it
	Handler http.HandlerFunc
}

// apiRoutes lists the node's JSON API; the OpenAPI document describes
// exactly these (a test checks).
func (n *Node) apiRoutes() []Route {
	return []Route{
		{"GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openAPI)
		}},
		{"GET /api/v1/status", n.api(n.apiStatus)},
		{"GET /api/v1/audit/checkpoint", n.api(n.apiCheckpoint)},
	}
}

// api wraps a JSON API handler: it requires a bearer token of a node user or a session.
func (n *Node) api(fn func(http.ResponseWriter, *http.Request, auth.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p auth.Principal
		if tok := auth.Bearer(r); tok != "" {
			u, err := n.users.Authenticate(r.Context(), tok)
			if err != nil {
				if errors.Is(err, auth.ErrBadToken) {
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
					httpx.Error(w, http.StatusUnauthorized, "%v", err)
					return
				}
				httpx.Error(w, http.StatusInternalServerError, "checking credentials: %v", err)
				return
			}
			p = auth.Principal{User: u.Name, Role: u.Role, Via: "token", Token: true}
		} else if s, ok := n.sessions.Read(r); ok {
			p = auth.Principal{User: s.User, Role: s.Role, Via: "session"}
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cie node"`)
			httpx.Error(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token>")
			return
		}
		fn(w, r.WithContext(auth.WithPrincipal(r.Context(), p)), p)
	}
}

// Status is the node's state as its API reports it.
type Status struct {
	Node      string    `json:"node"`
	Version   string    `json:"version"`
	Started   time.Time `json:"started"`
	Hub       string    `json:"hub"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since,omitzero"`
	AuditSize uint64    `json:"audit_size"`
	Witnessed uint64    `json:"witnessed_size"`
}

func (n *Node) status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Status{Node: n.cfg.Name, Version: version.String(), Started: n.started, Hub: n.creds.HubURL, Connected: n.connected,
		Since: n.since, AuditSize: n.audit.Size(), Witnessed: n.audit.LastWitnessedSize()}
}

func (n *Node) apiStatus(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	httpx.JSON(w, http.StatusOK, n.status())
}

func (n *Node) apiCheckpoint(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	cp, err := n.audit.Checkpoint(r.Context())
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]string{"origin": AuditOrigin(n.cfg.Name), "checkpoint": string(cp)})
}

func (n *Node) render(w http.ResponseWriter, r *http.Request, status int, page, active, title string, data any) {
	p := web.Page{Title: title, Active: active, Data: data}
	if s, ok := n.sessions.Read(r); ok {
		p.User = &web.User{Name: s.User, Role: s.Role}
		p.CSRF = n.sessions.CSRF(s)
	} else {
		p.CSRF = n.sessions.CSRF(n.sessions.Anonymous(w, r))
	}
	if r.URL.Query().Get("flash") == "logged-out" {
		p.Flash = "You are logged out."
	}
	n.site.Render(w, status, page, p)
}

func (n *Node) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	n.render(w, r, status, "error", "", http.StatusText(status), web.ErrorData{Status: status, Message: msg})
}

func (n *Node) homePage(w http.ResponseWriter, r *http.Request) {
	st := n.status()
	d := web.NodeHomeData{Name: st.Node, Hub: st.Hub, Connected: st.Connected, Since: st.Since, Version: st.Version,
		AuditSize: st.AuditSize, Witnessed: st.Witnessed}
	if _, ok := n.sessions.Read(r); ok {
		d.DataDir = n.cfg.DataDir
	}
	n.render(w, r, http.StatusOK, "node-home", "home", "Overview", d)
}

func (n *Node) login(w http.ResponseWriter, r *http.Request) {
	anon := n.sessions.Anonymous(w, r)
	if !n.sessions.CheckCSRF(r, anon) {
		n.renderError(w, r, http.StatusForbidden, "The form expired or did not come from this site. Reload the page and try again.")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("username"))
	u, err := n.users.Login(r.Context(), name, r.PostFormValue("password"))
	if err != nil {
		if _, aerr := n.audit.Append(r.Context(), audit.Event{Type: "login.failed", Actor: name, Fields: map[string]string{"remote": r.RemoteAddr}}); aerr != nil {
			n.log.Error("logging failed login", "err", aerr)
		}
		msg := "Wrong user name or password."
		if !errors.Is(err, auth.ErrBadCredentials) {
			msg = "Login is not possible right now."
			n.log.Error("login", "err", err)
		}
		n.site.Render(w, http.StatusUnauthorized, "login", web.Page{Title: "Log in", Error: msg, CSRF: n.sessions.CSRF(anon)})
		return
	}
	if _, err := n.audit.Append(r.Context(), audit.Event{Type: "login", Actor: u.Name, Fields: map[string]string{"role": u.Role, "remote": r.RemoteAddr, "method": "password"}}); err != nil {
		n.renderError(w, r, http.StatusInternalServerError, "Login could not be recorded in the audit log, so it was refused.")
		return
	}
	n.sessions.Start(w, u)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (n *Node) logout(w http.ResponseWriter, r *http.Request) {
	if s, ok := n.sessions.Read(r); ok {
		if !n.sessions.CheckCSRF(r, s) {
			n.renderError(w, r, http.StatusForbidden, "The form did not come from this site.")
			return
		}
		if _, err := n.audit.Append(r.Context(), audit.Event{Type: "logout", Actor: s.User}); err != nil {
			n.log.Error("logging logout", "err", err)
		}
	}
	n.sessions.End(w)
	http.Redirect(w, r, "/login?flash=logged-out", http.StatusSeeOther)
}

func (n *Node) auditPage(w http.ResponseWriter, r *http.Request) {
	s, ok := n.sessions.Read(r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if s.Role != auth.RoleNodeAdmin && s.Role != auth.RoleDataHolder {
		n.renderError(w, r, http.StatusForbidden, "The node's audit log is for its data holders and administrators.")
		return
	}
	ctx := r.Context()
	cp, err := n.audit.Checkpoint(ctx)
	if err != nil {
		n.renderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d := web.AuditData{Origin: AuditOrigin(n.cfg.Name), Checkpoint: string(cp), Size: n.audit.Size()}
	from := uint64(0)
	if d.Size > 100 {
		from = d.Size - 100
	}
	entries, err := n.audit.Entries(ctx, from, int(d.Size-from))
	if err != nil {
		n.renderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		d.Entries = append(d.Entries, web.AuditRow{Index: e.Index, Time: e.Time, Type: e.Type, Actor: e.Actor, Subject: e.Subject, Fields: e.Fields})
	}
	n.render(w, r, http.StatusOK, "audit", "audit", "Audit", d)
}
