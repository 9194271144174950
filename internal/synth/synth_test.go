package synth

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// small returns options for fast tests.
func small(node string, seed uint64) Options {
	return Options{Seed: seed, Node: node, Patients: 12, Rows: 16, Columns: 16, MinSlices: 4, MaxSlices: 8, SEGFraction: 0.5}
}

func mustNew(t testing.TB, o Options) *Generator {
	t.Helper()
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// digest hashes every instance's bytes in order.
func digest(t *testing.T, g *Generator) ([32]byte, int) {
	t.Helper()
	h := sha256.New()
	n := 0
	err := g.Walk(func(in *Instance) error {
		n++
		_, err := in.File.WriteTo(h)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, n
}

func TestDeterministic(t *testing.T) {
	a, n := digest(t, mustNew(t, small("oslo", 42)))
	b, m := digest(t, mustNew(t, small("oslo", 42)))
	if a != b || n != m {
		t.Fatalf("same options gave different output: %d and %d instances", n, m)
	}
	c, _ := digest(t, mustNew(t, small("oslo", 43)))
	if a == c {
		t.Fatal("a different seed gave the same output")
	}
	// Random access: patient 5 alone is the same as patient 5 in the sequence.
	g := mustNew(t, small("oslo", 42))
	p5, err := g.Patient(5)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for p := range g.Patients() {
		if i == 5 && (p.ID != p5.ID || p.Studies[0].UID != p5.Studies[0].UID) {
			t.Fatal("Patient(5) differs from the 6th patient of Patients()")
		}
		i++
	}
	if _, err := g.Patient(12); err == nil {
		t.Fatal("Patient(12) of 12 patients: no error")
	}
}

func TestNodesDiffer(t *testing.T) {
	ids := map[string]string{}
	uids := map[string]string{}
	for _, node := range []string{"oslo", "valencia", "linkoping", "elsewhere"} {
		for p := range mustNew(t, small(node, 1)).Patients() {
			if prev, ok := uids[p.Studies[0].UID]; ok {
				t.Fatalf("study UID shared by %s and %s", prev, node)
			}
			uids[p.Studies[0].UID] = node
			ids[node] += p.Name + ";"
		}
	}
	if ids["oslo"] == ids["valencia"] || ids["valencia"] == ids["linkoping"] {
		t.Fatal("nodes have the same patients")
	}
}

func TestCountries(t *testing.T) {
	letters := map[string]string{"oslo": "æøåÆØÅ", "valencia": "áéíóúñÁÉÍÓÚÑàèòïüç", "linkoping": "åäöÅÄÖé"}
	for node, want := range letters {
		g := mustNew(t, Options{Seed: 3, Node: node, Patients: 60})
		nonASCII := 0
		for p := range g.Patients() {
			if strings.ContainsAny(p.Name, want) {
				nonASCII++
			}
			if !utf8.ValidString(p.Name) || strings.Count(p.Name, "^") < 1 {
				t.Fatalf("%s: bad name %q", node, p.Name)
			}
		}
		if nonASCII < 10 {
			t.Errorf("%s: only %d of 60 names have the country's letters", node, nonASCII)
		}
	}
	if mustNew(t, small("oslo", 1)).Country() != "Norway" || mustNew(t, small("x", 1)).Country() != "" {
		t.Error("Country")
	}
}

func TestDefaultPatients(t *testing.T) {
	for _, node := range []string{"oslo", "valencia", "linkoping"} {
		n := mustNew(t, DemoOptions(node, 1)).Options().Patients
		if n < 50 || n > 200 {
			t.Errorf("%s: %d patients, want 50 to 200", node, n)
		}
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []Options{
		{Patients: -1}, {Rows: 2000}, {MinSlices: 5, MaxSlices: 3}, {SEGFraction: 1.5},
		{MaxSeriesPerStudy: -2}, {SourceAE: "AN_AE_TITLE_TOO_LONG"},
	} {
		if _, err := New(o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: err %v, want ErrOptions", o, err)
		}
	}
}

var uidRE = regexp.MustCompile(`^2\.25\.(0|[1-9][0-9]*)$`)

// TestPlanConsistency walks every instance and checks what a node will rely on: unique
// and valid UIDs, counts equal to the summary, dates in order, one frame of reference
// per study, identifying values planted.
func TestPlanConsistency(t *testing.T) {
	g := mustNew(t, Options{Seed: 9, Node: "valencia", Patients: 25, Rows: 16, Columns: 16, MinSlices: 3, MaxSlices: 6, SEGFraction: 0.7})
	sum := g.Summary()
	var c Counter
	seen := map[string]bool{}
	planted := map[dicom.Tag]int{}
	for p := range g.Patients() {
		if len(p.Studies) == 0 {
			t.Fatalf("patient %s has no study", p.ID)
		}
		diag, err := time.Parse(time.DateOnly, p.Clinical.DiagnosisDate)
		if err != nil {
			t.Fatal(err)
		}
		if age := diag.Year() - p.BirthDate.Year(); age < p.Clinical.AgeAtDiagnosis || age > p.Clinical.AgeAtDiagnosis+1 {
			t.Errorf("%s: born %s, diagnosed %s, age %d", p.ID, p.BirthDate.Format(time.DateOnly), p.Clinical.DiagnosisDate, p.Clinical.AgeAtDiagnosis)
		}
		for i, st := range p.Studies {
			if st.Time.Format(time.DateOnly) > p.Clinical.LastFollowUp {
				t.Errorf("%s: study on %s after the last follow-up %s", p.ID, st.Time.Format(time.DateOnly), p.Clinical.LastFollowUp)
			}
			if i > 0 && st.Time.Before(p.Studies[i-1].Time) {
				t.Errorf("%s: studies out of order", p.ID)
			}
			if !st.Time.After(p.BirthDate) {
				t.Errorf("%s: study before birth", p.ID)
			}
		}
		err = g.WalkPatient(p, func(in *Instance) error {
			ds := in.File.Dataset
			c.Add(ds)
			for _, u := range []string{in.SOPInstanceUID, in.Series.UID, in.Series.Study.UID, in.Series.Study.FrameOfReferenceUID} {
				if !uidRE.MatchString(u) || len(u) > 64 {
					t.Fatalf("bad UID %q", u)
				}
			}
			if seen[in.SOPInstanceUID] {
				t.Fatalf("SOP instance UID %s twice", in.SOPInstanceUID)
			}
			seen[in.SOPInstanceUID] = true
			if ds.Text(tags.FrameOfReferenceUID) != in.Series.Study.FrameOfReferenceUID {
				t.Error("frame of reference differs from the study's")
			}
			if ds.Text(tags.SeriesDate) < ds.Text(tags.StudyDate) {
				t.Errorf("series date %s before study date %s", ds.Text(tags.SeriesDate), ds.Text(tags.StudyDate))
			}
			for _, tag := range []dicom.Tag{tags.PatientName, tags.PatientID, tags.PatientBirthDate, tags.PatientAddress,
				tags.PatientTelephoneNumbers, tags.OtherPatientIDsSequence, tags.InstitutionName, tags.InstitutionAddress,
				tags.ReferringPhysicianName, tags.PerformingPhysicianName, tags.OperatorsName, tags.AccessionNumber,
				tags.StationName, tags.DeviceSerialNumber} {
				if ds.Get(tag) != nil {
					planted[tag]++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got := c.Counts()
	if got.Patients != sum.Patients || got.Studies != sum.Studies || got.Series != sum.Series || got.Instances != sum.Instances {
		t.Fatalf("walked %+v, summary %+v", got, sum)
	}
	for _, mod := range []string{"CT", "MR", "SEG"} {
		if got.ByModality[mod] != sum.ByModality[mod] || got.ByModality[mod] == 0 {
			t.Errorf("%s: walked %d, summary %d", mod, got.ByModality[mod], sum.ByModality[mod])
		}
	}
	for tag, n := range planted {
		if n == 0 {
			t.Errorf("%s never planted", tag)
		}
	}
	if len(planted) != 14 {
		t.Errorf("planted only %d kinds of identifying values: %v", len(planted), planted)
	}
}

// TestSegmentationFrames checks that a SEG holds exactly the source slices with the
// lesion, each frame with some lesion pixels, referencing existing source instances.
func TestSegmentationFrames(t *testing.T) {
	g := mustNew(t, Options{Seed: 5, Node: "oslo", Patients: 20, Rows: 32, Columns: 32, MinSlices: 20, MaxSlices: 30, SEGFraction: 1})
	checked := 0
	for p := range g.Patients() {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				if se.Modality != "SEG" {
					continue
				}
				srcUIDs := map[string]int{}
				for in, err := range g.Instances(se.Source) {
					if err != nil {
						t.Fatal(err)
					}
					srcUIDs[in.SOPInstanceUID] = in.Number
				}
				for in, err := range g.Instances(se) {
					if err != nil {
						t.Fatal(err)
					}
					ds := in.File.Dataset
					per := ds.Get(tags.PerFrameFunctionalGroupsSequence).Items()
					px, err := ds.Get(tags.PixelData).Value()
					if err != nil {
						t.Fatal(err)
					}
					n := 32 * 32
					for f, fg := range per {
						der := fg.Get(tags.DerivationImageSequence).Items()[0]
						ref := der.Get(tags.SourceImageSequence).Items()[0].Text(tags.ReferencedSOPInstanceUID)
						if _, ok := srcUIDs[ref]; !ok {
							t.Fatalf("frame %d references unknown instance %s", f+1, ref)
						}
						ones := 0
						for b := f * n; b < (f+1)*n; b++ {
							if px[b/8]&(1<<(b%8)) != 0 {
								ones++
							}
						}
						if ones == 0 {
							t.Errorf("%s frame %d is empty", se.UID, f+1)
						}
					}
					if len(per) != len(g.lesionFrames(se.Source)) || len(per) == 0 {
						t.Errorf("%d frames, %d slices with the lesion", len(per), len(g.lesionFrames(se.Source)))
					}
					rs := ds.Get(tags.ReferencedSeriesSequence).Items()[0]
					if rs.Text(tags.SeriesInstanceUID) != se.Source.UID || len(rs.Get(tags.ReferencedInstanceSequence).Items()) != se.Source.Instances {
						t.Error("Referenced Series Sequence does not name the source series and its instances")
					}
					checked++
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no segmentation generated")
	}
}

// TestLesionInPixels checks that the lesion shows in the pixels: in a CT slice through
// it, the lesion's pixels differ from what the phantom has there without it.
func TestLesionInPixels(t *testing.T) {
	g := mustNew(t, Options{Seed: 11, Node: "linkoping", Patients: 10, SEGFraction: 0})
	for p := range g.Patients() {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				if se.Modality != "PT" || !se.LesionVisible {
					continue
				}
				fr := g.lesionFrames(se)
				if len(fr) == 0 {
					continue
				}
				vals := g.pixels(se, fr[len(fr)/2], labels(se))
				les := lesionOf(st)
				in, out := 0.0, 0.0
				ni, no := 0, 0
				z := se.geom.z(fr[len(fr)/2])
				for i := range se.geom.rows {
					for j := range se.geom.cols {
						x, y := se.geom.x0+float64(j)*se.geom.spacing, se.geom.y0+float64(i)*se.geom.spacing
						v := vals[i*se.geom.cols+j]
						if les.in(x, y, z) {
							in += v
							ni++
						} else if v > 0 {
							out += v
							no++
						}
					}
				}
				if ni == 0 || in/float64(ni) < 2*out/float64(no) {
					t.Fatalf("PET lesion not hot: mean %v in %d pixels vs %v outside", in/float64(max(ni, 1)), ni, out/float64(max(no, 1)))
				}
				return
			}
		}
	}
	t.Fatal("no PET series with the lesion among the patients")
}

func TestClinicalExport(t *testing.T) {
	g := mustNew(t, Options{Seed: 2, Node: "oslo", Patients: 80})
	var b bytes.Buffer
	if err := WriteClinicalCSV(&b, g.Clinical()); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 81 || strings.Join(recs[0], ",") != strings.Join(clinicalHeader, ",") {
		t.Fatalf("%d records, header %v", len(recs), recs[0])
	}
	known := map[string]bool{"363358000": true, "254837009": true, "399068003": true, "363406005": true, "363484005": true}
	types := map[string]bool{}
	for _, r := range recs[1:] {
		if !known[r[6]] {
			t.Errorf("unknown cancer code %q", r[6])
		}
		types[r[6]] = true
		if r[1] == "male" && r[2] != "248153007" || r[1] == "female" && r[2] != "248152002" {
			t.Errorf("sex %q with code %q", r[1], r[2])
		}
		if r[6] == "399068003" && r[1] != "male" {
			t.Error("a woman with prostate cancer")
		}
	}
	if len(types) < 4 {
		t.Errorf("only %d cancer types among 80 patients", len(types))
	}
	b.Reset()
	if err := WriteClinicalJSON(&b, g.Clinical()); err != nil {
		t.Fatal(err)
	}
	var rows []Clinical
	if err := json.Unmarshal(b.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 80 || rows[0].PatientID != recs[1][0] {
		t.Fatalf("json: %d rows", len(rows))
	}
}

func TestWriteDir(t *testing.T) {
	g := mustNew(t, Options{Seed: 4, Node: "oslo", Patients: 3, Rows: 8, Columns: 8, MinSlices: 2, MaxSlices: 3, SEGFraction: 1})
	dir := t.TempDir()
	got, err := g.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := g.Summary()
	if got.Instances != want.Instances || got.Series != want.Series {
		t.Fatalf("wrote %+v, summary %+v", got, want)
	}
	f, closer, err := dicom.ParseFile(dir+"/"+mustFirst(t, g).Studies[0].Patient.ID+"/"+mustFirst(t, g).Studies[0].UID+"/001_"+mustFirst(t, g).Studies[0].Series[0].Modality+"/0001.dcm", dicom.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if f.Dataset.Text(tags.InstanceNumber) != "1" {
		t.Fatal("first file is not instance 1")
	}
}

func mustFirst(t *testing.T, g *Generator) *Patient {
	p, err := g.Patient(0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMaxSeries(t *testing.T) {
	g := mustNew(t, ScaleOptions("oslo", 1, 30))
	for p := range g.Patients() {
		for _, st := range p.Studies {
			if len(st.Series) < 1 || len(st.Series) > 3 {
				t.Fatalf("%d series in a study", len(st.Series))
			}
		}
	}
}

// TestScaleSize checks that ScaleOptions with 5,000 patients plans the index's scale
// target: at least 10,000 studies and 1,000,000 instances (plan only, no pixels).
func TestScaleSize(t *testing.T) {
	s := mustNew(t, ScaleOptions("oslo", 1, 5000)).Summary()
	t.Logf("%+v", s)
	if s.Studies < 10000 || s.Instances < 1000000 {
		t.Fatalf("ScaleOptions(5000): %d studies, %d instances", s.Studies, s.Instances)
	}
}
