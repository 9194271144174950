package main

// Facts the explorer's file does not hold: what each search key means at a
// node and which local values its codes have. Every entry names its source.
// The generator refuses a fact about a key or code the file does not have,
// and a modality, body part or sex code the file has without a fact here, so
// a new version of the file cannot slip through half mapped.

// keyFact is what a non-hyper-ontology key of the explorer means.
type keyFact struct {
	concept, level string // Go constants of package query
	extraOps       []string
}

// keyFacts: the explorer's own keys, by the concepts their names and codes
// denote (SNOMED CT 263495000 "Gender", 423493009 "Age at diagnosis",
// 439401001 "Diagnosis", 432213005 "Date of diagnosis"; RadLex RID10311
// "imaging modality"; SNOMED CT 123037004 "Body structure"; NCIt C25392
// "Manufacturer"). EUCAIM.md: modality, body part and manufacturer match per
// series, the rest per study or patient. Manufacturer also takes CONTAINS
// with free text, matched in DICOM Manufacturer (0008,0070), which devices
// write as free text (PS3.3 C.7.5.1, VR LO).
var keyFacts = map[string]keyFact{
	"SNOMEDCT263495000": {"ConceptSex", "LevelPatient", nil},
	"SNOMEDCT423493009": {"ConceptAgeAtDiagnosis", "LevelPatient", nil},
	"SNOMEDCT439401001": {"ConceptDiagnosis", "LevelPatient", nil},
	"SNOMEDCT432213005": {"ConceptYearOfDiagnosis", "LevelPatient", nil},
	"RID10311":          {"ConceptModality", "LevelSeries", nil},
	"SNOMEDCT123037004": {"ConceptBodyPart", "LevelSeries", nil},
	"C25392":            {"ConceptManufacturer", "LevelSeries", []string{"Contains"}},
}

// groupConcepts: the concept of every EUCAIM hyper-ontology key, by the
// explorer group it is in (the EUCAIM CDM entities of the same names).
var groupConcepts = map[string]string{
	"tumor_marker_test": "ConceptTumorMarker",
	"histologic_grade":  "ConceptHistologicGrade",
	"cancer_stage":      "ConceptCancerStage",
	"tumor":             "ConceptTumorAssessment",
}

// dicomValues maps codes to the DICOM attribute value a node matches, per key.
var dicomValues = map[string]map[string]string{
	// Modality (0008,0060), defined terms of DICOM PS3.3 C.7.3.1.1.1 and
	// PS3.16 CID 29 "Acquisition Modality"; the RadLex playbook terms
	// RID10312 MRI, RID10337 PET, RID10334 SPECT, RID10321 CT. SPECT has no
	// modality of its own: it is acquired and stored as NM (the SPECT term
	// "ST" was retired from PS3.3).
	"RID10311": {
		"RID10312": "MR",
		"RID10337": "PT",
		"RID10334": "NM",
		"RID10321": "CT",
	},
	// Body Part Examined (0018,0015), by DICOM PS3.16 Annex L "Correspondence
	// of Anatomic Region Codes and Body Part Examined Defined Terms" (CID 4031
	// Common Anatomic Regions): SNOMED CT 76752008 Breast BREAST, 71854001
	// Colon COLON, 39607008 Lung LUNG, 12921003 Pelvis PELVIS, 41216001
	// Prostate PROSTATE.
	"SNOMEDCT123037004": {
		"SNOMEDCT76752008": "BREAST",
		"SNOMEDCT71854001": "COLON",
		"SNOMEDCT39607008": "LUNG",
		"SNOMEDCT12921003": "PELVIS",
		"SNOMEDCT41216001": "PROSTATE",
	},
	// Patient's Sex (0010,0040), enumerated values of DICOM PS3.3 C.7.1.1
	// (M male, F female, O other); "unknown" has no value (the attribute is
	// empty).
	"SNOMEDCT263495000": {
		"SNOMEDCT248153007": "M",
		"SNOMEDCT248152002": "F",
		"SNOMEDCT74964007":  "O",
		"SNOMEDCT261665006": "",
	},
	// Manufacturer (0008,0070) is free text; a node matches the upper-cased
	// text these vendors' devices write in it as a substring. A convention
	// seen in the field, not a standard.
	"C25392": {
		"C200140":       "SIEMENS",
		"birnlex_3066":  "SIEMENS",
		"birnlex_12833": "GE MEDICAL SYSTEMS",
		"birnlex_3065":  "PHILIPS",
		"birnlex_3067":  "TOSHIBA",
	},
}

// cdmValues maps codes to the value the common data model stores, where that
// is not the code: sex as HL7 FHIR AdministrativeGender
// (http://hl7.org/fhir/administrative-gender: male, female, other,
// unknown), as mCODE's patient does.
var cdmValues = map[string]map[string]string{
	"SNOMEDCT263495000": {
		"SNOMEDCT248153007": "male",
		"SNOMEDCT248152002": "female",
		"SNOMEDCT74964007":  "other",
		"SNOMEDCT261665006": "unknown",
	},
}

// complete lists the keys every code of which must have a DICOM value.
var complete = []string{"RID10311", "SNOMEDCT123037004", "SNOMEDCT263495000", "C25392"}
