package charset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pydicom's copy of David Clunie's character set example files (Debian
// package python3-pydicom).
const charsetDir = "/usr/lib/python3/dist-packages/pydicom/data/charset_files"

// tElem is one element read by the throwaway test reader below.
type tElem struct {
	tag   uint32
	vr    string
	value []byte
	items [][]tElem
}

// readTestFile reads a Part 10 file in Explicit VR Little Endian (all of the
// charset example files). Test-only: the real codec lives in internal/dicom.
func readTestFile(t *testing.T, name string) []tElem {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(charsetDir, name))
	if err != nil {
		t.Fatalf("read %s: %v (is python3-pydicom installed?)", name, err)
	}
	if len(b) < 132 || string(b[128:132]) != "DICM" {
		t.Fatalf("%s: not a DICOM Part 10 file", name)
	}
	elems, _, err := parseExplicitLE(b[132:], false)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ts := strings.TrimRight(string(find(elems, 0x00020010).value), " \x00")
	if ts != "1.2.840.10008.1.2.1" {
		t.Fatalf("%s: transfer syntax %q, the test reader handles Explicit VR Little Endian only", name, ts)
	}
	return elems
}

func find(elems []tElem, tag uint32) tElem {
	for _, e := range elems {
		if e.tag == tag {
			return e
		}
	}
	return tElem{}
}

// parseExplicitLE parses elements until the end of b or, when inItem, an
// Item Delimitation Item; it returns the number of bytes consumed.
func parseExplicitLE(b []byte, inItem bool) ([]tElem, int, error) {
	var out []tElem
	off := 0
	for off+8 <= len(b) {
		tag := uint32(binary.LittleEndian.Uint16(b[off:]))<<16 | uint32(binary.LittleEndian.Uint16(b[off+2:]))
		if tag == 0xFFFEE00D { // item delimitation
			if !inItem {
				return nil, 0, fmt.Errorf("item delimiter outside item at %d", off)
			}
			return out, off + 8, nil
		}
		vr := string(b[off+4 : off+6])
		var length uint32
		var hdr int
		switch vr {
		case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
			if off+12 > len(b) {
				return nil, 0, fmt.Errorf("truncated header at %d", off)
			}
			length, hdr = binary.LittleEndian.Uint32(b[off+8:]), 12
		default:
			length, hdr = uint32(binary.LittleEndian.Uint16(b[off+6:])), 8
		}
		off += hdr
		e := tElem{tag: tag, vr: vr}
		if vr == "SQ" {
			n, items, err := parseItems(b[off:], length)
			if err != nil {
				return nil, 0, err
			}
			e.items = items
			off += n
		} else {
			if length == 0xFFFFFFFF || int(length) > len(b)-off {
				return nil, 0, fmt.Errorf("bad length %d for %08X", length, tag)
			}
			e.value = b[off : off+int(length)]
			off += int(length)
		}
		out = append(out, e)
	}
	if inItem {
		return out, off, nil
	}
	return out, off, nil
}

func parseItems(b []byte, length uint32) (int, [][]tElem, error) {
	limit := len(b)
	if length != 0xFFFFFFFF {
		if int(length) > len(b) {
			return 0, nil, errors.New("sequence longer than file")
		}
		limit = int(length)
	}
	var items [][]tElem
	off := 0
	for off+8 <= limit {
		tag := uint32(binary.LittleEndian.Uint16(b[off:]))<<16 | uint32(binary.LittleEndian.Uint16(b[off+2:]))
		ilen := binary.LittleEndian.Uint32(b[off+4:])
		off += 8
		switch tag {
		case 0xFFFEE0DD: // sequence delimitation
			return off, items, nil
		case 0xFFFEE000:
		default:
			return 0, nil, fmt.Errorf("unexpected tag %08X in sequence", tag)
		}
		if ilen == 0xFFFFFFFF {
			elems, n, err := parseExplicitLE(b[off:limit], true)
			if err != nil {
				return 0, nil, err
			}
			items = append(items, elems)
			off += n
			continue
		}
		if int(ilen) > limit-off {
			return 0, nil, errors.New("item longer than sequence")
		}
		elems, _, err := parseExplicitLE(b[off:off+int(ilen)], false)
		if err != nil {
			return 0, nil, err
		}
		items = append(items, elems)
		off += int(ilen)
	}
	return off, items, nil
}

// setOf parses the Specific Character Set of a data set, nil when absent.
func setOf(t *testing.T, elems []tElem) (*Set, []string) {
	t.Helper()
	e := find(elems, 0x00080005)
	if e.vr == "" {
		return nil, nil
	}
	vals := strings.Split(string(e.value), `\`)
	for i := range vals {
		vals[i] = strings.TrimRight(vals[i], " ")
	}
	s, err := Parse(vals)
	if err != nil {
		t.Fatalf("Parse(%q): %v", vals, err)
	}
	return s, vals
}

// padTrim removes the trailing space that pads a value to even length.
func padTrim(b []byte) []byte { return bytes.TrimRight(b, " ") }

// The Patient's Name of each example file: the declared Specific Character
// Set, the raw bytes as read with xxd (also in FileInfo.txt of the same
// directory), the expected decoding (pydicom's test_charset.py, except that
// the trailing '=' of chrX1/chrX2 is kept: Decode does not interpret PN
// structure), and whether Encode must give back the file's bytes exactly.
var fileNames = []struct {
	file      string
	terms     []string
	raw       string
	want      string
	identical bool
}{
	{"chrArab.dcm", []string{"ISO_IR 127"}, "\xe2\xc8\xc7\xe6\xea^\xe4\xe6\xd2\xc7\xd1", "قباني^لنزار", true},
	{"chrFren.dcm", []string{"ISO_IR 100"}, "Buc^J\xe9r\xf4me", "Buc^Jérôme", true},
	{"chrFrenMulti.dcm", []string{"ISO_IR 100"}, "Buc^J\xe9r\xf4me", "Buc^Jérôme", true},
	{"chrGerm.dcm", []string{"ISO_IR 100"}, "\xc4neas^R\xfcdiger", "Äneas^Rüdiger", true},
	{"chrGreek.dcm", []string{"ISO_IR 126"}, "\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2", "Διονυσιος", true},
	{"chrH31.dcm", []string{"", "ISO 2022 IR 87"},
		"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B",
		"Yamada^Tarou=山田^太郎=やまだ^たろう", true},
	{"chrH32.dcm", []string{"ISO 2022 IR 13", "ISO 2022 IR 87"},
		"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J",
		"ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう", true},
	{"chrHbrw.dcm", []string{"ISO_IR 138"}, "\xf9\xf8\xe5\xef^\xe3\xe1\xe5\xf8\xe4", "שרון^דבורה", true},
	{"chrI2.dcm", []string{"", "ISO 2022 IR 149"},
		"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf",
		"Hong^Gildong=洪^吉洞=홍^길동", true},
	{"chrJapMulti.dcm", []string{"", "ISO 2022 IR 87"},
		"\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B", "やまだ^たろう", true},
	{"chrJapMultiExplicitIR6.dcm", []string{"ISO 2022 IR 6", "ISO 2022 IR 87"},
		"\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B", "やまだ^たろう", true},
	// The writer of this file designated ASCII again at the end although
	// G0 never left it; Encode does not, so only the decoding is compared.
	{"chrKoreanMulti.dcm", []string{"", "ISO 2022 IR 149"},
		"\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B", "김희중", false},
	{"chrRuss.dcm", []string{"ISO_IR 144"}, "\xbb\xee\xdace\xdc\xd1yp\xd3", "Люкceмбypг", true},
	{"chrX1.dcm", []string{"ISO_IR 192"}, "Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1=", "Wang^XiaoDong=王^小東=", true},
	{"chrX2.dcm", []string{"GB18030"}, "Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=", "Wang^XiaoDong=王^小东=", true},
}

func TestExampleFilesPatientName(t *testing.T) {
	for _, tc := range fileNames {
		t.Run(tc.file, func(t *testing.T) {
			elems := readTestFile(t, tc.file)
			set, terms := setOf(t, elems)
			if fmt.Sprintf("%q", terms) != fmt.Sprintf("%q", tc.terms) {
				t.Fatalf("(0008,0005) = %q, want %q", terms, tc.terms)
			}
			pn := find(elems, 0x00100010)
			if pn.vr != "PN" {
				t.Fatalf("no (0010,0010) PN, got VR %q", pn.vr)
			}
			raw := padTrim(pn.value)
			if string(raw) != tc.raw {
				t.Fatalf("file bytes %q differ from the hard-coded %q", raw, tc.raw)
			}
			got, err := set.Decode("PN", raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Decode = %q, want %q", got, tc.want)
			}
			if lossy := set.DecodeLossy("PN", raw); lossy != tc.want {
				t.Fatalf("DecodeLossy = %q, want %q", lossy, tc.want)
			}
			enc, err := set.Encode("PN", tc.want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if tc.identical && string(enc) != tc.raw {
				t.Fatalf("Encode = %q, want the file's %q", enc, tc.raw)
			}
			if back, err := set.Decode("PN", enc); err != nil || back != tc.want {
				t.Fatalf("Decode(Encode) = %q, %v; want %q", back, err, tc.want)
			}
		})
	}
}

// Other multi-valued and text elements of the example files.
func TestExampleFilesOtherElements(t *testing.T) {
	cases := []struct {
		file string
		tag  uint32
		vr   string
		want string
	}{
		{"chrFrenMulti.dcm", 0x00101000, "LO", `eggs\spam`},
		{"chrFrenMulti.dcm", 0x00101001, "PN", `Buc^Jérôme\Buc^Jérôme`},
		{"chrJapMulti.dcm", 0x00101001, "PN", `やまだ^たろう\やまだ^たろう`},
		{"chrJapMulti.dcm", 0x001021B0, "LT", "たろう"},
		{"chrJapMultiExplicitIR6.dcm", 0x001021B0, "LT", "たろう"},
		{"chrKoreanMulti.dcm", 0x00081070, "PN", "김희중"},
		{"chrKoreanMulti.dcm", 0x00101001, "PN", `김희중\김희중`},
		{"chrKoreanMulti.dcm", 0x001021B0, "LT", "김희중"},
		{"chrArab.dcm", 0x00100020, "LO", "SCSARAB"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%08X", tc.file, tc.tag), func(t *testing.T) {
			elems := readTestFile(t, tc.file)
			set, _ := setOf(t, elems)
			e := find(elems, tc.tag)
			if e.vr != tc.vr {
				t.Fatalf("VR %q, want %q", e.vr, tc.vr)
			}
			got, err := set.Decode(e.vr, padTrim(e.value))
			if err != nil || got != tc.want {
				t.Fatalf("Decode(%q) = %q, %v; want %q", e.value, got, err, tc.want)
			}
			enc, err := set.Encode(e.vr, tc.want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if back, err := set.Decode(e.vr, enc); err != nil || back != tc.want {
				t.Fatalf("Decode(Encode) = %q, %v", back, err)
			}
		})
	}
}

// Every character string element of every example file decodes strictly,
// nested items with their own or their parent's Specific Character Set.
func TestExampleFilesAllTextDecodes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(charsetDir, "*.dcm"))
	if err != nil || len(files) < 17 {
		t.Fatalf("want the 17 example files in %s, found %d (%v)", charsetDir, len(files), err)
	}
	for _, f := range files {
		elems := readTestFile(t, filepath.Base(f))
		set, _ := setOf(t, elems)
		n := walkText(t, filepath.Base(f), set, elems)
		if n < 3 {
			t.Errorf("%s: only %d text elements decoded", f, n)
		}
	}
}

func walkText(t *testing.T, file string, set *Set, elems []tElem) int {
	t.Helper()
	n := 0
	for _, e := range elems {
		if e.tag>>16 == 0x0002 {
			continue // file meta: always ASCII, checked by the VR anyway
		}
		for _, item := range e.items {
			itemSet, _ := setOf(t, item)
			if itemSet == nil {
				itemSet = set
			}
			n += walkText(t, file, itemSet, item)
		}
		if !IsTextVR(e.vr) {
			continue
		}
		if _, err := set.Decode(e.vr, e.value); err != nil {
			t.Errorf("%s (%04X,%04X) %s %q: %v", file, e.tag>>16, e.tag&0xFFFF, e.vr, e.value, err)
		}
		n++
	}
	return n
}

// chrSQEncoding: the sequence item declares its own Specific Character Set;
// chrSQEncoding1: the item inherits the data set's.
func TestExampleFilesNestedSet(t *testing.T) {
	const want = "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
	for _, tc := range []struct {
		file                string
		outerTerms, inTerms []string
	}{
		{"chrSQEncoding.dcm", []string{"ISO_IR 192"}, []string{"ISO 2022 IR 13", "ISO 2022 IR 87"}},
		{"chrSQEncoding1.dcm", []string{"ISO 2022 IR 13", "ISO 2022 IR 87"}, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			elems := readTestFile(t, tc.file)
			outer, terms := setOf(t, elems)
			if fmt.Sprint(terms) != fmt.Sprint(tc.outerTerms) {
				t.Fatalf("outer terms %q", terms)
			}
			sq := find(elems, 0x00321064)
			if len(sq.items) != 1 {
				t.Fatalf("(0032,1064) has %d items", len(sq.items))
			}
			item := sq.items[0]
			inner, iterms := setOf(t, item)
			if fmt.Sprint(iterms) != fmt.Sprint(tc.inTerms) {
				t.Fatalf("item terms %q", iterms)
			}
			if inner == nil {
				inner = outer
			}
			raw := padTrim(find(item, 0x00100010).value)
			got, err := inner.Decode("PN", raw)
			if err != nil || got != want {
				t.Fatalf("Decode = %q, %v; want %q", got, err, want)
			}
			if outer.IsUTF8() {
				// With the wrong (outer) set the bytes are not UTF-8.
				if _, err := outer.Decode("PN", raw); !errors.Is(err, ErrInvalidBytes) {
					t.Fatalf("decoding with the outer ISO_IR 192: err = %v, want ErrInvalidBytes", err)
				}
			}
		})
	}
}
