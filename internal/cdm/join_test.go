package cdm_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/archive/archivetest"
	"github.com/cancerimage/cie/internal/testenv"
)

// TestJoinWithIndex ingests a real DICOM file through the archive (de-identification
// included), imports a CSV row for its original Patient ID and Study UID with the same
// key, and finds the clinical data joined to the indexed study.
func TestJoinWithIndex(t *testing.T) {
	var path string
	for _, cf := range testenv.Corpus(t) {
		if filepath.Base(cf.Path) == "CT_small.dcm" && strings.Contains(cf.Path, "test_files") {
			path = cf.Path
		}
	}
	if path == "" {
		t.Fatal("CT_small.dcm is not in the corpus")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := dicom.Parse(bytes.NewReader(b), int64(len(b)), dicom.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	origPID, issuer, origStudy := f.Dataset.Text(tags.PatientID), f.Dataset.Text(tags.IssuerOfPatientID), f.Dataset.Text(tags.StudyInstanceUID)
	if origPID == "" || origStudy == "" {
		t.Fatalf("CT_small.dcm: patient %q, study %q", origPID, origStudy)
	}

	ctx := context.Background()
	a := archivetest.Open(t)
	out, err := a.Ingest(ctx, bytes.NewReader(b), int64(len(b)), archive.Source{Kind: "ingest", Name: "CT_small.dcm"})
	if err != nil || out.Status != archive.Stored {
		t.Fatalf("ingest: %+v %v", out, err)
	}
	ps, err := deid.NewPseudonyms(archivetest.Key)
	if err != nil {
		t.Fatal(err)
	}
	m := &cdm.Mapping{PatientID: cdm.PatientIDMapping{Column: "PatientID", Issuers: []string{issuer}},
		Columns: []cdm.ColumnMapping{
			{Column: "Sex", Element: "patient.birth_sex", Values: map[string]string{"F": "SNOMEDCT248152002", "M": "SNOMEDCT248153007"}},
			{Column: "Diagnosis", Element: "cancer_condition.code", System: "SNOMEDCT"},
			{Column: "Age", Element: "cancer_condition.age_at_diagnosis"},
			{Column: "Study", Element: "image_study.study_uid"},
			{Column: "TimePoint", Element: "image_study.time_point"},
		}}
	csv := "PatientID,Sex,Diagnosis,Age,Study,TimePoint\n" + origPID + ",F,363358000,63," + origStudy + ",baseline\nSOMEONE-ELSE,M,399068003,70,,\n"
	st := cdm.NewStore(a.DB())
	im := &cdm.Importer{Store: st, Identity: cdm.Identity{Pseudonyms: ps}}
	if _, err := im.Import(ctx, "t", cdm.Input{Source: "c.csv", Data: strings.NewReader(csv), Mapping: m}); err != nil {
		t.Fatal(err)
	}
	joined, err := st.StudiesClinical(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(joined) != 1 {
		t.Fatalf("joined studies: %+v", joined)
	}
	j := joined[0]
	if j.StudyUID != out.StudyUID || j.BirthSex != cdm.SexFemale || j.AgeAtDiagnosis == nil || *j.AgeAtDiagnosis != 63 || j.Diagnosis.Code != "363358000" {
		t.Fatalf("joined: %+v (study %s)", j, out.StudyUID)
	}
	if j.PatientID == origPID {
		t.Fatal("the join used the original patient ID")
	}
	if n, err := st.LinkedPatients(ctx); err != nil || n != 1 {
		t.Fatalf("linked patients: %d %v", n, err)
	}
	// The image study row names the index's (de-identified) study UID.
	var tp string
	if err := a.DB().QueryRow(ctx, `SELECT i.time_point FROM cdm_image_study i JOIN studies s ON s.study_uid = i.study_uid AND s.patient_id = i.patient_id`).Scan(&tp); err != nil || tp != "baseline" {
		t.Fatalf("image study join: %q %v", tp, err)
	}
}
