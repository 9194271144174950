package integration

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/synth"
)

// TestGrantedImages closes the loop of access: a researcher's request for a dataset is
// made available by the node's data holder through the hub's API; then, through the
// hub's relay, the granted study's QIDO, metadata and frames answer, a retrieve only
// with a download visa, a study of another dataset never; the hub's images API lists the
// dataset; cie download writes exactly the node's instances; a data holder of another
// node gets nothing; and after revocation (pushed to the node) the node refuses even a
// passport presented to it directly.
func TestGrantedImages(t *testing.T) {
	a := startArchiveNode(t)
	cie(t, false, "admin", "node", "add", "beta", "--hub-config", a.hubYAML, "--out", filepath.Join(a.dir, "beta.creds"))
	users := hubUsers(t, a.hubYAML, []hubUser{
		{"rita", "researcher", ""}, {"holder", "data_holder", "alpha"}, {"bob", "data_holder", "beta"}, {"root", "platform_admin", ""},
	})
	waitFor(t, 30*time.Second, "alpha online at the hub", func() bool {
		return nodeStates(t, a.hubURL, users["root"])["alpha"].State == "online"
	})

	// Generated studies at the node: dataset A holds those with CT, dataset B the others.
	a.storeSynth(t, 5, 6)
	inA, inB := a.splitCT(t)
	dsA, dsB := a.publish(t, "Lung CT", inA), a.publish(t, "Other imaging", inB)
	waitFor(t, 15*time.Second, "both datasets in the catalogue", func() bool {
		r1, _ := fetch(t, a.hubURL+"/api/v1/catalogue/"+dsA, "", "application/json")
		r2, _ := fetch(t, a.hubURL+"/api/v1/catalogue/"+dsB, "", "application/json")
		return r1.StatusCode == 200 && r2.StatusCode == 200
	})

	// The granted study: a CT series and an instance with pixels.
	study := inA[0]
	var series, sop string
	for _, se := range a.qido(t, "/studies/"+study+"/series") {
		if se["00080060"] == "CT" {
			series = se["0020000E"]
		}
	}
	insts := a.qido(t, "/studies/"+study+"/series/"+series+"/instances")
	if series == "" || len(insts) == 0 {
		t.Fatalf("no CT series in study %s", study)
	}
	sop = insts[0]["00080018"]
	relay := a.hubURL + "/nodes/alpha/dicomweb"
	seriesURL := relay + "/studies/" + study + "/series/" + series
	get := func(who, url, accept string) (int, http.Header, []byte) {
		t.Helper()
		resp, b := fetch(t, url, users[who], accept)
		return resp.StatusCode, resp.Header, b
	}
	const frameType = `multipart/related; type="application/octet-stream"; transfer-syntax=*`
	viewing := func(who string, want int) {
		t.Helper()
		for _, c := range []struct{ url, accept string }{
			{seriesURL + "/metadata", "application/dicom+json"},
			{seriesURL + "/instances/" + sop + "/frames/1", frameType},
			{relay + "/studies?StudyInstanceUID=" + study, "application/dicom+json"},
		} {
			if st, _, b := get(who, c.url, c.accept); st != want {
				t.Fatalf("%s: %s: %d, want %d: %.300s", who, c.url, st, want, b)
			}
		}
	}
	request := func(model, dataset string) string {
		t.Helper()
		return grantAccess(t, a.hubURL, users["rita"], users["root"], users["holder"], "alpha", dataset, model)
	}

	// Before any approval: nothing.
	viewing("rita", 403)
	// A view visa: QIDO, metadata and frames of A; A's studies only; no retrieve.
	request("view", dsA)
	viewing("rita", 200)
	var listed []map[string]any
	if st, _, b := get("rita", relay+"/studies?limit=1000", "application/dicom+json"); st != 200 || json.Unmarshal(b, &listed) != nil {
		t.Fatalf("QIDO: %d %s", st, b)
	}
	var got []string
	for _, s := range listed {
		got = append(got, s["0020000D"].(map[string]any)["Value"].([]any)[0].(string))
	}
	if sort.Strings(got); !slices.Equal(got, sorted(inA)) {
		t.Fatalf("QIDO for a visa for A lists %v, want A's %v", got, inA)
	}
	if st, _, b := get("rita", relay+"/studies/"+inB[0]+"/metadata", "application/dicom+json"); st != 403 {
		t.Fatalf("a study of another dataset: %d %s", st, b)
	}
	if st, _, b := get("rita", relay+"/studies/"+study, dicomweb.ZipType); st != 403 || !strings.Contains(string(b), "view access does not permit download") {
		t.Fatalf("retrieve with a view visa: %d %s", st, b)
	}
	var imgs struct {
		Node, Access string
		Studies      []struct {
			UID    string
			Series []struct{ UID string }
		}
	}
	if st, _, b := get("rita", a.hubURL+"/api/v1/images/"+dsA, ""); st != 200 || json.Unmarshal(b, &imgs) != nil || imgs.Node != "alpha" || imgs.Access != "view" || len(imgs.Studies) != len(inA) {
		t.Fatalf("images API: %d %s", st, b)
	}
	if st, _, b := get("rita", a.hubURL+"/api/v1/images/"+dsB, ""); st != 403 {
		t.Fatalf("images API for a dataset without a visa: %d %s", st, b)
	}
	out := t.TempDir()
	if _, stderr := run(t, true, "download", "--hub", a.hubURL, "--token", users["rita"], "--node", "alpha", "--study", study, "--out", out); !strings.Contains(stderr, "403") {
		t.Fatalf("cie download with a view visa: %s", stderr)
	}

	// A download visa: the retrieve answers as a ZIP of the study, through the relay.
	request("download", dsA)
	st, h, zb := get("rita", relay+"/studies/"+study, dicomweb.ZipType)
	if st != 200 || h.Get("Content-Type") != dicomweb.ZipType || h.Get("Content-Disposition") != `attachment; filename="study-`+study+`.zip"` {
		t.Fatalf("relayed ZIP: %d %v", st, h)
	}
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatalf("relayed ZIP: %v", err)
	}
	want := map[string]bool{}
	for _, in := range a.qido(t, "/studies/"+study+"/instances") {
		want[in["00080018"]] = true
	}
	if len(zr.File) != len(want) {
		t.Fatalf("ZIP holds %d files, the study %d instances", len(zr.File), len(want))
	}
	if st, _, _ := get("rita", relay+"/studies/"+study+"?accept=application%2Fzip", ""); st != 200 {
		t.Fatalf("ZIP by the accept query parameter: %d", st)
	}
	if st, _, _ := get("rita", relay+"/studies/"+inB[0], dicomweb.ZipType); st != 403 {
		t.Fatalf("ZIP of a study of another dataset: %d", st)
	}
	stdout, stderr := run(t, false, "download", "--hub", a.hubURL, "--token", users["rita"], "--node", "alpha", "--study", study, "--out", out)
	if !strings.Contains(stderr, "received") || !strings.Contains(stdout, "1 of 1 studies") {
		t.Fatalf("cie download: %s %s", stdout, stderr)
	}
	if found := sopsIn(t, filepath.Join(out, study)); !equalKeys(found, want) {
		t.Fatalf("cie download wrote %d instances, the node's index has %d", len(found), len(want))
	}
	outDS := t.TempDir()
	run(t, false, "download", "--hub", a.hubURL, "--token", users["rita"], "--dataset", dsA, "--out", outDS)
	for _, s := range inA {
		if _, err := os.Stat(filepath.Join(outDS, s)); err != nil {
			t.Fatalf("cie download --dataset: study %s missing", s)
		}
	}
	if _, err := os.Stat(filepath.Join(outDS, inB[0])); err == nil {
		t.Fatal("cie download --dataset wrote a study of another dataset")
	}

	// A data holder of another node gets nothing of alpha.
	for _, u := range []string{relay + "/studies", seriesURL + "/metadata", relay + "/studies/" + study} {
		if st, _, b := get("bob", u, ""); st != 403 {
			t.Fatalf("bob (holder of beta): %s: %d %.200s", u, st, b)
		}
	}

	// The passport, presented to the node directly, works until the visas are revoked.
	resp, passport := fetch(t, a.hubURL+"/api/v1/passport?format=jwt", users["rita"], "")
	if resp.StatusCode != 200 || strings.Count(string(passport), ".") != 2 {
		t.Fatalf("passport: %d", resp.StatusCode)
	}
	direct := func() int {
		resp, _ := fetch(t, a.nodeURL+"/dicomweb/studies/"+study+"/series/"+series+"/metadata", string(passport), "")
		return resp.StatusCode
	}
	if st := direct(); st != 200 {
		t.Fatalf("passport at the node: %d", st)
	}
	var visas struct {
		Visas []struct{ JTI, User, Dataset string } `json:"visas"`
	}
	if code, err := getJSON(context.Background(), a.hubURL+"/api/v1/visas", users["holder"], &visas); err != nil || code != 200 {
		t.Fatalf("visas: %d %v", code, err)
	}
	for _, v := range visas.Visas {
		if v.User == "rita" {
			if st, m := postJSON(t, a.hubURL+"/api/v1/visas/"+v.JTI+"/revoke", users["holder"], map[string]string{"reason": "consent withdrawn"}); st != 200 {
				t.Fatalf("revoke: %d %v", st, m)
			}
		}
	}
	viewing("rita", 403)
	if st, _, _ := get("rita", relay+"/studies/"+study, dicomweb.ZipType); st != 403 {
		t.Fatalf("ZIP after revocation: %d", st)
	}
	waitFor(t, 15*time.Second, "the node refuses the revoked passport", func() bool { return direct() == 403 })
	if st, _, b := get("rita", a.hubURL+"/api/v1/images/"+dsA, ""); st != 403 || !strings.Contains(string(b), "revoked") {
		t.Fatalf("images API after revocation: %d %s", st, b)
	}
}

// hubUser is a user made at the hub with cie admin user add.
type hubUser struct{ name, role, node string }

// hubUsers makes users at the hub (password "correct horse battery"), each with an API
// token, and returns the tokens by user name.
func hubUsers(t *testing.T, hubYAML string, us []hubUser) map[string]string {
	t.Helper()
	tokens := map[string]string{}
	for _, u := range us {
		args := []string{"admin", "user", "add", u.name, "--role", u.role, "--password", "correct horse battery", "--hub-config", hubYAML}
		if u.node != "" {
			args = append(args, "--node", u.node)
		}
		cie(t, false, args...)
		tok, _ := run(t, false, "admin", "token", "add", u.name, "--hub-config", hubYAML)
		tokens[u.name] = strings.TrimSpace(tok)
	}
	return tokens
}

// storeSynth sends the generated studies of seed (patients patients, 32×32 slices, 3 a
// series) to the node by STOW-RS.
func (a *archiveNode) storeSynth(t *testing.T, seed uint64, patients int) {
	t.Helper()
	a.storeGenerated(t, synth.Options{Seed: seed, Node: "grant", Patients: patients, Rows: 32, Columns: 32, MinSlices: 3, MaxSlices: 3})
}

// storeGenerated sends the studies synth generates with o to the node by STOW-RS.
func (a *archiveNode) storeGenerated(t *testing.T, o synth.Options) {
	t.Helper()
	g, err := synth.New(o)
	if err != nil {
		t.Fatal(err)
	}
	var parts []dicomweb.Part
	err = g.Walk(func(in *synth.Instance) error {
		var buf bytes.Buffer
		if _, err := in.File.WriteTo(&buf); err != nil {
			return err
		}
		data := buf.Bytes()
		parts = append(parts, dicomweb.Part{Name: in.SOPInstanceUID, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &dicomweb.Client{BaseURL: a.nodeURL + "/dicomweb", Token: a.token}
	if res, err := c.Store(context.Background(), parts); err != nil || res.Failed > 0 {
		t.Fatalf("STOW: %+v %v", res, err)
	}
}

// splitCT returns the node's studies with a CT series and the others; neither is empty.
func (a *archiveNode) splitCT(t *testing.T) (ct, other []string) {
	t.Helper()
	for _, st := range a.qido(t, "/studies?ModalitiesInStudy=CT") {
		ct = append(ct, st["0020000D"])
	}
	for _, st := range a.qido(t, "/studies") {
		if !slices.Contains(ct, st["0020000D"]) {
			other = append(other, st["0020000D"])
		}
	}
	if len(ct) == 0 || len(other) == 0 {
		t.Fatalf("studies with CT: %d, without: %d", len(ct), len(other))
	}
	return ct, other
}

// grantAccess asks for access to dataset of node as the researcher, has a platform
// admin approve the review (if the hub asks for one) and the node's data holder make it
// available, and returns the request's id.
func grantAccess(t *testing.T, hubURL, researcher, admin, holder, node, dataset, model string) string {
	t.Helper()
	st, m := postJSON(t, hubURL+"/api/v1/requests", researcher, map[string]any{"title": "Nodules " + model, "description": "D",
		"purpose": "P", "model": model, "datasets": []string{dataset}})
	if st != 201 {
		t.Fatalf("request: %d %v", st, m)
	}
	id := m["id"].(string)
	if m["state"] == "under_review" {
		if st, m := postJSON(t, hubURL+"/api/v1/requests/"+id+"/review", admin, map[string]bool{"approve": true}); st != 200 {
			t.Fatalf("review: %d %v", st, m)
		}
	}
	if st, m := postJSON(t, hubURL+"/api/v1/requests/"+id+"/parts/"+node+"/"+dataset, holder, map[string]string{"state": "resource_made_available"}); st != 200 {
		t.Fatalf("make available: %d %v", st, m)
	}
	return id
}

// publish makes a published dataset of studies at the node and returns its id.
func (a *archiveNode) publish(t *testing.T, title string, studies []string) string {
	t.Helper()
	st, d := postJSON(t, a.nodeURL+"/api/v1/datasets", a.token, map[string]any{
		"title": title, "description": title + " of generated patients.", "keywords": []string{"test"},
		"cancer_types":  []catalogue.Code{catalogue.Terms(catalogue.KindCancerType)[0].Code},
		"body_parts":    []catalogue.Code{catalogue.Terms(catalogue.KindBodyPart)[0].Code},
		"access_rights": "RESTRICTED", "license": "https://creativecommons.org/licenses/by-nc/4.0/",
		"contact": map[string]string{"email": "data@alpha.example"}, "publisher": map[string]string{"name": "Alpha Hospital"},
		"interoperability_level": "Tier 2", "studies": studies,
	})
	if st != 201 {
		t.Fatalf("create dataset: %d %v", st, d)
	}
	id := d["id"].(string)
	if st, d := postJSON(t, a.nodeURL+"/api/v1/datasets/"+id+"/publish", a.token, nil); st != 200 {
		t.Fatalf("publish: %d %v", st, d)
	}
	return id
}

// postJSON posts body as JSON with a bearer token and decodes the JSON answer.
func postJSON(t *testing.T, url, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// sopsIn returns the SOP Instance UIDs of the DICOM files under dir, read from the
// files themselves.
func sopsIn(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		f, c, err := dicom.ParseFile(p, dicom.ParseOptions{})
		if err != nil {
			return err
		}
		defer c.Close()
		out[f.Dataset.Text(tags.SOPInstanceUID)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
