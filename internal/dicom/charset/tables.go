package charset

import (
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// element is one ISO 2022 code element ("graphic character set"): a set of
// characters that can be designated to G0 (GL, bytes 0x21–0x7E) or G1 (GR,
// bytes 0xA0–0xFF) by an escape sequence (PS3.3 Tables C.12-3 and C.12-4).
//
// Exactly one of the following describes the repertoire:
//   - neither high nor dbcs: a single-byte G0 set equal to ASCII on 0x21–0x7E
//     (ISO-IR 6, and ISO-IR 14 JIS X 0201 Romaji, see the package
//     documentation for why the latter is treated as ASCII);
//   - high: a single-byte G1 set, runes for bytes 0xA0–0xFF;
//   - dbcs: a two-byte set, 94×94 positions.
type element struct {
	name  string // registration number, e.g. "ISO-IR 100"
	esc   string // the escape sequence that designates it
	g1    bool   // designated to G1 (else G0)
	multi bool   // two bytes per character

	high    *[96]rune     // single-byte G1: rune for byte 0xA0+i, 0 = undefined
	highEnc map[rune]byte // inverse of high
	dbcs    *dbcsTable
}

// encodeRune returns the bytes of r in e (GL bytes for G0, GR bytes for G1),
// n == 0 when r is not in e's repertoire. Space and control characters are
// handled by the caller and never reach here.
func (e *element) encodeRune(r rune) (b [2]byte, n int) {
	switch {
	case e.dbcs != nil:
		code, ok := e.dbcs.encode(r)
		if !ok {
			return b, 0
		}
		b[0], b[1] = byte(code>>8), byte(code)
		if e.g1 {
			b[0] |= 0x80
			b[1] |= 0x80
		}
		return b, 2
	case e.high != nil:
		c, ok := e.highEnc[r]
		if !ok {
			return b, 0
		}
		b[0] = c
		return b, 1
	default:
		if r >= 0x21 && r <= 0x7E {
			b[0] = byte(r)
			return b, 1
		}
		return b, 0
	}
}

// dbcsTable is a 94×94 two-byte character set, built lazily (on first use)
// from the golang.org/x/text tables. Codes are stored in their 7-bit form
// (both bytes 0x21–0x7E).
type dbcsTable struct {
	once   sync.Once
	load   func(d *encoding.Decoder, b1, b2 byte) rune // 0 = undefined
	newDec func() *encoding.Decoder                    // the x/text decoder to load from
	dec    []rune                                      // (b1-0x21)*94 + (b2-0x21)
	inv    map[rune]uint16                             // rune → b1<<8 | b2 (7-bit)
}

func (t *dbcsTable) init() {
	t.once.Do(func() {
		d := t.newDec()
		t.dec = make([]rune, 94*94)
		t.inv = make(map[rune]uint16, 8000)
		for b1 := byte(0x21); b1 <= 0x7E; b1++ {
			for b2 := byte(0x21); b2 <= 0x7E; b2++ {
				r := t.load(d, b1, b2)
				if r == utf8.RuneError || r < 0x80 || (r >= 0xE000 && r <= 0xF8FF) {
					continue // undefined, or a private-use (user-defined) position
				}
				t.dec[int(b1-0x21)*94+int(b2-0x21)] = r
				if _, dup := t.inv[r]; !dup {
					t.inv[r] = uint16(b1)<<8 | uint16(b2)
				}
			}
		}
	})
}

// decode maps a 7-bit code pair to its rune, 0 if undefined.
func (t *dbcsTable) decode(b1, b2 byte) rune {
	t.init()
	b1, b2 = b1&0x7F, b2&0x7F
	if b1 < 0x21 || b1 > 0x7E || b2 < 0x21 || b2 > 0x7E {
		return 0
	}
	return t.dec[int(b1-0x21)*94+int(b2-0x21)]
}

func (t *dbcsTable) encode(r rune) (uint16, bool) {
	t.init()
	c, ok := t.inv[r]
	return c, ok
}

// decodeOne decodes src, which must hold exactly one character, with d.
// It returns utf8.RuneError when src is not exactly one valid character.
func decodeOne(d *encoding.Decoder, src []byte) rune {
	d.Reset()
	var dst [16]byte
	n, nSrc, err := d.Transform(dst[:], src, true)
	if err != nil || nSrc != len(src) {
		return utf8.RuneError
	}
	r, size := utf8.DecodeRune(dst[:n])
	if size != n {
		return utf8.RuneError
	}
	return r
}

func eucDecoder(e encoding.Encoding) func() *encoding.Decoder {
	return func() *encoding.Decoder { return e.NewDecoder() }
}

// rowsIn reports whether the row of 7-bit lead byte b1 (row = b1-0x20) is in
// one of the inclusive ranges.
func rowsIn(b1 byte, ranges ...[2]int) bool {
	row := int(b1) - 0x20
	for _, r := range ranges {
		if row >= r[0] && row <= r[1] {
			return true
		}
	}
	return false
}

var (
	// JIS X 0208 (ISO-IR 87), from EUC-JP. Only the rows JIS X 0208 assigns
	// (1–8, 16–84); the NEC and IBM vendor rows of the WHATWG table are left
	// out, they are not part of ISO-IR 87.
	jis0208 = &dbcsTable{
		newDec: eucDecoder(japanese.EUCJP),
		load: func(d *encoding.Decoder, b1, b2 byte) rune {
			if !rowsIn(b1, [2]int{1, 8}, [2]int{16, 84}) {
				return 0
			}
			if r, ok := jisMapping[uint16(b1)<<8|uint16(b2)]; ok {
				return r
			}
			return decodeOne(d, []byte{b1 | 0x80, b2 | 0x80})
		},
	}
	// JIS X 0212 (ISO-IR 159), from EUC-JP's 0x8F single shift.
	jis0212 = &dbcsTable{
		newDec: eucDecoder(japanese.EUCJP),
		load: func(d *encoding.Decoder, b1, b2 byte) rune {
			return decodeOne(d, []byte{0x8F, b1 | 0x80, b2 | 0x80})
		},
	}
	// KS X 1001 (ISO-IR 149), from EUC-KR (both bytes in 0xA1–0xFE, which
	// leaves out the Unified Hangul Code extension).
	ksx1001 = &dbcsTable{
		newDec: eucDecoder(korean.EUCKR),
		load: func(d *encoding.Decoder, b1, b2 byte) rune {
			return decodeOne(d, []byte{b1 | 0x80, b2 | 0x80})
		},
	}
	// GB 2312 (ISO-IR 58), from GBK restricted to the positions GB 2312
	// assigns (rows 1–9 symbols, 16–87 hanzi) in the EUC-CN byte range.
	// A1A4 and A1AA decode as U+00B7 and U+2014, as in GBK and GB18030
	// (GB2312.TXT has U+30FB and U+2015), so the same bytes give the same
	// text under ISO 2022 IR 58, GBK and GB18030.
	gb2312 = &dbcsTable{
		newDec: eucDecoder(simplifiedchinese.GBK),
		load: func(d *encoding.Decoder, b1, b2 byte) rune {
			if !gb2312Assigned(b1, b2) {
				return 0
			}
			return decodeOne(d, []byte{b1 | 0x80, b2 | 0x80})
		},
	}
)

// jisMapping overrides the six JIS X 0208 positions where the WHATWG table
// of x/text follows Microsoft's code page 932 with the mapping of JIS X 0208
// itself (Unicode's JIS0208.TXT), which is what ISO-2022-JP readers such as
// Python's iso2022_jp codec (pydicom) and iconv produce.
var jisMapping = map[uint16]rune{
	0x2141: '\u301C', // WAVE DASH (x/text: U+FF5E FULLWIDTH TILDE)
	0x2142: '\u2016', // DOUBLE VERTICAL LINE (x/text: U+2225 PARALLEL TO)
	0x215D: '\u2212', // MINUS SIGN (x/text: U+FF0D FULLWIDTH HYPHEN-MINUS)
	0x2171: '\u00A2', // CENT SIGN (x/text: U+FFE0)
	0x2172: '\u00A3', // POUND SIGN (x/text: U+FFE1)
	0x224C: '\u00AC', // NOT SIGN (x/text: U+FFE2)
}

// gb2312Assigned reports whether the 7-bit code b1 b2 is assigned in GB 2312
// (rows 1–9 symbols, as listed in the standard, and 16–87 hanzi). GBK adds
// characters in the symbol rows that GB 2312 decoders reject.
func gb2312Assigned(b1, b2 byte) bool {
	in := func(ranges ...[2]byte) bool {
		for _, r := range ranges {
			if b2 >= r[0] && b2 <= r[1] {
				return true
			}
		}
		return false
	}
	switch row := int(b1) - 0x20; {
	case row == 1, row == 3:
		return true
	case row == 2:
		return in([2]byte{0x31, 0x62}, [2]byte{0x65, 0x6E}, [2]byte{0x71, 0x7C})
	case row == 4:
		return in([2]byte{0x21, 0x73})
	case row == 5:
		return in([2]byte{0x21, 0x76})
	case row == 6:
		return in([2]byte{0x21, 0x38}, [2]byte{0x41, 0x58})
	case row == 7:
		return in([2]byte{0x21, 0x41}, [2]byte{0x51, 0x71})
	case row == 8:
		return in([2]byte{0x21, 0x3A}, [2]byte{0x45, 0x69})
	case row == 9:
		return in([2]byte{0x24, 0x6F})
	case row >= 16 && row <= 87:
		return true
	}
	return false
}

// highFromCharmap builds the G1 table of an ISO 8859-style charmap: the
// right half 0xA0–0xFF. Positions the charmap leaves undefined (it decodes
// them to U+FFFD) are undefined here.
func highFromCharmap(cm *charmap.Charmap) *[96]rune {
	var t [96]rune
	for i := range t {
		if r := cm.DecodeByte(byte(0xA0 + i)); r != utf8.RuneError {
			t[i] = r
		}
	}
	return &t
}

// katakanaHigh is JIS X 0201 Katakana (ISO-IR 13) in G1: 0xA1–0xDF are the
// half-width katakana U+FF61–U+FF9F.
func katakanaHigh() *[96]rune {
	var t [96]rune
	for b := 0xA1; b <= 0xDF; b++ {
		t[b-0xA0] = rune(0xFF61 + b - 0xA1)
	}
	return &t
}

func newHigh(name, esc string, t *[96]rune) *element {
	inv := make(map[rune]byte, 96)
	for i, r := range t {
		if r != 0 {
			if _, dup := inv[r]; !dup {
				inv[r] = byte(0xA0 + i)
			}
		}
	}
	return &element{name: name, esc: esc, g1: true, high: t, highEnc: inv}
}

// The code elements. Escape sequences: PS3.3 Tables C.12-3 and C.12-4.
var (
	elASCII  = &element{name: "ISO-IR 6", esc: "\x1b(B"}
	elRomaji = &element{name: "ISO-IR 14", esc: "\x1b(J"}
	elKana   = newHigh("ISO-IR 13", "\x1b)I", katakanaHigh())

	elLatin1   = newHigh("ISO-IR 100", "\x1b-A", highFromCharmap(charmap.ISO8859_1))
	elLatin2   = newHigh("ISO-IR 101", "\x1b-B", highFromCharmap(charmap.ISO8859_2))
	elLatin3   = newHigh("ISO-IR 109", "\x1b-C", highFromCharmap(charmap.ISO8859_3))
	elLatin4   = newHigh("ISO-IR 110", "\x1b-D", highFromCharmap(charmap.ISO8859_4))
	elGreek    = newHigh("ISO-IR 126", "\x1b-F", highFromCharmap(charmap.ISO8859_7))
	elArabic   = newHigh("ISO-IR 127", "\x1b-G", highFromCharmap(charmap.ISO8859_6))
	elHebrew   = newHigh("ISO-IR 138", "\x1b-H", highFromCharmap(charmap.ISO8859_8))
	elCyrillic = newHigh("ISO-IR 144", "\x1b-L", highFromCharmap(charmap.ISO8859_5))
	elLatin5   = newHigh("ISO-IR 148", "\x1b-M", highFromCharmap(charmap.ISO8859_9))
	// TIS 620-2533: the right half of Windows-874 equals ISO 8859-11 / TIS 620
	// (0xA0 NBSP, Thai letters; 0xDB–0xDE and 0xFC–0xFF undefined).
	elThai   = newHigh("ISO-IR 166", "\x1b-T", highFromCharmap(charmap.Windows874))
	elLatin9 = newHigh("ISO-IR 203", "\x1b-b", highFromCharmap(charmap.ISO8859_15))

	elJIS0208 = &element{name: "ISO-IR 87", esc: "\x1b$B", multi: true, dbcs: jis0208}
	elJIS0212 = &element{name: "ISO-IR 159", esc: "\x1b$(D", multi: true, dbcs: jis0212}
	elKSX1001 = &element{name: "ISO-IR 149", esc: "\x1b$)C", g1: true, multi: true, dbcs: ksx1001}
	elGB2312  = &element{name: "ISO-IR 58", esc: "\x1b$)A", g1: true, multi: true, dbcs: gb2312}
)

// escapes maps every escape sequence this package understands to the code
// element it designates.
var escapes = func() map[string]*element {
	m := map[string]*element{}
	for _, e := range []*element{
		elASCII, elRomaji, elKana,
		elLatin1, elLatin2, elLatin3, elLatin4, elGreek, elArabic, elHebrew,
		elCyrillic, elLatin5, elThai, elLatin9,
		elJIS0208, elJIS0212, elKSX1001, elGB2312,
	} {
		m[e.esc] = e
	}
	return m
}()

// kind is how a Set's bytes are structured.
type kind uint8

const (
	kindISO2022 kind = iota // ISO 2022 structure: G0/G1, optionally with code extensions
	kindUTF8                // ISO_IR 192
	kindGB18030             // GB18030
	kindGBK                 // GBK
)

// termDef describes one Defined Term of Specific Character Set.
type termDef struct {
	kind    kind
	iso2022 bool     // an "ISO 2022 …" term: code extensions permitted
	g0, g1  *element // for kindISO2022
}

// terms are the Defined Terms of PS3.3 Tables C.12-2 to C.12-5.
var terms = map[string]*termDef{
	// Single-byte, without code extensions (C.12-2).
	"ISO_IR 6":   {g0: elASCII},
	"ISO_IR 100": {g0: elASCII, g1: elLatin1},
	"ISO_IR 101": {g0: elASCII, g1: elLatin2},
	"ISO_IR 109": {g0: elASCII, g1: elLatin3},
	"ISO_IR 110": {g0: elASCII, g1: elLatin4},
	"ISO_IR 144": {g0: elASCII, g1: elCyrillic},
	"ISO_IR 127": {g0: elASCII, g1: elArabic},
	"ISO_IR 126": {g0: elASCII, g1: elGreek},
	"ISO_IR 138": {g0: elASCII, g1: elHebrew},
	"ISO_IR 148": {g0: elASCII, g1: elLatin5},
	"ISO_IR 203": {g0: elASCII, g1: elLatin9},
	"ISO_IR 13":  {g0: elRomaji, g1: elKana},
	"ISO_IR 166": {g0: elASCII, g1: elThai},

	// Single-byte, with code extensions (C.12-3).
	"ISO 2022 IR 6":   {iso2022: true, g0: elASCII},
	"ISO 2022 IR 100": {iso2022: true, g0: elASCII, g1: elLatin1},
	"ISO 2022 IR 101": {iso2022: true, g0: elASCII, g1: elLatin2},
	"ISO 2022 IR 109": {iso2022: true, g0: elASCII, g1: elLatin3},
	"ISO 2022 IR 110": {iso2022: true, g0: elASCII, g1: elLatin4},
	"ISO 2022 IR 144": {iso2022: true, g0: elASCII, g1: elCyrillic},
	"ISO 2022 IR 127": {iso2022: true, g0: elASCII, g1: elArabic},
	"ISO 2022 IR 126": {iso2022: true, g0: elASCII, g1: elGreek},
	"ISO 2022 IR 138": {iso2022: true, g0: elASCII, g1: elHebrew},
	"ISO 2022 IR 148": {iso2022: true, g0: elASCII, g1: elLatin5},
	"ISO 2022 IR 203": {iso2022: true, g0: elASCII, g1: elLatin9},
	"ISO 2022 IR 13":  {iso2022: true, g0: elRomaji, g1: elKana},
	"ISO 2022 IR 166": {iso2022: true, g0: elASCII, g1: elThai},

	// Multi-byte, with code extensions (C.12-4).
	"ISO 2022 IR 87":  {iso2022: true, g0: elJIS0208},
	"ISO 2022 IR 159": {iso2022: true, g0: elJIS0212},
	"ISO 2022 IR 149": {iso2022: true, g1: elKSX1001},
	"ISO 2022 IR 58":  {iso2022: true, g1: elGB2312},

	// Multi-byte, without code extensions (C.12-5).
	"ISO_IR 192": {kind: kindUTF8},
	"GB18030":    {kind: kindGB18030},
	"GBK":        {kind: kindGBK},
}
