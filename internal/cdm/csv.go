package cdm

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/deid"
)

// Limits of an import.
const (
	// MaxImportSize is the largest file an import reads.
	MaxImportSize = 64 << 20
	// MaxProblems is the most problems a report lists; more are counted only.
	MaxProblems = 1000
)

// ErrTooLarge is returned for a file larger than MaxImportSize.
var ErrTooLarge = fmt.Errorf("cdm: file larger than %d bytes", MaxImportSize)

// Problem is a line (of a CSV file) or an entry (of a FHIR bundle) that was not
// imported, and why.
type Problem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Parsed is what a parser read: the records to write and the problems of the lines it
// could not use.
type Parsed struct {
	Records []Record
	// Lines is the number of data lines (CSV) or entries (FHIR) read.
	Lines int
	// Problems lists at most MaxProblems problems; ProblemCount counts them all.
	Problems     []Problem
	ProblemCount int
}

func (p *Parsed) problem(line int, format string, args ...any) {
	p.ProblemCount++
	if len(p.Problems) < MaxProblems {
		p.Problems = append(p.Problems, Problem{Line: line, Reason: fmt.Sprintf(format, args...)})
	}
}

// Identity turns the identifiers an import reads into those of the node's index.
type Identity struct {
	// Pseudonyms are the node's (its de-identification key); nil is allowed only when
	// the input holds pseudonyms already.
	Pseudonyms *deid.Pseudonyms
	// RetainUIDs is the node's retain-uids de-identification option: study UIDs are
	// kept as they are instead of being pseudonymized.
	RetainUIDs bool
}

// patients returns the pseudonyms of a patient ID under each issuer.
func (id Identity) patients(raw string, pseudonymized bool, issuers []string) ([]string, error) {
	if pseudonymized {
		return []string{raw}, nil
	}
	if id.Pseudonyms == nil {
		return nil, errors.New("the IDs are not pseudonymized and no pseudonym key was given")
	}
	if len(issuers) == 0 {
		issuers = []string{""}
	}
	out := make([]string, 0, len(issuers))
	for _, is := range issuers {
		out = append(out, id.Pseudonyms.PatientID(is, raw))
	}
	return out, nil
}

// studyUID returns the index's UID of a study UID read from the input.
func (id Identity) studyUID(raw string, pseudonymized bool) string {
	if pseudonymized || id.RetainUIDs || id.Pseudonyms == nil {
		return raw
	}
	return id.Pseudonyms.UID(raw)
}

// ParseCSV reads a CSV file (RFC 4180, UTF-8, a header row) with a mapping. Every data
// line gives one record (one per issuer of the mapping); a line that cannot be read is
// a problem of its line number (the header is line 1), and the others are still read.
// An error is returned only when the file as a whole cannot be read (no header, a
// mapped column missing from it, larger than MaxImportSize).
func ParseCSV(r io.Reader, m *Mapping, id Identity) (*Parsed, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	lr := &io.LimitedReader{R: r, N: MaxImportSize + 1}
	cr := csv.NewReader(lr)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if m.Delimiter != "" {
		cr.Comma = rune(m.Delimiter[0])
	}
	header, err := cr.Read()
	if err != nil {
		if lr.N <= 0 {
			return nil, ErrTooLarge
		}
		return nil, fmt.Errorf("cdm: reading the CSV header: %w", err)
	}
	if len(header) > maxColumns {
		return nil, fmt.Errorf("cdm: the CSV header has %d columns, more than %d", len(header), maxColumns)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		col[h] = i
	}
	idCol, ok := col[m.PatientID.Column]
	if !ok {
		return nil, fmt.Errorf("cdm: the CSV has no column %q (patient_id.column of the mapping)", m.PatientID.Column)
	}
	for _, c := range m.Columns {
		for _, name := range []string{c.Column, c.DateColumn, c.Display} {
			if _, ok := col[name]; name != "" && !ok && c.Element != "ignore" {
				return nil, fmt.Errorf("cdm: the CSV has no column %q (named by the mapping for %s)", name, c.Element)
			}
		}
	}
	ncols := len(header)
	p := &Parsed{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if lr.N <= 0 {
			return nil, ErrTooLarge
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			p.Lines++
			p.problem(pe.StartLine, "%v", pe.Err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cdm: reading the CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		p.Lines++
		if len(rec) != ncols {
			p.problem(line, "%d fields, the header has %d", len(rec), ncols)
			continue
		}
		cell := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		raw := strings.TrimSpace(rec[idCol])
		if raw == "" {
			p.problem(line, "no patient ID in column %s", m.PatientID.Column)
			continue
		}
		pids, err := id.patients(raw, m.PatientID.Pseudonymized, m.PatientID.Issuers)
		if err != nil {
			return nil, fmt.Errorf("cdm: %w", err)
		}
		r, err := csvRecord(m, cell, id)
		if err != nil {
			p.problem(line, "%v", err)
			continue
		}
		for _, pid := range pids {
			x := r.forPatient(pid)
			x.Line = line
			p.Records = append(p.Records, x)
		}
	}
	return p, nil
}

// csvRecord reads one line into a record whose patient ID is still empty.
func csvRecord(m *Mapping, cell func(string) string, id Identity) (Record, error) {
	var r Record
	pat := Patient{}
	var cond Condition
	var condSet, condCode bool
	var study ImageStudy
	var grade *Grade
	for i := range m.Columns {
		c := &m.Columns[i]
		v := cell(c.Column)
		if v == "" || c.Element == "ignore" {
			continue
		}
		date := ""
		if c.DateColumn != "" {
			d, err := normDate(cell(c.DateColumn))
			if err != nil {
				return r, fmt.Errorf("column %s: %v", c.DateColumn, err)
			}
			date = d
		}
		entity, element, _ := strings.Cut(c.Element, ".")
		var err error
		switch entity {
		case "patient":
			switch element {
			case "birth_sex":
				var x Code
				if x, err = c.valueCode(v); err == nil {
					if x.System != SystemSNOMED {
						err = fmt.Errorf("column %s: birth sex must be a SNOMED CT code, got %s|%s", c.Column, x.System, x.Code)
					}
					pat.BirthSex = x.Code
				}
			case "birth_year":
				var y int
				if y, err = intIn(v, 1850, 2200); err == nil {
					pat.BirthYear = &y
				}
			case "birth_date":
				var d string
				if d, err = normDate(v); err == nil {
					y, _ := strconv.Atoi(d[:4])
					pat.BirthYear = &y
				}
			case "vital_status":
				if c.Values != nil {
					if mapped, ok := c.Values[v]; ok {
						v = mapped
					} else {
						err = fmt.Errorf("value %q of column %s is not in its value map", v, c.Column)
					}
				}
				v = strings.ToLower(v)
				if err == nil && v != "alive" && v != "deceased" {
					err = fmt.Errorf("column %s: vital status %q: want alive or deceased (or a value map to them)", c.Column, v)
				}
				pat.VitalStatus = v
			case "last_follow_up":
				pat.LastFollowUp, err = normDate(v)
			}
		case "cancer_condition":
			condSet = true
			switch element {
			case "code":
				condCode = true
				cond.Code, err = c.valueCode(v)
				if err == nil && c.Display != "" {
					cond.Code.Display = cell(c.Display)
				}
			case "age_at_diagnosis":
				var a int
				if a, err = intIn(v, 0, 130); err == nil {
					cond.AgeAtDiagnosis = &a
				}
			case "year_of_diagnosis":
				var y int
				if y, err = intIn(v, 1850, 2200); err == nil {
					cond.YearOfDiagnosis = &y
				}
			case "date_of_diagnosis":
				cond.DateOfDiagnosis, err = normDate(v)
			case "morphology":
				cond.Morphology, err = c.valueCode(v)
			case "topography":
				cond.Topography, err = c.valueCode(v)
			}
		case "tumor_marker_test":
			test, _ := splitPrefixed(c.Test)
			mk := Marker{Test: test, Text: v, Effective: date}
			switch c.markerType() {
			case "code":
				mk.Value, err = c.valueCode(v)
			case "number":
				var f float64
				if f, err = strconv.ParseFloat(v, 64); err == nil {
					mk.Num, mk.Unit = &f, c.Unit
				} else {
					err = fmt.Errorf("column %s: %q is not a number", c.Column, v)
				}
			}
			r.Markers = append(r.Markers, mk)
		case "histologic_grade":
			var x Code
			if x, err = c.valueCode(v); err == nil {
				grade = &Grade{Value: x, Effective: date}
			}
		case "cancer_stage":
			kind := map[string]string{"t": StageT, "n": StageN, "m": StageM, "group": StageGroup}[element]
			var x Code
			if x, err = c.valueCode(v); err == nil {
				if c.Display != "" {
					x.Display = cell(c.Display)
				}
				r.Stages = append(r.Stages, Stage{Kind: kind, Value: x, Effective: date})
			}
		case "treatment":
			var x Code
			if x, err = c.valueCode(v); err == nil {
				if c.Display != "" {
					x.Display = cell(c.Display)
				}
				r.Treatments = append(r.Treatments, Treatment{Kind: element, Code: x, Start: date})
			}
		case "image_study":
			switch element {
			case "study_uid":
				if !validUID(v) {
					err = fmt.Errorf("column %s: %q is not a DICOM UID", c.Column, v)
				}
				study.StudyUID = id.studyUID(v, m.PatientID.Pseudonymized)
			case "time_point":
				study.TimePoint = v
			case "offset_days":
				var d int
				if d, err = intIn(v, -100000, 100000); err == nil {
					study.OffsetDays = &d
				}
			}
		}
		if err != nil {
			return r, err
		}
	}
	// Stages of the synthetic and EUCAIM tables may give a display ("cM0") without a
	// code: keep them by their display.
	for i := range m.Columns {
		c := &m.Columns[i]
		if strings.HasPrefix(c.Element, "cancer_stage.") && cell(c.Column) == "" && c.Display != "" && cell(c.Display) != "" {
			kind := map[string]string{"t": StageT, "n": StageN, "m": StageM, "group": StageGroup}[strings.TrimPrefix(c.Element, "cancer_stage.")]
			sys, _ := SystemURI(c.System)
			var date string
			if c.DateColumn != "" {
				date, _ = normDate(cell(c.DateColumn))
			}
			r.Stages = append(r.Stages, Stage{Kind: kind, Value: Code{System: sys, Display: cell(c.Display)}, Effective: date})
		}
	}
	if condSet {
		if !condCode {
			return r, errors.New("cancer condition data without a diagnosis code (cancer_condition.code)")
		}
		r.Conditions = append(r.Conditions, cond)
	}
	if grade != nil {
		r.Grades = append(r.Grades, *grade)
	}
	if study.StudyUID != "" {
		r.Studies = append(r.Studies, study)
	} else if study.TimePoint != "" || study.OffsetDays != nil {
		return r, errors.New("image study data without a study UID (image_study.study_uid)")
	}
	r.Patient = &pat
	return r, nil
}

// forPatient returns a copy of r with every patient ID set to pid.
func (r Record) forPatient(pid string) Record {
	out := Record{Line: r.Line}
	if r.Patient != nil {
		p := *r.Patient
		p.ID = pid
		out.Patient = &p
	}
	out.Conditions = withPatient(r.Conditions, pid, func(x *Condition) *string { return &x.PatientID })
	out.Markers = withPatient(r.Markers, pid, func(x *Marker) *string { return &x.PatientID })
	out.Grades = withPatient(r.Grades, pid, func(x *Grade) *string { return &x.PatientID })
	out.Stages = withPatient(r.Stages, pid, func(x *Stage) *string { return &x.PatientID })
	out.Treatments = withPatient(r.Treatments, pid, func(x *Treatment) *string { return &x.PatientID })
	out.Studies = withPatient(r.Studies, pid, func(x *ImageStudy) *string { return &x.PatientID })
	return out
}

// withPatient returns a copy of rows with the patient ID (reached through id) set to pid.
func withPatient[T any](rows []T, pid string, id func(*T) *string) []T {
	var out []T
	for _, x := range rows {
		*id(&x) = pid
		out = append(out, x)
	}
	return out
}

// normDate reads a date as YYYY-MM-DD or YYYYMMDD (DICOM DA) and returns YYYY-MM-DD.
func normDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) == 8 && allDigits(s) {
		s = s[:4] + "-" + s[4:6] + "-" + s[6:]
	}
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[:4]+s[5:7]+s[8:]) {
		return "", fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	mo, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:])
	if mo < 1 || mo > 12 || d < 1 || d > 31 {
		return "", fmt.Errorf("date %q: no such month or day", s)
	}
	return s, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// intIn reads an integer between lo and hi.
func intIn(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is not between %d and %d", n, lo, hi)
	}
	return n, nil
}

// validUID reports whether s is a DICOM UID: digits and dots, at most 64 characters.
func validUID(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}
