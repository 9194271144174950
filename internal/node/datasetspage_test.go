package node

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/synth"
)

// TestDatasetForm: a data holder makes datasets with the Datasets page's form from
// picked studies, from an index query and from an ingest, with their metadata, and
// publishes one at once; a researcher cannot.
func TestDatasetForm(t *testing.T) {
	w := newAccessWorld(t)
	ctx := context.Background()
	// One more ingest, as a batch, of one generated patient.
	g, err := synth.New(synth.Options{Seed: 99, Node: "t", Patients: 1, Rows: 8, Columns: 8, MinSlices: 1, MaxSlices: 1, MaxSeriesPerStudy: 1})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := w.n.archive.Begin(ctx, archive.Source{Kind: "upload", Peer: "holder"})
	if err != nil {
		t.Fatal(err)
	}
	batchStudies := map[string]bool{}
	if err := g.Walk(func(in *synth.Instance) error {
		var buf bytes.Buffer
		if _, err := in.File.WriteTo(&buf); err != nil {
			return err
		}
		out, err := batch.Ingest(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), "x.dcm")
		batch.Count(out, err)
		batchStudies[out.StudyUID] = true
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := batch.End(ctx); err != nil {
		t.Fatal(err)
	}
	runs, err := w.n.archive.Recent(ctx, 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("ingests: %v %v", runs, err)
	}

	get := func(user, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", w.srv.URL+path, nil)
		if user != "" {
			req.AddCookie(w.cookies[user])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, page := get("holder", "/datasets")
	if st != 200 || !strings.Contains(page, `id="dataset-form"`) || !strings.Contains(page, w.studies["N"].study) || !strings.Contains(page, runs[0].ID) {
		t.Fatalf("datasets page: %d", st)
	}
	csrf := between(page, `name="csrf" value="`, `"`)
	// The study search finds a study by its patient ID.
	studyN, _ := w.n.archive.Index().Search(ctx, indexQueryStudy(w.studies["N"].study))
	if st, frag := get("holder", "/datasets/studies?q="+url.QueryEscape(studyN[0].Study.PatientID)); st != 200 ||
		!strings.Contains(frag, w.studies["N"].study) || strings.Contains(frag, "<html") {
		t.Fatalf("study search: %d %s", st, frag)
	}
	if st, _ := get("rita", "/datasets/studies?q=x"); st != 403 {
		t.Fatalf("a researcher searching studies: %d", st)
	}

	terms := func(k catalogue.Kind) string { c := catalogue.Terms(k)[0].Code; return c.System + "|" + c.Code }
	meta := url.Values{"csrf": {csrf}, "title": {"Form dataset"}, "description": {"Made with the form."}, "keywords": {"lung, CT"},
		"cancer_type": {terms(catalogue.KindCancerType)}, "body_part": {terms(catalogue.KindBodyPart)},
		"access_rights": {"RESTRICTED"}, "interoperability_level": {"Tier 2"}, "license": {"https://creativecommons.org/licenses/by/4.0/"},
		"legislation": {catalogue.LegislationEHDS}, "contact_email": {"desk@example.org"}, "publisher_name": {"Example Hospital"}}
	post := func(user string, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", w.srv.URL+"/datasets/new", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(w.cookies[user])
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return resp.StatusCode, loc.Query().Get("done")
	}
	with := func(extra url.Values) url.Values {
		f := url.Values{}
		for k, v := range meta {
			f[k] = v
		}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	before, _ := w.n.datasets.List(ctx)
	created := func(t *testing.T) catalogue.Dataset {
		t.Helper()
		list, _ := w.n.datasets.List(ctx)
		if len(list) != len(before)+1 {
			t.Fatalf("%d datasets, want %d", len(list), len(before)+1)
		}
		before = list
		return list[0] // newest first
	}

	st, msg := post("holder", with(url.Values{"from": {"studies"}, "study": {w.studies["N"].study, w.studies["A"].study}, "publish": {"1"}}))
	d := created(t)
	_, members, _ := w.n.datasets.Get(ctx, d.ID)
	if st != 303 || !strings.Contains(msg, "created and published") || d.State != catalogue.StatePublished || d.Studies != 2 ||
		!slices.Contains(members, w.studies["N"].study) || d.Title != "Form dataset" || len(d.Keywords) != 2 || d.License != "https://creativecommons.org/licenses/by/4.0/" {
		t.Fatalf("from picked studies: %d %q %+v", st, msg, d)
	}
	st, msg = post("holder", with(url.Values{"from": {"query"}, "query": {"StudyInstanceUID=" + w.studies["B"].study + "\r\n"}}))
	d = created(t)
	if _, members, _ = w.n.datasets.Get(ctx, d.ID); st != 303 || d.State != catalogue.StateDraft || !slices.Equal(members, []string{w.studies["B"].study}) {
		t.Fatalf("from a query: %d %q %+v %v", st, msg, d, members)
	}
	st, msg = post("holder", with(url.Values{"from": {"batch"}, "batch": {runs[0].ID}}))
	d = created(t)
	if _, members, _ = w.n.datasets.Get(ctx, d.ID); st != 303 || len(members) != len(batchStudies) || !batchStudies[members[0]] {
		t.Fatalf("from an ingest: %d %q %v (want %v)", st, msg, members, batchStudies)
	}
	// Missing metadata: created as a draft, not published, the message names the field.
	bare := url.Values{"csrf": {csrf}, "from": {"studies"}, "study": {w.studies["A"].study}, "title": {"Bare"}, "publish": {"1"}}
	if st, msg = post("holder", bare); st != 303 || !strings.Contains(msg, "Not published") || !strings.Contains(msg, "license") {
		t.Fatalf("bare: %d %q", st, msg)
	}
	created(t)
	for name, f := range map[string]url.Values{
		"no study":      with(url.Values{"from": {"studies"}}),
		"bad query":     with(url.Values{"from": {"query"}, "query": {"Nonsense=1"}}),
		"unknown batch": with(url.Values{"from": {"batch"}, "batch": {"nope"}}),
	} {
		if st, msg := post("holder", f); st != 303 || !strings.HasPrefix(msg, "Not created") {
			t.Errorf("%s: %d %q", name, st, msg)
		}
	}
	if st, _ := post("rita", with(url.Values{"from": {"studies"}, "study": {w.studies["A"].study}})); st != 403 {
		t.Fatalf("a researcher's form: %d", st)
	}
	bad := with(url.Values{"from": {"studies"}, "study": {w.studies["A"].study}})
	bad.Set("csrf", "forged")
	if st, _ := post("holder", bad); st != 403 {
		t.Fatalf("a forged CSRF token: %d", st)
	}
	if list, _ := w.n.datasets.List(ctx); len(list) != len(before) {
		t.Fatalf("refused forms made datasets: %d, want %d", len(list), len(before))
	}
}

// between returns the text between the first before and the next after.
func between(s, before, after string) string {
	_, rest, _ := strings.Cut(s, before)
	v, _, _ := strings.Cut(rest, after)
	return v
}

func indexQueryStudy(uid string) index.Query {
	return index.Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: uid}}
}
