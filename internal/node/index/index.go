package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/store"
)

// ErrNotFound is returned when a study, series or instance is not in the index.
var ErrNotFound = errors.New("not in the index")

// Index is the archive index over the node's SQL store.
type Index struct {
	db *store.DB

	// The statements of put, prepared once (per pooled connection, by database/sql)
	// rather than parsed and planned again for every instance.
	mu    sync.Mutex
	stmts map[string]*sql.Stmt

	// writeMu makes the node's own writers of the index take turns on SQLite, which
	// has one writer at a time: without it, concurrent ingests (one per DIMSE
	// association) meet a locked database and wait in SQLite's busy handler, which
	// sleeps 1, 2, 5, 10 … 100 ms between tries, instead of being handed the lock
	// when it is free.
	writeMu sync.Mutex

	// known remembers, on SQLite (where writeMu makes this process the only writer),
	// the series already committed and the modalities of their studies, so that the
	// second and later instances of a series skip the statements that would find their
	// patient, study and series rows there already (half of an instance's statements).
	// Filled after commits, emptied by Delete.
	known *knownRows
}

// knownRows are series and studies committed to the index (see Index.known).
type knownRows struct {
	mu     sync.Mutex
	series map[string]bool   // series UID
	mods   map[string]string // study UID → its modalities as stored
}

// maxKnown bounds knownRows: past it, it starts again empty.
const maxKnown = 200_000

func (k *knownRows) hasSeries(uid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.series[uid]
}

func (k *knownRows) modalities(study string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, ok := k.mods[study]
	return m, ok
}

func (k *knownRows) remember(series []string, mods map[string]string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.series)+len(series) > maxKnown || len(k.mods)+len(mods) > maxKnown {
		k.series, k.mods = nil, nil
	}
	if k.series == nil {
		k.series, k.mods = map[string]bool{}, map[string]string{}
	}
	for _, uid := range series {
		k.series[uid] = true
	}
	for uid, m := range mods {
		k.mods[uid] = m
	}
}

func (k *knownRows) forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.series, k.mods = nil, nil
}

// New returns the index over db, whose schema the node's migrations made.
func New(db *store.DB) *Index {
	ix := &Index{db: db, stmts: map[string]*sql.Stmt{}}
	if db.Dialect() == store.SQLite {
		ix.known = &knownRows{}
	}
	return ix
}

// prepared returns the statement q ('?' placeholders), prepared on first use.
func (ix *Index) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if st := ix.stmts[q]; st != nil {
		return st, nil
	}
	st, err := ix.db.SQL().PrepareContext(ctx, ix.db.Rebind(q))
	if err != nil {
		return nil, store.Classify(err)
	}
	ix.stmts[q] = st
	return st, nil
}

// txStmts is one PutMany transaction: its prepared statements, the patients it made or
// found, and what it adds to the counts of series and studies.
type txStmts struct {
	ix    *Index
	tx    *store.Tx
	stmts map[string]*sql.Stmt

	seen                    map[string]bool
	seriesN                 map[string]int
	studies                 map[string]*studyDelta
	seriesOrder, studyOrder []string
	mods                    map[string]string // study UID → modalities written
}

// stmt returns the statement q ('?' placeholders) prepared for the transaction.
func (t *txStmts) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := t.stmts[q]; st != nil {
		return st, nil
	}
	st, err := t.ix.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	st = t.tx.SQL().StmtContext(ctx, st)
	t.stmts[q] = st
	return st, nil
}

func (t *txStmts) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(ctx, args...)
	return res, store.Classify(err)
}

func (t *txStmts) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// Put indexes the instance r in one transaction and reports whether it was new; an
// instance already indexed (same SOP Instance UID) is left as it is and added is false.
func (ix *Index) Put(ctx context.Context, r Record, now time.Time) (added bool, err error) {
	n, err := ix.PutMany(ctx, []Record{r}, now)
	return n == 1, err
}

// PutMany indexes the instances in one transaction (all or none) and returns how many
// were new. Bulk loads use it: one commit for many instances.
func (ix *Index) PutMany(ctx context.Context, recs []Record, now time.Time) (added int, err error) {
	_, added, err = ix.PutEach(ctx, recs, now)
	return added, err
}

// PutEach is PutMany, and also reports for each instance whether it was new (false:
// already indexed, or earlier in recs).
func (ix *Index) PutEach(ctx context.Context, recs []Record, now time.Time) (isNew []bool, added int, err error) {
	ms := now.UnixMilli()
	if ix.db.Dialect() == store.SQLite {
		ix.writeMu.Lock()
		defer ix.writeMu.Unlock()
	}
	var t *txStmts
	err = ix.db.Tx(ctx, func(tx *store.Tx) error {
		added = 0
		isNew = make([]bool, len(recs))
		t = &txStmts{ix: ix, tx: tx, stmts: map[string]*sql.Stmt{}, seen: map[string]bool{},
			seriesN: map[string]int{}, studies: map[string]*studyDelta{}, mods: map[string]string{}}
		for i := range recs {
			ok, err := t.put(ctx, &recs[i], ms)
			if err != nil {
				return fmt.Errorf("instance %s: %w", recs[i].SOPUID, err)
			}
			if ok {
				added++
			}
			isNew[i] = ok
		}
		return t.counts(ctx, ms)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("indexing: %w", store.Classify(err))
	}
	if ix.known != nil {
		ix.known.remember(t.seriesOrder, t.mods)
	}
	if added > 0 {
		ix.db.MarkChanged()
	}
	return isNew, added, nil
}

// studyDelta is what a transaction adds to a study's counts.
type studyDelta struct {
	instances, series int
	size              int64
	modalities        []string
}

// put indexes one instance inside the transaction and reports whether it was new. The
// patient, study and series rows are created on first sight; the counts of series and
// studies are added up and written by counts, once per series and study of the
// transaction.
func (t *txStmts) put(ctx context.Context, r *Record, ms int64) (bool, error) {
	var one int
	switch err := t.queryRow(ctx, `SELECT 1 FROM instances WHERE sop_uid = ?`, []any{r.SOPUID}, &one); {
	case err == nil:
		return false, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, err
	}
	// A series committed before: its patient, study and series rows are there.
	if _, inTx := t.seriesN[r.SeriesUID]; !inTx && t.ix.known != nil && t.ix.known.hasSeries(r.SeriesUID) {
		t.seen["p/"+r.PatientID] = true
		if t.studies[r.StudyUID] == nil {
			t.studies[r.StudyUID] = &studyDelta{}
			t.studyOrder = append(t.studyOrder, r.StudyUID)
		}
		t.seriesN[r.SeriesUID] = 0
		t.seriesOrder = append(t.seriesOrder, r.SeriesUID)
	}
	// Patient, then study, then series, then the instance, each created on first sight
	// (rows this transaction made or found are not looked for again).
	if k := "p/" + r.PatientID; !t.seen[k] {
		if _, err := t.exec(ctx, `INSERT INTO patients (patient_id, patient_name, birth_date, sex, num_studies, created_ms)
		VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (patient_id) DO NOTHING`, r.PatientID, r.PatientName, r.BirthDate, r.Sex, ms); err != nil {
			return false, fmt.Errorf("patient: %w", err)
		}
		t.seen[k] = true
	}
	sd := t.studies[r.StudyUID]
	if sd == nil {
		res, err := t.exec(ctx, `INSERT INTO studies (study_uid, patient_id, patient_name, birth_date, sex, study_date, study_time,
		accession, study_id, description, referring, modalities, num_series, num_instances, size, created_ms, updated_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, 0, 0, ?, ?) ON CONFLICT (study_uid) DO NOTHING`,
			r.StudyUID, r.PatientID, r.PatientName, r.BirthDate, r.Sex, r.StudyDate, r.StudyTime, r.Accession, r.StudyID,
			r.StudyDesc, r.Referring, ms, ms)
		if err != nil {
			return false, fmt.Errorf("study: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if _, err := t.exec(ctx, `UPDATE patients SET num_studies = num_studies + 1 WHERE patient_id = ?`, r.PatientID); err != nil {
				return false, fmt.Errorf("patient count: %w", err)
			}
		}
		sd = &studyDelta{}
		t.studies[r.StudyUID] = sd
		t.studyOrder = append(t.studyOrder, r.StudyUID)
	}
	if _, ok := t.seriesN[r.SeriesUID]; !ok {
		res, err := t.exec(ctx, `INSERT INTO series (series_uid, study_uid, modality, series_number, description, body_part,
		performed_date, performed_time, manufacturer, num_instances, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
		ON CONFLICT (series_uid) DO NOTHING`,
			r.SeriesUID, r.StudyUID, r.Modality, r.SeriesNumber, r.SeriesDesc, r.BodyPart, r.PerformedDate, r.PerformedTime,
			r.Manufacturer, ms)
		if err != nil {
			return false, fmt.Errorf("series: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			sd.series++
		}
		t.seriesN[r.SeriesUID] = 0
		t.seriesOrder = append(t.seriesOrder, r.SeriesUID)
	}
	if _, err := t.exec(ctx, `INSERT INTO instances (sop_uid, series_uid, study_uid, sop_class_uid, instance_number,
		transfer_syntax, img_rows, img_columns, frames, bits_allocated, size, sha256, blob_key, source, ingested_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.SOPUID, r.SeriesUID, r.StudyUID, r.SOPClassUID, r.InstanceNumber, r.TransferSyntax, r.Rows, r.Columns,
		r.Frames, r.BitsAllocated, r.Size, r.SHA256, r.BlobKey, r.Source, ms); err != nil {
		return false, fmt.Errorf("instance: %w", err)
	}
	t.seriesN[r.SeriesUID]++
	sd.instances++
	sd.size += r.Size
	sd.modalities = append(sd.modalities, r.Modality)
	return true, nil
}

// counts adds the transaction's instances to the counts of their series and studies.
// Rows are updated in UID order, so that concurrent transactions lock them in the same
// order.
func (t *txStmts) counts(ctx context.Context, ms int64) error {
	slices.Sort(t.seriesOrder)
	slices.Sort(t.studyOrder)
	for _, uid := range t.seriesOrder {
		if n := t.seriesN[uid]; n > 0 {
			if _, err := t.exec(ctx, `UPDATE series SET num_instances = num_instances + ? WHERE series_uid = ?`, n, uid); err != nil {
				return fmt.Errorf("series %s count: %w", uid, err)
			}
		}
	}
	for _, uid := range t.studyOrder {
		sd := t.studies[uid]
		if sd.instances == 0 {
			continue
		}
		mods, ok := "", false
		if t.ix.known != nil {
			mods, ok = t.ix.known.modalities(uid)
		}
		if !ok {
			// PostgreSQL: lock the row while reading it, or a concurrent transaction adding
			// another modality to the same study would overwrite this one's (SQLite
			// writers are one at a time). NO KEY UPDATE, as the UPDATE below takes: a
			// plain FOR UPDATE would wait for the key-share locks that concurrent
			// transactions' series rows hold on the study (their foreign key), and they
			// for it: a deadlock.
			q := `SELECT modalities FROM studies WHERE study_uid = ?`
			if t.tx.Dialect() == store.Postgres {
				q += ` FOR NO KEY UPDATE`
			}
			if err := t.queryRow(ctx, q, []any{uid}, &mods); err != nil {
				return fmt.Errorf("study %s modalities: %w", uid, err)
			}
		}
		for _, m := range sd.modalities {
			mods = addModality(mods, m)
		}
		if _, err := t.exec(ctx, `UPDATE studies SET num_instances = num_instances + ?, num_series = num_series + ?,
		size = size + ?, modalities = ?, updated_ms = ? WHERE study_uid = ?`,
			sd.instances, sd.series, sd.size, mods, ms, uid); err != nil {
			return fmt.Errorf("study %s counts: %w", uid, err)
		}
		t.mods[uid] = mods
	}
	return nil
}

// addModality adds m to the sorted, backslash-separated list mods.
func addModality(mods, m string) string {
	if m == "" {
		return mods
	}
	var list []string
	if mods != "" {
		list = strings.Split(mods, `\`)
	}
	for _, x := range list {
		if x == m {
			return mods
		}
	}
	list = append(list, m)
	sort.Strings(list)
	return strings.Join(list, `\`)
}

// Instance is an indexed instance as the archive serves it.
type Instance struct {
	SOPUID, SeriesUID, StudyUID, SOPClassUID, TransferSyntax string
	InstanceNumber                                           *int
	Rows, Columns, Frames, BitsAllocated                     int
	Size                                                     int64
	SHA256, BlobKey, Source                                  string
	Ingested                                                 time.Time
}

const instanceCols = `sop_uid, series_uid, study_uid, sop_class_uid, transfer_syntax, instance_number, img_rows, img_columns,
	frames, bits_allocated, size, sha256, blob_key, source, ingested_ms`

func scanInstance(sc interface{ Scan(...any) error }) (Instance, error) {
	var in Instance
	var num sql.NullInt64
	var ms int64
	err := sc.Scan(&in.SOPUID, &in.SeriesUID, &in.StudyUID, &in.SOPClassUID, &in.TransferSyntax, &num, &in.Rows, &in.Columns,
		&in.Frames, &in.BitsAllocated, &in.Size, &in.SHA256, &in.BlobKey, &in.Source, &ms)
	if num.Valid {
		n := int(num.Int64)
		in.InstanceNumber = &n
	}
	in.Ingested = time.UnixMilli(ms).UTC()
	return in, err
}

// Get returns the instance with the SOP Instance UID.
func (ix *Index) Get(ctx context.Context, sopUID string) (Instance, error) {
	// Every ingest asks (to skip storing an instance it has): a prepared statement.
	st, err := ix.prepared(ctx, `SELECT `+instanceCols+` FROM instances WHERE sop_uid = ?`)
	if err != nil {
		return Instance{}, fmt.Errorf("reading instance %s: %w", sopUID, err)
	}
	in, err := scanInstance(st.QueryRowContext(ctx, sopUID))
	if errors.Is(err, sql.ErrNoRows) {
		return in, fmt.Errorf("instance %s: %w", sopUID, ErrNotFound)
	}
	if err != nil {
		return in, fmt.Errorf("reading instance %s: %w", sopUID, err)
	}
	return in, nil
}

// Instances returns the instances of a study, or of one series of it when seriesUID is
// not empty, or the one instance sopUID of that series, in series then instance number
// order. It is ErrNotFound when there are none.
func (ix *Index) Instances(ctx context.Context, studyUID, seriesUID, sopUID string) ([]Instance, error) {
	q := `SELECT ` + instanceCols + ` FROM instances WHERE study_uid = ?`
	args := []any{studyUID}
	if seriesUID != "" {
		q += ` AND series_uid = ?`
		args = append(args, seriesUID)
	}
	if sopUID != "" {
		q += ` AND sop_uid = ?`
		args = append(args, sopUID)
	}
	q += ` ORDER BY series_uid, instance_number, sop_uid`
	rows, err := ix.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	defer rows.Close()
	var out []Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("listing instances: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", strings.Trim(studyUID+"/"+seriesUID+"/"+sopUID, "/"), ErrNotFound)
	}
	return out, nil
}

// Counts are the sizes of the index.
type Counts struct {
	Patients, Studies, Series, Instances int64
	Bytes                                int64
}

// Counts counts what the index holds.
func (ix *Index) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	err := ix.db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM patients), (SELECT COUNT(*) FROM studies),
		(SELECT COUNT(*) FROM series), (SELECT COUNT(*) FROM instances), (SELECT COALESCE(SUM(size), 0) FROM studies)`).
		Scan(&c.Patients, &c.Studies, &c.Series, &c.Instances, &c.Bytes)
	if err != nil {
		return c, fmt.Errorf("counting the index: %w", err)
	}
	return c, nil
}
