package cdm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/synth"
	"github.com/cancerimage/cie/internal/testenv"
)

var testKey = []byte("cdm-test-key-0123456789abcdef0123456789")

func pseudonyms(t testing.TB) *deid.Pseudonyms {
	t.Helper()
	ps, err := deid.NewPseudonyms(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// engines runs fn on a migrated node store on SQLite and on PostgreSQL.
func engines(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, e := range []string{"sqlite", "postgres"} {
		t.Run(e, func(t *testing.T) {
			url := filepath.Join(t.TempDir(), "node.db")
			if e == "postgres" {
				url = testenv.Postgres(t)
			}
			db, err := store.OpenMigrated(context.Background(), url, slog.New(slog.DiscardHandler), migrations.FS, migrations.Table)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, db)
		})
	}
}

func readMapping(t testing.TB, name string) *cdm.Mapping {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := cdm.ReadMapping(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// synthCSV returns the clinical CSV of a generated node and its generator.
func synthCSV(t testing.TB, node string, patients int) ([]byte, *synth.Generator) {
	t.Helper()
	o := synth.DemoOptions(node, 20261122)
	o.Patients = patients
	g, err := synth.New(o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := synth.WriteClinicalCSV(&buf, g.Clinical()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), g
}

func TestImportSynthCSV(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 12
		data, g := synthCSV(t, "oslo", n)
		m := readMapping(t, "synth-mapping.yaml")
		m.PatientID.Issuers = g.PatientIDIssuers()
		if len(m.PatientID.Issuers) == 0 {
			t.Fatal("synth names no issuers")
		}
		ps := pseudonyms(t)
		im := &cdm.Importer{Store: cdm.NewStore(db), Identity: cdm.Identity{Pseudonyms: ps}}
		rep, err := im.Import(ctx, "tester", cdm.Input{Source: "clinical.csv", Data: bytes.NewReader(data), Mapping: m})
		if err != nil {
			t.Fatal(err)
		}
		ni := len(m.PatientID.Issuers)
		if rep.Format != cdm.FormatCSV || rep.Lines != n || rep.ProblemCount != 0 || rep.Records != n*ni {
			t.Fatalf("report: format %s, %d lines, %d records, problems %v", rep.Format, rep.Lines, rep.Records, rep.Problems)
		}
		if got := rep.Totals["cdm_patient"]; got != n*ni {
			t.Fatalf("%d patients, want %d", got, n*ni)
		}
		if got := rep.Totals["cdm_cancer_condition"]; got != n*ni {
			t.Fatalf("%d conditions, want %d", got, n*ni)
		}
		if got := rep.Totals["cdm_cancer_stage"]; got != 3*n*ni {
			t.Fatalf("%d stages, want %d (T, N and M of each)", got, 3*n*ni)
		}
		// Every patient's clinical row is found under the pseudonym the DICOM files get.
		var markers int
		for p := range g.Patients() {
			c := p.Clinical
			if c.PSA != 0 {
				markers++
			}
			if c.ER != "" {
				markers += 3
			}
			for _, is := range m.PatientID.Issuers {
				pid := ps.PatientID(is, p.ID)
				var sex, code, disp string
				var age, year int
				err := db.QueryRow(ctx, `SELECT p.birth_sex, c.code, c.display, c.age_at_diagnosis, c.year_of_diagnosis
					FROM cdm_patient p JOIN cdm_cancer_condition c ON c.patient_id = p.patient_id WHERE p.patient_id = ?`, pid).
					Scan(&sex, &code, &disp, &age, &year)
				if err != nil {
					t.Fatalf("patient %s (%s, issuer %s): %v", p.ID, pid, is, err)
				}
				if sex != c.SexCode || code != c.CancerCode || disp != c.CancerDisplay || age != c.AgeAtDiagnosis || year != c.YearOfDiagnosis {
					t.Fatalf("patient %s: %s %s %q %d %d, want %s %s %q %d %d", p.ID, sex, code, disp, age, year,
						c.SexCode, c.CancerCode, c.CancerDisplay, c.AgeAtDiagnosis, c.YearOfDiagnosis)
				}
				var mDisp string
				if err := db.QueryRow(ctx, `SELECT display FROM cdm_cancer_stage WHERE patient_id = ? AND kind = 'M'`, pid).Scan(&mDisp); err != nil || mDisp != c.M {
					t.Fatalf("patient %s: M %q (%v), want %q", p.ID, mDisp, err, c.M)
				}
			}
		}
		if got := rep.Totals["cdm_tumor_marker_test"]; got != markers*ni {
			t.Fatalf("%d markers, want %d", got, markers*ni)
		}

		// The same file again changes nothing.
		rep2, err := im.Import(ctx, "tester", cdm.Input{Source: "clinical.csv", Data: bytes.NewReader(data), Mapping: m})
		if err != nil {
			t.Fatal(err)
		}
		if tot := rep2.Changes.Total(); tot.Inserted != 0 || tot.Updated != 0 || tot.Unchanged == 0 {
			t.Fatalf("re-import: %+v", rep2.Changes)
		}
		for k, v := range rep.Totals {
			if rep2.Totals[k] != v {
				t.Fatalf("re-import changed %s: %d → %d", k, v, rep2.Totals[k])
			}
		}
		// A corrected age updates one condition per issuer and nothing else.
		lines := strings.Split(string(data), "\n")
		f := strings.Split(lines[1], ",")
		f[3] = "99"
		lines[1] = strings.Join(f, ",")
		rep3, err := im.Import(ctx, "tester", cdm.Input{Source: "clinical.csv", Data: strings.NewReader(strings.Join(lines, "\n")), Mapping: m})
		if err != nil {
			t.Fatal(err)
		}
		if c := rep3.Changes["cdm_cancer_condition"]; c.Updated != ni || c.Inserted != 0 {
			t.Fatalf("corrected import: %+v", rep3.Changes)
		}
		if tot := rep3.Changes.Total(); tot.Updated != ni || tot.Inserted != 0 {
			t.Fatalf("corrected import changed more: %+v", rep3.Changes)
		}
		imps, err := im.Store.RecentImports(ctx, 10)
		if err != nil || len(imps) != 3 || imps[0].Updated != ni {
			t.Fatalf("imports log: %+v, %v", imps, err)
		}
	})
}

func TestImportBadLines(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := readMapping(t, "template-mapping.csv")
		if m.PatientID.Column != "mrn" || len(m.PatientID.Issuers) != 1 || m.PatientID.Issuers[0] != "HOSP" {
			t.Fatalf("template's patient id: %+v", m.PatientID)
		}
		data, err := os.ReadFile("testdata/bad.csv")
		if err != nil {
			t.Fatal(err)
		}
		ps := pseudonyms(t)
		im := &cdm.Importer{Store: cdm.NewStore(db), Identity: cdm.Identity{Pseudonyms: ps}}
		rep, err := im.Import(ctx, "tester", cdm.Input{Source: "bad.csv", Data: bytes.NewReader(data), Mapping: m})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]string{
			4:  "no patient ID",
			5:  `value "X" of column gender is not in its value map`,
			6:  `"abc" is not a whole number`,
			7:  `date "2020-13-01": no such month`,
			8:  `"high" is not a number`,
			9:  "3 fields, the header has 9",
			10: "without a diagnosis code",
			11: `extraneous or missing " in quoted-field`,
		}
		if len(rep.Problems) != len(want) || rep.ProblemCount != len(want) {
			t.Fatalf("problems: %+v", rep.Problems)
		}
		for _, p := range rep.Problems {
			if w, ok := want[p.Line]; !ok || !strings.Contains(p.Reason, w) {
				t.Errorf("line %d: %q, want %q", p.Line, p.Reason, w)
			}
		}
		if rep.Records != 2 || rep.Totals["cdm_patient"] != 2 || rep.Totals["cdm_histologic_grade"] != 2 || rep.Totals["cdm_tumor_marker_test"] != 1 ||
			rep.Totals["cdm_image_study"] != 1 {
			t.Fatalf("imported: %d records, totals %v", rep.Records, rep.Totals)
		}
		// The good lines are there under the pseudonym of issuer HOSP, with ICD-10 codes and
		// the grade mapped to SNOMED CT; the study UID is the node's pseudonym of it.
		pid := ps.PatientID("HOSP", "PAT-0002")
		var sys, code, grade string
		var psa float64
		err = db.QueryRow(ctx, `SELECT c.code_system, c.code, g.value_code, m.value_num FROM cdm_cancer_condition c
			JOIN cdm_histologic_grade g ON g.patient_id = c.patient_id JOIN cdm_tumor_marker_test m ON m.patient_id = c.patient_id
			WHERE c.patient_id = ? AND m.code = '2857-1'`, pid).Scan(&sys, &code, &grade, &psa)
		if err != nil || sys != cdm.SystemICD10 || code != "C61" || grade != "1155707008" || psa != 6.2 {
			t.Fatalf("PAT-0002: %s %s %s %v (%v)", sys, code, grade, psa, err)
		}
		var study, owner string
		if err := db.QueryRow(ctx, `SELECT study_uid, patient_id FROM cdm_image_study`).Scan(&study, &owner); err != nil ||
			study != ps.UID("1.2.826.0.1.3680043.8.498.12345") || owner != ps.PatientID("HOSP", "PAT-0001") {
			t.Fatalf("image study %s of %s (%v)", study, owner, err)
		}
	})
}

func TestImportBundle(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		data, err := os.ReadFile("testdata/bundle.json")
		if err != nil {
			t.Fatal(err)
		}
		ps := pseudonyms(t)
		im := &cdm.Importer{Store: cdm.NewStore(db), Identity: cdm.Identity{Pseudonyms: ps}}
		in := cdm.Input{Source: "bundle.json", Data: bytes.NewReader(data), Bundle: cdm.BundleOptions{IdentifierSystem: "http://hospital.example/mrn"}}
		rep, err := im.Import(ctx, "tester", in)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Format != cdm.FormatFHIR || rep.Lines != 14 {
			t.Fatalf("format %s, %d entries", rep.Format, rep.Lines)
		}
		want := map[int]string{
			8:  "observation code http://loinc.org|8867-4 is not a tumor marker, stage or grade",
			9:  "Condition/c-nocode: no code",
			10: `subject "Patient/nobody" is not a Patient of the bundle`,
			11: "Encounter/e1: resource type not in the CDM",
		}
		if len(rep.Problems) != len(want) {
			t.Fatalf("problems: %+v", rep.Problems)
		}
		for _, p := range rep.Problems {
			if w, ok := want[p.Line]; !ok || !strings.Contains(p.Reason, w) {
				t.Errorf("entry %d: %q, want %q", p.Line, p.Reason, w)
			}
		}
		wantTotals := map[string]int{"cdm_patient": 2, "cdm_cancer_condition": 2, "cdm_tumor_marker_test": 2, "cdm_histologic_grade": 1,
			"cdm_cancer_stage": 1, "cdm_treatment": 1, "cdm_image_study": 1}
		for k, v := range wantTotals {
			if rep.Totals[k] != v {
				t.Errorf("%s: %d rows, want %d", k, rep.Totals[k], v)
			}
		}
		p1, p2 := ps.PatientID("", "PAT-0001"), ps.PatientID("", "PAT-0002")
		var sex, morph, topo string
		var age, year int
		err = db.QueryRow(ctx, `SELECT p.birth_sex, c.age_at_diagnosis, c.year_of_diagnosis, c.morphology, c.topography
			FROM cdm_patient p JOIN cdm_cancer_condition c ON c.patient_id = p.patient_id WHERE p.patient_id = ?`, p1).Scan(&sex, &age, &year, &morph, &topo)
		// Born 1965-06-20, diagnosed 2018-03-16: 52 years old.
		if err != nil || sex != cdm.SexFemale || age != 52 || year != 2018 || morph != "413448000" || topo != "80248007" {
			t.Fatalf("p1: %s %d %d %s %s (%v)", sex, age, year, morph, topo, err)
		}
		err = db.QueryRow(ctx, `SELECT p.birth_sex, c.age_at_diagnosis, c.year_of_diagnosis FROM cdm_patient p
			JOIN cdm_cancer_condition c ON c.patient_id = p.patient_id WHERE p.patient_id = ?`, p2).Scan(&sex, &age, &year)
		if err != nil || sex != cdm.SexMale || age != 67 || year != 2019 {
			t.Fatalf("p2: %s %d %d (%v)", sex, age, year, err)
		}
		var kind, val, gradeVal, treat, study string
		if err := db.QueryRow(ctx, `SELECT kind, value_code FROM cdm_cancer_stage WHERE patient_id = ?`, p1).Scan(&kind, &val); err != nil || kind != "T" || val != "1228938002" {
			t.Fatalf("stage %s %s (%v)", kind, val, err)
		}
		if err := db.QueryRow(ctx, `SELECT value_code FROM cdm_histologic_grade WHERE patient_id = ?`, p1).Scan(&gradeVal); err != nil || gradeVal != "1286893008" {
			t.Fatalf("grade %s (%v)", gradeVal, err)
		}
		if err := db.QueryRow(ctx, `SELECT kind FROM cdm_treatment WHERE patient_id = ?`, p1).Scan(&treat); err != nil || treat != cdm.TreatSurgery {
			t.Fatalf("treatment %s (%v)", treat, err)
		}
		if err := db.QueryRow(ctx, `SELECT study_uid FROM cdm_image_study WHERE patient_id = ?`, p1).Scan(&study); err != nil || study != ps.UID("1.2.826.0.1.3680043.8.498.12345") {
			t.Fatalf("study %s (%v)", study, err)
		}
		var psa float64
		var unit string
		if err := db.QueryRow(ctx, `SELECT value_num, unit FROM cdm_tumor_marker_test WHERE patient_id = ? AND code = '2857-1'`, p2).Scan(&psa, &unit); err != nil || psa != 7.4 || unit != "ng/mL" {
			t.Fatalf("psa %v %s (%v)", psa, unit, err)
		}
		in.Data = bytes.NewReader(data)
		rep2, err := im.Import(ctx, "tester", in)
		if err != nil {
			t.Fatal(err)
		}
		if tot := rep2.Changes.Total(); tot.Inserted != 0 || tot.Updated != 0 || tot.Unchanged != 10 {
			t.Fatalf("re-import: %+v", rep2.Changes)
		}
	})
}

func TestPseudonymizedInput(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		m := &cdm.Mapping{PatientID: cdm.PatientIDMapping{Column: "pid", Pseudonymized: true},
			Columns: []cdm.ColumnMapping{{Column: "sex", Element: "patient.birth_sex", Values: map[string]string{"F": "SNOMEDCT248152002"}},
				{Column: "study", Element: "image_study.study_uid"}}}
		// No key: the IDs and UIDs are taken as they are.
		im := &cdm.Importer{Store: cdm.NewStore(db)}
		rep, err := im.Import(context.Background(), "t", cdm.Input{Source: "x.csv", Data: strings.NewReader("pid,sex,study\nCIEABC,F,2.25.1234\n"), Mapping: m})
		if err != nil || rep.Totals["cdm_patient"] != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		var pid string
		if err := db.QueryRow(context.Background(), `SELECT patient_id FROM cdm_image_study WHERE study_uid = '2.25.1234'`).Scan(&pid); err != nil || pid != "CIEABC" {
			t.Fatalf("%s %v", pid, err)
		}
		// Original IDs need the key.
		m.PatientID.Pseudonymized = false
		if _, err := im.Import(context.Background(), "t", cdm.Input{Source: "x.csv", Data: strings.NewReader("pid,sex,study\nP1,F,\n"), Mapping: m}); err == nil {
			t.Fatal("original IDs imported without a key")
		}
	})
}

func TestMappingErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"columns: []", "patient_id.column"},
		{"patient_id: {column: id}\ncolumns: [{column: a, element: patient.shoe_size}]", `unknown element "patient.shoe_size"`},
		{"patient_id: {column: id}\ncolumns: [{column: a, element: tumor_marker_test.value}]", "needs test"},
		{"patient_id: {column: id}\ncolumns: [{column: a, element: patient.birth_sex, system: FOO}]", `unknown code system "FOO"`},
		{"patient_id: {column: id}\ncolumns: [{column: a, element: patient.birth_sex, values: {F: '248152002'}}]", "has no system"},
		{"patient_id: {column: id}\ncolumn: []", "field column not found"},
	} {
		_, err := cdm.ReadMapping(strings.NewReader(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	// A mapped column missing from the CSV fails the whole file.
	m := readMapping(t, "synth-mapping.yaml")
	_, err := cdm.ParseCSV(strings.NewReader("patient_id,sex\nP1,female\n"), m, cdm.Identity{Pseudonyms: pseudonyms(t)})
	if err == nil || !strings.Contains(err.Error(), `no column "age_at_diagnosis"`) {
		t.Fatalf("missing column: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	m := readMapping(t, "template-mapping.csv")
	im := &cdm.Importer{Identity: cdm.Identity{Pseudonyms: pseudonyms(t)}}
	big := io.MultiReader(strings.NewReader("mrn,note\nP,"), io.LimitReader(zeros{}, cdm.MaxImportSize))
	_, err := im.Import(context.Background(), "t", cdm.Input{Source: "big.csv", Data: big, Mapping: m})
	var ie *cdm.InputError
	if !errors.Is(err, cdm.ErrTooLarge) || !errors.As(err, &ie) {
		t.Fatalf("%v, want an InputError of ErrTooLarge", err)
	}
	// ParseCSV stops at the limit too, inside one huge field.
	big = io.MultiReader(strings.NewReader("mrn,gender,dx,age,dx_date,grade,psa,study,note\nP,F,C50,1,2020-01-01,G1,,,"), io.LimitReader(zeros{}, cdm.MaxImportSize))
	if _, err := cdm.ParseCSV(big, m, cdm.Identity{Pseudonyms: pseudonyms(t)}); err != cdm.ErrTooLarge {
		t.Fatalf("%v, want ErrTooLarge", err)
	}
}

// zeros reads as an endless run of 'x'.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
