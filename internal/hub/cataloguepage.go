package hub

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/web"
)

// facetParams are the query parameters of the catalogue page's facets.
var facetParams = []struct{ param, name string }{
	{"cancer", "Cancer type"}, {"body", "Body part"}, {"modality", "Modality"}, {"node", "Node"}, {"access", "Access"},
}

// cataloguePage serves /catalogue: full-text search with facets, no login.
func (h *Hub) cataloguePage(w http.ResponseWriter, r *http.Request) {
	all, err := catalogueSource{h}.Datasets(r.Context())
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	q := r.URL.Query()
	query := catalogue.Query{Text: q.Get("q"), CancerTypes: q["cancer"], BodyParts: q["body"], Modalities: q["modality"], Nodes: q["node"]}
	for _, a := range q["access"] {
		query.AccessRights = append(query.AccessRights, catalogue.AccessRights(a))
	}
	res := catalogue.NewIndex(all).Search(query)
	d := web.CatalogueData{Query: query.Text, Total: len(all)}
	if len(q) > 0 && (len(q) > 1 || q.Get("q") == "") {
		d.Clear = "/catalogue?" + url.Values{"q": {query.Text}}.Encode()
	}
	groups := [][]catalogue.FacetValue{res.Facets.CancerType, res.Facets.BodyPart, res.Facets.Modality, res.Facets.Node, res.Facets.AccessRights}
	for i, f := range facetParams {
		g := web.FacetGroup{Name: f.name}
		for _, v := range groups[i] {
			g.Values = append(g.Values, web.FacetRow{Label: v.Label, Count: v.Count, Selected: v.Selected, Href: toggle(q, f.param, v.Value)})
		}
		d.Facets = append(d.Facets, g)
	}
	in := h.inBasket(r)
	for _, ds := range res.Datasets {
		row := datasetRow(ds)
		row.InBasket = in[ds.ID]
		d.Datasets = append(d.Datasets, row)
	}
	h.gate.Render(w, r, http.StatusOK, "catalogue", "catalogue", "Catalogue", d)
}

// toggle returns the catalogue link with value added to or removed from param.
func toggle(q url.Values, param, value string) string {
	next := url.Values{}
	for k, vs := range q {
		next[k] = append([]string(nil), vs...)
	}
	if i := slices.Index(next[param], value); i >= 0 {
		next[param] = slices.Delete(next[param], i, i+1)
	} else {
		next[param] = append(next[param], value)
	}
	return "/catalogue?" + next.Encode()
}

func displays(cs []catalogue.Code) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Display)
	}
	return strings.Join(out, ", ")
}

func datasetRow(d catalogue.Dataset) web.DatasetRow {
	desc := d.Description
	if r := []rune(desc); len(r) > 300 {
		desc = string(r[:300]) + "…"
	}
	return web.DatasetRow{ID: d.ID, Title: d.Title, Node: d.Node, Description: desc, Access: string(d.AccessRights), State: string(d.State),
		Individuals: d.Individuals, Studies: d.Studies, CancerTypes: displays(d.CancerTypes), Modalities: displays(d.Modalities),
		Href: "/catalogue/" + url.PathEscape(d.ID)}
}

// datasetPage serves /catalogue/{id}.
func (h *Hub) datasetPage(w http.ResponseWriter, r *http.Request) {
	d, err := catalogueSource{h}.Dataset(r.Context(), r.PathValue("id"))
	if errors.Is(err, catalogue.ErrNotFound) {
		h.gate.RenderError(w, r, http.StatusNotFound, "There is no dataset "+r.PathValue("id")+" in the catalogue.")
		return
	}
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	api := "/api/v1/catalogue/" + url.PathEscape(d.ID)
	contact := d.Contact.Name
	if d.Contact.Email != "" {
		contact = strings.TrimSpace(contact + " <" + d.Contact.Email + ">")
	}
	data := web.DatasetData{DatasetRow: datasetRow(d), Keywords: strings.Join(d.Keywords, ", "), BodyParts: displays(d.BodyParts),
		License: d.License, Contact: contact, Publisher: d.Publisher.Name, Version: d.Version, Issued: d.Issued, Modified: d.Modified,
		ContentHash: d.ContentHash, Interop: string(d.InteropLevel), JSON: api, JSONLD: api + "?format=jsonld", Turtle: api + "?format=turtle"}
	data.Description = d.Description
	data.InBasket = h.inBasket(r)[d.ID]
	h.gate.Render(w, r, http.StatusOK, "dataset", "catalogue", d.Title, data)
}

// inBasket returns the datasets in the logged-in visitor's basket (none for anonymous
// visitors).
func (h *Hub) inBasket(r *http.Request) map[string]bool {
	out := map[string]bool{}
	s, ok := h.sessions.Read(r)
	if !ok {
		return out
	}
	items, err := h.access.Basket(r.Context(), s.User)
	if err != nil {
		h.log.Warn("reading basket", "user", s.User, "err", err)
	}
	for _, it := range items {
		out[it.Dataset] = true
	}
	return out
}
