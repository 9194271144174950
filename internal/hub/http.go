package hub

import (
	_ "embed"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/web"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the hub's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// Handler returns the hub's HTTP handler: pages, API, probes and metrics.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	httpx.Probes(mux, h.ready)
	mux.Handle("GET /metrics", h.metrics.Handler())
	mux.Handle("GET /static/", http.StripPrefix("/static/", h.site.Static()))

	// Pages.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/nodes", http.StatusSeeOther) })
	mux.HandleFunc("GET /login", h.loginPage)
	mux.HandleFunc("POST /login", h.login)
	mux.HandleFunc("POST /logout", h.logout)
	mux.HandleFunc("GET /nodes", h.nodesPage)
	mux.HandleFunc("GET /nodes/table", h.nodesTable)
	mux.HandleFunc("GET /audit", h.auditPage)
	for _, p := range []struct{ path, key, what, desc string }{
		{"/catalogue", "catalogue", "The dataset catalogue", "Published datasets of every node, searchable without login, with DCAT-AP and FAIR Data Point exports."},
		{"/search", "search", "Federated search", "Count matching subjects and studies on every node, with disclosure control decided at each node."},
		{"/requests", "requests", "Access requests", "Ask data holders for access to datasets and follow each decision."},
		{"/jobs", "jobs", "Federated jobs", "Run analyses and training where the data lives, with results released by each node."},
	} {
		p := p
		mux.HandleFunc("GET "+p.path, func(w http.ResponseWriter, r *http.Request) {
			h.render(w, r, http.StatusOK, "placeholder", p.key, p.what, web.PlaceholderData{What: p.what, About: p.desc})
		})
	}

	// API.
	for _, rt := range h.apiRoutes() {
		mux.HandleFunc(rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusNotFound, "no such API endpoint: %s %s", r.Method, r.URL.Path)
	})
	return h.metrics.Instrument(mux, h.log)
}

// Route is one endpoint of a JSON API.
type Route struct {
	Pattern string // "METHOD /path", as http.ServeMux takes it
	Handler http.HandlerFunc
}

// apiRoutes lists the hub's JSON API; the OpenAPI document describes exactly
// these (a test checks).
func (h *Hub) apiRoutes() []Route {
	return []Route{
		{"GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openAPI)
		}},
		{"GET /api/v1/me", h.api(h.apiMe)},
		{"GET /api/v1/nodes", h.api(h.apiNodes)},
		{"GET /api/v1/nodes/{name}", h.api(h.apiNode)},
		{"GET /api/v1/nodes/{name}/witnessed", h.api(h.apiWitnessed)},
		{"GET /api/v1/audit/checkpoint", h.api(h.apiCheckpoint)},
	}
}

// principal returns who makes the request: a bearer token, else a session.
func (h *Hub) principal(r *http.Request) (auth.Principal, bool, error) {
	if tok := auth.Bearer(r); tok != "" {
		u, err := h.users.Authenticate(r.Context(), tok)
		if err != nil {
			return auth.Principal{}, false, err
		}
		return auth.Principal{User: u.Name, Role: u.Role, Via: "token", Token: true}, true, nil
	}
	if s, ok := h.sessions.Read(r); ok {
		return auth.Principal{User: s.User, Role: s.Role, Via: "session"}, true, nil
	}
	return auth.Principal{}, false, nil
}

// api wraps a JSON API handler: it requires a bearer token or a session.
func (h *Hub) api(fn func(http.ResponseWriter, *http.Request, auth.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok, err := h.principal(r)
		if err != nil {
			if errors.Is(err, auth.ErrBadToken) {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				httpx.Error(w, http.StatusUnauthorized, "%v", err)
				return
			}
			httpx.Error(w, http.StatusInternalServerError, "checking credentials: %v", err)
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cie hub"`)
			httpx.Error(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token>")
			return
		}
		fn(w, r.WithContext(auth.WithPrincipal(r.Context(), p)), p)
	}
}

func (h *Hub) apiMe(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	httpx.JSON(w, http.StatusOK, map[string]string{"user": p.User, "role": p.Role, "via": p.Via})
}

func (h *Hub) apiNodes(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	httpx.JSON(w, http.StatusOK, map[string]any{"nodes": h.reg.list()})
}

func (h *Hub) apiNode(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	n, ok := h.reg.get(r.PathValue("name"))
	if !ok {
		httpx.Error(w, http.StatusNotFound, "no node named %q", r.PathValue("name"))
		return
	}
	httpx.JSON(w, http.StatusOK, n)
}

// WitnessedCheckpoint is a node checkpoint the hub cosigned.
type WitnessedCheckpoint struct {
	Node       string    `json:"node"`
	Size       uint64    `json:"size"`
	Root       string    `json:"root"`
	Checkpoint string    `json:"checkpoint"`
	Witnessed  time.Time `json:"witnessed"`
}

func (h *Hub) apiWitnessed(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	name := r.PathValue("name")
	if _, ok := h.reg.get(name); !ok {
		httpx.Error(w, http.StatusNotFound, "no node named %q", name)
		return
	}
	list, err := h.witnessedOf(r, name, 1000)
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"node": name, "witness_key": h.keys.AuditVKey, "checkpoints": list})
}

func (h *Hub) witnessedOf(r *http.Request, node string, limit int) ([]WitnessedCheckpoint, error) {
	q := `SELECT node, size, root, checkpoint, witnessed_ms FROM witnessed`
	args := []any{}
	if node != "" {
		q += ` WHERE node = ?`
		args = append(args, node)
	}
	q += ` ORDER BY witnessed_ms DESC, size DESC LIMIT ?`
	args = append(args, limit)
	rows, err := h.db.Query(r.Context(), q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WitnessedCheckpoint
	for rows.Next() {
		var c WitnessedCheckpoint
		var ms int64
		if err := rows.Scan(&c.Node, &c.Size, &c.Root, &c.Checkpoint, &ms); err != nil {
			return nil, err
		}
		c.Witnessed = time.UnixMilli(ms).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

func (h *Hub) apiCheckpoint(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	cp, err := h.audit.Checkpoint(r.Context())
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]string{"origin": h.cfg.AuditOrigin(), "key": h.keys.AuditVKey, "checkpoint": string(cp)})
}

// render renders a page with the visitor's identity and CSRF token.
func (h *Hub) render(w http.ResponseWriter, r *http.Request, status int, page, active, title string, data any) {
	p := web.Page{Title: title, Active: active, Data: data}
	if s, ok := h.sessions.Read(r); ok {
		p.User = &web.User{Name: s.User, Role: s.Role}
		p.CSRF = h.sessions.CSRF(s)
	} else {
		p.CSRF = h.sessions.CSRF(h.sessions.Anonymous(w, r))
	}
	if f := r.URL.Query().Get("flash"); f == "logged-out" {
		p.Flash = "You are logged out."
	}
	h.site.Render(w, status, page, p)
}

func (h *Hub) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "login", "", "Log in", nil)
}

func (h *Hub) login(w http.ResponseWriter, r *http.Request) {
	anon := h.sessions.Anonymous(w, r)
	if !h.sessions.CheckCSRF(r, anon) {
		h.renderError(w, r, http.StatusForbidden, "The form expired or did not come from this site. Reload the page and try again.")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("username"))
	u, err := h.users.Login(r.Context(), name, r.PostFormValue("password"))
	if err != nil {
		if _, aerr := h.audit.Append(r.Context(), audit.Event{Type: "login.failed", Actor: name, Fields: map[string]string{"remote": r.RemoteAddr}}); aerr != nil {
			h.log.Error("logging failed login", "err", aerr)
		}
		msg := "Wrong user name or password."
		if !errors.Is(err, auth.ErrBadCredentials) {
			msg = "Login is not possible right now."
			h.log.Error("login", "err", err)
		}
		p := web.Page{Title: "Log in", Error: msg, CSRF: h.sessions.CSRF(anon)}
		h.site.Render(w, http.StatusUnauthorized, "login", p)
		return
	}
	if _, err := h.audit.Append(r.Context(), audit.Event{Type: "login", Actor: u.Name, Fields: map[string]string{"role": u.Role, "remote": r.RemoteAddr, "method": "password"}}); err != nil {
		h.log.Error("logging login", "err", err)
		h.renderError(w, r, http.StatusInternalServerError, "Login could not be recorded in the audit log, so it was refused.")
		return
	}
	h.sessions.Start(w, u)
	next := r.PostFormValue("next")
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/nodes"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Hub) logout(w http.ResponseWriter, r *http.Request) {
	if s, ok := h.sessions.Read(r); ok {
		if !h.sessions.CheckCSRF(r, s) {
			h.renderError(w, r, http.StatusForbidden, "The form did not come from this site.")
			return
		}
		if _, err := h.audit.Append(r.Context(), audit.Event{Type: "logout", Actor: s.User}); err != nil {
			h.log.Error("logging logout", "err", err)
		}
	}
	h.sessions.End(w)
	http.Redirect(w, r, "/login?flash=logged-out", http.StatusSeeOther)
}

func (h *Hub) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", "", http.StatusText(status), web.ErrorData{Status: status, Message: msg})
}

func (h *Hub) nodeRows() web.NodesData {
	d := web.NodesData{Now: time.Now().UTC()}
	for _, n := range h.reg.list() {
		d.Nodes = append(d.Nodes, web.NodeRow{Name: n.Name, State: n.State, LastSeen: n.LastSeen, Version: n.Version,
			Since: n.Since, HTTPURL: n.HTTPURL, DIMSE: n.DIMSE, Witnessed: n.Witnessed})
	}
	return d
}

func (h *Hub) nodesPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "nodes", "nodes", "Nodes", h.nodeRows())
}

func (h *Hub) nodesTable(w http.ResponseWriter, r *http.Request) {
	h.site.Partial(w, "nodes-table", h.nodeRows())
}

func (h *Hub) auditPage(w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessions.Read(r)
	if !ok {
		http.Redirect(w, r, "/login?next=/audit", http.StatusSeeOther)
		return
	}
	if s.Role != auth.RolePlatformAdmin {
		h.renderError(w, r, http.StatusForbidden, "The hub's audit log is for platform administrators.")
		return
	}
	data, err := h.auditData(r)
	if err != nil {
		h.renderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	h.render(w, r, http.StatusOK, "audit", "audit", "Audit", data)
}

func (h *Hub) auditData(r *http.Request) (web.AuditData, error) {
	ctx := r.Context()
	d := web.AuditData{Origin: h.cfg.AuditOrigin()}
	cp, err := h.audit.Checkpoint(ctx)
	if err != nil {
		return d, err
	}
	d.Checkpoint = string(cp)
	d.Size = h.audit.Size()
	from := uint64(0)
	if d.Size > 100 {
		from = d.Size - 100
	}
	entries, err := h.audit.Entries(ctx, from, int(d.Size-from))
	if err != nil {
		return d, err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		d.Entries = append(d.Entries, web.AuditRow{Index: e.Index, Time: e.Time, Type: e.Type, Actor: e.Actor, Subject: e.Subject, Fields: e.Fields})
	}
	wit, err := h.witnessedOf(r, "", 50)
	if err != nil {
		return d, err
	}
	latest := map[string]bool{}
	for _, c := range wit {
		if latest[c.Node] {
			continue
		}
		latest[c.Node] = true
		d.Witnessed = append(d.Witnessed, web.WitnessRow{Node: c.Node, Size: c.Size, Time: c.Witnessed, Root: c.Root})
	}
	return d, nil
}
