package cdm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// FHIR R4 shapes read by ParseBundle: the elements of Bundle, Patient, Condition,
// Observation, Procedure, MedicationAdministration/MedicationStatement and ImagingStudy
// the CDM uses (https://hl7.org/fhir/R4/), with mCODE's profiles and codes
// (https://hl7.org/fhir/us/mcode/).

type fhirBundle struct {
	ResourceType string `json:"resourceType"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

type fhirCoding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type fhirConcept struct {
	Coding []fhirCoding `json:"coding"`
	Text   string       `json:"text"`
}

type fhirReference struct {
	Reference  string `json:"reference"`
	Identifier *struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
}

type fhirExtension struct {
	URL                  string       `json:"url"`
	ValueCode            string       `json:"valueCode"`
	ValueCodeableConcept *fhirConcept `json:"valueCodeableConcept"`
}

type fhirPeriod struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type fhirResource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		Profile []string `json:"profile"`
	} `json:"meta"`
	Extension []fhirExtension `json:"extension"`
	// Patient
	Identifier []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Gender           string `json:"gender"`
	BirthDate        string `json:"birthDate"`
	DeceasedBoolean  *bool  `json:"deceasedBoolean"`
	DeceasedDateTime string `json:"deceasedDateTime"`
	// Condition, Observation, Procedure, ...
	Subject       fhirReference `json:"subject"`
	Code          fhirConcept   `json:"code"`
	BodySite      []fhirConcept `json:"bodySite"`
	OnsetDateTime string        `json:"onsetDateTime"`
	OnsetAge      *struct {
		Value float64 `json:"value"`
		Unit  string  `json:"unit"`
		Code  string  `json:"code"`
	} `json:"onsetAge"`
	RecordedDate         string       `json:"recordedDate"`
	EffectiveDateTime    string       `json:"effectiveDateTime"`
	ValueCodeableConcept *fhirConcept `json:"valueCodeableConcept"`
	ValueQuantity        *struct {
		Value *float64 `json:"value"`
		Unit  string   `json:"unit"`
		Code  string   `json:"code"`
	} `json:"valueQuantity"`
	ValueString       string        `json:"valueString"`
	Category          []fhirConcept `json:"category"`
	PerformedDateTime string        `json:"performedDateTime"`
	PerformedPeriod   *fhirPeriod   `json:"performedPeriod"`
	EffectivePeriod   *fhirPeriod   `json:"effectivePeriod"`
	// MedicationAdministration, MedicationStatement
	MedicationCodeableConcept *fhirConcept `json:"medicationCodeableConcept"`
	// ImagingStudy
	Started string `json:"started"`
}

// mCODE profiles and extensions (https://hl7.org/fhir/us/mcode/, STU3/STU4).
const (
	mcodeBase                = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
	mcodeTumorMarkerTest     = mcodeBase + "mcode-tumor-marker-test"
	mcodeHistologicGrade     = mcodeBase + "mcode-histologic-grade"
	mcodeHistologyMorphology = mcodeBase + "mcode-histology-morphology-behavior"
	mcodeRadiotherapy        = mcodeBase + "mcode-radiotherapy-course-summary"
	mcodeSurgery             = mcodeBase + "mcode-cancer-related-surgical-procedure"
	usCoreBirthSex           = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
)

// stageCodes are the Observation codes of TNM categories and stage groups: SNOMED CT
// (mCODE STU3/4 value sets mcode-tnm-*-staging-type-vs) and LOINC (mCODE STU1/2).
var stageCodes = map[string]string{
	// T: T category, cT category, pT category; LOINC clinical and pathological T.
	SystemSNOMED + "|78873005": StageT, SystemSNOMED + "|399504009": StageT, SystemSNOMED + "|384625004": StageT,
	SystemLOINC + "|21905-5": StageT, SystemLOINC + "|21899-0": StageT,
	// N: N category, cN category, pN category; LOINC clinical and pathological N.
	SystemSNOMED + "|277206009": StageN, SystemSNOMED + "|399534004": StageN, SystemSNOMED + "|371494008": StageN,
	SystemLOINC + "|21906-3": StageN, SystemLOINC + "|21900-6": StageN,
	// M: M category, cM category, pM category; LOINC clinical and pathological M.
	SystemSNOMED + "|277208005": StageM, SystemSNOMED + "|399387003": StageM, SystemSNOMED + "|371497001": StageM,
	SystemLOINC + "|21907-1": StageM, SystemLOINC + "|21901-4": StageM,
	// Stage group: clinical and pathological TNM stage grouping; LOINC.
	SystemSNOMED + "|399537006": StageGroup, SystemSNOMED + "|399588009": StageGroup,
	SystemLOINC + "|21908-9": StageGroup, SystemLOINC + "|21902-2": StageGroup,
}

// gradeCode is the Observation code of mCODE's HistologicGrade: SNOMED CT 371469007
// "Histologic grade of neoplasm".
const gradeCode = SystemSNOMED + "|371469007"

// markerCodes are LOINC tumor marker tests recognised without the mCODE profile.
var markerCodes = map[string]bool{
	"2857-1": true, "16112-5": true, "16113-3": true, "48676-1": true, "85337-4": true, "85339-0": true,
	"85319-2": true, "85318-4": true, "40556-3": true, "40557-1": true, "10334-1": true, "2039-6": true,
}

// BundleOptions say how to read a bundle's patients.
type BundleOptions struct {
	// IdentifierSystem chooses the Patient.identifier whose value is the patient's ID
	// (as in the DICOM PatientID); empty: the first identifier, else the resource id.
	IdentifierSystem string
	// Pseudonymized: the IDs are the node's pseudonyms already.
	Pseudonymized bool
	// Issuers as in PatientIDMapping.
	Issuers []string
}

// ParseBundle reads a FHIR R4 Bundle (JSON): Patient, Condition (primary cancer),
// Observation (tumor markers, TNM stage, histologic grade), Procedure (surgery,
// radiotherapy and other procedures), MedicationAdministration and MedicationStatement
// (medication), ImagingStudy (the study's DICOM UID). Problems are reported by entry
// number (from 1); other resource types are counted as problems too ("not in the CDM")
// so that nothing is left out silently.
func ParseBundle(r io.Reader, o BundleOptions, id Identity) (*Parsed, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxImportSize+1))
	if err != nil {
		return nil, fmt.Errorf("cdm: reading the bundle: %w", err)
	}
	if len(b) > MaxImportSize {
		return nil, ErrTooLarge
	}
	var bundle fhirBundle
	if err := json.Unmarshal(b, &bundle); err != nil {
		return nil, fmt.Errorf("cdm: the bundle is not JSON: %w", err)
	}
	if bundle.ResourceType != "Bundle" {
		return nil, fmt.Errorf("cdm: resourceType is %q, want Bundle", bundle.ResourceType)
	}
	p := &Parsed{}
	res := make([]fhirResource, len(bundle.Entry))
	// Patients first: every other resource refers to one.
	type patInfo struct {
		pids      []string
		birthDate string
	}
	patients := map[string]*patInfo{} // by "Patient/id" and by fullUrl
	for i, e := range bundle.Entry {
		p.Lines++
		if len(e.Resource) == 0 || bytes.Equal(e.Resource, []byte("null")) {
			p.problem(i+1, "entry without a resource")
			continue
		}
		if err := json.Unmarshal(e.Resource, &res[i]); err != nil {
			p.problem(i+1, "resource: %v", err)
			res[i].ResourceType = ""
			continue
		}
		x := &res[i]
		if x.ResourceType != "Patient" {
			continue
		}
		raw := x.ID
		for _, ident := range x.Identifier {
			if o.IdentifierSystem == "" || ident.System == o.IdentifierSystem {
				raw = ident.Value
				break
			}
		}
		if o.IdentifierSystem != "" && raw == x.ID {
			found := false
			for _, ident := range x.Identifier {
				found = found || ident.System == o.IdentifierSystem
			}
			if !found {
				p.problem(i+1, "Patient/%s has no identifier of system %s", x.ID, o.IdentifierSystem)
				continue
			}
		}
		if strings.TrimSpace(raw) == "" {
			p.problem(i+1, "Patient without an identifier or id")
			continue
		}
		pids, err := id.patients(strings.TrimSpace(raw), o.Pseudonymized, o.Issuers)
		if err != nil {
			return nil, fmt.Errorf("cdm: %w", err)
		}
		pat := Patient{}
		switch x.Gender {
		case "female":
			pat.BirthSex = SexFemale
		case "male":
			pat.BirthSex = SexMale
		}
		for _, ext := range x.Extension {
			if ext.URL == usCoreBirthSex { // US Core birth sex: F, M, UNK
				switch ext.ValueCode {
				case "F":
					pat.BirthSex = SexFemale
				case "M":
					pat.BirthSex = SexMale
				}
			}
		}
		if x.BirthDate != "" {
			if y, err := intIn(prefix(x.BirthDate, 4), 1850, 2200); err == nil {
				pat.BirthYear = &y
			} else {
				p.problem(i+1, "Patient/%s birthDate: %v", x.ID, err)
				continue
			}
		}
		if x.DeceasedBoolean != nil || x.DeceasedDateTime != "" {
			pat.VitalStatus = "alive"
			if x.DeceasedDateTime != "" || *x.DeceasedBoolean {
				pat.VitalStatus = "deceased"
			}
		}
		info := &patInfo{pids: pids, birthDate: x.BirthDate}
		patients["Patient/"+x.ID] = info
		if e.FullURL != "" {
			patients[e.FullURL] = info
		}
		for _, pid := range pids {
			q := pat
			q.ID = pid
			p.Records = append(p.Records, Record{Line: i + 1, Patient: &q})
		}
	}
	for i := range res {
		x := &res[i]
		if x.ResourceType == "" || x.ResourceType == "Patient" {
			continue
		}
		line := i + 1
		ref := x.Subject.Reference
		info := patients[ref]
		switch x.ResourceType {
		case "Condition", "Observation", "Procedure", "MedicationAdministration", "MedicationStatement", "ImagingStudy":
		default:
			p.problem(line, "%s/%s: resource type not in the CDM", x.ResourceType, x.ID)
			continue
		}
		if info == nil {
			p.problem(line, "%s/%s: subject %q is not a Patient of the bundle", x.ResourceType, x.ID, ref)
			continue
		}
		var rec Record
		var err error
		switch x.ResourceType {
		case "Condition":
			err = fhirCondition(x, info.birthDate, &rec)
		case "Observation":
			err = fhirObservation(x, &rec)
		case "Procedure":
			err = fhirProcedure(x, &rec)
		case "MedicationAdministration", "MedicationStatement":
			err = fhirMedication(x, &rec)
		case "ImagingStudy":
			err = fhirImagingStudy(x, id, o.Pseudonymized, &rec)
		}
		if err != nil {
			p.problem(line, "%s/%s: %v", x.ResourceType, x.ID, err)
			continue
		}
		for _, pid := range info.pids {
			y := rec.forPatient(pid)
			y.Line = line
			y.Patient = nil
			p.Records = append(p.Records, y)
		}
	}
	return p, nil
}

func prefix(s string, n int) string {
	if len(s) < n {
		return s
	}
	return s[:n]
}

// concept returns the first coding of c with a code, its system as the CDM names it.
func concept(c *fhirConcept) (Code, bool) {
	if c == nil {
		return Code{}, false
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			sys := cd.System
			if u, ok := SystemURI(sys); ok {
				sys = u
			}
			d := cd.Display
			if d == "" {
				d = c.Text
			}
			return Code{System: sys, Code: cd.Code, Display: d}, true
		}
	}
	return Code{}, false
}

// fhirDate returns the date part of a FHIR date or dateTime (YYYY, YYYY-MM or
// YYYY-MM-DD, with an optional time), or "" for a partial one.
func fhirDate(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) < 10 {
		if len(s) == 4 || len(s) == 7 {
			return "", nil // a partial date carries no day
		}
		return "", fmt.Errorf("date %q is not a FHIR date", s)
	}
	return normDate(s[:10])
}

func fhirCondition(x *fhirResource, birthDate string, rec *Record) error {
	code, ok := concept(&x.Code)
	if !ok {
		return errors.New("no code")
	}
	c := Condition{Code: code}
	for _, bs := range x.BodySite {
		if t, ok := concept(&bs); ok {
			c.Topography = t
			break
		}
	}
	for _, ext := range x.Extension {
		if ext.URL == mcodeHistologyMorphology {
			if m, ok := concept(ext.ValueCodeableConcept); ok {
				c.Morphology = m
			}
		}
	}
	onset := x.OnsetDateTime
	if onset == "" {
		onset = x.RecordedDate
	}
	d, err := fhirDate(onset)
	if err != nil {
		return err
	}
	c.DateOfDiagnosis = d
	if len(onset) >= 4 {
		y, err := intIn(onset[:4], 1850, 2200)
		if err != nil {
			return fmt.Errorf("onset year: %v", err)
		}
		c.YearOfDiagnosis = &y
	}
	switch {
	case x.OnsetAge != nil:
		if x.OnsetAge.Value < 0 || x.OnsetAge.Value > 130 {
			return fmt.Errorf("onsetAge %v is not an age in years", x.OnsetAge.Value)
		}
		if x.OnsetAge.Code != "" && x.OnsetAge.Code != "a" {
			return fmt.Errorf("onsetAge in %q, want years (UCUM a)", x.OnsetAge.Code)
		}
		a := int(x.OnsetAge.Value)
		c.AgeAtDiagnosis = &a
	case d != "" && len(birthDate) >= 10:
		b, err := normDate(birthDate[:10])
		if err != nil {
			return fmt.Errorf("patient birthDate: %v", err)
		}
		a := yearsBetween(b, d)
		if a < 0 || a > 130 {
			return fmt.Errorf("onset %s is not after the birth date %s", d, b)
		}
		c.AgeAtDiagnosis = &a
	}
	rec.Conditions = append(rec.Conditions, c)
	return nil
}

// yearsBetween returns the whole years from the date a to b (both YYYY-MM-DD).
func yearsBetween(a, b string) int {
	ya, _ := strconv.Atoi(a[:4])
	yb, _ := strconv.Atoi(b[:4])
	n := yb - ya
	if b[5:] < a[5:] {
		n--
	}
	return n
}

func hasProfile(x *fhirResource, p string) bool {
	for _, q := range x.Meta.Profile {
		if q == p || strings.HasPrefix(q, p+"|") {
			return true
		}
	}
	return false
}

func fhirObservation(x *fhirResource, rec *Record) error {
	code, ok := concept(&x.Code)
	if !ok {
		return errors.New("no code")
	}
	eff := x.EffectiveDateTime
	if eff == "" && x.EffectivePeriod != nil {
		eff = x.EffectivePeriod.Start
	}
	date, err := fhirDate(eff)
	if err != nil {
		return err
	}
	value, hasValue := concept(x.ValueCodeableConcept)
	key := code.System + "|" + code.Code
	switch {
	case stageCodes[key] != "":
		if !hasValue {
			return fmt.Errorf("stage observation %s without valueCodeableConcept", code.Code)
		}
		rec.Stages = append(rec.Stages, Stage{Kind: stageCodes[key], Value: value, Effective: date})
	case key == gradeCode || hasProfile(x, mcodeHistologicGrade):
		if !hasValue {
			return errors.New("histologic grade without valueCodeableConcept")
		}
		rec.Grades = append(rec.Grades, Grade{Value: value, Effective: date})
	case hasProfile(x, mcodeTumorMarkerTest) || code.System == SystemLOINC && markerCodes[code.Code]:
		m := Marker{Test: code, Effective: date}
		switch {
		case hasValue:
			m.Value, m.Text = value, value.Display
		case x.ValueQuantity != nil && x.ValueQuantity.Value != nil:
			v := *x.ValueQuantity.Value
			m.Num, m.Unit = &v, x.ValueQuantity.Code
			if m.Unit == "" {
				m.Unit = x.ValueQuantity.Unit
			}
			m.Text = strconv.FormatFloat(v, 'f', -1, 64)
		case x.ValueString != "":
			m.Text = x.ValueString
		default:
			return errors.New("tumor marker test without a value")
		}
		m.Value.Display = ""
		rec.Markers = append(rec.Markers, m)
	default:
		return fmt.Errorf("observation code %s|%s is not a tumor marker, stage or grade of the CDM", code.System, code.Code)
	}
	return nil
}

func fhirProcedure(x *fhirResource, rec *Record) error {
	code, ok := concept(&x.Code)
	if !ok {
		return errors.New("no code")
	}
	t := Treatment{Kind: TreatProcedure, Code: code}
	switch {
	case hasProfile(x, mcodeRadiotherapy):
		t.Kind = TreatRadiotherapy
	case hasProfile(x, mcodeSurgery):
		t.Kind = TreatSurgery
	}
	return addTreatment(rec, t, x.PerformedDateTime, x.PerformedPeriod)
}

func fhirMedication(x *fhirResource, rec *Record) error {
	code, ok := concept(x.MedicationCodeableConcept)
	if !ok {
		return errors.New("no medicationCodeableConcept")
	}
	t := Treatment{Kind: TreatMedication, Code: code}
	return addTreatment(rec, t, x.EffectiveDateTime, x.EffectivePeriod)
}

// addTreatment dates t by its period, or else its single date time, and adds it to rec.
func addTreatment(rec *Record, t Treatment, at string, period *fhirPeriod) error {
	start, end := at, ""
	if period != nil {
		start, end = period.Start, period.End
	}
	var err error
	if t.Start, err = fhirDate(start); err != nil {
		return err
	}
	if t.End, err = fhirDate(end); err != nil {
		return err
	}
	rec.Treatments = append(rec.Treatments, t)
	return nil
}

func fhirImagingStudy(x *fhirResource, id Identity, pseudonymized bool, rec *Record) error {
	for _, ident := range x.Identifier {
		if ident.System == "urn:dicom:uid" {
			uid := strings.TrimPrefix(ident.Value, "urn:oid:")
			if !validUID(uid) {
				return fmt.Errorf("identifier %q is not a DICOM UID", ident.Value)
			}
			rec.Studies = append(rec.Studies, ImageStudy{StudyUID: id.studyUID(uid, pseudonymized)})
			return nil
		}
	}
	return errors.New("no identifier of system urn:dicom:uid (the Study Instance UID)")
}
