package charset

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by this package, always wrapped with detail; test with
// errors.Is.
var (
	// ErrUnknownCharset: a value of Specific Character Set is not a Defined
	// Term this package knows. The message names the term.
	ErrUnknownCharset = errors.New("unknown Specific Character Set term")
	// ErrInvalidCharset: the terms are known but their combination is not
	// allowed (e.g. a term without code extensions, or ISO_IR 192, GB18030 or
	// GBK, in a multi-valued Specific Character Set).
	ErrInvalidCharset = errors.New("invalid Specific Character Set")
	// ErrInvalidBytes: Decode met bytes that are not valid in the declared
	// character set(s) (the message gives the byte offset).
	ErrInvalidBytes = errors.New("invalid bytes for the character set")
	// ErrNotRepresentable: Encode met a character that the declared character
	// set(s) cannot represent (the message gives the character and its index).
	// For VRs that use the Specific Character Set (see UsesSpecificCharset) the
	// remedy is to rewrite the data set in ISO_IR 192; for default-repertoire
	// VRs no character set helps.
	ErrNotRepresentable = errors.New("character not representable in the character set")
	// ErrInvalidText: the text given to Encode is not valid UTF-8.
	ErrInvalidText = errors.New("text is not valid UTF-8")
	// ErrNotText: the VR is not a character-string VR.
	ErrNotText = errors.New("not a character string VR")
)

// Set is a parsed Specific Character Set (0008,0005): the character set(s)
// that text values of a data set are encoded in. A Set is immutable and safe
// for concurrent use. A nil *Set behaves as the default repertoire (ISO_IR 6).
type Set struct {
	terms []string
	kind  kind
	ext   bool     // ISO 2022 code extensions (escape sequences) permitted
	g0    *element // initial G0 (value 1), for kindISO2022
	g1    *element // initial G1 (value 1), nil if none
	elems []*element
}

var (
	defaultSet = &Set{g0: elASCII, elems: []*element{elASCII}}
	utf8Set    = &Set{terms: []string{"ISO_IR 192"}, kind: kindUTF8}
)

// Default returns the default character repertoire (ISO_IR 6, ASCII), the
// Set of a data set without Specific Character Set.
func Default() *Set { return defaultSet }

// UTF8 returns the Set for "ISO_IR 192" (UTF-8), the character set that can
// represent any text.
func UTF8() *Set { return utf8Set }

// Parse parses the values of Specific Character Set (0008,0005).
//
// Values are trimmed of spaces and NULs (CS padding); a value holding
// backslashes (an unsplit multi-valued string) is split at them. No values,
// or only empty ones, give the default repertoire. In a multi-valued set an
// empty value 1 means ISO 2022 IR 6.
//
// Errors: ErrUnknownCharset for a term that is not a Defined Term of PS3.3
// C.12.1.1.2 (the message names it); ErrInvalidCharset when more than one
// value is given and one of them is not an "ISO 2022" term (ISO_IR 192,
// GB18030 and GBK must be alone, ISO_IR xxx forms cannot be extended), or a
// value after the first is empty.
//
// Lenience: a multi-byte G0 set (ISO 2022 IR 87 or IR 159) as value 1 is
// accepted; the initial G0 is then ASCII (ISO 2022 IR 6), as if value 1 had
// been empty and the term had been given as value 2.
func Parse(values []string) (*Set, error) {
	var vals []string
	for _, v := range values {
		for _, p := range strings.Split(v, `\`) {
			vals = append(vals, strings.TrimSpace(strings.Trim(p, "\x00")))
		}
	}
	for len(vals) > 0 && vals[len(vals)-1] == "" {
		vals = vals[:len(vals)-1]
	}
	if len(vals) == 0 {
		return defaultSet, nil
	}

	defs := make([]*termDef, len(vals))
	for i, v := range vals {
		if v == "" {
			if i == 0 {
				defs[i] = terms["ISO 2022 IR 6"]
				continue
			}
			return nil, fmt.Errorf("charset: %w: value %d of %q is empty", ErrInvalidCharset, i+1, strings.Join(vals, `\`))
		}
		d, ok := terms[v]
		if !ok {
			return nil, fmt.Errorf("charset: %w: %q", ErrUnknownCharset, v)
		}
		defs[i] = d
	}

	s := &Set{terms: vals, kind: defs[0].kind}
	if len(vals) > 1 {
		for i, d := range defs {
			if !d.iso2022 {
				return nil, fmt.Errorf("charset: %w: %q cannot be used in a multi-valued Specific Character Set %q (code extensions need the ISO 2022 terms)",
					ErrInvalidCharset, vals[i], strings.Join(vals, `\`))
			}
		}
	}
	if s.kind != kindISO2022 {
		return s, nil
	}

	s.ext = defs[0].iso2022
	first := defs[0]
	s.g0, s.g1 = first.g0, first.g1
	if s.g0 == nil || s.g0.multi {
		// No G0 in value 1 (IR 149, IR 58), or a two-byte G0 (IR 87, IR 159)
		// which cannot be the initial state: G0 starts as ASCII.
		s.g0 = elASCII
		s.addElem(elASCII)
	}
	for _, d := range defs {
		s.addElem(d.g0)
		s.addElem(d.g1)
	}
	return s, nil
}

func (s *Set) addElem(e *element) {
	if e == nil {
		return
	}
	for _, x := range s.elems {
		if x == e {
			return
		}
	}
	s.elems = append(s.elems, e)
}

// Terms returns the values the Set was parsed from, trimmed (value 1 may be
// "" in a multi-valued set); nil for the default repertoire given as no
// values. The slice is a copy.
func (s *Set) Terms() []string {
	if s == nil || s.terms == nil {
		return nil
	}
	return append([]string(nil), s.terms...)
}

// IsUTF8 reports whether the Set is ISO_IR 192 (UTF-8).
func (s *Set) IsUTF8() bool { return s != nil && s.kind == kindUTF8 }

// IsDefault reports whether the Set is the default repertoire alone (no
// Specific Character Set, or ISO_IR 6 / ISO 2022 IR 6 alone): only ASCII.
func (s *Set) IsDefault() bool {
	return s == nil || (s.kind == kindISO2022 && len(s.elems) == 1 && s.elems[0] == elASCII)
}

// HasCodeExtensions reports whether the Set permits ISO 2022 escape
// sequences (any of its terms is an "ISO 2022 …" term).
func (s *Set) HasCodeExtensions() bool { return s != nil && s.ext }

// String returns the terms joined with backslashes, as they would be
// written in (0008,0005); "" for the default repertoire.
func (s *Set) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.terms, `\`)
}

// vrClass is how a VR's value is to be treated.
type vrClass uint8

const (
	vrNone    vrClass = iota // not a character string
	vrDefault                // default repertoire only
	vrText                   // specific character set, single value (ST, LT, UT)
	vrMulti                  // specific character set, multi-valued (SH, LO, UC)
	vrPN                     // person name: also '^' and '=' delimiters
)

func classify(vr string) vrClass {
	switch vr {
	case "SH", "LO", "UC":
		return vrMulti
	case "ST", "LT", "UT":
		return vrText
	case "PN":
		return vrPN
	case "AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR":
		return vrDefault
	}
	return vrNone
}

// UsesSpecificCharset reports whether values of the VR are encoded in the
// Specific Character Set (SH, LO, ST, LT, UC, UT, PN). The other character
// string VRs (AE, AS, CS, DA, DS, DT, IS, TM, UI, UR) use the default
// repertoire only; all other VRs are not text.
func UsesSpecificCharset(vr string) bool {
	c := classify(vr)
	return c == vrText || c == vrMulti || c == vrPN
}

// IsTextVR reports whether the VR is a character string VR (Decode and
// Encode accept it).
func IsTextVR(vr string) bool { return classify(vr) != vrNone }

// isDelimiter reports whether the ASCII byte c, in a value of class vc,
// returns the state to the initial character set (PS3.5 6.1.2.5.3): the
// value delimiter '\' in multi-valued VRs and '^' and '=' in PN.
// Control characters are handled separately.
func isDelimiter(vc vrClass, c byte) bool {
	switch c {
	case '\\':
		return vc == vrMulti || vc == vrPN
	case '^', '=':
		return vc == vrPN
	}
	return false
}
