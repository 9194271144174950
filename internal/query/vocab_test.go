package query

import (
	"slices"
	"testing"
)

func TestVocabulary(t *testing.T) {
	keys := Keys()
	if len(keys) != 21 || !slices.IsSorted(keys) {
		t.Fatalf("%d keys (want the 22 categories of the explorer, two of them one key), sorted %v", len(keys), slices.IsSorted(keys))
	}
	for _, name := range keys {
		k, ok := LookupKey(name)
		if !ok {
			t.Fatalf("LookupKey(%s) failed", name)
		}
		switch k.Field {
		case FieldCoded:
			if len(k.Terms) == 0 || k.Ops[0] != Equals {
				t.Errorf("%s: coded key with %d terms, ops %v", name, len(k.Terms), k.Ops)
			}
		case FieldNumber:
			if len(k.Terms) != 0 || k.Ops[0] != Between {
				t.Errorf("%s: number key with terms %v, ops %v", name, k.Terms, k.Ops)
			}
		default:
			t.Errorf("%s: field %v", name, k.Field)
		}
		if k.Concept == "" || k.Level == 0 || k.System == "" || k.Code == "" {
			t.Errorf("%s: incomplete %+v", name, k)
		}
	}
	if _, ok := LookupKey("RID10312"); ok {
		t.Error("a code is taken for a key")
	}
}

func TestLocalValues(t *testing.T) {
	for _, tc := range []struct {
		key, code, dicom, cdm string
		concept               Concept
		level                 Level
	}{
		{"RID10311", "RID10312", "MR", "", ConceptModality, LevelSeries},
		{"RID10311", "RID10337", "PT", "", ConceptModality, LevelSeries},
		{"RID10311", "RID10334", "NM", "", ConceptModality, LevelSeries},
		{"RID10311", "RID10321", "CT", "", ConceptModality, LevelSeries},
		{"SNOMEDCT123037004", "SNOMEDCT76752008", "BREAST", "", ConceptBodyPart, LevelSeries},
		{"SNOMEDCT123037004", "SNOMEDCT12921003", "PELVIS", "", ConceptBodyPart, LevelSeries},
		{"SNOMEDCT263495000", "SNOMEDCT248152002", "F", "female", ConceptSex, LevelPatient},
		{"SNOMEDCT263495000", "SNOMEDCT248153007", "M", "male", ConceptSex, LevelPatient},
		{"SNOMEDCT263495000", "SNOMEDCT74964007", "O", "other", ConceptSex, LevelPatient},
		{"SNOMEDCT263495000", "SNOMEDCT261665006", "", "unknown", ConceptSex, LevelPatient},
		{"C25392", "birnlex_12833", "GE MEDICAL SYSTEMS", "", ConceptManufacturer, LevelSeries},
		{"SNOMEDCT439401001", "SNOMEDCT254837009", "", "", ConceptDiagnosis, LevelPatient},
		{"EUCAIM_Hyper-Ontology_V1.0.CLIN1037294", "EUCAIM_Hyper-Ontology_V1.0.CLIN1026298", "", "", ConceptHistologicGrade, LevelPatient},
		{"EUCAIM_Hyper-Ontology_V1.0.IMG1005459", "EUCAIM_Hyper-Ontology_V1.0.IMG1005470", "", "", ConceptTumorAssessment, LevelPatient},
		{"EUCAIM_Hyper-Ontology_V1.0.IMG1005459", "EUCAIM_Hyper-Ontology_V1.0.IMG1005475", "", "", ConceptTumorAssessment, LevelPatient},
	} {
		k, ok := LookupKey(tc.key)
		if !ok {
			t.Errorf("no key %s", tc.key)
			continue
		}
		term, ok := k.Term(tc.code)
		if !ok || term.DICOM != tc.dicom || term.CDM != tc.cdm || k.Concept != tc.concept || k.Level != tc.level {
			t.Errorf("%s %s: %+v (key %s %v), want DICOM %q CDM %q, %s %v", tc.key, tc.code, term, k.Concept, k.Level, tc.dicom, tc.cdm, tc.concept, tc.level)
		}
	}
	if k, _ := LookupKey("SNOMEDCT439401001"); k != nil {
		if term, _ := k.Term("SNOMEDCT254837009"); term.System != "http://snomed.info/sct" || term.Code != "254837009" || term.Name != "Breast Cancer" {
			t.Errorf("breast cancer %+v", term)
		}
	}
	if k, _ := LookupKey("C25392"); k == nil || !k.Takes(Contains) {
		t.Error("manufacturer does not take CONTAINS")
	}
	if k, _ := LookupKey("EUCAIM_Hyper-Ontology_V1.0.CLIN1033410"); k == nil || !k.HasMin || k.Min != 0 {
		t.Errorf("PSA has no minimum 0: %+v", k)
	}
}
