package node

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/query"
	"github.com/cancerimage/cie/internal/web"
)

// NoiseKeyFile is where a node keeps the secret of its disclosure noise: beside its
// pseudonym key (config deid.key_file), made on first start.
func NoiseKeyFile(cfg Config) string {
	return filepath.Join(filepath.Dir(cfg.Deid.KeyFile), "noise.key")
}

// onSearch answers a federated search from the hub.
func (n *Node) onSearch(ctx context.Context, m *nats.Msg) {
	var req fed.SearchRequest
	var ans *fed.SearchAnswer
	if err := fed.Unmarshal(m.Data, &req); err != nil {
		n.log.Warn("bad search request", "err", err)
		ans = &fed.SearchAnswer{Node: n.cfg.Name, Status: fed.SearchError, Message: err.Error()}
	} else {
		ans = n.search.Search(ctx, &req)
	}
	data, err := fed.Marshal(ans)
	if err != nil {
		n.log.Error("encoding a search answer", "err", err)
		return
	}
	if err := m.Respond(data); err != nil {
		n.log.Warn("answering a search", "id", req.ID, "err", err)
	}
}

// onAtlas answers the hub's public atlas.
func (n *Node) onAtlas(ctx context.Context, m *nats.Msg) {
	var req fed.AtlasRequest
	var ans *fed.AtlasAnswer
	if err := fed.Unmarshal(m.Data, &req); err != nil {
		ans = &fed.AtlasAnswer{Node: n.cfg.Name, Message: err.Error()}
	} else {
		ans = n.search.Atlas(ctx)
	}
	data, err := fed.Marshal(ans)
	if err != nil {
		n.log.Error("encoding an atlas answer", "err", err)
		return
	}
	if err := m.Respond(data); err != nil {
		n.log.Warn("answering an atlas request", "err", err)
	}
}

func (n *Node) registerSearchPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /search-policy", n.searchPolicyPage)
}

// searchPolicyPage shows the node's disclosure policy and each researcher's spent budget.
func (n *Node) searchPolicyPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.gate.RequireRole(w, r, "The search policy page is for the node's data holders and administrators.", archiveRoles...); !ok {
		return
	}
	p := n.search.Policy()
	d := web.SearchPolicyData{Threshold: p.Threshold, Epsilon: p.Epsilon, Budget: p.Budget, Period: periodText(p.Period)}
	for _, k := range p.Keys() {
		d.Keys = append(d.Keys, web.SearchKey{Key: k, Name: keyName(k), Answered: n.search.Answers(k)})
	}
	accs, err := n.search.Accounts(r.Context())
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	for _, a := range accs {
		d.Accounts = append(d.Accounts, web.SearchAccount{Researcher: a.Researcher, Spent: a.Spent, Remaining: a.Remaining,
			Answers: a.Answers, Renews: a.PeriodEnd})
	}
	n.gate.Render(w, r, http.StatusOK, "node-search", "search", "Search policy", d)
}

func keyName(k string) string {
	if kk, ok := query.LookupKey(k); ok {
		return kk.Name
	}
	return k
}

// periodText writes a budget period in days when it is whole days ("30 days"), else as
// a Go duration ("36h0m0s").
func periodText(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return strconv.Itoa(int(d/day)) + " days"
	}
	return d.String()
}
