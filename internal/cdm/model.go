package cdm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Code systems, as FHIR names them (the system URIs of FHIR R4, terminologies page).
const (
	SystemSNOMED = "http://snomed.info/sct"
	SystemLOINC  = "http://loinc.org"
	SystemICD10  = "http://hl7.org/fhir/sid/icd-10"
	SystemICDO3  = "http://terminology.hl7.org/CodeSystem/icd-o-3"
	SystemNCIT   = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
	SystemUCUM   = "http://unitsofmeasure.org"
	// SystemEUCAIM is the EUCAIM hyper-ontology, which has no URI of its own; its codes
	// look like "EUCAIM_Hyper-Ontology_V1.0.COM1000351".
	SystemEUCAIM = "EUCAIM"
)

// Birth sex codes (SNOMED CT), as the EUCAIM explorer's "Gender" key uses them.
const (
	SexFemale = "248152002"
	SexMale   = "248153007"
)

// Code is a coded value: its system (a URI, see the System constants), the code and an
// optional display text.
type Code struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// IsZero reports whether c has no code.
func (c Code) IsZero() bool { return c.Code == "" }

// Patient is a row of cdm_patient. ID is the node's pseudonym of the patient.
type Patient struct {
	ID           string
	BirthSex     string // SexFemale, SexMale or another SNOMED CT code; "" unknown
	BirthYear    *int
	VitalStatus  string // "alive", "deceased" or ""
	LastFollowUp string // YYYY-MM-DD
}

// Condition is a row of cdm_cancer_condition: a primary cancer (mCODE
// PrimaryCancerCondition) of a patient.
type Condition struct {
	PatientID       string
	Code            Code // the diagnosis, e.g. SNOMED CT 254837009 (breast cancer) or ICD-10 C50.9
	AgeAtDiagnosis  *int
	YearOfDiagnosis *int
	DateOfDiagnosis string // YYYY-MM-DD
	Morphology      Code   // histology, e.g. ICD-O-3 8500/3 or SNOMED CT
	Topography      Code   // body site, e.g. SNOMED CT 76752008 (breast) or ICD-O-3 C50.9
}

// Marker is a row of cdm_tumor_marker_test (mCODE TumorMarkerTest): a test (LOINC) and
// its result, coded (Value), a quantity (Num, Unit) or both absent (Text only).
type Marker struct {
	PatientID string
	Test      Code
	Value     Code
	Num       *float64
	Unit      string
	Text      string
	Effective string // YYYY-MM-DD
}

// Grade is a row of cdm_histologic_grade (mCODE HistologicGrade).
type Grade struct {
	PatientID string
	Value     Code
	Effective string
}

// Stage kinds.
const (
	StageT     = "T"
	StageN     = "N"
	StageM     = "M"
	StageGroup = "group"
)

// Stage is a row of cdm_cancer_stage: a TNM category or a stage group.
type Stage struct {
	PatientID string
	Kind      string // StageT, StageN, StageM or StageGroup
	Value     Code   // e.g. SNOMED CT or EUCAIM hyper-ontology code; Display e.g. "cT2"
	Effective string
}

// Treatment kinds.
const (
	TreatProcedure    = "procedure"
	TreatSurgery      = "surgery"
	TreatRadiotherapy = "radiotherapy"
	TreatMedication   = "medication"
)

// Treatment is a row of cdm_treatment.
type Treatment struct {
	PatientID  string
	Kind       string // one of the Treat constants
	Code       Code
	Start, End string // YYYY-MM-DD
}

// ImageStudy is a row of cdm_image_study: an imaging study of the index in the
// patient's history.
type ImageStudy struct {
	StudyUID   string // as in the index (de-identified)
	PatientID  string
	TimePoint  string
	OffsetDays *int
}

// Record is what one line of a CSV file or one patient of a FHIR bundle holds. Line is
// where it came from (a CSV line, or a bundle entry's index); Patient may be nil when
// the record only adds rows to a patient known from elsewhere.
type Record struct {
	Line       int
	Patient    *Patient
	Conditions []Condition
	Markers    []Marker
	Grades     []Grade
	Stages     []Stage
	Treatments []Treatment
	Studies    []ImageStudy
}

// Empty reports whether r holds no row at all.
func (r *Record) Empty() bool {
	return r.Patient == nil && len(r.Conditions)+len(r.Markers)+len(r.Grades)+len(r.Stages)+len(r.Treatments)+len(r.Studies) == 0
}

// Tables are the CDM tables in the order an import fills them.
var Tables = []string{"cdm_patient", "cdm_cancer_condition", "cdm_tumor_marker_test", "cdm_histologic_grade",
	"cdm_cancer_stage", "cdm_treatment", "cdm_image_study"}

// row is one row of a CDM table, as the store writes it.
type row struct {
	table  string
	keyCol string   // "id", or the natural primary key column
	key    string   // its value
	cols   []string // content columns (besides the key, source, hash and updated_ms)
	vals   []any
}

// hashKey is the id of a row with a composite natural key: the first 128 bits of
// SHA-256 over the table and the key's parts, hex.
func hashKey(table string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(table))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// contentHash is the hash of a row's content columns.
func (r row) contentHash() string {
	b, _ := json.Marshal(r.vals) // strings, ints and floats: cannot fail
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:16])
}

func intOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func floatOrNil(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func (p Patient) row() row {
	return row{"cdm_patient", "patient_id", p.ID,
		[]string{"birth_sex", "birth_year", "vital_status", "last_follow_up"},
		[]any{p.BirthSex, intOrNil(p.BirthYear), p.VitalStatus, p.LastFollowUp}}
}

// The natural keys: a patient has one condition per diagnosis code; one marker result
// per test and date; one grade per date; one stage category per kind, system of the
// value and date; one treatment per kind, code and start; a study belongs to one patient.

func (c Condition) row() row {
	return row{"cdm_cancer_condition", "id", hashKey("cdm_cancer_condition", c.PatientID, c.Code.System, c.Code.Code),
		[]string{"patient_id", "code_system", "code", "display", "age_at_diagnosis", "year_of_diagnosis", "date_of_diagnosis",
			"morphology_system", "morphology", "topography_system", "topography"},
		[]any{c.PatientID, c.Code.System, c.Code.Code, c.Code.Display, intOrNil(c.AgeAtDiagnosis), intOrNil(c.YearOfDiagnosis),
			c.DateOfDiagnosis, c.Morphology.System, c.Morphology.Code, c.Topography.System, c.Topography.Code}}
}

func (m Marker) row() row {
	return row{"cdm_tumor_marker_test", "id", hashKey("cdm_tumor_marker_test", m.PatientID, m.Test.System, m.Test.Code, m.Effective),
		[]string{"patient_id", "code_system", "code", "value_system", "value_code", "value_num", "unit", "value_text", "effective"},
		[]any{m.PatientID, m.Test.System, m.Test.Code, m.Value.System, m.Value.Code, floatOrNil(m.Num), m.Unit, m.Text, m.Effective}}
}

func (g Grade) row() row {
	return row{"cdm_histologic_grade", "id", hashKey("cdm_histologic_grade", g.PatientID, g.Effective),
		[]string{"patient_id", "value_system", "value_code", "effective"},
		[]any{g.PatientID, g.Value.System, g.Value.Code, g.Effective}}
}

func (s Stage) row() row {
	return row{"cdm_cancer_stage", "id", hashKey("cdm_cancer_stage", s.PatientID, s.Kind, s.Value.System, s.Effective),
		[]string{"patient_id", "kind", "value_system", "value_code", "display", "effective"},
		[]any{s.PatientID, s.Kind, s.Value.System, s.Value.Code, s.Value.Display, s.Effective}}
}

func (t Treatment) row() row {
	return row{"cdm_treatment", "id", hashKey("cdm_treatment", t.PatientID, t.Kind, t.Code.System, t.Code.Code, t.Start),
		[]string{"patient_id", "kind", "code_system", "code", "display", "start_date", "end_date"},
		[]any{t.PatientID, t.Kind, t.Code.System, t.Code.Code, t.Code.Display, t.Start, t.End}}
}

func (s ImageStudy) row() row {
	return row{"cdm_image_study", "study_uid", s.StudyUID,
		[]string{"patient_id", "time_point", "offset_days"},
		[]any{s.PatientID, s.TimePoint, intOrNil(s.OffsetDays)}}
}

// rows lists the rows of a record, patient first.
func (r *Record) rows() []row {
	var out []row
	if r.Patient != nil {
		out = append(out, r.Patient.row())
	}
	for _, x := range r.Conditions {
		out = append(out, x.row())
	}
	for _, x := range r.Markers {
		out = append(out, x.row())
	}
	for _, x := range r.Grades {
		out = append(out, x.row())
	}
	for _, x := range r.Stages {
		out = append(out, x.row())
	}
	for _, x := range r.Treatments {
		out = append(out, x.row())
	}
	for _, x := range r.Studies {
		out = append(out, x.row())
	}
	return out
}

// patientIDs lists the patients a record's rows name.
func (r *Record) patientIDs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if r.Patient != nil {
		add(r.Patient.ID)
	}
	for _, x := range r.Conditions {
		add(x.PatientID)
	}
	for _, x := range r.Markers {
		add(x.PatientID)
	}
	for _, x := range r.Grades {
		add(x.PatientID)
	}
	for _, x := range r.Stages {
		add(x.PatientID)
	}
	for _, x := range r.Treatments {
		add(x.PatientID)
	}
	for _, x := range r.Studies {
		add(x.PatientID)
	}
	return out
}

// systemNames maps the short names of code systems a mapping may use to their URIs.
var systemNames = map[string]string{
	"snomedct": SystemSNOMED, "snomed": SystemSNOMED, "sct": SystemSNOMED,
	"loinc": SystemLOINC, "ln": SystemLOINC,
	"icd10": SystemICD10, "icd-10": SystemICD10,
	"icdo3": SystemICDO3, "icd-o-3": SystemICDO3,
	"ncit":   SystemNCIT,
	"ucum":   SystemUCUM,
	"eucaim": SystemEUCAIM,
}

// SystemURI returns the URI of a code system named by a short name (SNOMEDCT, LOINC,
// ICD-10, ICD-O-3, NCIT, UCUM, EUCAIM; any case) or by its URI; ok is false for other
// names.
func SystemURI(name string) (uri string, ok bool) {
	name = strings.TrimSpace(name)
	if u, ok := systemNames[strings.ToLower(name)]; ok {
		return u, true
	}
	for _, u := range systemNames {
		if u == name {
			return u, true
		}
	}
	if strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://") || strings.HasPrefix(name, "urn:") {
		return name, true
	}
	return "", false
}

// splitPrefixed reads a code written with its system as a prefix, as the EUCAIM explorer
// writes them: "SNOMEDCT248152002", "LOINC2857-1", "EUCAIM_Hyper-Ontology_V1.0.COM1000351".
func splitPrefixed(s string) (Code, bool) {
	switch {
	case strings.HasPrefix(s, "SNOMEDCT") && len(s) > 8:
		return Code{System: SystemSNOMED, Code: s[8:]}, true
	case strings.HasPrefix(s, "LOINC") && len(s) > 5:
		return Code{System: SystemLOINC, Code: s[5:]}, true
	case strings.HasPrefix(s, "EUCAIM_"):
		return Code{System: SystemEUCAIM, Code: s}, true
	}
	return Code{}, false
}
