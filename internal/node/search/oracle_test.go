package search

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/store"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/query"
)

// The SQL evaluation below is the reference the snapshot evaluator is tested against
// (TestAgainstSQL): the same semantics written a second, independent way.

// from is the rows a search looks at: every series of every study of a published dataset.
const from = ` FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id
	JOIN studies st ON st.study_uid = ds.study_uid
	JOIN series se ON se.study_uid = st.study_uid
	WHERE d.state = '` + string(catalogue.StatePublished) + `'`

// sqlDatasets lists the published datasets, by ID, with their names.
func sqlDatasets(ctx context.Context, db *store.DB) ([]Result, error) {
	rows, err := db.Query(ctx, `SELECT id, body FROM datasets WHERE state = ? ORDER BY id`, string(catalogue.StatePublished))
	if err != nil {
		return nil, fmt.Errorf("search: published datasets: %w", err)
	}
	defer rows.Close()
	var out []Result
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("search: published datasets: %w", err)
		}
		var d catalogue.Dataset
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, fmt.Errorf("search: dataset %s: %w", id, err)
		}
		out = append(out, Result{Dataset: id, Name: d.Title, Description: d.Description})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: published datasets: %w", err)
	}
	return out, nil
}

// sqlEvaluate is the reference evaluation of q, in SQL (the evaluator before the snapshot): it evaluates q on every published dataset: one Result per published dataset,
// in the order of their IDs, with zero counts where nothing matches.
func sqlEvaluate(ctx context.Context, db *store.DB, q *query.Query) ([]Result, error) {
	if u := q.Unsupported(Supported); len(u) > 0 {
		return nil, fmt.Errorf("search: %w: %s", ErrUnsupported, strings.Join(u, ", "))
	}
	var b builder
	cond, err := b.node(&q.Root)
	if err != nil {
		return nil, err
	}
	results, err := sqlDatasets(ctx, db)
	if err != nil {
		return nil, err
	}
	type acc struct {
		studies, patients, genders, modalities, parts map[string]bool
	}
	byID := map[string]*acc{}
	for _, r := range results {
		byID[r.Dataset] = &acc{map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}}
	}
	rows, err := db.Query(ctx, `SELECT ds.dataset_id, st.study_uid, st.patient_id, st.sex, se.modality, se.body_part,
		COALESCE((SELECT birth_sex FROM cdm_patient p WHERE p.patient_id = st.patient_id), '')`+from+` AND (`+cond+`)`, b.args...)
	if err != nil {
		return nil, fmt.Errorf("search: evaluating: %w", err)
	}
	defer rows.Close()
	patients := map[string]bool{}
	for rows.Next() {
		var ds, study, patient, dsex, mod, part, sex string
		if err := rows.Scan(&ds, &study, &patient, &dsex, &mod, &part, &sex); err != nil {
			return nil, fmt.Errorf("search: evaluating: %w", err)
		}
		a := byID[ds]
		if a == nil {
			continue // published meanwhile
		}
		a.studies[study] = true
		if !a.patients[patient] {
			a.patients[patient] = true
			patients[patient] = true
			a.genders[gender(sex, dsex)] = true
		}
		if mod != "" {
			a.modalities[mod] = true
		}
		if part != "" {
			a.parts[part] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: evaluating: %w", err)
	}
	rows.Close()
	ages, err := sqlAges(ctx, db, cond, b.args)
	if err != nil {
		return nil, err
	}
	for i := range results {
		r := &results[i]
		a := byID[r.Dataset]
		r.Studies, r.Subjects = len(a.studies), len(a.patients)
		r.Genders, r.Modalities, r.BodyParts = sortedKeys(a.genders), sortedKeys(a.modalities), sortedKeys(a.parts)
		for p := range a.patients {
			ag, ok := ages[p]
			if !ok {
				continue
			}
			if !r.HasAge || ag[0] < r.AgeMin {
				r.AgeMin = ag[0]
			}
			if !r.HasAge || ag[1] > r.AgeMax {
				r.AgeMax = ag[1]
			}
			r.HasAge = true
		}
		if r.HasAge {
			r.AgeMin, r.AgeMax = r.AgeMin/5*5, (r.AgeMax+4)/5*5
		}
	}
	return results, nil
}

// sqlAges returns the least and greatest age at diagnosis of each matching patient.
func sqlAges(ctx context.Context, db *store.DB, cond string, args []any) (map[string][2]int, error) {
	rows, err := db.Query(ctx, `SELECT patient_id, MIN(age_at_diagnosis), MAX(age_at_diagnosis) FROM cdm_cancer_condition
		WHERE age_at_diagnosis IS NOT NULL AND patient_id IN (SELECT st.patient_id`+from+` AND (`+cond+`))
		GROUP BY patient_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("search: ages: %w", err)
	}
	defer rows.Close()
	out := map[string][2]int{}
	for rows.Next() {
		var p string
		var lo, hi int
		if err := rows.Scan(&p, &lo, &hi); err != nil {
			return nil, fmt.Errorf("search: ages: %w", err)
		}
		out[p] = [2]int{lo, hi}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: ages: %w", err)
	}
	return out, nil
}

const published = ` FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id
	JOIN studies st ON st.study_uid = ds.study_uid WHERE d.state = 'published'`

// sqlTotals is the reference count, in SQL, of the node's published subjects and studies.
func sqlTotals(ctx context.Context, db *store.DB) (Totals, error) {
	t := Totals{Modality: map[string]int{}, BodyPart: map[string]int{}, CancerType: map[string]int{}}
	if err := db.QueryRow(ctx, `SELECT COUNT(DISTINCT st.patient_id), COUNT(DISTINCT st.study_uid)`+published).Scan(&t.Subjects, &t.Studies); err != nil {
		return t, fmt.Errorf("search: totals: %w", err)
	}
	names := map[string]string{}
	if k, ok := query.LookupKey("SNOMEDCT439401001"); ok {
		for _, tm := range k.Terms {
			names[tm.Code] = tm.Name
		}
	}
	groups := []struct {
		sql  string
		into map[string]int
		name func(string) string
	}{
		{`SELECT se.modality, COUNT(DISTINCT st.study_uid) FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id
			JOIN studies st ON st.study_uid = ds.study_uid JOIN series se ON se.study_uid = st.study_uid
			WHERE d.state = 'published' AND se.modality <> '' GROUP BY se.modality`, t.Modality, nil},
		{`SELECT se.body_part, COUNT(DISTINCT st.study_uid) FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id
			JOIN studies st ON st.study_uid = ds.study_uid JOIN series se ON se.study_uid = st.study_uid
			WHERE d.state = 'published' AND se.body_part <> '' GROUP BY se.body_part`, t.BodyPart, nil},
		{`SELECT c.code, COUNT(DISTINCT st.patient_id) FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id
			JOIN studies st ON st.study_uid = ds.study_uid JOIN cdm_cancer_condition c ON c.patient_id = st.patient_id
			WHERE d.state = 'published' AND c.code_system = '` + cdm.SystemSNOMED + `' GROUP BY c.code`, t.CancerType, func(code string) string {
			if n, ok := names[code]; ok {
				return n
			}
			return "SNOMED CT " + code
		}},
	}
	for _, g := range groups {
		rows, err := db.Query(ctx, g.sql)
		if err != nil {
			return t, fmt.Errorf("search: totals: %w", err)
		}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return t, fmt.Errorf("search: totals: %w", err)
			}
			if g.name != nil {
				k = g.name(k)
			}
			g.into[k] += n
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return t, fmt.Errorf("search: totals: %w", err)
		}
	}
	return t, nil
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
	// An AND's condition leaves hold on one condition row: written after the other
	// children, as the arguments are bound in the order they are written.
	var parts, conds []string
	var condNodes []*query.Node
	for i := range n.Children {
		ch := &n.Children[i]
		if n.Operand != query.Or && conditionNode(ch) {
			condNodes = append(condNodes, ch)
			continue
		}
		s, err := b.node(ch)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	for _, cn := range condNodes {
		leaves := []*query.Leaf{cn.Leaf}
		if cn.Leaf == nil {
			leaves = leaves[:0]
			for i := range cn.Children {
				leaves = append(leaves, cn.Children[i].Leaf)
			}
		}
		var ors []string
		for _, l := range leaves {
			w, err := b.conditionWhere(l)
			if err != nil {
				return "", err
			}
			ors = append(ors, "("+w+")")
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if len(conds) > 0 {
		parts = append(parts, "("+patientIn("cdm_cancer_condition", strings.Join(conds, " AND "))+")")
	}
	op := " AND "
	if n.Operand == query.Or {
		op = " OR "
	}
	return strings.Join(parts, op), nil
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

// conditionWhere writes a condition leaf as a test of one cdm_cancer_condition row.
func (b *builder) conditionWhere(l *query.Leaf) (string, error) {
	k, _ := query.LookupKey(l.Key)
	if k.Concept == query.ConceptDiagnosis {
		terms, not, err := codes(k, l)
		if err != nil {
			return "", err
		}
		vals := make([]string, len(terms))
		for i, t := range terms {
			vals[i] = t.Code
		}
		w := "code_system = " + b.arg(cdm.SystemSNOMED) + " AND code IN " + b.list(vals)
		if not {
			return "NOT (" + w + ")", nil
		}
		return w, nil
	}
	col := "age_at_diagnosis"
	if k.Concept == query.ConceptYearOfDiagnosis {
		col = "year_of_diagnosis"
	}
	c, err := b.number(col, l)
	if err != nil {
		return "", err
	}
	return col + " IS NOT NULL AND " + c, nil
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
		pats, not, err := manufacturerPatterns(k, l)
		if err != nil {
			return "", err
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

	case query.ConceptAgeAtDiagnosis, query.ConceptYearOfDiagnosis, query.ConceptDiagnosis:
		w, err := b.conditionWhere(l)
		if err != nil {
			return "", err
		}
		return patientIn("cdm_cancer_condition", w), nil

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
