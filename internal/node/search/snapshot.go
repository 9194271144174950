package search

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/store"
)

// snapshot is what searches look at, read from the store in one go: the published
// datasets, their studies and series, and the clinical rows of their patients. Text
// values that repeat (modality, body part, manufacturer, codes) are interned: rows
// hold small integers, and a leaf is decided once per distinct value.
type snapshot struct {
	version  uint64 // the store's Changes when reading began
	datasets []dsRec
	studies  []studyRec
	series   []seriesRec
	patients []patientRec
	strs     []string // interned values; 0 is ""
	ids      map[string]int32
}

type dsRec struct {
	id, name, description string
	studies               []int32 // into snapshot.studies
}

// studyRec is one published study: small and flat, for a search walks all of them.
type studyRec struct {
	patient  int32 // into snapshot.patients
	dicomSex int32 // interned DICOM Patient's Sex
	// The study's series are snapshot.series[first : first+n].
	first, n int32
}

type seriesRec struct {
	modality, bodyPart, manufacturer int32 // interned; manufacturer upper case
}

type patientRec struct {
	id string
	// sexes are the CDM's non-empty birth sexes (interned codes).
	sexes      []int32
	conditions []conditionRec
	markers    []markerRec
	grades     []int32 // value codes (interned)
	stages     []int32 // value codes (interned)
}

type conditionRec struct {
	system, code int32
	age, year    float64
	hasAge       bool
	hasYear      bool
}

type markerRec struct {
	code, valueCode int32
	valueText       int32 // lower case
	num             float64
	hasNum          bool
}

// interner gives each distinct string a small integer.
type interner struct {
	ids  map[string]int32
	strs []string
}

func newInterner() *interner { return &interner{ids: map[string]int32{"": 0}, strs: []string{""}} }

func (in *interner) id(s string) int32 {
	if i, ok := in.ids[s]; ok {
		return i
	}
	i := int32(len(in.strs))
	in.ids[s] = i
	in.strs = append(in.strs, s)
	return i
}

// load reads a snapshot from db. Everything is read in one read transaction, so the
// parts agree with each other.
func load(ctx context.Context, db *store.DB) (*snapshot, error) {
	s := &snapshot{version: db.Changes()}
	in := newInterner()
	err := db.ReadTx(ctx, func(tx *store.Tx) error {
		patientIdx := map[string]int32{}
		patient := func(id string) int32 {
			if i, ok := patientIdx[id]; ok {
				return i
			}
			i := int32(len(s.patients))
			patientIdx[id] = i
			s.patients = append(s.patients, patientRec{id: id})
			return i
		}
		if err := each(ctx, tx, `SELECT id, body FROM datasets WHERE state = ? ORDER BY id`, []any{string(catalogue.StatePublished)},
			func(sc scanner) error {
				var id, body string
				if err := sc.Scan(&id, &body); err != nil {
					return err
				}
				var d catalogue.Dataset
				if err := json.Unmarshal([]byte(body), &d); err != nil {
					return fmt.Errorf("dataset %s: %w", id, err)
				}
				s.datasets = append(s.datasets, dsRec{id: id, name: d.Title, description: d.Description})
				return nil
			}); err != nil {
			return fmt.Errorf("published datasets: %w", err)
		}
		dsIdx := map[string]int{}
		for i, d := range s.datasets {
			dsIdx[d.id] = i
		}
		studyIdx := map[string]int32{}
		if err := each(ctx, tx, `SELECT ds.dataset_id, st.study_uid, st.patient_id, st.sex
			FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id JOIN studies st ON st.study_uid = ds.study_uid
			WHERE d.state = ? ORDER BY ds.dataset_id, st.study_uid`, []any{string(catalogue.StatePublished)},
			func(sc scanner) error {
				var ds, uid, pid, sex string
				if err := sc.Scan(&ds, &uid, &pid, &sex); err != nil {
					return err
				}
				d, ok := dsIdx[ds]
				if !ok {
					return nil
				}
				i, ok := studyIdx[uid]
				if !ok {
					i = int32(len(s.studies))
					studyIdx[uid] = i
					s.studies = append(s.studies, studyRec{patient: patient(pid), dicomSex: in.id(sex)})
				}
				s.datasets[d].studies = append(s.datasets[d].studies, i)
				return nil
			}); err != nil {
			return fmt.Errorf("published studies: %w", err)
		}
		if err := each(ctx, tx, `SELECT DISTINCT se.study_uid, se.series_uid, se.modality, se.body_part, se.manufacturer
			FROM datasets d JOIN dataset_studies ds ON ds.dataset_id = d.id JOIN series se ON se.study_uid = ds.study_uid
			WHERE d.state = ? ORDER BY se.study_uid, se.series_uid`, []any{string(catalogue.StatePublished)},
			func(sc scanner) error {
				var st, uid, mod, part, manu string
				if err := sc.Scan(&st, &uid, &mod, &part, &manu); err != nil {
					return err
				}
				i, ok := studyIdx[st]
				if !ok {
					return nil
				}
				// In study order, so each study's series are next to each other.
				if s.studies[i].n == 0 {
					s.studies[i].first = int32(len(s.series))
				} else if int(s.studies[i].first+s.studies[i].n) != len(s.series) {
					return fmt.Errorf("series of study %s not in study order", st)
				}
				s.studies[i].n++
				s.series = append(s.series, seriesRec{modality: in.id(mod), bodyPart: in.id(part), manufacturer: in.id(strings.ToUpper(manu))})
				return nil
			}); err != nil {
			return fmt.Errorf("published series: %w", err)
		}
		// The clinical rows of the published patients only.
		known := func(pid string) (int32, bool) { i, ok := patientIdx[pid]; return i, ok }
		// valueCodes reads rows of (patient, value) into the list field picks.
		valueCodes := func(field func(*patientRec) *[]int32) func(sc scanner) error {
			return func(sc scanner) error {
				var pid, v string
				if err := sc.Scan(&pid, &v); err != nil {
					return err
				}
				if i, ok := known(pid); ok {
					list := field(&s.patients[i])
					*list = append(*list, in.id(v))
				}
				return nil
			}
		}
		clinical := []struct {
			what, sql string
			row       func(sc scanner) error
		}{
			{"patients", `SELECT patient_id, birth_sex FROM cdm_patient WHERE birth_sex <> ''`,
				valueCodes(func(p *patientRec) *[]int32 { return &p.sexes })},
			{"conditions", `SELECT patient_id, code_system, code, age_at_diagnosis, year_of_diagnosis FROM cdm_cancer_condition`, func(sc scanner) error {
				var pid, sys, code string
				var age, year sql.NullFloat64
				if err := sc.Scan(&pid, &sys, &code, &age, &year); err != nil {
					return err
				}
				if i, ok := known(pid); ok {
					s.patients[i].conditions = append(s.patients[i].conditions, conditionRec{system: in.id(sys), code: in.id(code),
						age: age.Float64, hasAge: age.Valid, year: year.Float64, hasYear: year.Valid})
				}
				return nil
			}},
			{"tumour markers", `SELECT patient_id, code, value_code, value_text, value_num FROM cdm_tumor_marker_test`, func(sc scanner) error {
				var pid, code, vcode, text string
				var num sql.NullFloat64
				if err := sc.Scan(&pid, &code, &vcode, &text, &num); err != nil {
					return err
				}
				if i, ok := known(pid); ok {
					s.patients[i].markers = append(s.patients[i].markers, markerRec{code: in.id(code), valueCode: in.id(vcode),
						valueText: in.id(strings.ToLower(text)), num: num.Float64, hasNum: num.Valid})
				}
				return nil
			}},
			{"grades", `SELECT patient_id, value_code FROM cdm_histologic_grade`,
				valueCodes(func(p *patientRec) *[]int32 { return &p.grades })},
			{"stages", `SELECT patient_id, value_code FROM cdm_cancer_stage`,
				valueCodes(func(p *patientRec) *[]int32 { return &p.stages })},
		}
		for _, c := range clinical {
			if err := each(ctx, tx, c.sql, nil, c.row); err != nil {
				return fmt.Errorf("clinical %s: %w", c.what, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search: reading the published data: %w", err)
	}
	s.strs, s.ids = in.strs, in.ids
	return s, nil
}

type scanner interface{ Scan(dest ...any) error }

// each runs q and calls row for each row.
func each(ctx context.Context, tx *store.Tx, q string, args []any, row func(scanner) error) error {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// id returns the interned ID of v, or -1 if the snapshot has no such value.
func (s *snapshot) id(v string) int32 {
	if i, ok := s.ids[v]; ok {
		return i
	}
	return -1
}

// set is a membership table over the snapshot's interned values.
type set []bool

// setWhere is the set of interned values for which f holds.
func (s *snapshot) setWhere(f func(string) bool) set {
	t := make(set, len(s.strs))
	for i, v := range s.strs {
		t[i] = f(v)
	}
	return t
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedStrings(v []string) []string {
	sort.Strings(v)
	return v
}

// seriesOf returns the series of a study.
func (s *snapshot) seriesOf(st *studyRec) []seriesRec { return s.series[st.first : st.first+st.n] }
