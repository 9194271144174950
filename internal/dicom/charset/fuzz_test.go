package charset

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// fuzzSets are the Sets FuzzDecode chooses from with its first byte.
var fuzzSets = [][]string{
	nil,
	{"ISO_IR 100"},
	{"ISO_IR 127"},
	{"ISO_IR 166"},
	{"ISO_IR 13"},
	{"ISO_IR 192"},
	{"GB18030"},
	{"GBK"},
	{"ISO 2022 IR 100"},
	{"", "ISO 2022 IR 87"},
	{"ISO 2022 IR 13", "ISO 2022 IR 87"},
	{"", "ISO 2022 IR 87", "ISO 2022 IR 159"},
	{"", "ISO 2022 IR 149"},
	{"", "ISO 2022 IR 58"},
	{"ISO 2022 IR 100", "ISO 2022 IR 126", "ISO 2022 IR 144", "ISO 2022 IR 149"},
	{"ISO 2022 IR 149"},
}

var fuzzVRs = []string{"PN", "LO", "SH", "UC", "LT", "ST", "UT", "CS", "UI", "OB"}

// FuzzDecode: no input panics; DecodeLossy always returns valid UTF-8 and
// agrees with Decode whenever Decode succeeds; whatever Decode accepts and
// Encode can write back decodes to the same text again.
func FuzzDecode(f *testing.F) {
	for _, tc := range fileNames {
		f.Add(byte(0), byte(0), []byte(tc.raw))
	}
	for _, tc := range encodedNames {
		f.Add(byte(9), byte(0), []byte(tc.raw))
	}
	f.Add(byte(9), byte(0), []byte("Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B"))
	f.Add(byte(10), byte(1), []byte("\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J"))
	f.Add(byte(11), byte(4), []byte("\x1b$(Dl?\x1b$B30\x1b(B\r\n\x1b$B$b"))
	f.Add(byte(12), byte(0), []byte("Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7"))
	f.Add(byte(13), byte(0), []byte("\x1b$)A\xd5\xc5^\x1b$)A\xd0\xa1\xb6\xab="))
	f.Add(byte(6), byte(1), []byte("Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=\x84\x31\xa4\x37\x81\x30\x81\x30"))
	f.Add(byte(5), byte(2), []byte("\xe7\x8e\x8b\xed\xa0\x80\xc3"))
	f.Add(byte(14), byte(3), []byte("\x1b-F\xc4\x1b-L\xbb\x1b$)C\xb1\xe8\x1b(B\x1b$Z\x1b"))

	sets := make([]*Set, len(fuzzSets))
	for i, terms := range fuzzSets {
		s, err := Parse(terms)
		if err != nil {
			f.Fatalf("Parse(%q): %v", terms, err)
		}
		sets[i] = s
	}

	f.Fuzz(func(t *testing.T, si, vi byte, raw []byte) {
		s := sets[int(si)%len(sets)]
		vr := fuzzVRs[int(vi)%len(fuzzVRs)]

		lossy := s.DecodeLossy(vr, raw)
		if !utf8.ValidString(lossy) {
			t.Fatalf("DecodeLossy(%q) = %q: not valid UTF-8", raw, lossy)
		}
		text, err := s.Decode(vr, raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidBytes) && !errors.Is(err, ErrNotText) {
				t.Fatalf("Decode(%q): unexpected error kind %v", raw, err)
			}
			return
		}
		if text != lossy {
			t.Fatalf("Decode(%q) = %q but DecodeLossy = %q", raw, text, lossy)
		}
		enc, err := s.Encode(vr, text)
		if err != nil {
			if !errors.Is(err, ErrNotRepresentable) {
				t.Fatalf("Encode(%q): unexpected error kind %v", text, err)
			}
			return
		}
		back, err := s.Decode(vr, enc)
		if err != nil || back != text {
			t.Fatalf("Decode(Encode(%q)) = %q, %v (raw %q, encoded %q)", text, back, err, raw, enc)
		}
	})
}

// FuzzParse: no panics, and a parsed Set round-trips through its terms.
func FuzzParse(f *testing.F) {
	f.Add(`\ISO 2022 IR 87`)
	f.Add(`ISO 2022 IR 13\ISO 2022 IR 87\ISO 2022 IR 159`)
	f.Add("ISO_IR 192")
	f.Add(`ISO_IR 100\ISO 2022 IR 87`)
	f.Fuzz(func(t *testing.T, v string) {
		s, err := Parse([]string{v})
		if err != nil {
			if !errors.Is(err, ErrUnknownCharset) && !errors.Is(err, ErrInvalidCharset) {
				t.Fatalf("Parse(%q): unexpected error kind %v", v, err)
			}
			return
		}
		s2, err := Parse(s.Terms())
		if err != nil || s2.String() != s.String() {
			t.Fatalf("Parse(Terms()) = %v, %v", s2, err)
		}
	})
}
