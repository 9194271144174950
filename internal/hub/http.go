package hub

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"time"

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
	mux := h.mux()
	return h.metrics.Instrument(mux.ServeMux, h.log)
}

// Routes lists the patterns of every route a hub configured by cfg serves (pages, API,
// relay, probes), as its mux has them; tests check that each one is covered. It opens
// the hub's stores to know (cfg.DataDir is created if missing) and closes them.
func Routes(ctx context.Context, cfg Config) ([]string, error) {
	h, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer h.closeStores(ctx)
	return h.mux().Patterns, nil
}

// mux registers every route of the hub on a new mux.
func (h *Hub) mux() *httpx.Recorder {
	mux := httpx.NewRecorder()
	httpx.Probes(mux, h.ready)
	mux.Handle("GET /metrics", h.metrics.Handler())
	mux.Handle("GET /static/", http.StripPrefix("/static/", h.site.Static()))

	// Pages.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/nodes", http.StatusSeeOther) })
	if h.login != nil {
		h.login.Register(mux)
	} else {
		h.gate.Register(mux)
	}
	if h.op != nil {
		mux.Handle(OIDCPrefix+"/", h.op.Handler())
	}
	h.gate.RegisterTokens(mux)
	mux.HandleFunc("GET /nodes", h.nodesPage)
	mux.HandleFunc("GET /nodes/table", h.nodesTable)
	mux.HandleFunc("GET /audit", h.auditPage)
	mux.HandleFunc("GET /catalogue", h.cataloguePage)
	mux.HandleFunc("GET /catalogue/{id}", h.datasetPage)
	h.registerAccessPages(mux)
	mux.HandleFunc("GET /explorer", h.explorerPage)
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/explorer", http.StatusSeeOther) })
	mux.HandleFunc("GET /atlas", h.atlasPage)
	for _, p := range []struct{ path, key, what, desc string }{
		{"/jobs", "jobs", "Federated jobs", "Run analyses and training where the data lives, with results released by each node."},
	} {
		p := p
		mux.HandleFunc("GET "+p.path, func(w http.ResponseWriter, r *http.Request) {
			h.gate.Render(w, r, http.StatusOK, "placeholder", p.key, p.what, web.PlaceholderData{What: p.what, About: p.desc})
		})
	}

	// Each node's DICOMweb, relayed over the bus, and the viewer for it.
	mux.HandleFunc("GET "+relayPrefix+"{node}/dicomweb/{path...}", h.relay)
	mux.Handle("/viewer/", h.viewer)
	mux.HandleFunc("GET /.well-known/jwks.json", h.jwks)
	mux.Handle("/fdp", h.fdp)
	mux.Handle("/fdp/", h.fdp)

	// API.
	for _, rt := range h.apiRoutes() {
		mux.HandleFunc(rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusNotFound, "no such API endpoint: %s %s", r.Method, r.URL.Path)
	})
	return mux
}

// apiRoutes lists the hub's JSON API; the OpenAPI document describes exactly
// these (a test checks).
func (h *Hub) apiRoutes() []httpx.Route {
	api := h.gate.API
	return append([]httpx.Route{
		httpx.OpenAPIRoute(openAPI),
		{Pattern: "GET /api/v1/me", Handler: api(h.apiMe)},
		{Pattern: "GET /api/v1/nodes", Handler: api(h.apiNodes)},
		{Pattern: "GET /api/v1/nodes/{name}", Handler: api(h.apiNode)},
		{Pattern: "GET /api/v1/nodes/{name}/witnessed", Handler: api(h.apiWitnessed)},
		{Pattern: "GET /api/v1/audit/checkpoint", Handler: api(h.apiCheckpoint)},
		{Pattern: "GET /api/v1/catalogue", Handler: h.apiCatalogue},
		{Pattern: "GET /api/v1/catalogue/{id}", Handler: h.apiCatalogue},
		{Pattern: "GET /api/v1/images/{dataset}", Handler: api(h.apiImages)},
		{Pattern: "POST /api/v1/search", Handler: api(h.apiSearch)},
		{Pattern: "GET /api/v1/search/{id}", Handler: api(h.apiSearchResult)},
		{Pattern: "POST /api/v1/beacon/individuals", Handler: api(h.apiBeaconIndividuals)},
		{Pattern: "GET /api/v1/atlas", Handler: h.apiAtlas},
	}, h.accessRoutes()...)
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

// nodeRows are the rows of the Nodes page. The nodes' addresses (HTTP, DIMSE) are
// shown to logged-in users only: anyone may see which hospitals take part and whether
// they are online, not where their servers are.
func (h *Hub) nodeRows(r *http.Request) web.NodesData {
	_, loggedIn := h.sessions.Read(r)
	d := web.NodesData{Now: time.Now().UTC()}
	for _, n := range h.reg.list() {
		row := web.NodeRow{Name: n.Name, State: n.State, LastSeen: n.LastSeen, Version: n.Version,
			Since: n.Since, Witnessed: n.Witnessed}
		if loggedIn {
			row.HTTPURL, row.DIMSE = n.HTTPURL, n.DIMSE
		}
		d.Nodes = append(d.Nodes, row)
	}
	return d
}

func (h *Hub) nodesPage(w http.ResponseWriter, r *http.Request) {
	h.gate.Render(w, r, http.StatusOK, "nodes", "nodes", "Nodes", h.nodeRows(r))
}

func (h *Hub) nodesTable(w http.ResponseWriter, r *http.Request) {
	h.site.Partial(w, "nodes-table", h.nodeRows(r))
}

func (h *Hub) auditPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.gate.RequireRole(w, r, "The hub's audit log is for platform administrators.", auth.RolePlatformAdmin); !ok {
		return
	}
	data, err := h.auditData(r)
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	h.gate.Render(w, r, http.StatusOK, "audit", "audit", "Audit", data)
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
