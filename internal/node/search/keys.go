package search

import (
	"fmt"
	"strings"

	"github.com/cancerimage/cie/internal/query"
)

// Supported reports whether the node can evaluate key: every key of the vocabulary
// except the tumour assessments (BI-RADS, PI-RADS), which the CDM has no table for.
func Supported(key string) bool {
	k, ok := query.LookupKey(key)
	return ok && k.Concept != query.ConceptTumorAssessment
}

// markerTests are the test codes a tumour marker key of the vocabulary (EUCAIM
// hyper-ontology) matches in cdm_tumor_marker_test.code, beside the key's own codes:
// the LOINC code the hyper-ontology concept names (its display is the LOINC long
// name) and the LOINC interpretation codes clinical tables use (the demo's mapping).
var markerTests = map[string][]string{
	"CLIN1045815": {"85337-4", "16112-5"}, // estrogen receptor
	"CLIN1046085": {"85339-0", "16113-3"}, // progesterone receptor
	"CLIN1045851": {"85319-2", "48676-1"}, // HER2
	"CLIN1033410": {"2857-1"},             // PSA
	"CLIN1045913": {"85330-9"},            // Ki-67
}

// markerValues are the SNOMED CT codes of the hyper-ontology's coded marker results.
var markerValues = map[string]string{
	"COM1001310": "10828004",  // positive
	"COM1001332": "260385009", // negative
}

// codes lists the terms a coded leaf names, and whether the leaf negates them.
func codes(k *query.Key, l *query.Leaf) ([]query.Term, bool, error) {
	var keys []string
	switch l.Type {
	case query.Equals, query.NotEquals:
		keys = []string{l.Code}
	case query.In:
		keys = l.Codes
	default:
		return nil, false, fmt.Errorf("search: key %s: operator %s on codes", l.Key, l.Type)
	}
	out := make([]query.Term, 0, len(keys))
	for _, c := range keys {
		t, ok := k.Term(c)
		if !ok {
			return nil, false, fmt.Errorf("search: key %s: unknown code %s", l.Key, c)
		}
		out = append(out, t)
	}
	return out, l.Type == query.NotEquals, nil
}

// manufacturerPatterns lists what a manufacturer leaf looks for in the Manufacturer
// (upper case): the CONTAINS text, or the DICOM values of the codes (the vocabulary's
// text each manufacturer's name contains), and whether the leaf negates them.
func manufacturerPatterns(k *query.Key, l *query.Leaf) ([]string, bool, error) {
	if l.Type == query.Contains {
		return []string{strings.ToUpper(l.Text)}, false, nil
	}
	terms, not, err := codes(k, l)
	if err != nil {
		return nil, false, err
	}
	pats := make([]string, len(terms))
	for i, t := range terms {
		pats[i] = t.DICOM
	}
	return pats, not, nil
}
