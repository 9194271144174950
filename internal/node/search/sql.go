package search

import (
	"fmt"
	"strings"

	"github.com/cancerimage/cie/internal/cdm"
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

// builder turns a query into a SQL condition on one row of series se of study st.
type builder struct {
	args []any
}

func (b *builder) arg(v any) string { b.args = append(b.args, v); return "?" }

func (b *builder) list(vals []string) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = b.arg(v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// node writes an inner node or a leaf. An inner node without children is true.
func (b *builder) node(n *query.Node) (string, error) {
	if n.Leaf != nil {
		return b.leaf(n.Leaf)
	}
	if len(n.Children) == 0 {
		return "1 = 1", nil
	}
	parts := make([]string, len(n.Children))
	for i := range n.Children {
		s, err := b.node(&n.Children[i])
		if err != nil {
			return "", err
		}
		parts[i] = "(" + s + ")"
	}
	op := " AND "
	if n.Operand == query.Or {
		op = " OR "
	}
	return strings.Join(parts, op), nil
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

// number writes a numeric leaf on col.
func (b *builder) number(col string, l *query.Leaf) (string, error) {
	switch l.Type {
	case query.Between:
		var c []string
		if l.Min != nil {
			c = append(c, col+" >= "+b.arg(*l.Min))
		}
		if l.Max != nil {
			c = append(c, col+" <= "+b.arg(*l.Max))
		}
		if len(c) == 0 {
			return col + " IS NOT NULL", nil
		}
		return strings.Join(c, " AND "), nil
	case query.Equals:
		return col + " = " + b.arg(l.Number), nil
	case query.NotEquals:
		return col + " <> " + b.arg(l.Number), nil
	case query.LowerThan:
		return col + " < " + b.arg(l.Number), nil
	case query.LowerThanOrEqual:
		return col + " <= " + b.arg(l.Number), nil
	case query.GreaterThan:
		return col + " > " + b.arg(l.Number), nil
	case query.GreaterThanOrEqual:
		return col + " >= " + b.arg(l.Number), nil
	}
	return "", fmt.Errorf("search: key %s: operator %s on numbers", l.Key, l.Type)
}

// likeEscape escapes LIKE's wildcards with '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// patientIn writes "the study's patient is one of" a set selected from a CDM table: a
// subquery that does not depend on the row, so both engines evaluate it once.
func patientIn(table, where string) string {
	return "st.patient_id IN (SELECT patient_id FROM " + table + " WHERE " + where + ")"
}

// leaf writes one condition. Series keys test the row's series; the others its
// patient's clinical data. NOT_EQUALS needs a known value that differs.
func (b *builder) leaf(l *query.Leaf) (string, error) {
	k, ok := query.LookupKey(l.Key)
	if !ok {
		return "", fmt.Errorf("search: unknown key %s", l.Key)
	}
	switch k.Concept {
	case query.ConceptModality, query.ConceptBodyPart:
		col := "se.modality"
		if k.Concept == query.ConceptBodyPart {
			col = "se.body_part"
		}
		terms, not, err := codes(k, l)
		if err != nil {
			return "", err
		}
		vals := make([]string, len(terms))
		for i, t := range terms {
			vals[i] = t.DICOM
		}
		if not {
			return col + " <> '' AND " + col + " NOT IN " + b.list(vals), nil
		}
		return col + " IN " + b.list(vals), nil

	case query.ConceptManufacturer:
		// The vocabulary's DICOM value is what Manufacturer contains, upper case.
		var pats []string
		not := false
		if l.Type == query.Contains {
			pats = []string{strings.ToUpper(l.Text)}
		} else {
			terms, n, err := codes(k, l)
			if err != nil {
				return "", err
			}
			not = n
			for _, t := range terms {
				pats = append(pats, t.DICOM)
			}
		}
		var ors []string
		for _, p := range pats {
			ors = append(ors, `UPPER(se.manufacturer) LIKE `+b.arg("%"+likeEscape(p)+"%")+` ESCAPE '\'`)
		}
		s := strings.Join(ors, " OR ")
		if not {
			return "se.manufacturer <> '' AND NOT (" + s + ")", nil
		}
		return s, nil

	case query.ConceptSex:
		terms, not, err := codes(k, l)
		if err != nil {
			return "", err
		}
		// The CDM's birth sex; for a patient without one, the DICOM Patient's Sex the
		// index keeps (if the de-identification retained it).
		var cdmCodes, dicomVals []string
		for _, t := range terms {
			cdmCodes = append(cdmCodes, t.Code)
			if t.DICOM != "" {
				dicomVals = append(dicomVals, t.DICOM)
			}
		}
		noCDM := "st.patient_id NOT IN (SELECT patient_id FROM cdm_patient WHERE birth_sex <> '')"
		if not {
			s := patientIn("cdm_patient", "birth_sex <> '' AND birth_sex NOT IN "+b.list(cdmCodes))
			dv := "st.sex <> ''"
			if len(dicomVals) > 0 {
				dv += " AND st.sex NOT IN " + b.list(dicomVals)
			}
			return s + " OR (" + dv + " AND " + noCDM + ")", nil
		}
		s := patientIn("cdm_patient", "birth_sex IN "+b.list(cdmCodes))
		if len(dicomVals) > 0 {
			s += " OR (st.sex IN " + b.list(dicomVals) + " AND " + noCDM + ")"
		}
		return s, nil

	case query.ConceptAgeAtDiagnosis, query.ConceptYearOfDiagnosis:
		col := "age_at_diagnosis"
		if k.Concept == query.ConceptYearOfDiagnosis {
			col = "year_of_diagnosis"
		}
		c, err := b.number(col, l)
		if err != nil {
			return "", err
		}
		return patientIn("cdm_cancer_condition", col+" IS NOT NULL AND "+c), nil

	case query.ConceptDiagnosis:
		terms, not, err := codes(k, l)
		if err != nil {
			return "", err
		}
		vals := make([]string, len(terms))
		for i, t := range terms {
			vals[i] = t.Code
		}
		sys := b.arg(cdm.SystemSNOMED)
		if not {
			return patientIn("cdm_cancer_condition", "NOT (code_system = "+sys+" AND code IN "+b.list(vals)+")"), nil
		}
		return patientIn("cdm_cancer_condition", "code_system = "+sys+" AND code IN "+b.list(vals)), nil

	case query.ConceptTumorMarker:
		tests := append([]string{k.Key, k.Code}, markerTests[k.Code]...)
		where := "code IN " + b.list(tests)
		if k.Field == query.FieldNumber {
			c, err := b.number("value_num", l)
			if err != nil {
				return "", err
			}
			return patientIn("cdm_tumor_marker_test", where+" AND value_num IS NOT NULL AND "+c), nil
		}
		terms, not, err := codes(k, l)
		if err != nil {
			return "", err
		}
		var vcodes, texts []string
		for _, t := range terms {
			vcodes = append(vcodes, t.Key, t.Code)
			if s, ok := markerValues[t.Code]; ok {
				vcodes = append(vcodes, s)
			}
			texts = append(texts, strings.ToLower(t.Name))
		}
		match := "(value_code IN " + b.list(vcodes) + " OR (value_code = '' AND LOWER(value_text) IN " + b.list(texts) + "))"
		if not {
			return patientIn("cdm_tumor_marker_test", where+" AND (value_code <> '' OR value_text <> '') AND NOT "+match), nil
		}
		return patientIn("cdm_tumor_marker_test", where+" AND "+match), nil

	case query.ConceptHistologicGrade, query.ConceptCancerStage:
		table := "cdm_histologic_grade"
		if k.Concept == query.ConceptCancerStage {
			table = "cdm_cancer_stage"
		}
		terms, not, err := codes(k, l)
		if err != nil {
			return "", err
		}
		var vcodes []string
		for _, t := range terms {
			vcodes = append(vcodes, t.Key, t.Code)
		}
		if not {
			// Other values of the same scale: any value of a term of the key.
			var all []string
			for _, t := range k.Terms {
				all = append(all, t.Key, t.Code)
			}
			return patientIn(table, "value_code IN "+b.list(all)+" AND value_code NOT IN "+b.list(vcodes)), nil
		}
		return patientIn(table, "value_code IN "+b.list(vcodes)), nil
	}
	return "", fmt.Errorf("search: key %s (%s) is not evaluated here", l.Key, k.Name)
}
