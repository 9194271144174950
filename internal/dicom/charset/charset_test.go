package charset

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustParse(t testing.TB, terms ...string) *Set {
	t.Helper()
	s, err := Parse(terms)
	if err != nil {
		t.Fatalf("Parse(%q): %v", terms, err)
	}
	return s
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in    []string
		terms []string
		utf8  bool
		def   bool
		ext   bool
	}{
		{nil, nil, false, true, false},
		{[]string{""}, nil, false, true, false},
		{[]string{" ", ""}, nil, false, true, false},
		{[]string{"ISO_IR 6"}, []string{"ISO_IR 6"}, false, true, false},
		{[]string{"ISO 2022 IR 6"}, []string{"ISO 2022 IR 6"}, false, true, true},
		{[]string{"ISO_IR 192 "}, []string{"ISO_IR 192"}, true, false, false},
		{[]string{"ISO_IR 100\x00"}, []string{"ISO_IR 100"}, false, false, false},
		{[]string{"", "ISO 2022 IR 87"}, []string{"", "ISO 2022 IR 87"}, false, false, true},
		{[]string{`\ISO 2022 IR 149`}, []string{"", "ISO 2022 IR 149"}, false, false, true},
		{[]string{"ISO 2022 IR 13", "ISO 2022 IR 87", "ISO 2022 IR 159"}, []string{"ISO 2022 IR 13", "ISO 2022 IR 87", "ISO 2022 IR 159"}, false, false, true},
		{[]string{"GB18030"}, []string{"GB18030"}, false, false, false},
		{[]string{"GBK"}, []string{"GBK"}, false, false, false},
	} {
		s, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := s.Terms(); strings.Join(got, "|") != strings.Join(tc.terms, "|") || (got == nil) != (tc.terms == nil) {
			t.Errorf("Parse(%q).Terms() = %q, want %q", tc.in, got, tc.terms)
		}
		if s.IsUTF8() != tc.utf8 || s.IsDefault() != tc.def || s.HasCodeExtensions() != tc.ext {
			t.Errorf("Parse(%q): IsUTF8 %v IsDefault %v ext %v", tc.in, s.IsUTF8(), s.IsDefault(), s.HasCodeExtensions())
		}
	}
	// Terms is a copy.
	s := mustParse(t, "ISO_IR 100")
	s.Terms()[0] = "x"
	if s.Terms()[0] != "ISO_IR 100" {
		t.Error("Terms exposes the Set's slice")
	}
	if s.String() != "ISO_IR 100" || mustParse(t, "", "ISO 2022 IR 87").String() != `\ISO 2022 IR 87` {
		t.Error("String")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want error
		name string
	}{
		{[]string{"UNSUPPORTED"}, ErrUnknownCharset, "UNSUPPORTED"},
		{[]string{"ISO IR 192"}, ErrUnknownCharset, "ISO IR 192"},
		{[]string{"ISO 2022 IR 100", "ISO 2022 IR 146"}, ErrUnknownCharset, "ISO 2022 IR 146"},
		{[]string{"ISO_IR 100", "ISO 2022 IR 87"}, ErrInvalidCharset, "ISO_IR 100"},
		{[]string{"ISO_IR 192", "GB18030"}, ErrInvalidCharset, "ISO_IR 192"},
		{[]string{"", "GBK"}, ErrInvalidCharset, "GBK"},
		{[]string{"ISO 2022 IR 6", "", "ISO 2022 IR 87"}, ErrInvalidCharset, "empty"},
	} {
		_, err := Parse(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q) err = %v, want %v", tc.in, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.name) {
			t.Errorf("Parse(%q) err = %q does not name %q", tc.in, err, tc.name)
		}
	}
}

// pydicom's ENCODED_NAMES (test_charset.py): single-byte code extensions,
// each value written with an escape sequence per component, decoded with
// [”, term] after an ASCII prefix.
var encodedNames = []struct {
	term, want, raw string
}{
	{"ISO 2022 IR 13", "ﾔﾏﾀﾞ^ﾀﾛｳ", "\x1b\x29\x49\xd4\xcf\xc0\xde\x5e\x1b\x29\x49\xc0\xdb\xb3"},
	{"ISO 2022 IR 100", "Buc^Jérôme", "\x1b\x2d\x41\x42\x75\x63\x5e\x1b\x2d\x41\x4a\xe9\x72\xf4\x6d\x65"},
	{"ISO 2022 IR 101", "Wałęsa", "\x1b\x2d\x42\x57\x61\xb3\xea\x73\x61"},
	{"ISO 2022 IR 109", "antaŭnomo", "\x1b\x2d\x43\x61\x6e\x74\x61\xfd\x6e\x6f\x6d\x6f"},
	{"ISO 2022 IR 110", "vārds", "\x1b\x2d\x44\x76\xe0\x72\x64\x73"},
	{"ISO 2022 IR 127", "قباني^لنزار", "\x1b\x2d\x47\xe2\xc8\xc7\xe6\xea\x5e\x1b\x2d\x47\xe4\xe6\xd2\xc7\xd1"},
	{"ISO 2022 IR 126", "Διονυσιος", "\x1b\x2d\x46\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2"},
	{"ISO 2022 IR 138", "שרון^דבורה", "\x1b\x2d\x48\xf9\xf8\xe5\xef\x5e\x1b\x2d\x48\xe3\xe1\xe5\xf8\xe4"},
	{"ISO 2022 IR 144", "Люкceмбypг", "\x1b\x2d\x4c\xbb\xee\xda\x63\x65\xdc\xd1\x79\x70\xd3"},
	{"ISO 2022 IR 148", "Çavuşoğlu", "\x1b\x2d\x4d\xc7\x61\x76\x75\xfe\x6f\xf0\x6c\x75"},
	{"ISO 2022 IR 166", "นามสกุล", "\x1b\x2d\x54\xb9\xd2\xc1\xca\xa1\xd8\xc5"},
}

func TestSingleByteCodeExtensions(t *testing.T) {
	for _, tc := range encodedNames {
		t.Run(tc.term, func(t *testing.T) {
			s := mustParse(t, "", tc.term)
			got, err := s.Decode("PN", []byte("ASCII+"+tc.raw))
			if err != nil || got != "ASCII+"+tc.want {
				t.Fatalf("Decode = %q, %v; want %q", got, err, "ASCII+"+tc.want)
			}
			enc, err := s.Encode("PN", tc.want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !strings.HasPrefix(string(enc), "\x1b") && tc.want[0] >= utf8.RuneSelf {
				t.Fatalf("Encode = %q: no designation before the first non-ASCII character", enc)
			}
			if back, err := s.Decode("PN", enc); err != nil || back != tc.want {
				t.Fatalf("Decode(Encode) = %q, %v", back, err)
			}
			// The same set as value 1: G1 is designated from the start.
			s1 := mustParse(t, tc.term)
			if got, err := s1.Decode("PN", []byte(tc.raw)); err != nil || got != tc.want {
				t.Fatalf("as value 1: Decode = %q, %v", got, err)
			}
		})
	}
}

// pydicom test_missing_escape_for_single_byte_code_extensions: after '^' G1
// is reset, so the Katakana bytes of the second component have no G1.
func TestMissingEscapeAfterDelimiter(t *testing.T) {
	s := mustParse(t, "", "ISO 2022 IR 13")
	raw := []byte("ASCII+\x1b\x29\x49\xd4\xcf\xc0\xde\x5e\xc0\xdb\xb3")
	if _, err := s.Decode("PN", raw); !errors.Is(err, ErrInvalidBytes) || !strings.Contains(err.Error(), "byte 14") {
		t.Fatalf("strict Decode err = %v, want ErrInvalidBytes at byte 14", err)
	}
	if got := s.DecodeLossy("PN", raw); got != "ASCII+ﾔﾏﾀﾞ^\ufffd\ufffd\ufffd" {
		t.Fatalf("DecodeLossy = %q", got)
	}
	// In LO '^' is not a delimiter: the designation stays.
	if got, err := s.Decode("LO", raw); err != nil || got != "ASCII+ﾔﾏﾀﾞ^ﾀﾛｳ" {
		t.Fatalf("LO: Decode = %q, %v", got, err)
	}
}

// pydicom test_japanese_multi_byte_personname: JIS X 0208 and JIS X 0212
// (鷗 is only in JIS X 0212); the expected bytes are pydicom's.
func TestEncodeJapaneseWithJISX0212(t *testing.T) {
	s := mustParse(t, "ISO 2022 IR 6", "ISO 2022 IR 87", "ISO 2022 IR 159")
	const name = "Mori^Ogai=森^鷗外=もり^おうがい"
	want := "\x4d\x6f\x72\x69\x5e\x4f\x67\x61\x69\x3d\x1b\x24\x42\x3f" +
		"\x39\x1b\x28\x42\x5e\x1b\x24\x28\x44\x6c\x3f\x1b\x24\x42" +
		"\x33\x30\x1b\x28\x42\x3d\x1b\x24\x42\x24\x62\x24\x6a\x1b" +
		"\x28\x42\x5e\x1b\x24\x42\x24\x2a\x24\x26\x24\x2c\x24\x24" +
		"\x1b\x28\x42"
	enc, err := s.Encode("PN", name)
	if err != nil || string(enc) != want {
		t.Fatalf("Encode = %q, %v; want %q", enc, err, want)
	}
	if got, err := s.Decode("PN", enc); err != nil || got != name {
		t.Fatalf("Decode = %q, %v", got, err)
	}
	// Without IR 159, 鷗 cannot be written.
	if _, err := mustParse(t, "", "ISO 2022 IR 87").Encode("PN", name); !errors.Is(err, ErrNotRepresentable) || !strings.Contains(err.Error(), "鷗") {
		t.Fatalf("without IR 159: err = %v", err)
	}
}

// pydicom test_japanese_multi_byte_encoding: 'あaｱア齩' in IR 13 + 87 + 159.
// pydicom designates G1 Katakana again before ｱ although it is the initial
// G1; Encode does not. Both decode the same.
func TestEncodeJapaneseMixed(t *testing.T) {
	s := mustParse(t, "ISO 2022 IR 13", "ISO 2022 IR 87", "ISO 2022 IR 159")
	const text = "あaｱア齩"
	want := "\x1b$B$\"\x1b(Ja\xb1\x1b$B%\"\x1b$(DmN\x1b(J"
	enc, err := s.Encode("LO", text)
	if err != nil || string(enc) != want {
		t.Fatalf("Encode = %q, %v; want %q", enc, err, want)
	}
	pydicom := "\x1b$B$\"\x1b(Ja\x1b)I\xb1\x1b$B%\"\x1b$(DmN\x1b(J"
	for _, raw := range []string{want, pydicom} {
		if got, err := s.Decode("LO", []byte(raw)); err != nil || got != text {
			t.Fatalf("Decode(%q) = %q, %v", raw, got, err)
		}
	}
}

// PS3.5 Annex K.2 style: GB 2312 as a code extension (ISO 2022 IR 58).
// The bytes were checked against Python's gb2312 codec.
func TestGB2312CodeExtension(t *testing.T) {
	s := mustParse(t, "", "ISO 2022 IR 58")
	const name = "Zhang^XiaoDong=张^小东="
	want := "Zhang^XiaoDong=\x1b$)A\xd5\xc5^\x1b$)A\xd0\xa1\xb6\xab="
	enc, err := s.Encode("PN", name)
	if err != nil || string(enc) != want {
		t.Fatalf("Encode = %q, %v; want %q", enc, err, want)
	}
	if got, err := s.Decode("PN", []byte(want)); err != nil || got != name {
		t.Fatalf("Decode = %q, %v", got, err)
	}
	// 王^小东 in GB18030 (chrX2) shares the GB 2312 bytes.
	if got, err := s.Decode("PN", []byte("\x1b$)A\xcd\xf5^\x1b$)A\xd0\xa1\xb6\xab")); err != nil || got != "王^小东" {
		t.Fatalf("Decode = %q, %v", got, err)
	}
	// A2A1 (ⅰ) is a GBK addition, not GB 2312.
	if _, err := s.Decode("LO", []byte("\x1b$)A\xa2\xa1")); !errors.Is(err, ErrInvalidBytes) {
		t.Fatalf("Decode(A2A1) err = %v", err)
	}
	if _, err := s.Encode("LO", "ⅰ"); !errors.Is(err, ErrNotRepresentable) {
		t.Fatalf("Encode(ⅰ) err = %v", err)
	}
	if enc, err := mustParse(t, "GBK").Encode("LO", "ⅰ"); err != nil || string(enc) != "\xa2\xa1" {
		t.Fatalf("GBK Encode(ⅰ) = % X, %v", enc, err)
	}
	// Traditional 東 is not in GB 2312.
	if _, err := s.Encode("PN", "小東"); !errors.Is(err, ErrNotRepresentable) {
		t.Fatalf("Encode(小東) err = %v", err)
	}
}

func TestNotRepresentable(t *testing.T) {
	for _, tc := range []struct {
		terms []string
		vr    string
		text  string
	}{
		{[]string{"ISO_IR 100"}, "PN", "山田"},
		{[]string{"ISO 2022 IR 100"}, "PN", "山田"},
		{[]string{"ISO 2022 IR 100", "ISO 2022 IR 126"}, "LO", "Jérôme Διονυσιος Люк"},
		{nil, "LO", "é"},
		{[]string{"ISO_IR 6"}, "SH", "é"},
		{[]string{"ISO_IR 100"}, "PN", "ﾔ"},
		{[]string{"ISO_IR 13"}, "PN", "山"},
		{[]string{"", "ISO 2022 IR 87"}, "PN", "홍"},
		{[]string{"", "ISO 2022 IR 149"}, "PN", "山田^ﾔﾏﾀﾞ"}, // KS X 1001 has Hanja and Hiragana, not half-width Katakana
		{[]string{"ISO_IR 192"}, "CS", "ÉTÉ"},
		{[]string{"ISO_IR 100"}, "UI", "1.2\u00e9"},
		{[]string{"ISO_IR 192"}, "LO", "a\x1bb"},
		{[]string{"", "ISO 2022 IR 87"}, "LO", "\x1b$B"},
		{[]string{"GBK"}, "LO", "😀"},
		{[]string{"ISO_IR 100"}, "LO", "\u0085"},
		{[]string{"ISO_IR 166"}, "LO", "\u0e5c"}, // unassigned in TIS 620
	} {
		s := mustParse(t, tc.terms...)
		_, err := s.Encode(tc.vr, tc.text)
		if !errors.Is(err, ErrNotRepresentable) {
			t.Errorf("%q %s Encode(%q) err = %v, want ErrNotRepresentable", tc.terms, tc.vr, tc.text, err)
		}
	}
	if _, err := Default().Encode("LO", "a\xffb"); !errors.Is(err, ErrInvalidText) {
		t.Errorf("invalid UTF-8: err = %v", err)
	}
	if _, err := Default().Encode("OB", "a"); !errors.Is(err, ErrNotText) {
		t.Errorf("OB: err = %v", err)
	}
	if _, err := Default().Decode("SQ", nil); !errors.Is(err, ErrNotText) {
		t.Errorf("SQ: err = %v", err)
	}
}

// Decode(Encode(s)) == s for every set with representable text, in several
// VRs; values with delimiters, spaces and line breaks.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		terms []string
		texts []string
	}{
		{nil, []string{"", "Doe^John", "ASCII \t~\\|\r\n"}},
		{[]string{"ISO_IR 100"}, []string{"Buc^Jérôme", "Äneas^Rüdiger", "ÿ\u00a0×÷"}},
		{[]string{"ISO_IR 101"}, []string{"Wałęsa^Lech"}},
		{[]string{"ISO_IR 109"}, []string{"antaŭnomo ĉĝĥ"}},
		{[]string{"ISO_IR 110"}, []string{"vārds ķļņ"}},
		{[]string{"ISO_IR 126"}, []string{"Διονυσιος"}},
		{[]string{"ISO_IR 127"}, []string{"قباني^لنزار"}},
		{[]string{"ISO_IR 138"}, []string{"שרון^דבורה"}},
		{[]string{"ISO_IR 144"}, []string{"Люкceмбypг"}},
		{[]string{"ISO_IR 148"}, []string{"Çavuşoğlu"}},
		{[]string{"ISO_IR 166"}, []string{"นามสกุล"}},
		{[]string{"ISO_IR 203"}, []string{"€uro Œuvre"}},
		{[]string{"ISO_IR 13"}, []string{"ﾔﾏﾀﾞ^ﾀﾛｳ"}},
		{[]string{"ISO_IR 192"}, []string{"Wang^XiaoDong=王^小東=", "😀\ufffd\u0085"}},
		{[]string{"GB18030"}, []string{"Wang^XiaoDong=王^小东=", "小東 😀 \ufffd €", "\u00e9\u0430"}},
		{[]string{"GBK"}, []string{"王^小东", "€", "小東"}},
		{[]string{"ISO 2022 IR 100"}, []string{"Buc^Jérôme"}},
		{[]string{"", "ISO 2022 IR 87"}, []string{"Yamada^Tarou=山田^太郎=やまだ^たろう", "山田 太郎", "山\\田"}},
		{[]string{"ISO 2022 IR 13", "ISO 2022 IR 87"}, []string{"ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう", "ｱ山ｱa"}},
		{[]string{"", "ISO 2022 IR 87", "ISO 2022 IR 159"}, []string{"森^鷗外", "鷗鷗外\r\n鷗"}},
		{[]string{"", "ISO 2022 IR 149"}, []string{"Hong^Gildong=洪^吉洞=홍^길동", "김희중\\김희중", "김 희중\n김"}},
		{[]string{"", "ISO 2022 IR 58"}, []string{"Wang^XiaoDong=王^小东="}},
		{[]string{"ISO 2022 IR 100", "ISO 2022 IR 126", "ISO 2022 IR 144"}, []string{"Jérôme Διονυσιος Люк", "é\r\nα\\ж^é=α"}},
		{[]string{"ISO 2022 IR 6", "ISO 2022 IR 100", "ISO 2022 IR 87", "ISO 2022 IR 149"}, []string{"é山김é", "Jérôme=山田=김"}},
	} {
		s := mustParse(t, tc.terms...)
		for _, text := range tc.texts {
			for _, vr := range []string{"PN", "LO", "SH", "UC", "LT", "ST", "UT"} {
				enc, err := s.Encode(vr, text)
				if err != nil {
					t.Errorf("%q %s Encode(%q): %v", tc.terms, vr, text, err)
					continue
				}
				got, err := s.Decode(vr, enc)
				if err != nil || got != text {
					t.Errorf("%q %s Decode(Encode(%q)) = %q, %v (bytes %q)", tc.terms, vr, text, got, err, enc)
				}
			}
		}
	}
}

// Code extension state and the VR: delimiters reset only where the VR has
// them; control characters reset in every VR.
func TestResetPerVR(t *testing.T) {
	s := mustParse(t, "", "ISO 2022 IR 149")
	kim := "\xb1\xe8" // 김
	for _, tc := range []struct {
		vr, raw, want string // want "" = ErrInvalidBytes
	}{
		{"LO", "\x1b$)C" + kim + `\` + kim, ""},
		{"LT", "\x1b$)C" + kim + `\` + kim, `김\김`},
		{"PN", "\x1b$)C" + kim + "^" + kim, ""},
		{"LO", "\x1b$)C" + kim + "^" + kim, "김^김"},
		{"PN", "\x1b$)C" + kim + "=" + kim, ""},
		{"LT", "\x1b$)C" + kim + "\r\n" + kim, ""},
		{"LT", "\x1b$)C" + kim + "\r\n\x1b$)C" + kim, "김\r\n김"},
		{"UT", "\x1b$)C" + kim + "\t" + kim, ""},
		{"ST", "\x1b$)C" + kim + " " + kim, "김 김"},
		{"CS", "\x1b$)C" + kim, ""},
	} {
		got, err := s.Decode(tc.vr, []byte(tc.raw))
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidBytes) {
				t.Errorf("%s Decode(%q) = %q, %v; want ErrInvalidBytes", tc.vr, tc.raw, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s Decode(%q) = %q, %v; want %q", tc.vr, tc.raw, got, err, tc.want)
		}
	}

	// A 0x5C or 0x5E byte inside a two-byte G0 character is not a delimiter:
	// 0x3F5C and 0x245E are JIS X 0208 characters.
	j := mustParse(t, "", "ISO 2022 IR 87")
	for _, raw := range []string{"\x1b$B?\\\x1b(B", "\x1b$B$^\x1b(B"} {
		want := DecodeWithX(t, raw[3:5])
		if got, err := j.Decode("PN", []byte(raw)); err != nil || got != want {
			t.Errorf("PN Decode(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

// DecodeWithX decodes a JIS X 0208 pair with x/text's EUC-JP, independently
// of the package's tables.
func DecodeWithX(t *testing.T, pair string) string {
	t.Helper()
	r := decodeOne(elJIS0208.dbcs.newDec(), []byte{pair[0] | 0x80, pair[1] | 0x80})
	if r == utf8.RuneError {
		t.Fatalf("pair %q undefined", pair)
	}
	return string(r)
}

// Default-repertoire VRs ignore the Specific Character Set.
func TestDefaultRepertoireVRs(t *testing.T) {
	s := mustParse(t, "ISO_IR 100")
	if got, err := s.Decode("LO", []byte("\xe9t\xe9")); err != nil || got != "été" {
		t.Fatalf("LO: %q, %v", got, err)
	}
	for _, vr := range []string{"CS", "DA", "UI", "AE", "AS", "DS", "DT", "IS", "TM", "UR"} {
		if _, err := s.Decode(vr, []byte("\xe9t\xe9")); !errors.Is(err, ErrInvalidBytes) {
			t.Errorf("%s: err = %v", vr, err)
		}
		if got := s.DecodeLossy(vr, []byte("\xe9t\xe9")); got != "\ufffdt\ufffd" {
			t.Errorf("%s lossy: %q", vr, got)
		}
		if got, err := s.Decode(vr, []byte("ORIGINAL\\PRIMARY")); err != nil || got != `ORIGINAL\PRIMARY` {
			t.Errorf("%s: %q, %v", vr, got, err)
		}
	}
	u := UTF8()
	if _, err := u.Decode("CS", []byte("\xc3\xa9")); !errors.Is(err, ErrInvalidBytes) {
		t.Errorf("UTF-8 CS: err = %v", err)
	}
}

func TestDecodeInvalid(t *testing.T) {
	for _, tc := range []struct {
		terms []string
		raw   string
		lossy string
	}{
		{nil, "caf\xe9", "caf\ufffd"},
		{[]string{"ISO_IR 100"}, "a\x85b", "a\ufffdb"},                 // C1
		{[]string{"ISO_IR 100"}, "a\x1b-Fb", "ab"},                     // escape without code extensions (lossy honours it)
		{[]string{"ISO_IR 127"}, "\xa1", "\ufffd"},                     // undefined in ISO 8859-6
		{[]string{"ISO_IR 166"}, "\xdb", "\ufffd"},                     // undefined in TIS 620
		{[]string{"ISO_IR 13"}, "\xe0", "\ufffd"},                      // beyond half-width Katakana
		{[]string{"ISO_IR 192"}, "a\xc3(", "a\ufffd("},                 // bad continuation
		{[]string{"ISO_IR 192"}, "\xed\xa0\x80", "\ufffd\ufffd\ufffd"}, // surrogate
		{[]string{"ISO_IR 192"}, "a\x1b(B", "a\ufffd(B"},               // no escapes in UTF-8
		{[]string{"GB18030"}, "\x80", "\ufffd"},                        // not GB18030
		{[]string{"GB18030"}, "\xcd", "\ufffd"},                        // truncated
		{[]string{"GB18030"}, "\x81\x30\x81", "\ufffd0\ufffd"},         // truncated four-byte
		{[]string{"GBK"}, "\x81\x30\x81\x30", "\ufffd0\ufffd0"},        // no four-byte form in GBK
		{[]string{"", "ISO 2022 IR 87"}, "\x1b$B;", "\ufffd"},          // truncated pair
		{[]string{"", "ISO 2022 IR 87"}, "\x1b$B)!\x1b(B", "\ufffd"},   // row 9: not in JIS X 0208
		{[]string{"", "ISO 2022 IR 87"}, "\x1b$Z", "\ufffd"},           // unknown escape
		{[]string{"", "ISO 2022 IR 87"}, "a\x1b$", "a\ufffd"},          // malformed escape
		{[]string{"", "ISO 2022 IR 149"}, "\xb1\xe8", "\ufffd\ufffd"},  // G1 not designated
		{[]string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1", "\ufffd"},     // truncated
		{[]string{"", "ISO 2022 IR 149"}, "\x1b$)C\xc9\xa1", "\ufffd"}, // user-defined row
		{[]string{"", "ISO 2022 IR 58"}, "\x1b$)A\xaa\xa1", "\ufffd"},  // row 10: not GB 2312
		{[]string{"", "ISO 2022 IR 100"}, "\x1b-A\x9f", "\ufffd"},      // C1
		{[]string{"", "ISO 2022 IR 100"}, "\x1b$B$\"\x1b(B", "\u3042"}, // undeclared but known: accepted (see below)
	} {
		s := mustParse(t, tc.terms...)
		got := s.DecodeLossy("LO", []byte(tc.raw))
		if got != tc.lossy {
			t.Errorf("%q DecodeLossy(%q) = %q, want %q", tc.terms, tc.raw, got, tc.lossy)
		}
		_, err := s.Decode("LO", []byte(tc.raw))
		if strings.ContainsRune(tc.lossy, utf8.RuneError) || (!s.HasCodeExtensions() && strings.Contains(tc.raw, "\x1b")) {
			if !errors.Is(err, ErrInvalidBytes) {
				t.Errorf("%q Decode(%q) err = %v, want ErrInvalidBytes", tc.terms, tc.raw, err)
			}
		} else if err != nil {
			t.Errorf("%q Decode(%q): %v", tc.terms, tc.raw, err)
		}
	}
	// GB18030's own encoding of U+FFFD is valid.
	if got, err := mustParse(t, "GB18030").Decode("LO", gbFFFD); err != nil || got != "\ufffd" {
		t.Errorf("GB18030 U+FFFD: %q, %v", got, err)
	}
	// GBK decodes 0x80 as the euro sign (Code Page 936).
	if got, err := mustParse(t, "GBK").Decode("LO", []byte{0x80}); err != nil || got != "€" {
		t.Errorf("GBK 0x80: %q, %v", got, err)
	}
}

func TestNilSetIsDefault(t *testing.T) {
	var s *Set
	if got, err := s.Decode("PN", []byte("Doe^John")); err != nil || got != "Doe^John" {
		t.Fatal(got, err)
	}
	if _, err := s.Encode("PN", "é"); !errors.Is(err, ErrNotRepresentable) {
		t.Fatal(err)
	}
	if s.Terms() != nil || s.IsUTF8() || !s.IsDefault() || s.String() != "" {
		t.Fatal("nil Set accessors")
	}
}

func TestVRHelpers(t *testing.T) {
	for _, vr := range []string{"SH", "LO", "ST", "LT", "UC", "UT", "PN"} {
		if !UsesSpecificCharset(vr) || !IsTextVR(vr) {
			t.Errorf("%s", vr)
		}
	}
	for _, vr := range []string{"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"} {
		if UsesSpecificCharset(vr) || !IsTextVR(vr) {
			t.Errorf("%s", vr)
		}
	}
	for _, vr := range []string{"OB", "SQ", "UN", "US", "", "pn"} {
		if UsesSpecificCharset(vr) || IsTextVR(vr) {
			t.Errorf("%q", vr)
		}
	}
}

func BenchmarkDecodeISO2022(b *testing.B) {
	s := mustParse(b, "", "ISO 2022 IR 87")
	raw := []byte("Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B")
	for b.Loop() {
		if _, err := s.Decode("PN", raw); err != nil {
			b.Fatal(err)
		}
	}
}

// JIS X 0208 uses the JIS mapping (as pydicom and iconv), not code page 932.
func TestJISMapping(t *testing.T) {
	s := mustParse(t, "", "ISO 2022 IR 87")
	for _, tc := range []struct{ raw, want string }{
		{"\x1b$B!A\x1b(B", "\u301c"}, // WAVE DASH
		{"\x1b$B!B\x1b(B", "\u2016"},
		{"\x1b$B!]\x1b(B", "\u2212"},
		{"\x1b$B!q!r\"L\x1b(B", "\u00a2\u00a3\u00ac"},
	} {
		got, err := s.Decode("LO", []byte(tc.raw))
		if err != nil || got != tc.want {
			t.Errorf("Decode(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
		if enc, err := s.Encode("LO", tc.want); err != nil || string(enc) != tc.raw {
			t.Errorf("Encode(%q) = %q, %v; want %q", tc.want, enc, err, tc.raw)
		}
	}
	// U+FF5E is not in JIS X 0208 under this mapping.
	if _, err := s.Encode("LO", "\uff5e"); !errors.Is(err, ErrNotRepresentable) {
		t.Errorf("Encode(U+FF5E) err = %v", err)
	}
}

// Known positions of each single-byte G1 table (0 = undefined).
func TestSingleByteTables(t *testing.T) {
	for _, tc := range []struct {
		term string
		b    byte
		want rune
	}{
		{"ISO_IR 100", 0xE9, 'é'}, {"ISO_IR 100", 0xA0, '\u00a0'},
		{"ISO_IR 101", 0xB3, 'ł'}, {"ISO_IR 101", 0xEA, 'ę'},
		{"ISO_IR 109", 0xFD, 'ŭ'}, {"ISO_IR 109", 0xA5, 0},
		{"ISO_IR 110", 0xE0, 'ā'}, {"ISO_IR 110", 0xA2, 'ĸ'},
		{"ISO_IR 126", 0xA1, '\u2018'}, {"ISO_IR 126", 0xB6, 'Ά'}, {"ISO_IR 126", 0xD2, 0}, {"ISO_IR 126", 0xF2, 'ς'},
		{"ISO_IR 127", 0xC7, 'ا'}, {"ISO_IR 127", 0xAC, '،'}, {"ISO_IR 127", 0xA1, 0},
		{"ISO_IR 138", 0xE0, 'א'}, {"ISO_IR 138", 0xDF, '\u2017'}, {"ISO_IR 138", 0xC0, 0},
		{"ISO_IR 144", 0xBB, 'Л'}, {"ISO_IR 144", 0xF0, '№'},
		{"ISO_IR 148", 0xFE, 'ş'}, {"ISO_IR 148", 0xD0, 'Ğ'}, {"ISO_IR 148", 0xDD, 'İ'},
		{"ISO_IR 166", 0xA1, 'ก'}, {"ISO_IR 166", 0xDB, 0}, {"ISO_IR 166", 0xFB, '๛'},
		{"ISO_IR 203", 0xA4, '€'}, {"ISO_IR 203", 0xBC, 'Œ'},
		{"ISO_IR 13", 0xB1, 'ｱ'}, {"ISO_IR 13", 0xDF, 'ﾟ'}, {"ISO_IR 13", 0xE0, 0},
	} {
		s := mustParse(t, tc.term)
		got, err := s.Decode("LO", []byte{tc.b})
		if tc.want == 0 {
			if !errors.Is(err, ErrInvalidBytes) {
				t.Errorf("%s 0x%02X: %q, %v; want undefined", tc.term, tc.b, got, err)
			}
			continue
		}
		if err != nil || got != string(tc.want) {
			t.Errorf("%s 0x%02X: %q, %v; want %q", tc.term, tc.b, got, err, tc.want)
		}
		if enc, err := s.Encode("LO", string(tc.want)); err != nil || len(enc) != 1 || enc[0] != tc.b {
			t.Errorf("%s Encode(%q) = % X, %v", tc.term, tc.want, enc, err)
		}
	}
	// GB18030 four-byte codes: U+00E9 is A8A6 (two bytes), U+0080 81308130,
	// U+10000 90308130; 8431A530 lies between BMP and supplementary ranges.
	g := mustParse(t, "GB18030")
	for raw, want := range map[string]string{"\xa8\xa6": "é", "\x90\x30\x81\x30": "\U00010000", "\x81\x30\x81\x31": "\u0081"} {
		if got, err := g.Decode("LO", []byte(raw)); err != nil || got != want {
			t.Errorf("GB18030 % X: %q, %v; want %q", raw, got, err, want)
		}
	}
	if _, err := g.Decode("LO", []byte("\x84\x31\xa5\x30")); !errors.Is(err, ErrInvalidBytes) {
		t.Errorf("GB18030 8431A530: err = %v", err)
	}
}
