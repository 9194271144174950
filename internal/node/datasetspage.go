package node

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/node/dataset"
	"github.com/cancerimage/cie/internal/web"
)

func (n *Node) registerDatasetPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /datasets", n.datasetsPage)
	mux.HandleFunc("POST /datasets/{id}/{action}", n.datasetAction)
}

// datasetActions are the life-cycle moves a dataset in a state allows.
func datasetActions(s catalogue.State) []string {
	switch s {
	case catalogue.StateDraft:
		return []string{string(catalogue.ActionPublish)}
	case catalogue.StatePublished:
		return []string{string(catalogue.ActionInvalidate)}
	case catalogue.StateInvalidated:
		return []string{string(catalogue.ActionReactivate)}
	}
	return nil
}

func (n *Node) datasetsPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.gate.RequireRole(w, r, "Datasets are made by the node's data holders and administrators.", archiveRoles...); !ok {
		return
	}
	list, err := n.datasets.List(r.Context())
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d := web.NodeDatasetsData{Message: r.URL.Query().Get("done")}
	for _, x := range list {
		d.Datasets = append(d.Datasets, web.NodeDatasetRow{ID: x.ID, Title: x.Title, State: string(x.State), Access: string(x.AccessRights),
			ContentHash: x.ContentHash, Version: x.Version, Studies: x.Studies, Individuals: x.Individuals, Modified: x.Modified,
			Actions: datasetActions(x.State)})
	}
	n.gate.Render(w, r, http.StatusOK, "node-datasets", "datasets", "Datasets", d)
}

// datasetAction carries out a life-cycle move or a verification from the page's forms.
func (n *Node) datasetAction(w http.ResponseWriter, r *http.Request) {
	sess, ok := n.formSession(w, r)
	if !ok {
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	var msg string
	if action == "verify" {
		_, _, changes, err := n.datasets.Verify(r.Context(), id)
		switch {
		case errors.Is(err, dataset.ErrNotFound):
			n.gate.RenderError(w, r, http.StatusNotFound, err.Error())
			return
		case err != nil:
			msg = "Not verified: " + err.Error()
		case len(changes) == 0:
			msg = fmt.Sprintf("%s: content matches its recorded hash.", id)
		default:
			msg = fmt.Sprintf("%s: %d instances differ from the recorded content, e.g. %s.", id, len(changes), changes[0])
		}
	} else {
		d, err := n.datasets.Apply(r.Context(), sess.User, id, catalogue.Action(action))
		switch {
		case errors.Is(err, dataset.ErrNotFound):
			n.gate.RenderError(w, r, http.StatusNotFound, err.Error())
			return
		case err != nil:
			msg = "Not done: " + err.Error()
		default:
			n.syncDatasets(r.Context())
			msg = fmt.Sprintf("%s is now %s.", d.Title, d.State)
		}
	}
	http.Redirect(w, r, "/datasets?"+url.Values{"done": {msg}}.Encode(), http.StatusSeeOther)
}
