package iod

import (
	"encoding/json"
	"os"
	"testing"
)

const (
	ctImage = "1.2.840.10008.5.1.4.1.1.2"
	mrImage = "1.2.840.10008.5.1.4.1.1.4"
)

func TestTypeImages(t *testing.T) {
	want := []struct {
		tag  uint32
		name string
		typ  string
	}{
		{0x00100010, "PatientName", "2"},
		{0x00100020, "PatientID", "2"},
		{0x00100030, "PatientBirthDate", "2"},
		{0x00100040, "PatientSex", "2"},
		{0x0020000D, "StudyInstanceUID", "1"},
		{0x00080050, "AccessionNumber", "2"},
		{0x00080020, "StudyDate", "2"},
		{0x00080030, "StudyTime", "2"},
		{0x00080090, "ReferringPhysicianName", "2"},
		{0x00200010, "StudyID", "2"},
		{0x0020000E, "SeriesInstanceUID", "1"},
		{0x00080060, "Modality", "1"},
		{0x00080070, "Manufacturer", "2"},
		{0x00080080, "InstitutionName", "3"},
		{0x00181000, "DeviceSerialNumber", "3"},
		{0x00081030, "StudyDescription", "3"},
		{0x00080018, "SOPInstanceUID", "1"},
		{0x00200052, "FrameOfReferenceUID", "1"},
		{0x00280010, "Rows", "1"},
		{0x60003000, "OverlayData", "1"},
		{0x60023000, "OverlayData (group 6002)", "1"},
	}
	for _, sop := range []string{ctImage, mrImage} {
		if !Known(sop) {
			t.Fatalf("%s not known", sop)
		}
		for _, w := range want {
			got, ok := Type(sop, w.tag)
			if !ok || got != w.typ {
				t.Errorf("Type(%s, %s) = %q, %v; want %q", sop, w.name, got, ok, w.typ)
			}
		}
	}
	if n, _ := IODName(ctImage); n != "CT Image" {
		t.Errorf("IODName(CT) = %q", n)
	}
	if n, _ := IODName(mrImage); n != "MR Image" {
		t.Errorf("IODName(MR) = %q", n)
	}
}

func TestTypeSpecific(t *testing.T) {
	tests := []struct {
		sop  string
		tag  uint32
		typ  string
		know bool
	}{
		{ctImage, 0x00180060, "2", true},                     // KVP, CT Image module
		{mrImage, 0x00180020, "1", true},                     // Scanning Sequence, MR Image module
		{mrImage, 0x00180060, "", false},                     // KVP is not in the MR Image IOD
		{ctImage, 0x00091001, "", false},                     // private
		{"1.2.840.10008.5.1.4.1.1.7", 0x00100010, "2", true}, // Secondary Capture
		{"1.2.840.10008.5.1.4.1.1.128", 0x00100010, "2", true},
		{"1.2.840.10008.5.1.4.1.1.88.11", 0x00100010, "2", true}, // Basic Text SR
		{"1.2.840.10008.5.1.4.1.1.66.4", 0x0020000D, "1", true},  // Segmentation
		{" 1.2.840.10008.5.1.4.1.1.2 ", 0x00100010, "2", true},   // padding as read from a file
	}
	for _, tt := range tests {
		got, ok := Type(tt.sop, tt.tag)
		if got != tt.typ || ok != tt.know {
			t.Errorf("Type(%s, %08X) = %q, %v; want %q, %v", tt.sop, tt.tag, got, ok, tt.typ, tt.know)
		}
	}
}

func TestUnknownSOPClass(t *testing.T) {
	for _, sop := range []string{"", "1.2.3.4", "1.2.840.10008.1.1" /* Verification */} {
		if typ, ok := Type(sop, 0x00100010); ok || typ != "" {
			t.Errorf("Type(%q, PatientName) = %q, %v; want unknown", sop, typ, ok)
		}
		if Known(sop) || Complete(sop) {
			t.Errorf("Known/Complete(%q) true", sop)
		}
		if _, ok := IODName(sop); ok {
			t.Errorf("IODName(%q) found", sop)
		}
	}
}

func TestTable(t *testing.T) {
	for i := 1; i < len(sopClasses); i++ {
		if sopClasses[i-1].uid >= sopClasses[i].uid {
			t.Fatalf("sopClasses not sorted at %d", i)
		}
	}
	for mi, m := range modules {
		for i, a := range m {
			if a&0xF >= uint64(len(typeNames)) {
				t.Fatalf("module %d: bad type index in %X", mi, a)
			}
			if i > 0 && m[i-1]>>4 >= a>>4 {
				t.Fatalf("module %d not sorted at %d", mi, i)
			}
		}
	}
	for _, d := range iods {
		if len(d.modules) == 0 {
			t.Errorf("IOD %s has no modules", d.name)
		}
		for _, mi := range d.modules {
			if int(mi) >= len(modules) {
				t.Fatalf("IOD %s: module %d out of range", d.name, mi)
			}
		}
	}
	if Part3Edition != "2008" {
		t.Errorf("Part3Edition = %q", Part3Edition)
	}
}

// TestSource checks that every SOP class of sops.json is in the table, when
// the shared reference checkout is present.
func TestSource(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/reference/dicom-standard/sops.json")
	if err != nil {
		t.Skipf("source not available: %v", err)
	}
	var sops []struct{ ID, Ciod string }
	if err := json.Unmarshal(raw, &sops); err != nil {
		t.Fatal(err)
	}
	for _, s := range sops {
		if n, ok := IODName(s.ID); !ok || n != s.Ciod {
			t.Errorf("IODName(%s) = %q, %v; want %q", s.ID, n, ok, s.Ciod)
		}
	}
}

func BenchmarkType(b *testing.B) {
	for b.Loop() {
		Type(ctImage, 0x00080080)
	}
}
