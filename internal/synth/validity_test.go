package synth

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/testenv"
)

// sample returns one instance of each modality (CT, MR, PT, SEG) of a small generator,
// the middle slice of an image series (where the lesion is).
func sample(t *testing.T, node string) map[string]*Instance {
	t.Helper()
	g, err := New(Options{Seed: 7, Node: node, Patients: 60, Rows: 64, Columns: 64, MinSlices: 12, MaxSlices: 16, SEGFraction: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*Series{}
	for p := range g.Patients() {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				if want[se.Modality] == nil && (se.LesionVisible || se.Modality == "PT") {
					want[se.Modality] = se
				}
			}
		}
		if len(want) == 4 {
			break
		}
	}
	out := map[string]*Instance{}
	for mod, se := range want {
		k := 0
		for in, err := range g.Instances(se) {
			if err != nil {
				t.Fatalf("%s: %v", mod, err)
			}
			if k == se.Instances/2 {
				out[mod] = in
			}
			k++
		}
	}
	for _, mod := range []string{"CT", "MR", "PT", "SEG"} {
		if out[mod] == nil {
			t.Fatalf("no %s instance among the patients", mod)
		}
	}
	return out
}

// sampleKinds returns the middle instance of one series of every kind (CT soft
// tissue, lung and attenuation correction, PET, MR T2, DWI, ADC and T1, SEG), keyed by
// modality and series description.
func sampleKinds(t *testing.T, node string) map[string]*Instance {
	t.Helper()
	g, err := New(Options{Seed: 8, Node: node, Patients: 80, Rows: 32, Columns: 32, MinSlices: 12, MaxSlices: 16, SEGFraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[seriesKind]bool{}
	out := map[string]*Instance{}
	for p := range g.Patients() {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				if seen[se.kind] {
					continue
				}
				seen[se.kind] = true
				k := 0
				for in, err := range g.Instances(se) {
					if err != nil {
						t.Fatal(err)
					}
					if k == se.Instances/2 {
						out[se.Modality+"_"+strings.ReplaceAll(se.Description, " ", "_")] = in
					}
					k++
				}
			}
		}
	}
	if len(seen) != int(kindSEG)+1 {
		t.Fatalf("%s: only %d kinds of series among the patients", node, len(seen))
	}
	return out
}

// TestDciodvfy writes an instance of every kind of series (CT, MR, PET, SEG) of four
// nodes and has dicom3tools' dciodvfy check each against its IOD: no line may report
// an error; warnings are listed.
func TestDciodvfy(t *testing.T) {
	if _, err := exec.LookPath("dciodvfy"); err != nil {
		if testenv.RequireAll() {
			t.Fatal("dciodvfy not installed (apt-get install dicom3tools)")
		}
		t.Skip("dciodvfy not installed (apt-get install dicom3tools)")
	}
	dir := t.TempDir()
	for _, node := range []string{"oslo", "valencia", "linkoping", "elsewhere"} {
		for mod, in := range sampleKinds(t, node) {
			path := filepath.Join(dir, node+"_"+mod+".dcm")
			if err := WriteFile(path, in.File); err != nil {
				t.Fatal(err)
			}
			out, _ := exec.Command("dciodvfy", "-new", path).CombinedOutput()
			var errs, warns []string
			for _, l := range strings.Split(string(out), "\n") {
				switch {
				case strings.Contains(l, "Error"):
					errs = append(errs, l)
				case strings.Contains(l, "Warning"):
					warns = append(warns, l)
				}
			}
			t.Logf("%s %s: %d warnings%s", node, mod, len(warns), indent(warns))
			if len(errs) > 0 {
				t.Errorf("%s %s: dciodvfy errors:%s", node, mod, indent(errs))
			}
		}
	}
}

func indent(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\n\t" + l)
	}
	return b.String()
}

// TestParse reads each sample back with dicom.Parse and checks key attributes.
func TestParse(t *testing.T) {
	for mod, in := range sample(t, "linkoping") {
		var buf bytes.Buffer
		if _, err := in.File.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		f, err := dicom.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()), dicom.ParseOptions{})
		if err != nil {
			t.Fatalf("%s: %v", mod, err)
		}
		ds := f.Dataset
		se := in.Series
		checks := map[dicom.Tag]string{
			tags.SpecificCharacterSet: "ISO_IR 192",
			tags.Modality:             mod,
			tags.SOPClassUID:          in.SOPClassUID,
			tags.SOPInstanceUID:       in.SOPInstanceUID,
			tags.StudyInstanceUID:     se.Study.UID,
			tags.SeriesInstanceUID:    se.UID,
			tags.FrameOfReferenceUID:  se.Study.FrameOfReferenceUID,
			tags.PatientID:            se.Study.Patient.ID,
			tags.PatientName:          se.Study.Patient.Name,
			tags.AccessionNumber:      se.Study.AccessionNumber,
			tags.InstitutionName:      se.Study.Institution,
		}
		for tag, want := range checks {
			if got := ds.Text(tag); got != want {
				t.Errorf("%s %s = %q, want %q", mod, tag, got, want)
			}
		}
		if got := f.Meta.Text(tags.TransferSyntaxUID); got != dicom.ExplicitVRLittleEndianUID {
			t.Errorf("%s transfer syntax %q", mod, got)
		}
		px := ds.Get(tags.PixelData)
		if px == nil {
			t.Fatalf("%s: no pixel data", mod)
		}
		rows, cols := 64, 64
		switch mod {
		case "SEG":
			frames := ds.Text(tags.NumberOfFrames)
			if frames == "" || frames == "0" {
				t.Errorf("SEG: Number of Frames %q", frames)
			}
			if ds.Text(tags.SegmentationType) != "BINARY" {
				t.Errorf("SEG: Segmentation Type %q", ds.Text(tags.SegmentationType))
			}
			seq := ds.Get(tags.SegmentSequence)
			if seq == nil || len(seq.Items()) != 1 {
				t.Fatal("SEG: want one segment")
			}
			typ := seq.Items()[0].Get(tags.SegmentedPropertyTypeCodeSequence)
			if typ == nil || typ.Items()[0].Text(tags.CodeValue) != "108369006" {
				t.Error("SEG: segmented property type is not Neoplasm 108369006")
			}
			per := ds.Get(tags.PerFrameFunctionalGroupsSequence)
			if per == nil || ds.Text(tags.NumberOfFrames) != strconv.Itoa(len(per.Items())) {
				t.Error("SEG: per-frame functional groups do not match Number of Frames")
			}
		default:
			if px.Len() != int64(2*rows*cols) {
				t.Errorf("%s: pixel data %d bytes, want %d", mod, px.Len(), 2*rows*cols)
			}
		}
	}
}
