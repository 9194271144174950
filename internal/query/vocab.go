package query

import (
	"slices"
	"sort"
)

// Field is the kind of value a search key takes.
type Field int

const (
	// FieldCoded keys take codes of their criteria (the explorer's
	// "single-select" and "autocomplete" fields).
	FieldCoded Field = iota + 1
	// FieldNumber keys take numbers (the explorer's "number" fields).
	FieldNumber
)

func (f Field) String() string {
	switch f {
	case FieldCoded:
		return "code"
	case FieldNumber:
		return "number"
	}
	return "field?"
}

// Concept is what a search key means at a node: which data answers it.
type Concept string

// The concepts of the explorer's keys.
const (
	ConceptSex             Concept = "sex"               // patient; DICOM Patient's Sex, CDM sex
	ConceptAgeAtDiagnosis  Concept = "age_at_diagnosis"  // cancer condition, years
	ConceptDiagnosis       Concept = "diagnosis"         // cancer condition code (SNOMED CT)
	ConceptYearOfDiagnosis Concept = "year_of_diagnosis" // cancer condition
	ConceptModality        Concept = "modality"          // series; DICOM Modality
	ConceptBodyPart        Concept = "body_part"         // series; DICOM Body Part Examined
	ConceptManufacturer    Concept = "manufacturer"      // series; DICOM Manufacturer
	ConceptTumorMarker     Concept = "tumor_marker"      // CDM tumour marker test (hyper-ontology)
	ConceptHistologicGrade Concept = "histologic_grade"  // CDM histologic grade (hyper-ontology)
	ConceptCancerStage     Concept = "cancer_stage"      // CDM cancer stage (hyper-ontology)
	ConceptTumorAssessment Concept = "tumor_assessment"  // CDM tumour: BI-RADS, PI-RADS (hyper-ontology)
)

// Level is where a key matches: per series (modality, body part,
// manufacturer) or per patient (the rest: a patient's or their conditions').
type Level int

const (
	LevelPatient Level = iota + 1
	LevelSeries
)

func (l Level) String() string {
	switch l {
	case LevelPatient:
		return "patient"
	case LevelSeries:
		return "series"
	}
	return "level?"
}

// Key is one search key of the vocabulary.
type Key struct {
	Key   string // the explorer's key, e.g. "RID10311"
	Name  string // e.g. "Modality"
	Group string // the explorer's group, e.g. "imaging"
	// System and Code name the key's own concept in its code system.
	System, Code string
	Field        Field
	Concept      Concept
	Level        Level
	// Ops are the operators the key takes; the first is the one the explorer uses.
	Ops []Type
	// HasMin says numbers below Min are refused.
	HasMin bool
	Min    float64
	// Terms are the codes a coded key takes, in source order.
	Terms []Term
}

// Term is a code a coded key takes, with its local values.
type Term struct {
	Key  string // the explorer's key of the code, e.g. "RID10312"
	Name string // e.g. "Magnetic Resonance Imaging"
	// System and Code name it in its code system (SNOMED CT, RadLex, NCIt,
	// BIRNLex, EUCAIM hyper-ontology).
	System, Code string
	// DICOM is the value of the DICOM attribute a node matches for it, where
	// one exists: Modality (0008,0060) "MR", Body Part Examined (0018,0015)
	// "BREAST", Patient's Sex (0010,0040) "F", or for a manufacturer the text
	// Manufacturer (0008,0070) contains, upper case.
	DICOM string
	// CDM is the value the common data model stores for it when that is not
	// the code itself (sex: FHIR AdministrativeGender "female").
	CDM string
}

// Takes reports whether the key takes operator t.
func (k *Key) Takes(t Type) bool { return slices.Contains(k.Ops, t) }

// Term finds the term of the key with explorer key code.
func (k *Key) Term(code string) (Term, bool) {
	for _, t := range k.Terms {
		if t.Key == code {
			return t, true
		}
	}
	return Term{}, false
}

var keyIndex = func() map[string]*Key {
	m := make(map[string]*Key, len(vocabulary))
	for i := range vocabulary {
		m[vocabulary[i].Key] = &vocabulary[i]
	}
	return m
}()

// LookupKey finds a search key of the vocabulary. The Key is shared: do not
// modify it.
func LookupKey(key string) (*Key, bool) {
	k, ok := keyIndex[key]
	return k, ok
}

// Keys lists every search key of the vocabulary, sorted.
func Keys() []string {
	out := make([]string, 0, len(keyIndex))
	for k := range keyIndex {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
