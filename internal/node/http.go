package node

import (
	_ "embed"
	"net/http"
	"time"

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
	n.gate.Register(mux)
	mux.HandleFunc("GET /audit", n.auditPage)

	n.dicomweb.Register(mux, n.archiveGuard)
	n.registerArchivePages(mux)
	n.registerDatasetPages(mux)
	n.registerClinicalPages(mux)
	n.registerSearchPages(mux)
	mux.Handle("/viewer/", n.viewer)

	for _, rt := range n.apiRoutes() {
		mux.HandleFunc(rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusNotFound, "no such API endpoint: %s %s", r.Method, r.URL.Path)
	})
	return n.metrics.Instrument(mux, n.log)
}

// apiRoutes lists the node's JSON API; the OpenAPI document describes
// exactly these (a test checks).
func (n *Node) apiRoutes() []httpx.Route {
	return []httpx.Route{
		httpx.OpenAPIRoute(openAPI),
		{Pattern: "GET /api/v1/status", Handler: n.gate.API(n.apiStatus)},
		{Pattern: "GET /api/v1/audit/checkpoint", Handler: n.gate.API(n.apiCheckpoint)},
		{Pattern: "GET /api/v1/datasets", Handler: n.gate.API(n.apiDatasets)},
		{Pattern: "POST /api/v1/datasets", Handler: n.gate.API(n.apiCreateDataset)},
		{Pattern: "POST /api/v1/datasets/{id}/{action}", Handler: n.gate.API(n.apiDatasetAction)},
		{Pattern: "GET /api/v1/datasets/{id}/verify", Handler: n.gate.API(n.apiVerifyDataset)},
		{Pattern: "GET /api/v1/datasets/{id}/versions", Handler: n.gate.API(n.apiDatasetVersions)},
		{Pattern: "PUT /api/v1/datasets/{id}/studies", Handler: n.gate.API(n.apiDatasetStudies)},
		{Pattern: "POST /api/v1/clinical/import", Handler: n.gate.API(n.apiClinicalImport)},
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
	// VisaKeys are the key ids of the hub's visa keys the node holds (fetched over the bus).
	VisaKeys []string `json:"visa_keys"`
}

func (n *Node) status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Status{Node: n.cfg.Name, Version: version.String(), Started: n.started, Hub: n.creds.HubURL, Connected: n.connected,
		Since: n.since, AuditSize: n.audit.Size(), Witnessed: n.audit.LastWitnessedSize(), VisaKeys: n.visas.KeyIDs()}
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

func (n *Node) homePage(w http.ResponseWriter, r *http.Request) {
	st := n.status()
	d := web.NodeHomeData{Name: st.Node, Hub: st.Hub, Connected: st.Connected, Since: st.Since, Version: st.Version,
		AuditSize: st.AuditSize, Witnessed: st.Witnessed}
	if _, ok := n.sessions.Read(r); ok {
		d.DataDir = n.cfg.DataDir
	}
	n.gate.Render(w, r, http.StatusOK, "node-home", "home", "Overview", d)
}

func (n *Node) auditPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.gate.RequireRole(w, r, "The node's audit log is for its data holders and administrators.", auth.RoleNodeAdmin, auth.RoleDataHolder); !ok {
		return
	}
	ctx := r.Context()
	cp, err := n.audit.Checkpoint(ctx)
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d := web.AuditData{Origin: AuditOrigin(n.cfg.Name), Checkpoint: string(cp), Size: n.audit.Size()}
	if d.Queued, d.QueuedEvery, err = n.search.Queued(ctx); err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	from := uint64(0)
	if d.Size > 100 {
		from = d.Size - 100
	}
	entries, err := n.audit.Entries(ctx, from, int(d.Size-from))
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		d.Entries = append(d.Entries, web.AuditRow{Index: e.Index, Time: e.Time, Type: e.Type, Actor: e.Actor, Subject: e.Subject, Fields: e.Fields})
	}
	n.gate.Render(w, r, http.StatusOK, "audit", "audit", "Audit", d)
}
