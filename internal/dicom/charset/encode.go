package charset

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Encode encodes text (all values of one element, joined with '\') for an
// element of the given VR in the Set, the inverse of Decode:
// Decode(vr, Encode(vr, text)) == text whenever Encode succeeds.
//
// Values of the default-repertoire VRs (AE, AS, CS, DA, DS, DT, IS, TM, UI,
// UR) must be ASCII whatever the Set. Any other non-text VR is ErrNotText.
// Text that is not valid UTF-8 is ErrInvalidText.
//
// A character the Set cannot represent is ErrNotRepresentable; the caller
// may then rewrite the data set as ISO_IR 192. ESC (U+001B) is never
// representable (it is reserved for code extensions), nor are the C1
// controls U+0080–U+009F outside ISO_IR 192 and GB18030.
//
// With code extensions (ISO 2022 terms) Encode writes as a conforming writer
// would (PS3.5 6.1.2.5.3): each character is written in the code element
// currently designated if it has it, else in the first code element, in the
// order of the Set's terms, that has it, preceded by the escape sequence
// designating it; before every control character (CR, LF, FF, TAB, …),
// before the delimiters of the VR ('\' in SH, LO, UC and PN; '^' and '=' in
// PN) and at the end of the value the code elements of value 1 are
// designated again (for G1 only if value 1 has a G1 set; otherwise a reader
// resets G1 by itself). A space in a two-byte G0 set is written after
// returning to the initial G0.
func (s *Set) Encode(vr string, text string) ([]byte, error) {
	if s == nil {
		s = defaultSet
	}
	vc := classify(vr)
	if vc == vrNone {
		return nil, fmt.Errorf("charset: %w: %q", ErrNotText, vr)
	}
	if !utf8.ValidString(text) {
		for i, r := range text {
			if r == utf8.RuneError {
				return nil, fmt.Errorf("charset: %w: at byte %d", ErrInvalidText, i)
			}
		}
	}
	if i, r := firstNonPlain(text); i < 0 {
		return []byte(text), nil
	} else if r == esc {
		return nil, s.notRepresentable(r, i, "ESC is reserved for code extensions")
	} else if vc == vrDefault {
		return nil, s.notRepresentable(r, i, fmt.Sprintf("VR %s uses the default repertoire (ASCII) only", vr))
	}
	switch s.kind {
	case kindUTF8:
		return []byte(text), nil
	case kindGB18030:
		return s.encodeGB(text, simplifiedchinese.GB18030.NewEncoder())
	case kindGBK:
		return s.encodeGB(text, simplifiedchinese.GBK.NewEncoder())
	}
	return s.encode2022(vc, text)
}

// firstNonPlain returns the index and rune of the first character of text
// that is not ASCII or is ESC, or -1.
func firstNonPlain(text string) (int, rune) {
	for i := 0; i < len(text); i++ {
		if c := text[i]; c >= utf8.RuneSelf || c == esc {
			r, _ := utf8.DecodeRuneInString(text[i:])
			return i, r
		}
	}
	return -1, 0
}

func (s *Set) notRepresentable(r rune, i int, why string) error {
	name := s.String()
	if name == "" {
		name = "ISO_IR 6"
	}
	if why != "" {
		why = ": " + why
	}
	return fmt.Errorf("charset: %w: %q (U+%04X) at byte %d in %q%s", ErrNotRepresentable, r, r, i, name, why)
}

func (s *Set) encodeGB(text string, enc *encoding.Encoder) ([]byte, error) {
	out := make([]byte, 0, len(text)+len(text)/2)
	var src [utf8.UTFMax]byte
	var dst [8]byte
	for i, r := range text {
		switch {
		case r == esc:
			return nil, s.notRepresentable(r, i, "ESC is reserved for code extensions")
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
			continue
		}
		enc.Reset()
		n := utf8.EncodeRune(src[:], r)
		nDst, nSrc, err := enc.Transform(dst[:], src[:n], true)
		if err != nil || nSrc != n || nDst == 0 {
			return nil, s.notRepresentable(r, i, "")
		}
		out = append(out, dst[:nDst]...)
	}
	return out, nil
}

func (s *Set) encode2022(vc vrClass, text string) ([]byte, error) {
	out := make([]byte, 0, len(text)+16)
	g0, g1 := s.g0, s.g1
	restore := func() {
		if g0 != s.g0 {
			out = append(out, s.g0.esc...)
			g0 = s.g0
		}
		if g1 != s.g1 {
			if s.g1 != nil {
				out = append(out, s.g1.esc...)
			}
			g1 = s.g1
		}
	}
	for i, r := range text {
		switch {
		case r == esc:
			return nil, s.notRepresentable(r, i, "ESC is reserved for code extensions")
		case r < 0x20 || r == 0x7F:
			restore()
			out = append(out, byte(r))
			continue
		case r == ' ':
			if g0.multi {
				out = append(out, s.g0.esc...)
				g0 = s.g0
			}
			out = append(out, ' ')
			continue
		case r < 0x7F && isDelimiter(vc, byte(r)):
			restore()
			out = append(out, byte(r))
			continue
		case r >= 0x80 && r <= 0x9F:
			return nil, s.notRepresentable(r, i, "C1 control")
		}
		if b, n := g0.encodeRune(r); n > 0 {
			out = append(out, b[:n]...)
			continue
		}
		if g1 != nil {
			if b, n := g1.encodeRune(r); n > 0 {
				out = append(out, b[:n]...)
				continue
			}
		}
		if !s.ext {
			return nil, s.notRepresentable(r, i, "")
		}
		found := false
		for _, e := range s.elems {
			if e == g0 || e == g1 {
				continue
			}
			b, n := e.encodeRune(r)
			if n == 0 {
				continue
			}
			out = append(out, e.esc...)
			if e.g1 {
				g1 = e
			} else {
				g0 = e
			}
			out = append(out, b[:n]...)
			found = true
			break
		}
		if !found {
			return nil, s.notRepresentable(r, i, "")
		}
	}
	restore()
	return out, nil
}
