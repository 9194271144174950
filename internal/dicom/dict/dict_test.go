package dict

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

func TestLookupKnown(t *testing.T) {
	tests := []struct {
		tag     uint32
		vr      string
		alt     []string
		keyword string
		retired bool
	}{
		{0x00100010, "PN", nil, "PatientName", false},
		{0x00100020, "LO", nil, "PatientID", false},
		{0x0020000D, "UI", nil, "StudyInstanceUID", false},
		{0x7FE00010, "OB", []string{"OW"}, "PixelData", false},
		{0x00280106, "US", []string{"SS"}, "SmallestImagePixelValue", false},
		{0x00080001, "UL", nil, "LengthToEnd", true},
		{0x00020000, "UL", nil, "FileMetaInformationGroupLength", false},
		// Repeating groups and wildcards.
		{0x60003000, "OB", []string{"OW"}, "OverlayData", false},
		{0x601E3000, "OB", []string{"OW"}, "OverlayData", false},
		{0x60020010, "US", nil, "OverlayRows", false},
		{0x50103000, "OB", []string{"OW"}, "CurveData", true},
		{0x00203100, "CS", nil, "SourceImageIDs", true},
		{0x002031FF, "CS", nil, "SourceImageIDs", true},
		{0x10000005, "US", nil, "ShiftTableTriplet", true},
		// Items have no VR.
		{0xFFFEE000, "", nil, "Item", false},
		{0xFFFEE00D, "", nil, "ItemDelimitationItem", false},
		{0xFFFEE0DD, "", nil, "SequenceDelimitationItem", false},
		// Generic rules.
		{0x00080000, "UL", nil, KeywordGroupLength, false},
		{0x00090000, "UL", nil, KeywordGroupLength, false},
		{0x00090010, "LO", nil, KeywordPrivateCreator, false},
		{0x602100FF, "LO", nil, KeywordPrivateCreator, false},
	}
	for _, tt := range tests {
		e, ok := Lookup(tt.tag)
		if !ok {
			t.Errorf("Lookup(%08X) not found", tt.tag)
			continue
		}
		if e.VR != tt.vr || !slices.Equal(e.AltVRs, tt.alt) || e.Keyword != tt.keyword || e.Retired != tt.retired {
			t.Errorf("Lookup(%08X) = %+v; want VR %q alt %v keyword %s retired %v", tt.tag, e, tt.vr, tt.alt, tt.keyword, tt.retired)
		}
		if !e.Matches(tt.tag) {
			t.Errorf("Lookup(%08X) = %+v does not match its tag", tt.tag, e)
		}
	}
}

func TestLookupMissing(t *testing.T) {
	for _, tag := range []uint32{
		0x00091001, // private element: depends on its creator
		0x60013000, // odd group: private, not an overlay
		0x50013000,
		0x00030010, // odd groups below 0008 are not private
		0x00080003, // not in the dictionary
	} {
		if e, ok := Lookup(tag); ok {
			t.Errorf("Lookup(%08X) = %+v; want not found", tag, e)
		}
	}
}

func TestByKeyword(t *testing.T) {
	e, ok := ByKeyword("PatientName")
	if !ok || e.Tag != 0x00100010 || e.VR != "PN" || e.Name != "Patient's Name" {
		t.Fatalf("ByKeyword(PatientName) = %+v, %v", e, ok)
	}
	if _, ok := ByKeyword("NoSuchKeyword"); ok {
		t.Error("ByKeyword(NoSuchKeyword) found")
	}
	if _, ok := ByKeyword(""); ok {
		t.Error(`ByKeyword("") found`)
	}
	n := 0
	for e := range All {
		if e.Keyword == "" {
			continue
		}
		n++
		got, ok := ByKeyword(e.Keyword)
		if !ok || got.Tag != e.Tag || got.Mask != e.Mask {
			t.Errorf("ByKeyword(%s) = %+v, %v; want tag %08X", e.Keyword, got, ok, e.Tag)
		}
	}
	if n != len(byKeyword) {
		t.Errorf("%d entries with keywords, index has %d", n, len(byKeyword))
	}
}

// TestCoverage checks that every entry of the table is what Lookup answers
// for its own tag (or, for a wildcard, for the first tag it covers, unless
// an exact entry claims that tag).
func TestCoverage(t *testing.T) {
	n := 0
	for e := range All {
		n++
		got, ok := Lookup(e.Tag)
		if !ok {
			t.Errorf("Lookup(%08X) not found", e.Tag)
			continue
		}
		if got.Tag != e.Tag || (got.Mask != e.Mask && got.Mask != 0xFFFFFFFF) || (got.Mask == e.Mask && got.Keyword != e.Keyword) {
			t.Errorf("Lookup(%08X) = %+v; want %+v", e.Tag, got, e)
		}
	}
	if n != Count {
		t.Errorf("All yields %d entries; Count = %d", n, Count)
	}
	for i := 1; i < numExact; i++ {
		if entries[i-1].Tag >= entries[i].Tag {
			t.Fatalf("entries not sorted at %d", i)
		}
	}
}

// TestSourceCount compares Count with the source JSON when the shared
// reference checkout is present.
func TestSourceCount(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/reference/dicom-standard/attributes.json")
	if err != nil {
		t.Skipf("source not available: %v", err)
	}
	var attrs []json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil {
		t.Fatal(err)
	}
	if len(attrs) != Count {
		t.Errorf("source has %d entries, table %d: run go generate", len(attrs), Count)
	}
}

func BenchmarkLookup(b *testing.B) {
	tags := []uint32{0x00100010, 0x7FE00010, 0x60003000, 0x00091001}
	for i := 0; b.Loop(); i++ {
		Lookup(tags[i%len(tags)])
	}
}

func BenchmarkLookupExact(b *testing.B) {
	for b.Loop() {
		Lookup(0x00100010)
	}
}

func BenchmarkLookupWildcard(b *testing.B) {
	for b.Loop() {
		Lookup(0x60003000)
	}
}
