package hub

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/query"
	"github.com/cancerimage/cie/internal/web"
)

// groupOrder is the order of the EUCAIM explorer's groups on the explorer page;
// groups not named here follow, by name.
var groupOrder = []string{"patient", "clinical", "imaging", "tumor", "tumor_marker_test", "histologic_grade", "cancer_stage"}

// groupLabels are the groups' headings.
var groupLabels = map[string]string{
	"patient": "Patient", "clinical": "Clinical", "imaging": "Imaging", "tumor": "Tumour",
	"tumor_marker_test": "Tumour markers", "histologic_grade": "Histologic grade", "cancer_stage": "Cancer stage",
}

// explorerGroups lays out the query vocabulary by group, for the explorer page.
func explorerGroups() []web.ExplorerGroup {
	byGroup := map[string]*web.ExplorerGroup{}
	var names []string
	for _, name := range query.Keys() {
		k, _ := query.LookupKey(name)
		g, ok := byGroup[k.Group]
		if !ok {
			label := groupLabels[k.Group]
			if label == "" {
				label = strings.ReplaceAll(k.Group, "_", " ")
			}
			g = &web.ExplorerGroup{Name: k.Group, Label: label}
			byGroup[k.Group] = g
			names = append(names, k.Group)
		}
		ek := web.ExplorerKey{Key: k.Key, Name: k.Name, Number: k.Field == query.FieldNumber, Single: !k.Takes(query.In)}
		if k.HasMin {
			ek.Min = strconv.FormatFloat(k.Min, 'g', -1, 64)
		}
		for _, t := range k.Terms {
			ek.Terms = append(ek.Terms, web.ExplorerTerm{Key: t.Key, Name: t.Name})
		}
		g.Keys = append(g.Keys, ek)
	}
	rank := func(g string) int {
		if i := slices.Index(groupOrder, g); i >= 0 {
			return i
		}
		return len(groupOrder)
	}
	slices.SortFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	out := make([]web.ExplorerGroup, 0, len(names))
	for _, n := range names {
		g := byGroup[n]
		// Coded keys before numbers, as the explorer shows them.
		slices.SortStableFunc(g.Keys, func(a, b web.ExplorerKey) int {
			if a.Number != b.Number {
				if a.Number {
					return 1
				}
				return -1
			}
			return 0
		})
		out = append(out, *g)
	}
	return out
}

// explorerPage serves GET /explorer: build a federated query and watch the nodes answer.
func (h *Hub) explorerPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.gate.RequireRole(w, r, "Federated search is for logged-in users.", auth.Roles...); !ok {
		return
	}
	h.gate.Render(w, r, http.StatusOK, "explorer", "search", "Explorer", web.ExplorerData{
		Groups: explorerGroups(), Timeout: h.cfg.Search.Timeout.String(),
	})
}
