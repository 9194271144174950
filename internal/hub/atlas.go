package hub

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/disclosure"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/query"
	"github.com/cancerimage/cie/internal/web"
)

// The public atlas: totals of subjects and studies over the nodes' published datasets,
// by node, modality, body part and cancer type, from each node's fed.AtlasAnswer. The
// nodes suppress small cells themselves; the hub adds up what they release and keeps
// the suppressed cells apart (see Total). The totals are cached for search.atlas_ttl.

// Atlas is the public atlas's data.
type Atlas struct {
	Updated time.Time `json:"updated"`
	// Nodes are every registered node, by name, with its totals or why there are none.
	Nodes []AtlasNode `json:"nodes"`
	// Subjects and Studies add up the nodes that answered.
	Subjects Total `json:"subjects"`
	Studies  Total `json:"studies"`
	// Modality, BodyPart and CancerType add up the nodes' counts per value, largest
	// first.
	Modality   []AtlasBar `json:"modality"`
	BodyPart   []AtlasBar `json:"body_part"`
	CancerType []AtlasBar `json:"cancer_type"`
	answered   int        // how many nodes answered
}

// atlasRetry is how long an atlas that no node answered is kept.
const atlasRetry = 5 * time.Second

// AtlasNode is one node's totals.
type AtlasNode struct {
	Node     string `json:"node"`
	Status   string `json:"status"` // "ok" or one of the Ask… outcomes
	Message  string `json:"message,omitempty"`
	Subjects Total  `json:"subjects"`
	Studies  Total  `json:"studies"`
}

// AtlasBar is one value's total over the nodes.
type AtlasBar struct {
	Value string `json:"value"` // as the nodes send it ("MR", "BREAST", a diagnosis code)
	Label string `json:"label"` // its name in the vocabulary, or Value
	Total Total  `json:"total"`
}

// atlasCache holds the last atlas.
type atlasCache struct {
	mu    sync.Mutex
	atlas *Atlas
}

// Atlas returns the atlas, asking the nodes again when the cached one is older than
// search.atlas_ttl.
func (h *Hub) Atlas(ctx context.Context) (*Atlas, error) {
	h.atlas.mu.Lock()
	defer h.atlas.mu.Unlock()
	ttl := h.cfg.Search.AtlasTTL
	if a := h.atlas.atlas; a != nil && a.answered == 0 {
		ttl = min(ttl, atlasRetry) // nobody answered: ask again soon
	}
	if a := h.atlas.atlas; a != nil && time.Since(a.Updated) < ttl {
		return a, nil
	}
	msg, err := fed.Marshal(&fed.AtlasRequest{})
	if err != nil {
		return nil, fmt.Errorf("encoding the atlas request: %w", err)
	}
	var answers []AtlasNode
	var got []fed.AtlasAnswer
	h.fanOut(ctx, h.reg.list(), fed.AtlasSubject, msg, time.Now().Add(h.cfg.Search.Timeout), func(r reply) {
		n := AtlasNode{Node: r.node, Status: r.status, Message: r.message}
		if r.status == "" {
			var a fed.AtlasAnswer
			switch err := fed.Unmarshal(r.data, &a); {
			case err != nil:
				n.Status, n.Message = AskBadAnswer, fmt.Sprintf("the node's answer cannot be read: %v", err)
			case a.Node != r.node:
				n.Status, n.Message = AskBadAnswer, fmt.Sprintf("the answer names node %q", a.Node)
			default:
				n.Status, n.Message = fed.SearchOK, a.Message
				got = append(got, a)
			}
		}
		answers = append(answers, n)
	})
	a := aggregateAtlas(answers, got)
	a.Updated = time.Now().UTC()
	h.atlas.atlas = a
	return a, nil
}

// aggregateAtlas adds up the nodes' answers: status holds every node (with its
// outcome), answers those that answered.
func aggregateAtlas(status []AtlasNode, answers []fed.AtlasAnswer) *Atlas {
	a := &Atlas{}
	byNode := map[string]fed.AtlasAnswer{}
	mod, body, cancer := map[string]*Total{}, map[string]*Total{}, map[string]*Total{}
	add := func(m map[string]*Total, counts map[string]disclosure.Count) {
		for k, c := range counts {
			t, ok := m[k]
			if !ok {
				t = &Total{}
				m[k] = t
			}
			t.Add(c)
		}
	}
	a.answered = len(answers)
	for _, ans := range answers {
		byNode[ans.Node] = ans
		a.Subjects.Add(ans.Subjects)
		a.Studies.Add(ans.Studies)
		add(mod, ans.Modality)
		add(body, ans.BodyPart)
		add(cancer, ans.CancerType)
	}
	for _, n := range status {
		if ans, ok := byNode[n.Node]; ok && n.Status == fed.SearchOK {
			n.Subjects.Add(ans.Subjects)
			n.Studies.Add(ans.Studies)
		}
		a.Nodes = append(a.Nodes, n)
	}
	sort.Slice(a.Nodes, func(i, j int) bool { return a.Nodes[i].Node < a.Nodes[j].Node })
	a.Modality = bars(mod, query.ConceptModality)
	a.BodyPart = bars(body, query.ConceptBodyPart)
	a.CancerType = bars(cancer, query.ConceptDiagnosis)
	return a
}

// bars lists the totals of m, largest first (by their exact part, then by how many
// suppressed cells they hold), each labelled with its vocabulary name.
func bars(m map[string]*Total, c query.Concept) []AtlasBar {
	out := make([]AtlasBar, 0, len(m))
	for v, t := range m {
		out = append(out, AtlasBar{Value: v, Label: termLabel(c, v), Total: *t})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Total, out[j].Total
		if a.Exact != b.Exact {
			return a.Exact > b.Exact
		}
		if a.Suppressed != b.Suppressed {
			return a.Suppressed > b.Suppressed
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// termLabel names a value a node sends for concept c: a DICOM value ("MR"), an
// explorer code ("SNOMEDCT254837009") or a bare code ("254837009"). Values the
// vocabulary does not know are shown as they are.
func termLabel(c query.Concept, v string) string {
	for _, name := range query.Keys() {
		k, _ := query.LookupKey(name)
		if k.Concept != c {
			continue
		}
		for _, t := range k.Terms {
			if v == t.Key || v == t.Code || (t.DICOM != "" && v == t.DICOM) {
				if t.DICOM != "" && t.DICOM != t.Name && c != query.ConceptDiagnosis {
					return t.Name + " (" + t.DICOM + ")"
				}
				return t.Name
			}
		}
	}
	return v
}

// apiAtlas serves GET /api/v1/atlas, public.
func (h *Hub) apiAtlas(w http.ResponseWriter, r *http.Request) {
	a, err := h.Atlas(r.Context())
	if err != nil {
		httpx.Error(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	httpx.JSON(w, http.StatusOK, a)
}

// atlasPage serves GET /atlas, public.
func (h *Hub) atlasPage(w http.ResponseWriter, r *http.Request) {
	a, err := h.Atlas(r.Context())
	if err != nil {
		h.gate.RenderError(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	h.gate.Render(w, r, http.StatusOK, "atlas", "atlas", "Atlas", atlasData(a))
}

// atlasData turns the atlas into the page's charts.
func atlasData(a *Atlas) web.AtlasData {
	d := web.AtlasData{Updated: a.Updated, Subjects: "—", Studies: "—"}
	if a.answered > 0 {
		d.Subjects, d.Studies = a.Subjects.String(), a.Studies.String()
	}
	var subj, stud []web.Bar
	for _, n := range a.Nodes {
		d.Nodes = append(d.Nodes, web.AtlasNodeRow{Node: n.Node, Status: n.Status, Message: n.Message,
			Subjects: n.Subjects.String(), Studies: n.Studies.String()})
		if n.Status == fed.SearchOK {
			subj = append(subj, bar(n.Node, n.Subjects))
			stud = append(stud, bar(n.Node, n.Studies))
		}
	}
	chart := func(id, title, unit string, bs []web.Bar) web.Chart { return web.NewChart(id, title, unit, bs) }
	conv := func(in []AtlasBar) []web.Bar {
		out := make([]web.Bar, 0, len(in))
		for _, b := range in {
			out = append(out, bar(b.Label, b.Total))
		}
		return out
	}
	d.Charts = []web.Chart{
		chart("subjects-by-node", "Subjects by node", "subjects", subj),
		chart("studies-by-node", "Studies by node", "studies", stud),
		chart("by-modality", "By modality", "", conv(a.Modality)),
		chart("by-body-part", "By body part", "", conv(a.BodyPart)),
		chart("by-cancer-type", "By cancer type", "", conv(a.CancerType)),
	}
	return d
}

func bar(label string, t Total) web.Bar {
	return web.Bar{Label: label, Exact: t.Exact, Uncertain: t.Suppressed * t.Below, Text: t.String(), Suppressed: t.Suppressed > 0}
}
