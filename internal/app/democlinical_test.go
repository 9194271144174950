package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/synth"
)

// TestDemoClinicalMapping checks that the demo's mapping reads every line of a demo
// node's generated clinical table.
func TestDemoClinicalMapping(t *testing.T) {
	g, err := synth.New(DemoSynth("valencia", 20))
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	if err := synth.WriteClinicalCSV(&csv, g.Clinical()); err != nil {
		t.Fatal(err)
	}
	m, err := cdm.ReadMapping(strings.NewReader(strings.Replace(demoClinicalMapping, "ISSUERS", strings.Join(g.PatientIDIssuers(), ", "), 1)))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := deid.NewPseudonyms([]byte("demo-clinical-test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cdm.ParseCSV(&csv, m, cdm.Identity{Pseudonyms: ps})
	if err != nil {
		t.Fatal(err)
	}
	if p.Lines != 20 || p.ProblemCount != 0 || len(p.Records) != 20*len(g.PatientIDIssuers()) {
		t.Fatalf("%d lines, %d records, problems %v", p.Lines, len(p.Records), p.Problems)
	}
	for _, r := range p.Records {
		if r.Patient.BirthSex == "" || len(r.Conditions) != 1 || r.Conditions[0].AgeAtDiagnosis == nil || len(r.Stages) != 3 {
			t.Fatalf("line %d: %+v", r.Line, r)
		}
	}
}
