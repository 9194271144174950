package cdm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/store"
)

// Store reads and writes the CDM tables of a node's SQL store (migration 00006_cdm.sql
// of package node/migrations).
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore returns the CDM tables of db, which must be migrated.
func NewStore(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

// TableCount counts what an import did to one table.
type TableCount struct {
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// Changes counts what an import did, per table (see Tables).
type Changes map[string]TableCount

// Total sums the counts over all tables.
func (c Changes) Total() TableCount {
	var t TableCount
	for _, x := range c {
		t.Inserted += x.Inserted
		t.Updated += x.Updated
		t.Unchanged += x.Unchanged
	}
	return t
}

// Apply writes the records in one transaction: a row not there yet is inserted, one
// whose content differs is updated, one that is the same is left alone (so writing the
// same records twice changes nothing the second time). A patient named only by rows of
// other tables gets an empty cdm_patient row if it has none. source names where the rows
// came from (kept with each row written).
func (s *Store) Apply(ctx context.Context, recs []Record, source string) (Changes, error) {
	ch := Changes{}
	now := s.now().UnixMilli()
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		for i := range recs {
			r := &recs[i]
			rows := r.rows()
			// Patients named by the rows but without a patient row of their own.
			for _, id := range r.patientIDs() {
				if r.Patient != nil && r.Patient.ID == id {
					continue
				}
				bare := Patient{ID: id}.row()
				res, err := tx.Exec(ctx, `INSERT INTO cdm_patient (patient_id, source, hash, updated_ms) VALUES (?, ?, ?, ?)
					ON CONFLICT (patient_id) DO NOTHING`, id, source, bare.contentHash(), now)
				if err != nil {
					return fmt.Errorf("cdm: patient %s: %w", id, err)
				}
				if n, _ := res.RowsAffected(); n > 0 {
					c := ch["cdm_patient"]
					c.Inserted++
					ch["cdm_patient"] = c
				}
			}
			for _, rw := range rows {
				what, err := applyRow(ctx, tx, rw, source, now)
				if err != nil {
					return fmt.Errorf("cdm: line %d: %s: %w", r.Line, rw.table, err)
				}
				c := ch[rw.table]
				switch what {
				case inserted:
					c.Inserted++
				case updated:
					c.Updated++
				default:
					c.Unchanged++
				}
				ch[rw.table] = c
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.db.MarkChanged()
	return ch, nil
}

type outcome int

const (
	unchanged outcome = iota
	inserted
	updated
)

func applyRow(ctx context.Context, tx *store.Tx, rw row, source string, now int64) (outcome, error) {
	h := rw.contentHash()
	var old string
	err := tx.QueryRow(ctx, `SELECT hash FROM `+rw.table+` WHERE `+rw.keyCol+` = ?`, rw.key).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		cols := append([]string{rw.keyCol}, rw.cols...)
		cols = append(cols, "source", "hash", "updated_ms")
		args := append([]any{rw.key}, rw.vals...)
		args = append(args, source, h, now)
		q := `INSERT INTO ` + rw.table + ` (` + strings.Join(cols, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) + `)`
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return 0, err
		}
		return inserted, nil
	case err != nil:
		return 0, store.Classify(err)
	case old == h:
		return unchanged, nil
	}
	set := make([]string, 0, len(rw.cols)+3)
	for _, c := range rw.cols {
		set = append(set, c+" = ?")
	}
	set = append(set, "source = ?", "hash = ?", "updated_ms = ?")
	args := append(append([]any{}, rw.vals...), source, h, now, rw.key)
	if _, err := tx.Exec(ctx, `UPDATE `+rw.table+` SET `+strings.Join(set, ", ")+` WHERE `+rw.keyCol+` = ?`, args...); err != nil {
		return 0, err
	}
	return updated, nil
}

// Counts returns the number of rows of each CDM table.
func (s *Store) Counts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range Tables {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("cdm: counting %s: %w", t, store.Classify(err))
		}
		out[t] = n
	}
	return out, nil
}

// LinkedPatients counts the CDM patients that have images in the index (the same
// pseudonym in patients.patient_id).
func (s *Store) LinkedPatients(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM cdm_patient c WHERE EXISTS (SELECT 1 FROM patients p WHERE p.patient_id = c.patient_id)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("cdm: counting linked patients: %w", store.Classify(err))
	}
	return n, nil
}

// StudyClinical is what the CDM knows of the patient of one study of the index.
type StudyClinical struct {
	StudyUID, PatientID string
	BirthSex            string
	AgeAtDiagnosis      *int
	Diagnosis           Code
}

// StudiesClinical joins the index's studies with their patients' CDM rows (sex and
// their first cancer condition by code), for at most limit studies ordered by UID. A
// study whose patient has no CDM row is left out.
func (s *Store) StudiesClinical(ctx context.Context, limit int) ([]StudyClinical, error) {
	rows, err := s.db.Query(ctx, `SELECT st.study_uid, st.patient_id, p.birth_sex, c.age_at_diagnosis, COALESCE(c.code_system, ''), COALESCE(c.code, ''), COALESCE(c.display, '')
		FROM studies st JOIN cdm_patient p ON p.patient_id = st.patient_id
		LEFT JOIN cdm_cancer_condition c ON c.id = (SELECT MIN(c2.id) FROM cdm_cancer_condition c2 WHERE c2.patient_id = st.patient_id)
		ORDER BY st.study_uid LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("cdm: joining studies: %w", err)
	}
	defer rows.Close()
	var out []StudyClinical
	for rows.Next() {
		var x StudyClinical
		var age sql.NullInt64
		if err := rows.Scan(&x.StudyUID, &x.PatientID, &x.BirthSex, &age, &x.Diagnosis.System, &x.Diagnosis.Code, &x.Diagnosis.Display); err != nil {
			return nil, fmt.Errorf("cdm: joining studies: %w", err)
		}
		if age.Valid {
			a := int(age.Int64)
			x.AgeAtDiagnosis = &a
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Import is a row of cdm_imports.
type Import struct {
	ID        string    `json:"id"`
	Actor     string    `json:"actor"`
	Source    string    `json:"source"`
	Format    string    `json:"format"`
	SHA256    string    `json:"sha256"`
	Records   int       `json:"records"`
	Problems  int       `json:"problems"`
	Inserted  int       `json:"inserted"`
	Updated   int       `json:"updated"`
	Unchanged int       `json:"unchanged"`
	Created   time.Time `json:"created"`
}

// LogImport records an import.
func (s *Store) LogImport(ctx context.Context, im Import) error {
	_, err := s.db.Exec(ctx, `INSERT INTO cdm_imports (id, actor, source, format, sha256, records, problems, inserted, updated, unchanged, created_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, im.ID, im.Actor, im.Source, im.Format, im.SHA256, im.Records, im.Problems,
		im.Inserted, im.Updated, im.Unchanged, im.Created.UnixMilli())
	if err != nil {
		return fmt.Errorf("cdm: logging import: %w", err)
	}
	return nil
}

// RecentImports lists the last n imports, newest first.
func (s *Store) RecentImports(ctx context.Context, n int) ([]Import, error) {
	rows, err := s.db.Query(ctx, `SELECT id, actor, source, format, sha256, records, problems, inserted, updated, unchanged, created_ms
		FROM cdm_imports ORDER BY created_ms DESC, id LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("cdm: listing imports: %w", err)
	}
	defer rows.Close()
	var out []Import
	for rows.Next() {
		var im Import
		var ms int64
		if err := rows.Scan(&im.ID, &im.Actor, &im.Source, &im.Format, &im.SHA256, &im.Records, &im.Problems, &im.Inserted, &im.Updated, &im.Unchanged, &ms); err != nil {
			return nil, fmt.Errorf("cdm: listing imports: %w", err)
		}
		im.Created = time.UnixMilli(ms).UTC()
		out = append(out, im)
	}
	return out, rows.Err()
}
