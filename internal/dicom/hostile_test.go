package dicom_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
)

// part10 builds a Part 10 file: preamble, "DICM", a meta group with only the transfer
// syntax UID, and body.
func part10(ts string, body []byte) []byte {
	b := make([]byte, 128, 256+len(body))
	b = append(b, "DICM"...)
	if len(ts)%2 == 1 {
		ts += "\x00"
	}
	b = append(b, 0x02, 0x00, 0x10, 0x00, 'U', 'I', byte(len(ts)), 0)
	b = append(b, ts...)
	return append(b, body...)
}

// hugeLengthFile is a 200-byte file whose pixel data claims 4294967290 bytes.
func hugeLengthFile() []byte {
	body := []byte{0x08, 0x00, 0x60, 0x00, 'C', 'S', 2, 0, 'C', 'T'}
	body = append(body, 0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFA, 0xFF, 0xFF, 0xFF)
	b := part10(dicom.ExplicitVRLittleEndianUID, body)
	return append(b, make([]byte, 200-len(b))...)
}

func TestHugeLength(t *testing.T) {
	data := hugeLengthFile()
	if len(data) != 200 {
		t.Fatalf("test file has %d bytes", len(data))
	}
	_, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
	var pe *dicom.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, dicom.ErrMalformed) || !errors.Is(err, dicom.ErrTruncated) {
		t.Fatalf("err = %v, want a ParseError matching ErrMalformed and ErrTruncated", err)
	}
	if pe.Offset != 170 || pe.Tag != dicom.PixelDataTag || !strings.Contains(pe.Msg, "length 4294967290 exceeds the 18 bytes left") {
		t.Errorf("err = %q, want offset 170, tag (7FE0,0010), length 4294967290 exceeds the 18 bytes left", err)
	}
	want := "offset 170, tag (7FE0,0010): length 4294967290 exceeds the 18 bytes left"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}

	// Memory: the whole failed parse allocates a few KiB, nothing near the claimed length.
	var m0, m1 runtime.MemStats
	const runs = 100
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for range runs {
		dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / runs; per > 64<<10 {
		t.Errorf("a parse of the 200-byte file allocates %d bytes", per)
	}
	if allocs := testing.AllocsPerRun(runs, func() {
		dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
	}); allocs > 50 {
		t.Errorf("%v allocations per parse", allocs)
	}
}

// TestHugeLengthsEverywhere puts 0xFFFFFFF0 into every length field kind.
func TestHugeLengthsEverywhere(t *testing.T) {
	le := binary.LittleEndian
	sq := func(itemLen uint32) []byte { // (0008,1115) SQ undefined, one item
		b := []byte{0x08, 0x00, 0x15, 0x11, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x00, 0xE0}
		return le.AppendUint32(b, itemLen)
	}
	frag := []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x00, 0xE0, 0xF0, 0xFF, 0xFF, 0xFF}
	implicitEl := []byte{0x08, 0x00, 0x20, 0x00, 0xF0, 0xFF, 0xFF, 0xFF}
	for name, data := range map[string][]byte{
		"item":     part10(dicom.ExplicitVRLittleEndianUID, append(sq(0xFFFFFFF0), make([]byte, 64)...)),
		"fragment": part10(dicom.ExplicitVRLittleEndianUID, append(frag, make([]byte, 64)...)),
		"implicit": part10(dicom.ImplicitVRLittleEndianUID, append(implicitEl, make([]byte, 64)...)),
		"meta":     append(make([]byte, 128), "DICM\x02\x00\x01\x00OB\x00\x00\xf0\xff\xff\xff"...),
	} {
		_, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
		var pe *dicom.ParseError
		if !errors.As(err, &pe) || !errors.Is(err, dicom.ErrTruncated) || pe.Offset == 0 {
			t.Errorf("%s: err = %v, want a ParseError (truncated) with an offset", name, err)
		}
	}
}

// nestingBomb nests depth sequences of undefined length, each in an item of the one
// before.
func nestingBomb(depth int, implicit bool) []byte {
	var body []byte
	for range depth {
		if implicit {
			body = append(body, 0x09, 0x00, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF) // unknown tag, undefined length
		} else {
			body = append(body, 0x08, 0x00, 0x15, 0x11, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF)
		}
		body = append(body, 0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF)
	}
	for range depth {
		body = append(body, 0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0)
	}
	ts := dicom.ExplicitVRLittleEndianUID
	if implicit {
		ts = dicom.ImplicitVRLittleEndianUID
	}
	return part10(ts, body)
}

func TestNestingBomb(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		// 64 levels are fine and round-trip.
		ok := nestingBomb(dicom.DefaultMaxDepth, implicit)
		f := parseBytes(t, ok, dicom.ParseOptions{})
		if !bytes.Equal(writeBytes(t, f), ok) {
			t.Errorf("implicit=%v: %d levels not written back byte for byte", implicit, dicom.DefaultMaxDepth)
		}
		data := nestingBomb(100000, implicit)
		_, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
		var pe *dicom.ParseError
		if !errors.As(err, &pe) || !errors.Is(err, dicom.ErrTooDeep) {
			t.Fatalf("implicit=%v: err = %v, want ErrTooDeep", implicit, err)
		}
		// Meta group 160 (explicit TS UID) or 158 bytes; each level is a sequence header
		// (12 or 8 bytes) and an item header (8): the 65th sequence is the one refused.
		want := int64(160 + 20*dicom.DefaultMaxDepth)
		if implicit {
			want = 158 + 16*dicom.DefaultMaxDepth
		}
		if pe.Offset != want {
			t.Errorf("implicit=%v: offset %d, want %d (%v)", implicit, pe.Offset, want, err)
		}
	}
}

func TestDeflateBomb(t *testing.T) {
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	elem := []byte{0x09, 0x00, 0x10, 0x10, 'O', 'B', 0, 0, 0, 0, 0x40, 0} // 4 MiB OB
	fw.Write(elem)
	fw.Write(make([]byte, 4<<20))
	fw.Close()
	data := part10(dicom.DeflatedExplicitVRLittleEndianUID, z.Bytes())
	_, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{MaxInflated: 1 << 20})
	if !errors.Is(err, dicom.ErrTooLarge) || !errors.Is(err, dicom.ErrMalformed) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	f := parseBytes(t, data, dicom.ParseOptions{})
	if e := f.Dataset.Get(0x00091010); e == nil || e.Len() != 4<<20 {
		t.Fatalf("4 MiB element not read")
	}
	if !bytes.Equal(writeBytes(t, f), data) {
		t.Error("deflated file not written back byte for byte")
	}
}

func TestTrailingPadding(t *testing.T) {
	body := []byte{0x08, 0x00, 0x60, 0x00, 'C', 'S', 2, 0, 'C', 'T'}
	data := append(part10(dicom.ExplicitVRLittleEndianUID, body), make([]byte, 1000)...)
	f := parseBytes(t, data, dicom.ParseOptions{})
	if f.TrailingPadding() != 1000 || f.Dataset.Len() != 1 {
		t.Errorf("padding %d, %d elements", f.TrailingPadding(), f.Dataset.Len())
	}
	if !bytes.Equal(writeBytes(t, f), data) {
		t.Error("not written back byte for byte")
	}
	data[len(data)-1] = 1 // not padding any more
	if _, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{}); !errors.Is(err, dicom.ErrMalformed) {
		t.Errorf("err = %v, want ErrMalformed", err)
	}
}

func TestNotDICOM(t *testing.T) {
	for _, s := range []string{"", "x", "hello, world: this is not a DICOM file at all", strings.Repeat("\xff", 300)} {
		_, err := dicom.Parse(strings.NewReader(s), int64(len(s)), dicom.ParseOptions{})
		if !errors.Is(err, dicom.ErrMalformed) {
			t.Errorf("%.20q: err = %v, want ErrMalformed", s, err)
		}
	}
}

// TestPreambleWithoutMeta: "DICM" followed directly by a data set (no meta group).
func TestPreambleWithoutMeta(t *testing.T) {
	data := append(make([]byte, 128), "DICM"...)
	data = append(data, 0x08, 0x00, 0x60, 0x00, 'C', 'S', 2, 0, 'C', 'T')
	f := parseBytes(t, data, dicom.ParseOptions{})
	if f.Meta != nil || f.Preamble == nil || f.Dataset.Len() != 1 {
		t.Fatalf("meta %v, preamble %v, %d elements", f.Meta, f.Preamble != nil, f.Dataset.Len())
	}
	if !bytes.Equal(writeBytes(t, f), data) {
		t.Error("not written back byte for byte")
	}
}

func TestMaxElements(t *testing.T) {
	var body []byte
	for i := range 1000 { // (0009,1000+i): distinct tags in ascending order
		body = append(body, 0x09, 0x00, byte(i), 0x10+byte(i>>8), 'O', 'B', 0, 0, 0, 0, 0, 0)
	}
	data := part10(dicom.ExplicitVRLittleEndianUID, body)
	_, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{MaxElements: 500})
	var pe *dicom.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, dicom.ErrTooLarge) || pe.Offset != 160+12*499 {
		t.Fatalf("err = %v, want ErrTooLarge at offset %d", err, 160+12*499)
	}
	parseBytes(t, data, dicom.ParseOptions{})
}

// TestDuplicateTagRejected: the same tag twice in one data set is refused
// with its offset and tag, so that nothing downstream edits one copy and
// leaves the other (found by FuzzParse, seed 8fb427a620bd6dc9).
func TestDuplicateTagRejected(t *testing.T) {
	el := func(v string) []byte { return append([]byte{0x10, 0x00, 0x10, 0x00, 'P', 'N', byte(len(v)), 0}, v...) }
	body := append(el("Doe^John"), el("Roe^Jane")...)
	data := part10(dicom.ExplicitVRLittleEndianUID, body)
	_, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
	var pe *dicom.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, dicom.ErrMalformed) || pe.Tag != dicom.NewTag(0x0010, 0x0010) || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("err = %v", err)
	}
}
