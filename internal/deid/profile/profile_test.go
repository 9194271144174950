package profile

import (
	"encoding/json"
	"os"
	"testing"
)

func TestRowsCount(t *testing.T) {
	if NumRows != 621 || len(Rows()) != 621 {
		t.Fatalf("NumRows = %d, len(Rows()) = %d; want 621 (2024b edition)", NumRows, len(Rows()))
	}
	for _, r := range Rows() {
		if r.Basic == 0 {
			t.Errorf("%08X %s: no basic action", r.Tag, r.Name)
		}
		got, ok := Lookup(r.Tag)
		if !ok || got.Tag != r.Tag || got.Mask != r.Mask {
			t.Errorf("Lookup(%08X) = %+v, %v; want row %s", r.Tag, got, ok, r.Name)
		}
	}
}

func TestRowsIsACopy(t *testing.T) {
	Rows()[0].Basic = K
	if Rows()[0].Basic == K {
		t.Fatal("Rows shares its backing array with the table")
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		tag   uint32
		basic Action
		name  string
	}{
		{0x00100010, Z, "Patient's Name"},
		{0x00080050, Z, "Accession Number"},
		{0x0020000D, U, "Study Instance UID"},
		{0x00080018, U, "SOP Instance UID"},
		// The 2024b table (innolitics data) has Z/D for Patient ID.
		{0x00100020, ZD, "Patient ID"},
		{0x00080020, Z, "Study Date"},
		{0x00080080, XZD, "Institution Name"},
		{0x00081140, XZUStar, "Referenced Image Sequence"},
		// Wildcard rows.
		{0x50023000, X, "Curve Data"},
		{0x50000000, X, "Curve Data"},
		{0x601E3000, X, "Overlay Data"},
		{0x60024000, X, "Overlay Comments"},
		{0x00091001, X, "Private Attributes"},
		{0x00290010, X, "Private Attributes"},
		{0x50013000, X, "Private Attributes"}, // odd group: private, not curve data
		{0x60013000, X, "Private Attributes"},
	}
	for _, tt := range tests {
		r, ok := Lookup(tt.tag)
		if !ok || r.Basic != tt.basic || r.Name != tt.name {
			t.Errorf("Lookup(%08X) = %s %v, %v; want %s %v", tt.tag, r.Name, r.Basic, ok, tt.name, tt.basic)
		}
	}
	for _, tag := range []uint32{0x00280010, 0x7FE00010, 0x00080016} {
		if r, ok := Lookup(tag); ok {
			t.Errorf("Lookup(%08X) = %+v; want no row", tag, r)
		}
	}
}

func TestAction(t *testing.T) {
	tests := []struct {
		tag  uint32
		opts []Option
		want Action
	}{
		{0x00080020, nil, Z}, // Study Date
		{0x00080020, []Option{RetainLongModifiedDates}, C},
		{0x00080020, []Option{RetainLongFullDates}, K},
		{0x00080020, []Option{RetainLongFullDates, RetainLongModifiedDates}, C}, // C wins
		{0x00080020, []Option{RetainLongModifiedDates, RetainLongFullDates}, C}, // whatever the order
		{0x00080020, []Option{RetainUIDs, CleanPixelData}, Z},                   // unrelated options
		{0x0020000D, nil, U}, // Study Instance UID
		{0x0020000D, []Option{RetainUIDs}, K},
		{0x00081140, []Option{RetainUIDs}, K},
		{0x00080080, nil, XZD}, // Institution Name
		{0x00080080, []Option{RetainInstitutionIdentity}, K},
		{0x00181000, []Option{RetainDeviceIdentity}, K}, // Device Serial Number
		{0x00102110, []Option{RetainPatientCharacteristics}, C},
		{0x00091001, []Option{RetainSafePrivate}, C},
		{0x60003000, []Option{CleanGraphics}, C},
		{0x00100010, AllOptions(), Z}, // no option keeps the patient's name
		{0x00100020, AllOptions(), ZD},
	}
	for _, tt := range tests {
		r, ok := Lookup(tt.tag)
		if !ok {
			t.Fatalf("Lookup(%08X) not found", tt.tag)
		}
		if got := r.Action(tt.opts...); got != tt.want {
			t.Errorf("%s.Action(%v) = %v; want %v", r.Name, tt.opts, got, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		a    Action
		typ  string
		want Action
	}{
		{XZ, "3", X}, {XZ, "2", Z}, {XZ, "2C", Z}, {XZ, "1", Z}, {XZ, "", Z},
		{XD, "3", X}, {XD, "2", D}, {XD, "1", D}, {XD, "1C", D},
		{ZD, "3", Z}, {ZD, "2", Z}, {ZD, "1", D}, {ZD, "", D},
		{XZD, "3", X}, {XZD, "2", Z}, {XZD, "1", D}, {XZD, "", D},
		{XZUStar, "3", X}, {XZUStar, "2", Z}, {XZUStar, "1", U},
		{Z, "3", Z}, {K, "1", K}, {U, "", U},
	}
	for _, tt := range tests {
		if got := tt.a.Resolve(tt.typ); got != tt.want {
			t.Errorf("%v.Resolve(%q) = %v; want %v", tt.a, tt.typ, got, tt.want)
		}
	}
}

func TestActionStrings(t *testing.T) {
	for a := X; a <= XZUStar; a++ {
		got, err := ParseAction(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAction(%q) = %v, %v", a.String(), got, err)
		}
	}
	if _, err := ParseAction("Q"); err == nil {
		t.Error("ParseAction(Q) succeeded")
	}
	if Action(0).String() != "Action(0)" || XZUStar.String() != "X/Z/U*" {
		t.Errorf("strings: %s %s", Action(0), XZUStar)
	}
}

func TestOptions(t *testing.T) {
	want := map[Option]string{
		RetainSafePrivate:               "113111",
		RetainUIDs:                      "113110",
		RetainDeviceIdentity:            "113109",
		RetainInstitutionIdentity:       "113112",
		RetainPatientCharacteristics:    "113108",
		RetainLongFullDates:             "113106",
		RetainLongModifiedDates:         "113107",
		CleanDescriptors:                "113105",
		CleanStructuredContent:          "113104",
		CleanGraphics:                   "113103",
		CleanPixelData:                  "113101",
		CleanRecognizableVisualFeatures: "113102",
	}
	if len(AllOptions()) != len(want) {
		t.Fatalf("%d options; want %d", len(AllOptions()), len(want))
	}
	seen := map[string]bool{BasicProfileCode.Value: true}
	for _, o := range AllOptions() {
		c, ok := o.Code()
		if !ok || c.Value != want[o] || c.Scheme != "DCM" || c.Meaning == "" || seen[c.Value] {
			t.Errorf("%v.Code() = %+v, %v; want %s", o, c, ok, want[o])
		}
		seen[c.Value] = true
		p, err := ParseOption(o.String())
		if err != nil || p != o {
			t.Errorf("ParseOption(%q) = %v, %v", o.String(), p, err)
		}
	}
	if _, ok := Option(200).Code(); ok {
		t.Error("Option(200).Code() ok")
	}
	if _, err := ParseOption("RetainEverything"); err == nil {
		t.Error("ParseOption(RetainEverything) succeeded")
	}
	if err := CheckOptions(RetainUIDs, RetainLongModifiedDates, CleanDescriptors); err != nil {
		t.Error(err)
	}
	if err := CheckOptions(RetainLongFullDates, RetainLongModifiedDates); err == nil {
		t.Error("CheckOptions accepts both longitudinal options")
	}
	if err := CheckOptions(Option(99)); err == nil {
		t.Error("CheckOptions accepts an unknown option")
	}
}

// TestSource compares the table with the source JSON when the shared
// reference checkout is present.
func TestSource(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/reference/dicom-standard/confidentiality_profile_attributes.json")
	if err != nil {
		t.Skipf("source not available: %v", err)
	}
	var src []struct {
		Tag   string `json:"tag"`
		Basic string `json:"basicProfile"`
	}
	if err := json.Unmarshal(raw, &src); err != nil {
		t.Fatal(err)
	}
	if len(src) != NumRows {
		t.Fatalf("source has %d rows, table %d: run go generate", len(src), NumRows)
	}
	n := map[string]int{}
	for _, s := range src {
		n[s.Basic]++
	}
	for _, r := range Rows() {
		n[r.Basic.String()]--
	}
	for a, c := range n {
		if c != 0 {
			t.Errorf("action %s: source and table differ by %d rows", a, c)
		}
	}
}
