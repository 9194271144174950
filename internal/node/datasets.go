package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/node/dataset"
	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/node/index"
)

// syncDatasets sends the hub every dataset the catalogue should show.
func (n *Node) syncDatasets(ctx context.Context) {
	n.mu.Lock()
	nc := n.nc
	n.mu.Unlock()
	if nc == nil || !nc.IsConnected() {
		return // sent on the next connect
	}
	list, err := n.datasets.List(ctx)
	if err != nil {
		n.log.Error("listing datasets for the hub", "err", err)
		return
	}
	msg := fed.DatasetSync{Node: n.cfg.Name}
	for _, d := range list {
		if d.State == catalogue.StateDraft {
			continue
		}
		raw, err := json.Marshal(d)
		if err != nil {
			n.log.Error("encoding dataset", "dataset", d.ID, "err", err)
			continue
		}
		msg.Datasets = append(msg.Datasets, raw)
	}
	data, err := fed.Marshal(&msg)
	if err != nil {
		n.log.Error("encoding dataset sync", "err", err)
		return
	}
	if err := nc.Publish(fed.DatasetSyncSubject(n.cfg.Name), data); err != nil {
		n.log.Warn("sending datasets to the hub", "err", err)
	}
}

// setBus remembers the bus connection for later messages.
func (n *Node) setBus(nc *nats.Conn) {
	n.mu.Lock()
	n.nc = nc
	n.mu.Unlock()
}

// datasetRequest is the body of POST /api/v1/datasets: the catalogue metadata (the
// fields of package catalogue's JSON; "v" may be left out) and the studies, by UID or by
// a query on the index (QIDO-RS matching keys, e.g. {"ModalitiesInStudy": "CT"}).
type datasetRequest struct {
	Dataset catalogue.Dataset
	Studies []string
	Query   map[string]string
}

func decodeDatasetRequest(body []byte) (datasetRequest, error) {
	var req datasetRequest
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return req, err
	}
	if raw, ok := m["studies"]; ok {
		if err := json.Unmarshal(raw, &req.Studies); err != nil {
			return req, fmt.Errorf("studies: %w", err)
		}
	}
	if raw, ok := m["query"]; ok {
		if err := json.Unmarshal(raw, &req.Query); err != nil {
			return req, fmt.Errorf("query: %w", err)
		}
	}
	delete(m, "studies")
	delete(m, "query")
	if _, ok := m["v"]; !ok {
		m["v"] = json.RawMessage(fmt.Sprint(catalogue.JSONVersion))
	}
	meta, err := json.Marshal(m)
	if err != nil {
		return req, err
	}
	return req, json.Unmarshal(meta, &req.Dataset)
}

func (n *Node) holder(w http.ResponseWriter, p auth.Principal) bool {
	if p.Role != auth.RoleDataHolder && p.Role != auth.RoleNodeAdmin {
		httpx.Error(w, http.StatusForbidden, "datasets of node %s are made by its data holders and administrators; %s has role %s", n.cfg.Name, p.User, p.Role)
		return false
	}
	return true
}

func (n *Node) apiDatasets(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !n.holder(w, p) {
		return
	}
	list, err := n.datasets.List(r.Context())
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if list == nil {
		list = []catalogue.Dataset{}
	}
	httpx.JSON(w, http.StatusOK, list)
}

func (n *Node) apiCreateDataset(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !n.holder(w, p) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err != nil {
		httpx.Error(w, http.StatusBadRequest, "reading the dataset: %v", err)
		return
	}
	req, err := decodeDatasetRequest(body)
	if err != nil {
		httpx.Error(w, http.StatusBadRequest, "reading the dataset: %v", err)
		return
	}
	studies := req.Studies
	if len(req.Query) > 0 {
		q := index.Query{Match: map[dicom.Tag]string{}, Limit: index.MaxLimit}
		for k, v := range req.Query {
			t, err := tagOf(k)
			if err != nil {
				httpx.Error(w, http.StatusBadRequest, "query: %v", err)
				return
			}
			q.Match[t] = v
		}
		m, err := n.archive.Index().Search(r.Context(), q)
		if err != nil {
			httpx.Error(w, http.StatusBadRequest, "query: %v", err)
			return
		}
		for _, x := range m {
			studies = append(studies, x.Study.UID)
		}
	}
	if len(studies) == 0 {
		httpx.Error(w, http.StatusBadRequest, "the dataset has no studies: give \"studies\" or a \"query\" that matches some")
		return
	}
	d, err := n.datasets.Create(r.Context(), p.User, req.Dataset, studies)
	switch {
	case errors.Is(err, index.ErrNotFound), errors.Is(err, dataset.ErrNoStudies):
		httpx.Error(w, http.StatusBadRequest, "%v", err)
		return
	case err != nil:
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	httpx.JSON(w, http.StatusCreated, d)
}

func tagOf(keyword string) (dicom.Tag, error) {
	t, err := dicomweb.ParseAttr(keyword)
	if err != nil || !index.Matchable(t, index.StudyLevel) {
		return 0, fmt.Errorf("%q is not an attribute the index matches on", keyword)
	}
	return t, nil
}

func (n *Node) apiDatasetAction(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !n.holder(w, p) {
		return
	}
	action := catalogue.Action(strings.ToLower(r.PathValue("action")))
	if action == actionRevise {
		n.reviseDataset(w, r, p, nil)
		return
	}
	d, err := n.datasets.Apply(r.Context(), p.User, r.PathValue("id"), action)
	var ve *catalogue.ValidationError
	switch {
	case errors.Is(err, dataset.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, "%v", err)
		return
	case errors.As(err, &ve), errors.Is(err, catalogue.ErrTransition), errors.Is(err, catalogue.ErrInvalid):
		httpx.Error(w, http.StatusConflict, "%v", err)
		return
	case err != nil:
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	n.syncDatasets(r.Context())
	httpx.JSON(w, http.StatusOK, d)
}

// datasetVerification is the answer of GET /api/v1/datasets/{id}/verify.
type datasetVerification struct {
	Dataset  string           `json:"dataset"`
	Recorded string           `json:"recorded_root"`
	Found    string           `json:"found_root"`
	OK       bool             `json:"ok"`
	Changes  []dataset.Change `json:"changes"`
}

func (n *Node) apiVerifyDataset(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !n.holder(w, p) {
		return
	}
	rec, found, changes, err := n.datasets.Verify(r.Context(), r.PathValue("id"))
	if errors.Is(err, dataset.ErrNotFound) {
		httpx.Error(w, http.StatusNotFound, "%v", err)
		return
	}
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if changes == nil {
		changes = []dataset.Change{}
	}
	httpx.JSON(w, http.StatusOK, datasetVerification{Dataset: r.PathValue("id"), Recorded: rec.Root, Found: found.Root,
		OK: len(changes) == 0, Changes: changes})
}

// actionRevise re-hashes a dataset's studies and records a new version if its content
// changed (beside the life-cycle moves of POST /api/v1/datasets/{id}/{action}).
const actionRevise = "revise"

// datasetRevision is the answer of a revision: the dataset and what changed.
type datasetRevision struct {
	Dataset  catalogue.Dataset `json:"dataset"`
	Changed  bool              `json:"changed"`
	Version  bool              `json:"new_version"`
	Added    []string          `json:"added"`
	Removed  []string          `json:"removed"`
	Modified []string          `json:"changed_studies"`
}

// reviseDataset records the dataset's content with studies (nil: the ones it has).
func (n *Node) reviseDataset(w http.ResponseWriter, r *http.Request, p auth.Principal, studies []string) {
	d, rev, err := n.datasets.Revise(r.Context(), p.User, r.PathValue("id"), studies)
	switch {
	case errors.Is(err, dataset.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, "%v", err)
		return
	case errors.Is(err, index.ErrNotFound), errors.Is(err, dataset.ErrNoStudies):
		httpx.Error(w, http.StatusBadRequest, "%v", err)
		return
	case errors.Is(err, dataset.ErrChanged):
		httpx.Error(w, http.StatusConflict, "%v", err)
		return
	case err != nil:
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if rev.Changed && d.State != catalogue.StateDraft {
		n.syncDatasets(r.Context())
	}
	httpx.JSON(w, http.StatusOK, datasetRevision{Dataset: d, Changed: rev.Changed, Version: rev.NewVersion,
		Added: nonNil(rev.Added), Removed: nonNil(rev.Removed), Modified: nonNil(rev.Modified)})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// apiDatasetStudies changes a dataset's studies: {"studies": [...]} replaces them,
// {"add": [...], "remove": [...]} edits them.
func (n *Node) apiDatasetStudies(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !n.holder(w, p) {
		return
	}
	var body struct {
		Studies *[]string `json:"studies"`
		Add     []string  `json:"add"`
		Remove  []string  `json:"remove"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&body); err != nil {
		httpx.Error(w, http.StatusBadRequest, "reading the studies: %v", err)
		return
	}
	var studies []string
	if body.Studies != nil {
		studies = append([]string{}, *body.Studies...)
	} else {
		_, current, err := n.datasets.Get(r.Context(), r.PathValue("id"))
		if errors.Is(err, dataset.ErrNotFound) {
			httpx.Error(w, http.StatusNotFound, "%v", err)
			return
		}
		if err != nil {
			httpx.Error(w, http.StatusInternalServerError, "%v", err)
			return
		}
		for _, s := range append(current, body.Add...) {
			if !slices.Contains(body.Remove, s) {
				studies = append(studies, s)
			}
		}
	}
	if studies == nil {
		studies = []string{}
	}
	n.reviseDataset(w, r, p, studies)
}

func (n *Node) apiDatasetVersions(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !n.holder(w, p) {
		return
	}
	vs, err := n.datasets.Versions(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, dataset.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, "%v", err)
	case err != nil:
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
	default:
		httpx.JSON(w, http.StatusOK, vs)
	}
}
