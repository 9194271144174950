package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/query"
	"github.com/cancerimage/cie/internal/store"
)

// Evaluator evaluates searches on a node's store: its index, datasets and CDM.
type Evaluator struct {
	db *store.DB
}

// NewEvaluator returns the evaluator of the node's store db.
func NewEvaluator(db *store.DB) *Evaluator { return &Evaluator{db: db} }

// Result is what a query matches in one published dataset, before disclosure control.
type Result struct {
	Dataset     string
	Name        string
	Description string
	// Subjects counts distinct patient pseudonyms, Studies distinct studies.
	Subjects, Studies int
	// AgeMin and AgeMax bound the ages at diagnosis of the matching subjects, in
	// whole years, rounded outward to multiples of 5; HasAge is false when none is known.
	AgeMin, AgeMax int
	HasAge         bool
	// Genders are the sexes of the matching subjects ("female", "male", "other",
	// "unknown"), Modalities and BodyParts the DICOM values of the matching series;
	// each sorted.
	Genders, Modalities, BodyParts []string
}

// from is the rows a search looks at: every series of every study of a published dataset.
const from = ` FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id
	JOIN studies st ON st.study_uid = ds.study_uid
	JOIN series se ON se.study_uid = st.study_uid
	WHERE d.state = '` + string(catalogue.StatePublished) + `'`

// Datasets lists the published datasets, by ID, with their names.
func (e *Evaluator) Datasets(ctx context.Context) ([]Result, error) {
	rows, err := e.db.Query(ctx, `SELECT id, body FROM datasets WHERE state = ? ORDER BY id`, string(catalogue.StatePublished))
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

// ErrUnsupported is wrapped by Evaluate's error for a query with a key the node does
// not evaluate (see Supported).
var ErrUnsupported = errors.New("key not evaluated by this node")

// Evaluate evaluates q on every published dataset: one Result per published dataset,
// in the order of their IDs, with zero counts where nothing matches.
func (e *Evaluator) Evaluate(ctx context.Context, q *query.Query) ([]Result, error) {
	if u := q.Unsupported(Supported); len(u) > 0 {
		return nil, fmt.Errorf("search: %w: %s", ErrUnsupported, strings.Join(u, ", "))
	}
	var b builder
	cond, err := b.node(&q.Root)
	if err != nil {
		return nil, err
	}
	results, err := e.Datasets(ctx)
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
	rows, err := e.db.Query(ctx, `SELECT ds.dataset_id, st.study_uid, st.patient_id, st.sex, se.modality, se.body_part,
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
	ages, err := e.ages(ctx, cond, b.args)
	if err != nil {
		return nil, err
	}
	for i := range results {
		r := &results[i]
		a := byID[r.Dataset]
		r.Studies, r.Subjects = len(a.studies), len(a.patients)
		r.Genders, r.Modalities, r.BodyParts = sorted(a.genders), sorted(a.modalities), sorted(a.parts)
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

// ages returns the least and greatest age at diagnosis of each matching patient.
func (e *Evaluator) ages(ctx context.Context, cond string, args []any) (map[string][2]int, error) {
	rows, err := e.db.Query(ctx, `SELECT patient_id, MIN(age_at_diagnosis), MAX(age_at_diagnosis) FROM cdm_cancer_condition
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

// gender names a subject's sex by the CDM's birth sex, or else DICOM Patient's Sex.
func gender(cdmSex, dicomSex string) string {
	k, _ := query.LookupKey("SNOMEDCT263495000")
	for _, t := range k.Terms {
		if cdmSex != "" && t.Code == cdmSex || cdmSex == "" && dicomSex != "" && t.DICOM == dicomSex {
			return t.Name
		}
	}
	return "unknown"
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
