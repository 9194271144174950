package search

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/query"
)

func mustParse(t testing.TB, s string) *query.Query {
	t.Helper()
	q, err := query.Parse([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return q
}

const (
	// The example: women aged 40–60 with breast cancer who have an MR of the breast.
	qBreastMR = `{"ast":{"operand":"AND","children":[
		{"key":"SNOMEDCT263495000","type":"EQUALS","value":"SNOMEDCT248152002"},
		{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40,"max":60}},
		{"key":"SNOMEDCT439401001","type":"EQUALS","value":"SNOMEDCT254837009"},
		{"key":"RID10311","type":"EQUALS","value":"RID10312"},
		{"key":"SNOMEDCT123037004","type":"EQUALS","value":"SNOMEDCT76752008"}]}}`
	qEverything = `{"ast":{"operand":"OR","children":[]}}`
)

func TestEvaluate(t *testing.T) {
	breast, ok := query.LookupKey("SNOMEDCT123037004")
	if !ok {
		t.Fatal("no body part key")
	}
	var breastPart string
	for _, tm := range breast.Terms {
		if tm.Key == "SNOMEDCT76752008" {
			breastPart = tm.DICOM
		}
	}
	if breastPart != "BREAST" {
		t.Fatalf("body part SNOMEDCT76752008 is %q in the vocabulary", breastPart)
	}
	stageCode := func(c string) string { return c[strings.LastIndex(c, ".")+1:] }
	cases := []struct {
		name  string
		q     string
		match func(r row) bool
	}{
		{"breast MR", qBreastMR, func(r row) bool {
			c := r.p.Clinical
			return c.Sex == "female" && c.AgeAtDiagnosis >= 40 && c.AgeAtDiagnosis <= 60 && c.CancerCode == "254837009" &&
				r.se.Modality == "MR" && r.se.BodyPart == "BREAST"
		}},
		{"everything", qEverything, func(r row) bool { return true }},
		{"PET or lung cancer", `{"ast":{"operand":"OR","children":[
			{"key":"RID10311","type":"EQUALS","value":"RID10337"},
			{"key":"SNOMEDCT439401001","type":"EQUALS","value":"SNOMEDCT363358000"}]}}`, func(r row) bool {
			return r.se.Modality == "PT" || r.p.Clinical.CancerCode == "363358000"
		}},
		{"not male, diagnosed before 2020", `{"ast":{"operand":"AND","children":[
			{"key":"SNOMEDCT263495000","type":"NOT_EQUALS","value":"SNOMEDCT248153007"},
			{"key":"SNOMEDCT432213005","type":"LOWER_THAN","value":2020}]}}`, func(r row) bool {
			return r.p.Clinical.Sex == "female" && r.p.Clinical.YearOfDiagnosis < 2020
		}},
		{"Siemens MR or CT", `{"ast":{"operand":"AND","children":[
			{"key":"C25392","type":"CONTAINS","value":"siemens"},
			{"key":"RID10311","type":"IN","value":["RID10312","RID10321"]}]}}`, func(r row) bool {
			return strings.Contains(strings.ToUpper(r.manu), "SIEMENS") && (r.se.Modality == "MR" || r.se.Modality == "CT")
		}},
		{"ER positive, cT2", `{"ast":{"operand":"AND","children":[
			{"key":"EUCAIM_Hyper-Ontology_V1.0.CLIN1045815","type":"EQUALS","value":"EUCAIM_Hyper-Ontology_V1.0.COM1001310"},
			{"key":"EUCAIM_Hyper-Ontology_V1.0.CLIN1033379","type":"EQUALS","value":"EUCAIM_Hyper-Ontology_V1.0.COM1000351"}]}}`, func(r row) bool {
			return r.p.Clinical.ER == "positive" && stageCode(r.p.Clinical.TCode) == "COM1000351"
		}},
		{"PSA above 10 or HER2 3+", `{"ast":{"operand":"OR","children":[
			{"key":"EUCAIM_Hyper-Ontology_V1.0.CLIN1033410","type":"GREATER_THAN","value":10},
			{"key":"EUCAIM_Hyper-Ontology_V1.0.CLIN1045851","type":"EQUALS","value":"EUCAIM_Hyper-Ontology_V1.0.COM1001882"}]}}`, func(r row) bool {
			return r.p.Clinical.PSA > 10 || r.p.Clinical.HER2 == "3+"
		}},
	}
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		nonzero := 0
		for _, tc := range cases {
			start := time.Now()
			res, err := f.ev.Evaluate(ctx, mustParse(t, tc.q))
			took := time.Since(start)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if len(res) != 2 || res[0].Dataset > res[1].Dataset {
				t.Fatalf("%s: %d results (want the 2 published datasets, by ID): %+v", tc.name, len(res), res)
			}
			for _, r := range res {
				subj, stud := f.expect(r.Dataset, tc.match)
				if r.Subjects != subj || r.Studies != stud {
					t.Errorf("%s, dataset %s: %d subjects, %d studies; want %d, %d", tc.name, r.Name, r.Subjects, r.Studies, subj, stud)
				}
				if stud > 0 {
					nonzero++
				}
				if (r.Studies == 0) != (len(r.Modalities) == 0) {
					t.Errorf("%s, %s: modalities %v for %d studies", tc.name, r.Name, r.Modalities, r.Studies)
				}
			}
			t.Logf("%s: %d, %d subjects; %d, %d studies; %v", tc.name, res[0].Subjects, res[1].Subjects, res[0].Studies, res[1].Studies, took)
		}
		if nonzero < 10 {
			t.Errorf("only %d of the %d answers are not empty: the test data does not exercise the queries", nonzero, 2*len(cases))
		}
	})
}

// TestEvaluateDetails checks the breast example's attributes against the generator.
func TestEvaluateDetails(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		res, err := f.ev.Evaluate(context.Background(), mustParse(t, qBreastMR))
		if err != nil {
			t.Fatal(err)
		}
		var mr *Result
		for i := range res {
			if res[i].Dataset == f.mr {
				mr = &res[i]
			}
		}
		if mr == nil || mr.Studies == 0 {
			t.Fatalf("no MR answer to the breast example: %+v", res)
		}
		lo, hi := 200, -1
		for _, r := range f.rows {
			c := r.p.Clinical
			if c.Sex == "female" && c.AgeAtDiagnosis >= 40 && c.AgeAtDiagnosis <= 60 && c.CancerCode == "254837009" && r.se.Modality == "MR" && r.se.BodyPart == "BREAST" {
				lo, hi = min(lo, c.AgeAtDiagnosis), max(hi, c.AgeAtDiagnosis)
			}
		}
		if !mr.HasAge || mr.AgeMin != lo/5*5 || mr.AgeMax != (hi+4)/5*5 {
			t.Errorf("age range %d–%d (%v), want %d–%d rounded out to 5 years", mr.AgeMin, mr.AgeMax, mr.HasAge, lo, hi)
		}
		if strings.Join(mr.Genders, ",") != "female" || strings.Join(mr.Modalities, ",") != "MR" || strings.Join(mr.BodyParts, ",") != "BREAST" {
			t.Errorf("genders %v, modalities %v, body parts %v", mr.Genders, mr.Modalities, mr.BodyParts)
		}
		if mr.Name != "MR studies" {
			t.Errorf("name %q", mr.Name)
		}
	})
}

func TestUnsupportedKey(t *testing.T) {
	q := mustParse(t, `{"ast":{"operand":"AND","children":[
		{"key":"EUCAIM_Hyper-Ontology_V1.0.IMG1005459","type":"EQUALS","value":"EUCAIM_Hyper-Ontology_V1.0.IMG1005465"},
		{"key":"RID10311","type":"EQUALS","value":"RID10312"}]}}`)
	if u := q.Unsupported(Supported); strings.Join(u, ",") != "EUCAIM_Hyper-Ontology_V1.0.IMG1005459" {
		t.Errorf("unsupported %v", u)
	}
	if _, err := NewEvaluator(nil).Evaluate(context.Background(), q); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "IMG1005459") {
		t.Errorf("evaluating a BI-RADS query: %v", err)
	}
	for _, k := range query.Keys() {
		kk, _ := query.LookupKey(k)
		if Supported(k) != (kk.Concept != query.ConceptTumorAssessment) {
			t.Errorf("Supported(%s) = %v", k, Supported(k))
		}
	}
}
