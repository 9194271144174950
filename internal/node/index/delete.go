package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/store"
)

// Delete removes an instance from the index and keeps the counts right: its series and
// study lose it, and a series, study or patient left empty goes too. It returns
// ErrNotFound if the instance is not indexed. The file is the caller's to remove.
func (ix *Index) Delete(ctx context.Context, sopUID string, now time.Time) error {
	if ix.db.Dialect() == store.SQLite {
		ix.writeMu.Lock()
		defer ix.writeMu.Unlock()
	}
	if ix.known != nil {
		defer ix.known.forget() // rows may go; what was known is not sure any more
	}
	err := ix.db.Tx(ctx, func(tx *store.Tx) error {
		var series, study string
		var size int64
		err := tx.QueryRow(ctx, `SELECT series_uid, study_uid, size FROM instances WHERE sop_uid = ?`, sopUID).Scan(&series, &study, &size)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("instance %s: %w", sopUID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM instances WHERE sop_uid = ?`, sopUID); err != nil {
			return err
		}
		var left int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM instances WHERE series_uid = ?`, series).Scan(&left); err != nil {
			return err
		}
		lostSeries := 0
		if left == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM series WHERE series_uid = ?`, series); err != nil {
				return err
			}
			lostSeries = 1
		} else if _, err := tx.Exec(ctx, `UPDATE series SET num_instances = ? WHERE series_uid = ?`, left, series); err != nil {
			return err
		}
		var inStudy int
		var patient string
		if err := tx.QueryRow(ctx, `SELECT num_instances, patient_id FROM studies WHERE study_uid = ?`, study).Scan(&inStudy, &patient); err != nil {
			return err
		}
		if inStudy <= 1 {
			if _, err := tx.Exec(ctx, `DELETE FROM studies WHERE study_uid = ?`, study); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE patients SET num_studies = num_studies - 1 WHERE patient_id = ?`, patient); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM patients WHERE patient_id = ? AND num_studies <= 0`, patient)
			return err
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT modality FROM series WHERE study_uid = ? AND modality <> ''`, study)
		if err != nil {
			return err
		}
		var mods []string
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return err
			}
			mods = append(mods, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		sort.Strings(mods)
		_, err = tx.Exec(ctx, `UPDATE studies SET num_instances = num_instances - 1, num_series = num_series - ?, size = size - ?,
			modalities = ?, updated_ms = ? WHERE study_uid = ?`, lostSeries, size, strings.Join(mods, `\`), now.UnixMilli(), study)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("removing instance %s from the index: %w", sopUID, store.Classify(err))
	}
	ix.db.MarkChanged()
	return nil
}

// Since lists the instances indexed at or after t, oldest first (the node's start-up
// check of what a crash may have left unfinished).
func (ix *Index) Since(ctx context.Context, t time.Time) ([]Instance, error) {
	rows, err := ix.db.Query(ctx, `SELECT `+instanceCols+` FROM instances WHERE ingested_ms >= ? ORDER BY ingested_ms, sop_uid`, t.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("listing recent instances: %w", err)
	}
	defer rows.Close()
	var out []Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("listing recent instances: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}
