package explorer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystem(t *testing.T) {
	for key, want := range map[string][2]string{
		"SNOMEDCT254837009":                      {SystemSNOMED, "254837009"},
		"RID10312":                               {SystemRadLex, "RID10312"},
		"C25392":                                 {SystemNCIt, "C25392"},
		"birnlex_3066":                           {SystemBIRNLex, "birnlex_3066"},
		"EUCAIM_Hyper-Ontology_V1.0.CLIN1033379": {SystemHyperOntology, "CLIN1033379"},
	} {
		sys, code, err := System(key)
		if err != nil || sys != want[0] || code != want[1] {
			t.Errorf("System(%q) = %q, %q, %v; want %q, %q", key, sys, code, err, want[0], want[1])
		}
	}
	for _, bad := range []string{"", "SNOMEDCT12", "ICD10C34", "RID", "EUCAIM_Hyper-Ontology_V1.0.", "EUCAIM_Hyper-Ontology_V2.0.CLIN1", "birnlex_x", "c25392"} {
		if _, _, err := System(bad); err == nil {
			t.Errorf("System(%q): no error", bad)
		}
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	src := `[{"key":"imaging","name":"Image","childCategories":[{"key":"RID10311","name":"Modality","system":"s","fieldType":"single-select","type":"EQUALS","criteria":[{"key":"RID10312","name":"MRI","description":"d"}]},{"key":"X","name":"n","fieldType":"number","type":"BETWEEN","min":0,"criteria":[]}]}]`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 1 || len(g[0].ChildCategories) != 2 {
		t.Fatalf("groups %+v", g)
	}
	c := g[0].ChildCategories
	if c[0].FieldType != "single-select" || c[0].Type != "EQUALS" || c[0].Criteria[0].Key != "RID10312" || c[0].Min != nil {
		t.Errorf("category %+v", c[0])
	}
	if c[1].Min == nil || *c[1].Min != 0 {
		t.Errorf("min of %+v", c[1])
	}
	if err := os.WriteFile(p, []byte(`{`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("bad JSON: %v, want an error naming the file", err)
	}
	if _, err := Read(filepath.Join(dir, "absent")); err == nil {
		t.Error("absent file: no error")
	}
}
