package search

import (
	"context"
	"fmt"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/query"
)

// Totals are a node's public totals over its published datasets (before suppression).
type Totals struct {
	Subjects, Studies int
	// Modality and BodyPart count studies with a series of each DICOM value;
	// CancerType counts subjects with a condition of each diagnosis, named as the
	// explorer's vocabulary names it ("Breast Cancer"), or "SNOMED CT <code>".
	Modality, BodyPart, CancerType map[string]int
}

const published = ` FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id
	JOIN studies st ON st.study_uid = ds.study_uid WHERE d.state = 'published'`

// Totals counts the node's published subjects and studies.
func (e *Evaluator) Totals(ctx context.Context) (Totals, error) {
	t := Totals{Modality: map[string]int{}, BodyPart: map[string]int{}, CancerType: map[string]int{}}
	if err := e.db.QueryRow(ctx, `SELECT COUNT(DISTINCT st.patient_id), COUNT(DISTINCT st.study_uid)`+published).Scan(&t.Subjects, &t.Studies); err != nil {
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
		rows, err := e.db.Query(ctx, g.sql)
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
