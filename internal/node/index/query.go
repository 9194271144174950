package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/store"
)

// Level is a QIDO-RS query level.
type Level int

// The query levels.
const (
	StudyLevel Level = iota
	SeriesLevel
	InstanceLevel
)

func (l Level) String() string { return [...]string{"study", "series", "instance"}[l] }

// Query limits.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// ErrBadQuery is wrapped by every error about a query the index cannot answer: an
// attribute it cannot match on, or a value it cannot read.
var ErrBadQuery = errors.New("bad query")

type kind int

const (
	kUID kind = iota
	kText
	kPN
	kDate
	kTime
	kInt
	kModalities
)

// attr is a matchable attribute: its level, column (qualified) and kind.
type attr struct {
	level Level
	col   string
	kind  kind
}

// Attributes lists the attributes Search can match on, by tag.
var attributes = map[dicom.Tag]attr{
	tags.StudyInstanceUID:       {StudyLevel, "s.study_uid", kUID},
	tags.StudyDate:              {StudyLevel, "s.study_date", kDate},
	tags.StudyTime:              {StudyLevel, "s.study_time", kTime},
	tags.AccessionNumber:        {StudyLevel, "s.accession", kText},
	tags.StudyID:                {StudyLevel, "s.study_id", kText},
	tags.StudyDescription:       {StudyLevel, "s.description", kText},
	tags.ReferringPhysicianName: {StudyLevel, "s.referring", kPN},
	tags.ModalitiesInStudy:      {StudyLevel, "", kModalities},
	tags.PatientName:            {StudyLevel, "s.patient_name", kPN},
	tags.PatientID:              {StudyLevel, "s.patient_id", kText},
	tags.PatientBirthDate:       {StudyLevel, "s.birth_date", kDate},
	tags.PatientSex:             {StudyLevel, "s.sex", kText},

	tags.SeriesInstanceUID:               {SeriesLevel, "se.series_uid", kUID},
	tags.Modality:                        {SeriesLevel, "se.modality", kText},
	tags.SeriesNumber:                    {SeriesLevel, "se.series_number", kInt},
	tags.SeriesDescription:               {SeriesLevel, "se.description", kText},
	tags.BodyPartExamined:                {SeriesLevel, "se.body_part", kText},
	tags.PerformedProcedureStepStartDate: {SeriesLevel, "se.performed_date", kDate},
	tags.PerformedProcedureStepStartTime: {SeriesLevel, "se.performed_time", kTime},

	tags.SOPInstanceUID: {InstanceLevel, "i.sop_uid", kUID},
	tags.SOPClassUID:    {InstanceLevel, "i.sop_class_uid", kUID},
	tags.InstanceNumber: {InstanceLevel, "i.instance_number", kInt},
}

// Matchable reports whether Search can match on the tag at the level.
func Matchable(tag dicom.Tag, level Level) bool {
	a, ok := attributes[tag]
	return ok && a.level <= level
}

// Query is a QIDO-RS search.
type Query struct {
	Level Level
	// StudyUID and SeriesUID scope the search (from the resource path); empty means all.
	StudyUID, SeriesUID string
	// Match holds the matching keys: tag → value as given in the request.
	Match map[dicom.Tag]string
	// Limit (0 means DefaultLimit; at most MaxLimit) and Offset page the results.
	Limit, Offset int
	// Scoped restricts the search to the studies of Datasets (the node's
	// dataset_studies table): what a researcher's visas open. Scoped with no
	// Datasets matches nothing.
	Scoped   bool
	Datasets []string
}

// Study is a study as QIDO-RS returns it.
type Study struct {
	UID, PatientID, PatientName, BirthDate, Sex                   string
	Date, Time, Accession, ID, Description, Referring, Modalities string
	NumSeries, NumInstances                                       int
}

// Series is a series as QIDO-RS returns it.
type Series struct {
	UID, Modality, Description, BodyPart, PerformedDate, PerformedTime string
	Number                                                             *int
	NumInstances                                                       int
}

// Match is one result of Search: the study, and at series and instance level the series
// and the instance.
type Match struct {
	Study    Study
	Series   *Series
	Instance *Instance
}

// build returns the SQL of the query and its arguments; it clamps q's limit.
func (ix *Index) build(q *Query) (string, []any, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit > MaxLimit {
		q.Limit = MaxLimit
	}
	if q.Offset < 0 {
		return "", nil, fmt.Errorf("index: %w: negative offset", ErrBadQuery)
	}
	cols := `s.study_uid, s.patient_id, s.patient_name, s.birth_date, s.sex, s.study_date, s.study_time, s.accession,
		s.study_id, s.description, s.referring, s.modalities, s.num_series, s.num_instances`
	from := ` FROM studies s`
	order := ` ORDER BY s.study_date DESC, s.study_time DESC, s.study_uid`
	switch q.Level {
	case SeriesLevel:
		cols += `, se.series_uid, se.modality, se.description, se.body_part, se.performed_date, se.performed_time,
			se.series_number, se.num_instances`
		from = ` FROM series se JOIN studies s ON s.study_uid = se.study_uid`
		order = ` ORDER BY s.study_uid, se.series_number, se.series_uid`
	case InstanceLevel:
		cols += `, se.series_uid, se.modality, se.description, se.body_part, se.performed_date, se.performed_time,
			se.series_number, se.num_instances, ` + qualified("i.", instanceCols)
		from = ` FROM instances i JOIN series se ON se.series_uid = i.series_uid JOIN studies s ON s.study_uid = se.study_uid`
		order = ` ORDER BY s.study_uid, se.series_uid, i.instance_number, i.sop_uid`
	}
	var where []string
	var args []any
	if q.StudyUID != "" {
		where, args = append(where, "s.study_uid = ?"), append(args, q.StudyUID)
	}
	if q.SeriesUID != "" {
		where, args = append(where, "se.series_uid = ?"), append(args, q.SeriesUID)
	}
	if q.Scoped {
		if len(q.Datasets) == 0 {
			where = append(where, "1 = 0")
		} else {
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.Datasets)), ", ")
			where = append(where, "s.study_uid IN (SELECT study_uid FROM dataset_studies WHERE dataset_id IN ("+marks+"))")
			for _, id := range q.Datasets {
				args = append(args, id)
			}
		}
	}
	for tag, val := range q.Match {
		a, ok := attributes[tag]
		if !ok || a.level > q.Level {
			return "", nil, fmt.Errorf("index: %w: cannot match on %s at %s level", ErrBadQuery, tag, q.Level)
		}
		cond, cargs, err := ix.condition(a, val)
		if err != nil {
			return "", nil, fmt.Errorf("index: %w: %s=%q: %v", ErrBadQuery, tag, val, err)
		}
		if cond != "" {
			where, args = append(where, cond), append(args, cargs...)
		}
	}
	query := `SELECT ` + cols + from
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += order + ` LIMIT ? OFFSET ?`
	args = append(args, q.Limit, q.Offset)
	return query, args, nil
}

// Plan returns the query plan the SQL store makes for the query (SQLite's EXPLAIN QUERY
// PLAN, PostgreSQL's EXPLAIN), one line per step, to check that searches use indexes.
func (ix *Index) Plan(ctx context.Context, q Query) ([]string, error) {
	query, args, err := ix.build(&q)
	if err != nil {
		return nil, err
	}
	explain := "EXPLAIN "
	if ix.db.Dialect() == store.SQLite {
		explain = "EXPLAIN QUERY PLAN "
	}
	rows, err := ix.db.Query(ctx, explain+query, args...)
	if err != nil {
		return nil, fmt.Errorf("explaining %s level search: %w", q.Level, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprint(vals[len(vals)-1])) // SQLite: id, parent, notused, detail
	}
	return out, rows.Err()
}

// Search runs the query.
func (ix *Index) Search(ctx context.Context, q Query) ([]Match, error) {
	query, args, err := ix.build(&q)
	if err != nil {
		return nil, err
	}
	rows, err := ix.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("searching %s level: %w", q.Level, err)
	}
	defer rows.Close()
	var out []Match
	for rows.Next() {
		var m Match
		st := &m.Study
		dest := []any{&st.UID, &st.PatientID, &st.PatientName, &st.BirthDate, &st.Sex, &st.Date, &st.Time, &st.Accession,
			&st.ID, &st.Description, &st.Referring, &st.Modalities, &st.NumSeries, &st.NumInstances}
		var num sql.NullInt64
		if q.Level >= SeriesLevel {
			m.Series = &Series{}
			se := m.Series
			dest = append(dest, &se.UID, &se.Modality, &se.Description, &se.BodyPart, &se.PerformedDate, &se.PerformedTime,
				&num, &se.NumInstances)
		}
		var err error
		if q.Level == InstanceLevel {
			var in Instance
			in, err = scanInstance(scanAfter{rows, dest})
			m.Instance = &in
		} else {
			err = rows.Scan(dest...)
		}
		if err != nil {
			return nil, fmt.Errorf("searching %s level: %w", q.Level, err)
		}
		if num.Valid {
			n := int(num.Int64)
			m.Series.Number = &n
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("searching %s level: %w", q.Level, err)
	}
	return out, nil
}

// scanAfter scans dest and then the columns scanInstance asks for, from one row.
type scanAfter struct {
	rows *sql.Rows
	dest []any
}

func (s scanAfter) Scan(more ...any) error { return s.rows.Scan(append(s.dest, more...)...) }

func qualified(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// condition returns the SQL condition for matching attribute a against value v
// (PS3.4 C.2.2.2); "" for universal matching.
func (ix *Index) condition(a attr, v string) (string, []any, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "*" {
		return "", nil, nil
	}
	switch a.kind {
	case kUID:
		list := splitList(v)
		if len(list) == 1 {
			return a.col + " = ?", []any{list[0]}, nil
		}
		return a.col + " IN (" + placeholders(len(list)) + ")", toAny(list), nil
	case kModalities:
		list := splitList(v)
		return "EXISTS (SELECT 1 FROM series m WHERE m.study_uid = s.study_uid AND m.modality IN (" + placeholders(len(list)) + "))", toAny(list), nil
	case kInt:
		n, err := strconv.Atoi(v)
		if err != nil {
			return "", nil, fmt.Errorf("not an integer")
		}
		return a.col + " = ?", []any{n}, nil
	case kDate, kTime:
		return rangeCondition(a, v)
	case kPN:
		if hasWildcard(v) {
			cond, args := "lower("+a.col+") LIKE lower(?) ESCAPE '\\'", []any{likePattern(v)}
			if p := literalPrefix(v); p != "" && ix.db.Dialect() == store.SQLite {
				// The same condition as a range of lower(col) too, so the index on it serves
				// the search: SQLite's lower() folds ASCII only, and compares bytes.
				p = asciiLower(p)
				cond, args = "("+cond+" AND lower("+a.col+") >= ? AND lower("+a.col+") < ?)", append(args, p, p+"\xff")
			}
			return cond, args, nil
		}
		return "lower(" + a.col + ") = lower(?)", []any{v}, nil
	}
	if hasWildcard(v) {
		if ix.db.Dialect() == store.SQLite {
			return a.col + " GLOB ?", []any{globPattern(v)}, nil
		}
		return a.col + " LIKE ? ESCAPE '\\'", []any{likePattern(v)}, nil
	}
	return a.col + " = ?", []any{v}, nil
}

func rangeCondition(a attr, v string) (string, []any, error) {
	check := func(s string) error {
		for _, c := range s {
			if (c < '0' || c > '9') && c != '.' && c != ':' {
				return fmt.Errorf("%q is not a %s", s, map[kind]string{kDate: "date (YYYYMMDD)", kTime: "time (HHMMSS)"}[a.kind])
			}
		}
		return nil
	}
	lo, hi, isRange := strings.Cut(v, "-")
	lo, hi = strings.ReplaceAll(lo, ":", ""), strings.ReplaceAll(hi, ":", "") // ACR-NEMA style times
	if err := check(lo); err != nil {
		return "", nil, err
	}
	if err := check(hi); err != nil {
		return "", nil, err
	}
	if !isRange {
		if a.kind == kTime {
			return a.col + " LIKE ?", []any{lo + "%"}, nil
		}
		return a.col + " = ?", []any{lo}, nil
	}
	var conds []string
	var args []any
	if lo != "" {
		conds, args = append(conds, a.col+" >= ?"), append(args, lo)
	}
	if hi != "" {
		if a.kind == kTime {
			hi += "~" // after every digit and ".": 1200 includes 120059.99
		}
		conds, args = append(conds, a.col+" <= ?"), append(args, hi)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return "(" + a.col + " <> '' AND " + strings.Join(conds, " AND ") + ")", args, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == '\\' || r == ',' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func hasWildcard(v string) bool { return strings.ContainsAny(v, "*?") }

// literalPrefix is the part of a DICOM wildcard value before its first wildcard.
func literalPrefix(v string) string {
	if i := strings.IndexAny(v, "*?"); i >= 0 {
		return v[:i]
	}
	return v
}

// asciiLower lower-cases ASCII letters only, as SQLite's lower() does.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// likePattern turns a DICOM wildcard value into a LIKE pattern with '\' as escape.
func likePattern(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch r {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// globPattern turns a DICOM wildcard value into an SQLite GLOB pattern (case-sensitive).
func globPattern(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch r {
		case '[', ']':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// StudiesIngested returns the studies that have instances stored from source between
// from and to (inclusive): the studies of one ingest, sorted.
func (ix *Index) StudiesIngested(ctx context.Context, source string, from, to time.Time) ([]string, error) {
	rows, err := ix.db.Query(ctx, `SELECT DISTINCT study_uid FROM instances WHERE source = ? AND ingested_ms >= ? AND ingested_ms <= ?
		ORDER BY study_uid`, source, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("studies of ingest %s: %w", source, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return nil, fmt.Errorf("studies of ingest %s: %w", source, err)
		}
		out = append(out, uid)
	}
	return out, rows.Err()
}
