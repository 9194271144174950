package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/dataset"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/web"
)

func (n *Node) registerDatasetPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /datasets", n.datasetsPage)
	mux.HandleFunc("GET /datasets/studies", n.studyPicks)
	mux.HandleFunc("POST /datasets/new", n.datasetCreate)
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
	if d.Form, err = n.datasetForm(r.Context()); err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
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
	if action == actionRevise {
		d, rev, err := n.datasets.Revise(r.Context(), sess.User, id, nil)
		switch {
		case errors.Is(err, dataset.ErrNotFound):
			n.gate.RenderError(w, r, http.StatusNotFound, err.Error())
			return
		case err != nil:
			msg = "Not revised: " + err.Error()
		case !rev.Changed:
			msg = fmt.Sprintf("%s: content unchanged, still version %d.", d.Title, d.Version)
		case rev.NewVersion:
			n.syncDatasets(r.Context())
			msg = fmt.Sprintf("%s: content changed; version %d recorded (%s).", d.Title, d.Version, d.VersionNotes)
		default:
			msg = fmt.Sprintf("%s: the draft's content was recorded anew.", d.Title)
		}
	} else if action == "verify" {
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

// Limits of the dataset form.
const (
	maxPicks       = 200 // studies listed to pick from
	maxFormStudies = index.MaxLimit
)

// datasetForm gathers what the form to make a dataset offers.
func (n *Node) datasetForm(ctx context.Context) (web.DatasetForm, error) {
	f := web.DatasetForm{License: "https://creativecommons.org/licenses/by-nc/4.0/", Legislation: catalogue.LegislationEHDS}
	for _, k := range []struct {
		kind catalogue.Kind
		dst  *[]web.Option
	}{{catalogue.KindCancerType, &f.CancerTypes}, {catalogue.KindBodyPart, &f.BodyParts}, {catalogue.KindModality, &f.Modalities}} {
		for _, t := range catalogue.Terms(k.kind) {
			*k.dst = append(*k.dst, web.Option{Value: t.Code.System + "|" + t.Code.Code, Label: t.Code.Display})
		}
	}
	for _, a := range []catalogue.AccessRights{catalogue.AccessRestricted, catalogue.AccessNonPublic, catalogue.AccessPublic} {
		f.AccessRights = append(f.AccessRights, web.Option{Value: string(a), Label: string(a)})
	}
	for _, l := range []catalogue.InteropLevel{catalogue.Tier1, catalogue.Tier1Ap, catalogue.Tier1Cp, catalogue.Tier2, catalogue.Tier2Ap,
		catalogue.Tier2Cp, catalogue.Tier3, catalogue.Tier3Ap, catalogue.Tier3Cp} {
		f.InteropLevels = append(f.InteropLevels, web.Option{Value: string(l), Label: string(l)})
	}
	runs, err := n.archive.Recent(ctx, 20)
	if err != nil {
		return f, err
	}
	for _, x := range runs {
		if x.Stored > 0 {
			f.Ingests = append(f.Ingests, web.Option{Value: x.ID,
				Label: fmt.Sprintf("%s, %s: %d instances stored", x.Started.UTC().Format("2006-01-02 15:04:05"), x.Source, x.Stored)})
		}
	}
	f.Studies, err = n.pickStudies(ctx, "")
	return f, err
}

// pickStudies lists studies of the index matching q (a patient ID, a description or a
// modality, with * and ? wildcards; all studies if empty).
func (n *Node) pickStudies(ctx context.Context, q string) (web.NodeStudyPicks, error) {
	p := web.NodeStudyPicks{Query: q}
	var queries []index.Query
	if q = strings.TrimSpace(q); q == "" {
		queries = append(queries, index.Query{Limit: maxPicks + 1})
	} else if m := strings.ToUpper(q); isModality(m) {
		// A modality ("CT", "mr") means the studies with a series of it.
		queries = append(queries, index.Query{Limit: maxPicks + 1, Match: map[dicom.Tag]string{tags.ModalitiesInStudy: m}})
	} else {
		wild := q
		if !strings.ContainsAny(q, "*?") {
			wild = "*" + q + "*"
		}
		queries = append(queries, index.Query{Limit: maxPicks + 1, Match: map[dicom.Tag]string{tags.PatientID: wild}},
			index.Query{Limit: maxPicks + 1, Match: map[dicom.Tag]string{tags.StudyDescription: wild}})
	}
	seen := map[string]bool{}
	for _, iq := range queries {
		ms, err := n.archive.Index().Search(ctx, iq)
		if err != nil {
			return p, err
		}
		for _, m := range ms {
			if seen[m.Study.UID] {
				continue
			}
			seen[m.Study.UID] = true
			if len(p.Studies) == maxPicks {
				p.More = true
				break
			}
			s := m.Study
			p.Studies = append(p.Studies, web.StudyRow{UID: s.UID, PatientID: s.PatientID, Date: s.Date, Description: s.Description,
				Modalities: s.Modalities, Series: uint64(s.NumSeries), Instances: uint64(s.NumInstances)})
		}
	}
	return p, nil
}

// isModality reports whether s is a DICOM modality the catalogue knows (CT, MR, PT, …).
func isModality(s string) bool {
	_, ok := catalogue.ModalityFromDICOM(s)
	return ok
}

// studyPicks answers the form's study search (htmx) with the "node-study-picks" fragment.
func (n *Node) studyPicks(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.gate.RequireRole(w, r, "Datasets are made by the node's data holders and administrators.", archiveRoles...); !ok {
		return
	}
	p, err := n.pickStudies(r.Context(), r.URL.Query().Get("q"))
	if err != nil {
		n.gate.RenderError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	n.site.Partial(w, "node-study-picks", p)
}

// formCodes reads the codes of a multiple select ("system|code" values).
func formCodes(vals []string) []catalogue.Code {
	var out []catalogue.Code
	for _, v := range vals {
		if sys, code, ok := strings.Cut(v, "|"); ok {
			out = append(out, catalogue.Code{System: sys, Code: code})
		}
	}
	return out
}

// formStudies finds the studies the form names: picked, of an ingest, or matching a query.
func (n *Node) formStudies(ctx context.Context, r *http.Request) ([]string, error) {
	switch r.PostForm.Get("from") {
	case "studies":
		return r.PostForm["study"], nil
	case "batch":
		id := r.PostForm.Get("batch")
		runs, err := n.archive.Recent(ctx, 100)
		if err != nil {
			return nil, err
		}
		for _, x := range runs {
			if x.ID == id {
				end := time.Now()
				if x.Ended != nil {
					end = *x.Ended
				}
				return n.archive.Index().StudiesIngested(ctx, x.Source, x.Started.Add(-time.Second), end.Add(time.Second))
			}
		}
		return nil, fmt.Errorf("pick one of the recent ingests")
	case "query":
		q := index.Query{Match: map[dicom.Tag]string{}, Limit: maxFormStudies}
		for _, line := range strings.Split(r.PostForm.Get("query"), "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("query line %q is not Keyword=value", line)
			}
			t, err := tagOf(strings.TrimSpace(k))
			if err != nil {
				return nil, err
			}
			q.Match[t] = strings.TrimSpace(v)
		}
		if len(q.Match) == 0 {
			return nil, fmt.Errorf("the query is empty")
		}
		ms, err := n.archive.Index().Search(ctx, q)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Study.UID)
		}
		return out, nil
	}
	return nil, fmt.Errorf("choose where the studies come from")
}

// datasetCreate makes a dataset from the page's form (and publishes it if asked).
func (n *Node) datasetCreate(w http.ResponseWriter, r *http.Request) {
	sess, ok := n.formSession(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	done := func(msg string) {
		http.Redirect(w, r, "/datasets?"+url.Values{"done": {msg}}.Encode(), http.StatusSeeOther)
	}
	studies, err := n.formStudies(ctx, r)
	if err != nil {
		done("Not created: " + err.Error())
		return
	}
	if len(studies) == 0 {
		done("Not created: no study chosen.")
		return
	}
	f := r.PostForm
	meta := catalogue.Dataset{Title: strings.TrimSpace(f.Get("title")), Description: strings.TrimSpace(f.Get("description")),
		CancerTypes: formCodes(f["cancer_type"]), BodyParts: formCodes(f["body_part"]), Modalities: formCodes(f["modality"]),
		AccessRights: catalogue.AccessRights(f.Get("access_rights")), License: strings.TrimSpace(f.Get("license")),
		Contact:      catalogue.Contact{Name: strings.TrimSpace(f.Get("contact_name")), Email: strings.TrimSpace(f.Get("contact_email"))},
		Publisher:    catalogue.Publisher{Name: strings.TrimSpace(f.Get("publisher_name")), URL: strings.TrimSpace(f.Get("publisher_url"))},
		InteropLevel: catalogue.InteropLevel(f.Get("interoperability_level"))}
	for _, k := range strings.Split(f.Get("keywords"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			meta.Keywords = append(meta.Keywords, k)
		}
	}
	if l := strings.TrimSpace(f.Get("legislation")); l != "" {
		meta.ApplicableLegislation = []string{l}
	}
	d, err := n.datasets.Create(ctx, sess.User, meta, studies)
	if err != nil {
		done("Not created: " + err.Error())
		return
	}
	msg := fmt.Sprintf("%s created as a draft (%s): %d studies of %d individuals.", d.Title, d.ID, d.Studies, d.Individuals)
	if f.Get("publish") != "" {
		if d, err = n.datasets.Apply(ctx, sess.User, d.ID, catalogue.ActionPublish); err != nil {
			msg += " Not published: " + err.Error()
		} else {
			n.syncDatasets(ctx)
			msg = fmt.Sprintf("%s created and published (%s): %d studies of %d individuals.", d.Title, d.ID, d.Studies, d.Individuals)
		}
	}
	done(msg)
}
