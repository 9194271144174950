package charset

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

const esc = 0x1B

// Decode decodes the raw bytes of one element value (all its values,
// backslashes included) of the given VR into a Go (UTF-8) string.
//
// Values of SH, LO, ST, LT, UC, UT and PN are decoded with the Set; values
// of the other character string VRs (AE, AS, CS, DA, DS, DT, IS, TM, UI, UR)
// with the default repertoire (ASCII) whatever the Set. Any other VR is
// ErrNotText.
//
// Decode is strict: bytes that are not valid in the character set(s) in
// force, unknown escape sequences, and escape sequences in a Set without
// code extensions, are ErrInvalidBytes (with the byte offset). Padding is
// not removed: trailing spaces (and NULs) are returned as they are.
// Split multi-valued results on '\' after decoding, never the raw bytes
// (in GB18030 and GBK a 0x5C byte can be part of a character).
func (s *Set) Decode(vr string, raw []byte) (string, error) {
	vc := classify(vr)
	if vc == vrNone {
		return "", fmt.Errorf("charset: %w: %q", ErrNotText, vr)
	}
	return s.decode(vc, raw, false)
}

// DecodeLossy is Decode that never fails: each invalid byte sequence is
// replaced by U+FFFD. It is lenient where Decode is strict in one more way:
// known escape sequences are honoured even when the Set declares no code
// extensions (ISO_IR 100 instead of ISO 2022 IR 100 is a common labelling
// error). A VR that is not a character string VR is decoded as ST would be.
func (s *Set) DecodeLossy(vr string, raw []byte) string {
	vc := classify(vr)
	if vc == vrNone {
		vc = vrText
	}
	out, _ := s.decode(vc, raw, true)
	return out
}

func (s *Set) decode(vc vrClass, raw []byte, lossy bool) (string, error) {
	if s == nil {
		s = defaultSet
	}
	if plainASCII(raw) {
		// Every Set reads bytes below 0x80 other than ESC as ASCII in its
		// initial state.
		return string(raw), nil
	}
	d := &decoder{raw: raw, lossy: lossy, set: s}
	d.b.Grow(len(raw) + len(raw)/2)
	switch {
	case vc == vrDefault:
		d.ascii()
	case s.kind == kindUTF8:
		d.utf8()
	case s.kind == kindGB18030 || s.kind == kindGBK:
		d.gb(s.kind == kindGB18030)
	default:
		d.iso2022(vc)
	}
	if d.err != nil {
		return "", d.err
	}
	return d.b.String(), nil
}

func plainASCII(raw []byte) bool {
	for _, c := range raw {
		if c >= utf8.RuneSelf || c == esc {
			return false
		}
	}
	return true
}

type decoder struct {
	raw   []byte
	b     strings.Builder
	lossy bool
	set   *Set
	err   error
}

// bad records invalid input at offset off. It returns false when decoding
// must stop (strict mode); in lossy mode it writes U+FFFD and returns true.
func (d *decoder) bad(off int, why string) bool {
	if d.lossy {
		d.b.WriteRune(utf8.RuneError)
		return true
	}
	d.err = fmt.Errorf("charset: %w: %s at byte %d (Specific Character Set %q)", ErrInvalidBytes, why, off, d.set.String())
	return false
}

// ascii decodes the default repertoire.
func (d *decoder) ascii() {
	for i, c := range d.raw {
		if c >= utf8.RuneSelf || c == esc {
			if !d.bad(i, fmt.Sprintf("byte 0x%02X outside the default repertoire", c)) {
				return
			}
			continue
		}
		d.b.WriteByte(c)
	}
}

func (d *decoder) utf8() {
	raw := d.raw
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			if !d.bad(i, "invalid UTF-8") {
				return
			}
			i++
			continue
		case r == esc:
			if !d.bad(i, "escape sequence in ISO_IR 192 (no code extensions)") {
				return
			}
			i++
			continue
		}
		d.b.WriteRune(r)
		i += n
	}
}

// gbFFFD is U+FFFD in GB18030, the one sequence that legitimately decodes to
// the replacement character.
var gbFFFD = []byte{0x84, 0x31, 0xA4, 0x37}

// gb decodes GB18030 (gb18030) or GBK character by character, so that
// invalid sequences are detected (x/text replaces them silently).
func (d *decoder) gb(gb18030 bool) {
	var dec *encoding.Decoder
	if gb18030 {
		dec = simplifiedchinese.GB18030.NewDecoder()
	} else {
		dec = simplifiedchinese.GBK.NewDecoder()
	}
	raw := d.raw
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < 0x80 {
			if c == esc {
				if !d.bad(i, "escape sequence in GB18030/GBK (no code extensions)") {
					return
				}
			} else {
				d.b.WriteByte(c)
			}
			i++
			continue
		}
		n := 0
		switch {
		case c == 0x80:
			if !gb18030 {
				n = 1 // Code Page 936: the euro sign
			}
		case c == 0xFF:
		case i+1 < len(raw):
			c1 := raw[i+1]
			switch {
			case (c1 >= 0x40 && c1 <= 0x7E) || (c1 >= 0x80 && c1 <= 0xFE):
				n = 2
			case gb18030 && c1 >= 0x30 && c1 <= 0x39 && i+3 < len(raw) &&
				raw[i+2] >= 0x81 && raw[i+2] <= 0xFE && raw[i+3] >= 0x30 && raw[i+3] <= 0x39:
				n = 4
			}
		}
		if n == 0 {
			if !d.bad(i, fmt.Sprintf("invalid byte 0x%02X", c)) {
				return
			}
			i++
			continue
		}
		r := decodeOne(dec, raw[i:i+n])
		if r == utf8.RuneError && !(n == 4 && bytes.Equal(raw[i:i+4], gbFFFD)) {
			if !d.bad(i, fmt.Sprintf("undefined %d-byte sequence % X", n, raw[i:i+n])) {
				return
			}
			i += n
			continue
		}
		d.b.WriteRune(r)
		i += n
	}
}

// iso2022 decodes with the ISO 2022 machinery: G0 in GL (0x21–0x7E), G1 in
// GR (0xA0–0xFF), escape sequences designating G0 and G1, and the return to
// the initial state (value 1 of the Set) at control characters and, in
// single-byte G0 mode, at the delimiters of the VR. Sets without code
// extensions (ISO_IR 100 etc., ISO_IR 13, the default repertoire) use the
// same machine with escape sequences refused.
func (d *decoder) iso2022(vc vrClass) {
	s, raw := d.set, d.raw
	g0, g1 := s.g0, s.g1
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == esc:
			e, n, why := parseEscape(raw, i)
			switch {
			case e == nil:
				if !d.bad(i, why) {
					return
				}
			case !s.ext && !d.lossy:
				d.bad(i, fmt.Sprintf("escape sequence for %s but Specific Character Set declares no code extensions", e.name))
				return
			case e.g1:
				g1 = e
			default:
				g0 = e
			}
			i += n

		case c < 0x20 || c == 0x7F:
			// Control characters (CR, LF, FF, TAB, …) return to the initial
			// state (PS3.5 6.1.2.5.3).
			g0, g1 = s.g0, s.g1
			d.b.WriteByte(c)
			i++

		case c == ' ':
			d.b.WriteByte(c)
			i++

		case c < 0x80: // GL: G0
			if !g0.multi {
				d.b.WriteByte(c)
				i++
				if isDelimiter(vc, c) {
					g0, g1 = s.g0, s.g1
				}
				continue
			}
			if i+1 >= len(raw) || raw[i+1] < 0x21 || raw[i+1] > 0x7E {
				if !d.bad(i, "truncated two-byte character in "+g0.name) {
					return
				}
				i++
				continue
			}
			r := g0.dbcs.decode(c, raw[i+1])
			if r == 0 {
				if !d.bad(i, fmt.Sprintf("undefined character 0x%02X%02X in %s", c, raw[i+1], g0.name)) {
					return
				}
			} else {
				d.b.WriteRune(r)
			}
			i += 2

		case c < 0xA0:
			if !d.bad(i, fmt.Sprintf("C1 control byte 0x%02X", c)) {
				return
			}
			i++

		default: // GR: G1
			switch {
			case g1 == nil:
				if !d.bad(i, fmt.Sprintf("byte 0x%02X but no G1 character set is designated", c)) {
					return
				}
				i++
			case !g1.multi:
				if r := g1.high[c-0xA0]; r != 0 {
					d.b.WriteRune(r)
				} else if !d.bad(i, fmt.Sprintf("undefined byte 0x%02X in %s", c, g1.name)) {
					return
				}
				i++
			case c == 0xA0 || c == 0xFF || i+1 >= len(raw) || raw[i+1] < 0xA1 || raw[i+1] > 0xFE:
				if !d.bad(i, "invalid or truncated two-byte character in "+g1.name) {
					return
				}
				i++
			default:
				if r := g1.dbcs.decode(c, raw[i+1]); r != 0 {
					d.b.WriteRune(r)
				} else if !d.bad(i, fmt.Sprintf("undefined character 0x%02X%02X in %s", c, raw[i+1], g1.name)) {
					return
				}
				i += 2
			}
		}
	}
}

// parseEscape parses the escape sequence at raw[i] (raw[i] == ESC):
// ESC, intermediate bytes 0x20–0x2F, one final byte 0x30–0x7E. It returns
// the designated element and the length, or a nil element, the number of
// bytes to skip and the reason.
func parseEscape(raw []byte, i int) (*element, int, string) {
	j := i + 1
	for j < len(raw) && raw[j] >= 0x20 && raw[j] <= 0x2F {
		j++
	}
	if j >= len(raw) || raw[j] < 0x30 || raw[j] > 0x7E {
		return nil, j - i, fmt.Sprintf("malformed escape sequence %q", raw[i:j])
	}
	e := escapes[string(raw[i:j+1])]
	if e == nil {
		return nil, j + 1 - i, fmt.Sprintf("unknown escape sequence %q", raw[i:j+1])
	}
	return e, j + 1 - i, ""
}
