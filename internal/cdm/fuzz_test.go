package cdm_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/cancerimage/cie/internal/cdm"
)

// FuzzParseCSV feeds arbitrary files to the CSV parser with the template mapping: it
// must never panic, and every problem names a line of the input.
func FuzzParseCSV(f *testing.F) {
	for _, name := range []string{"testdata/bad.csv"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("mrn,gender,dx,age,dx_date,grade,psa,study,note\n\"a\"\"b\",F,C50,1,20200101,G1,1e308,1.2,\n"))
	f.Add([]byte("\ufeffmrn,gender,dx,age,dx_date,grade,psa,study,note\r\nP,M,C61,-1,2020-02-31,G3,NaN,..,\r\n"))
	m, err := cdm.ReadMapping(bytes.NewReader(mustRead(f, "testdata/template-mapping.csv")))
	if err != nil {
		f.Fatal(err)
	}
	ps := pseudonyms(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := cdm.ParseCSV(bytes.NewReader(data), m, cdm.Identity{Pseudonyms: ps})
		if err != nil {
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, pr := range p.Problems {
			if pr.Line < 1 || pr.Line > lines || pr.Reason == "" {
				t.Fatalf("problem %+v of a %d-line input", pr, lines)
			}
		}
		for _, r := range p.Records {
			if r.Patient == nil || r.Patient.ID == "" {
				t.Fatalf("record without a patient: %+v", r)
			}
		}
	})
}

// FuzzParseBundle feeds arbitrary JSON to the FHIR parser.
func FuzzParseBundle(f *testing.F) {
	f.Add(mustRead(f, "testdata/bundle.json"))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"x","birthDate":"19"}},{"resource":{"resourceType":"Condition","subject":{"reference":"Patient/x"},"code":{"coding":[{"code":"1"}]},"onsetAge":{"value":1e300}}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[null,{},{"resource":null},{"resource":{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"2857-1"}]},"valueQuantity":{}}}]}`))
	ps := pseudonyms(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := cdm.ParseBundle(bytes.NewReader(data), cdm.BundleOptions{}, cdm.Identity{Pseudonyms: ps})
		if err != nil {
			return
		}
		for _, pr := range p.Problems {
			if pr.Line < 1 || pr.Line > p.Lines {
				t.Fatalf("problem %+v of %d entries", pr, p.Lines)
			}
		}
		for _, r := range p.Records {
			for _, c := range r.Conditions {
				if c.AgeAtDiagnosis != nil && (*c.AgeAtDiagnosis < 0 || *c.AgeAtDiagnosis > 130) {
					t.Fatalf("age %d", *c.AgeAtDiagnosis)
				}
			}
		}
	})
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
