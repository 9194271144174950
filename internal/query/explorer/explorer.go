package explorer

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Criterion is one code a coded category takes.
type Criterion struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Category is one search key: its field type ("single-select",
// "autocomplete", "number"), the operator the explorer uses for it ("EQUALS",
// "BETWEEN"), an optional lower bound of numbers, and its criteria.
type Category struct {
	Key       string      `json:"key"`
	Name      string      `json:"name"`
	System    string      `json:"system"`
	FieldType string      `json:"fieldType"`
	Type      string      `json:"type"`
	Min       *float64    `json:"min"`
	Criteria  []Criterion `json:"criteria"`
}

// Group is a heading of the explorer ("patient", "imaging", …) and its categories.
type Group struct {
	Key             string     `json:"key"`
	Name            string     `json:"name"`
	ChildCategories []Category `json:"childCategories"`
}

// Read parses the file at path.
func Read(path string) ([]Group, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var groups []Group
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return groups, nil
}

// Code systems of the explorer's keys, by the URIs HL7 FHIR uses for them
// where it names one.
const (
	SystemSNOMED = "http://snomed.info/sct"
	SystemRadLex = "http://radlex.org"
	// SystemNCIt is the NCI Thesaurus (codes C<n>).
	SystemNCIt = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
	// SystemBIRNLex is the BIRN lexicon, as the explorer's manufacturer
	// category names it.
	SystemBIRNLex = "http://bioontology.org/projects/ontologies/birnlex"
	// SystemHyperOntology is the EUCAIM hyper-ontology, version 1.0, whose
	// keys the explorer writes HyperOntologyPrefix + code. The explorer's file
	// gives it no URI: this URN is cie's name for it.
	SystemHyperOntology = "urn:eucaim:hyper-ontology:V1.0"
)

// HyperOntologyPrefix begins every EUCAIM hyper-ontology key of the explorer.
const HyperOntologyPrefix = "EUCAIM_Hyper-Ontology_V1.0."

var (
	snomedKey = regexp.MustCompile(`^SNOMEDCT([0-9]{6,18})$`)
	radlexKey = regexp.MustCompile(`^RID[0-9]+$`)
	ncitKey   = regexp.MustCompile(`^C[0-9]+$`)
	birnKey   = regexp.MustCompile(`^birnlex_[0-9]+$`)
	hyperCode = regexp.MustCompile(`^[A-Z]+[0-9]+$`)
)

// System splits an explorer key into its code system and the bare code in
// it: "SNOMEDCT254837009" is SNOMED CT 254837009, "RID10312" RadLex RID10312,
// "C25392" NCIt C25392, "birnlex_3066" BIRNLex birnlex_3066 and
// "EUCAIM_Hyper-Ontology_V1.0.CLIN1033379" hyper-ontology CLIN1033379.
func System(key string) (system, code string, err error) {
	if m := snomedKey.FindStringSubmatch(key); m != nil {
		return SystemSNOMED, m[1], nil
	}
	switch {
	case radlexKey.MatchString(key):
		return SystemRadLex, key, nil
	case ncitKey.MatchString(key):
		return SystemNCIt, key, nil
	case birnKey.MatchString(key):
		return SystemBIRNLex, key, nil
	}
	if c, ok := strings.CutPrefix(key, HyperOntologyPrefix); ok && hyperCode.MatchString(c) {
		return SystemHyperOntology, c, nil
	}
	return "", "", fmt.Errorf("key %q is of no known code system (SNOMEDCT<sctid>, RID<n>, C<n>, birnlex_<n>, %s<code>)", key, HyperOntologyPrefix)
}
