package node

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/synth"
)

// clinicalMapping maps the generated clinical table's sex, diagnosis and age.
const clinicalMapping = `patient_id:
  column: patient_id
  issuers: [ISSUERS]
columns:
  - {column: sex, element: patient.birth_sex, values: {female: SNOMEDCT248152002, male: SNOMEDCT248153007}}
  - {column: cancer_code, element: cancer_condition.code, system: SNOMEDCT, display_column: cancer_display}
  - {column: age_at_diagnosis, element: cancer_condition.age_at_diagnosis}
`

func multipartBody(t *testing.T, fields map[string]string, files map[string][]byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for k, v := range files {
		fw, err := mw.CreateFormFile(k, k+".dat")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(v)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func TestClinicalImport(t *testing.T) {
	w := newAccessWorld(t)
	// The clinical table of the patients ingestSynth stored, with their original IDs.
	g, err := synth.New(synth.Options{Seed: 11, Node: "t", Patients: 4, Rows: 16, Columns: 16, MinSlices: 2, MaxSlices: 2, MaxSeriesPerStudy: 1})
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	if err := synth.WriteClinicalCSV(&csv, g.Clinical()); err != nil {
		t.Fatal(err)
	}
	mapping := strings.Replace(clinicalMapping, "ISSUERS", strings.Join(g.PatientIDIssuers(), ", "), 1)
	post := func(token, ctype string, body []byte) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", w.srv.URL+"/api/v1/clinical/import", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	ct, body := multipartBody(t, nil, map[string][]byte{"file": csv.Bytes(), "mapping": []byte(mapping)})
	if st, b := post(w.tokens["rita"], ct, body); st != http.StatusForbidden {
		t.Fatalf("researcher's import: %d %s", st, b)
	}
	st, b := post(w.tokens["holder"], ct, body)
	var rep cdm.Report
	if st != 200 || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("import: %d %s", st, b)
	}
	ni := len(g.PatientIDIssuers())
	if rep.Records != 4*ni || rep.ProblemCount != 0 || rep.Totals["cdm_cancer_condition"] != 4*ni {
		t.Fatalf("report: %s", b)
	}
	// Every patient of the index now has clinical data.
	c, err := w.n.archive.Index().Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if linked, err := w.n.clinical.Store.LinkedPatients(t.Context()); err != nil || int64(linked) != c.Patients {
		t.Fatalf("%d linked patients, the index has %d (%v)", linked, c.Patients, err)
	}
	// A CSV without a mapping, and a bad bundle, are 400s.
	ct2, body2 := multipartBody(t, nil, map[string][]byte{"file": csv.Bytes()})
	if st, b := post(w.tokens["holder"], ct2, body2); st != 400 || !strings.Contains(string(b), "needs a mapping") {
		t.Fatalf("no mapping: %d %s", st, b)
	}
	if st, b := post(w.tokens["holder"], "application/fhir+json", []byte(`{"resourceType":"Patient"}`)); st != 400 || !strings.Contains(string(b), "want Bundle") {
		t.Fatalf("not a bundle: %d %s", st, b)
	}
	// A bundle as the body, IDs pseudonymized already: joins the same patients.
	bundle := `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"x","identifier":[{"value":"CIETESTONLY"}],"gender":"female"}}]}`
	req, _ := http.NewRequest("POST", w.srv.URL+"/api/v1/clinical/import?pseudonymized=true&source=b.json", strings.NewReader(bundle))
	req.Header.Set("Authorization", "Bearer "+w.tokens["holder"])
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var brep cdm.Report
	if resp.StatusCode != 200 || json.Unmarshal(b, &brep) != nil || brep.Changes["cdm_patient"].Inserted != 1 || brep.Format != cdm.FormatFHIR {
		t.Fatalf("bundle: %d %s", resp.StatusCode, b)
	}

	// The page: counts, the joined studies, the imports; its form checks CSRF.
	get := func(user, path string) (int, string) {
		req, _ := http.NewRequest("GET", w.srv.URL+path, nil)
		req.AddCookie(w.cookies[user])
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, page := get("holder", "/clinical")
	if st != 200 || !strings.Contains(page, `data-count="linked">`+strconv.FormatInt(c.Patients, 10)+`<`) || !strings.Contains(page, "b.json") ||
		!strings.Contains(page, `id="clinical-studies"`) {
		t.Fatalf("clinical page: %d\n%s", st, page)
	}
	if st, _ := get("rita", "/clinical"); st == 200 {
		t.Fatal("a researcher sees the clinical page")
	}
	csrf := between(page, `name="csrf" value="`, `"`)
	form := func(fields map[string]string, files map[string][]byte) (int, string) {
		ct, body := multipartBody(t, fields, files)
		req, _ := http.NewRequest("POST", w.srv.URL+"/clinical/import", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.AddCookie(w.cookies["holder"])
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	bad := []byte("patient_id,sex,cancer_code,cancer_display,age_at_diagnosis\nP1,female,254837009,Breast Cancer,61\nP2,other,254837009,Breast Cancer,61\n")
	if st, _ := form(map[string]string{"csrf": "wrong"}, map[string][]byte{"file": bad, "mapping": []byte(mapping)}); st != http.StatusForbidden {
		t.Fatalf("form without its CSRF token: %d", st)
	}
	st, page = form(map[string]string{"csrf": csrf}, map[string][]byte{"file": bad, "mapping": []byte(mapping)})
	if st != 200 || !strings.Contains(page, `id="clinical-report"`) || !strings.Contains(page, `<tr data-line="3">`) ||
		!strings.Contains(page, "value &#34;other&#34; of column sex is not in its value map") {
		t.Fatalf("form import: %d\n%s", st, page)
	}
}
