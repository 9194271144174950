package deid

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/charset"
)

// Text values are cleaned as text, not as bytes: a value is decoded in the character set
// in force (the data set's Specific Character Set, or an item's own), the file's
// identifying values are searched for case-insensitively, and the cleaned text is encoded
// back in the same character set. When that set cannot hold a value the engine writes,
// the whole file is moved to ISO_IR 192 (UTF-8): every text value is transcoded and
// (0008,0005) says so, as PS3.5 6.1 allows.

// utf8Term is the Specific Character Set of UTF-8.
const utf8Term = "ISO_IR 192"

// charsetOf returns the character set declared by ds, or inherited when it declares none.
// A set that cannot be parsed yields nil: its text cannot be read, so cleaning removes it.
func charsetOf(ds *dicom.Dataset, inherited *charset.Set) *charset.Set {
	e := ds.Get(dicom.SpecificCharacterSetTag)
	if e == nil || e.IsSequence() {
		return inherited
	}
	v, err := e.Value()
	if err != nil {
		return nil
	}
	cs, err := charset.Parse(strings.Split(dicom.TrimText(v), `\`))
	if err != nil {
		return nil
	}
	return cs
}

// usesCharset reports whether values of vr are in the Specific Character Set.
func usesCharset(vr dicom.VR) bool { return charset.UsesSpecificCharset(vr.String()) }

// decodeText decodes the value of e in cs; ok is false when it cannot be read.
func decodeText(cs *charset.Set, vr dicom.VR, raw []byte) (string, bool) {
	if cs == nil {
		return "", false
	}
	if !usesCharset(vr) {
		for _, c := range raw {
			if c >= utf8.RuneSelf {
				return "", false
			}
		}
		return string(raw), true
	}
	s, err := cs.Decode(vr.String(), raw)
	if err != nil {
		return "", false
	}
	return s, true
}

// scrub replaces every case-insensitive occurrence of a secret in s by as many X as it
// has characters, and reports whether it replaced any.
func scrub(s string, secrets []string) (string, bool) {
	changed := false
	for _, sec := range secrets {
		n := utf8.RuneCountInString(sec)
		var b strings.Builder
		hit := false
		for i := 0; i < len(s); {
			if j := foldPrefix(s[i:], sec, n); j > 0 {
				b.WriteString(strings.Repeat("X", n))
				i += j
				hit = true
				continue
			}
			_, size := utf8.DecodeRuneInString(s[i:])
			b.WriteString(s[i : i+size])
			i += size
		}
		if hit {
			s, changed = b.String(), true
		}
	}
	return s, changed
}

// foldPrefix returns the byte length of the prefix of s of n characters if it equals sec
// under Unicode case folding, else 0.
func foldPrefix(s, sec string, n int) int {
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return 0
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	if strings.EqualFold(s[:i], sec) {
		return i
	}
	return 0
}

// setText writes text s as the value of tag in ds, encoded in the character set in force;
// if that set cannot hold s, the file moves to ISO_IR 192 first.
func (r *run) setText(ds *dicom.Dataset, tag dicom.Tag, vr dicom.VR, s string) error {
	raw, err := r.encode(vr, s)
	if errors.Is(err, charset.ErrNotRepresentable) {
		if err := r.moveToUTF8(); err != nil {
			return err
		}
		raw, err = r.encode(vr, s)
	}
	if err != nil {
		return quarantine(ReasonInvalidElement, "encoding %s: %v", tag, err)
	}
	if err := ds.Set(tag, vr, dicom.PadText(vr, string(raw))); err != nil {
		return quarantine(ReasonInvalidElement, "replacing %s: %v", tag, err)
	}
	return nil
}

func (r *run) encode(vr dicom.VR, s string) ([]byte, error) {
	cs := r.cs
	if cs == nil {
		cs = charset.Default()
	}
	if !usesCharset(vr) {
		return charset.Default().Encode(vr.String(), s)
	}
	return cs.Encode(vr.String(), s)
}

// moveToUTF8 transcodes every text value of the file into UTF-8 and declares ISO_IR 192
// in the data set and in every item that declared a set of its own.
func (r *run) moveToUTF8() error {
	// Elements waiting to be removed are left alone: replacing one would keep it.
	dropped := make(map[*dicom.Element]bool, len(r.drop))
	for _, e := range r.drop {
		dropped[e] = true
	}
	if err := transcode(r.root, charsetOf(r.root, charset.Default()), true, dropped); err != nil {
		return err
	}
	r.cs = charset.UTF8()
	r.res.MovedToUTF8 = true
	return nil
}

func transcode(ds *dicom.Dataset, cs *charset.Set, root bool, dropped map[*dicom.Element]bool) error {
	for _, e := range append([]*dicom.Element(nil), ds.Elements()...) {
		if e.IsSequence() {
			for _, it := range e.Items() {
				if err := transcode(it, charsetOf(it, cs), false, dropped); err != nil {
					return err
				}
			}
			continue
		}
		vr := vrOf(e)
		if dropped[e] || e.Tag.IsPrivate() || !usesCharset(vr) || e.IsEncapsulated() {
			continue
		}
		v, err := e.Value()
		if err != nil {
			return quarantine(ReasonInvalidElement, "reading %s: %v", e.Tag, err)
		}
		s, ok := decodeText(cs, vr, v)
		if !ok {
			// Unreadable in its declared set: it cannot be carried into UTF-8 faithfully,
			// so it goes (it may hold anything).
			if err := ds.Set(e.Tag, vr, nil); err != nil {
				return quarantine(ReasonInvalidElement, "emptying %s: %v", e.Tag, err)
			}
			continue
		}
		if utf8Same(v, s) {
			continue
		}
		if err := ds.Set(e.Tag, vr, dicom.PadText(vr, s)); err != nil {
			return quarantine(ReasonInvalidElement, "transcoding %s: %v", e.Tag, err)
		}
	}
	if root || ds.Get(dicom.SpecificCharacterSetTag) != nil {
		if err := ds.Set(dicom.SpecificCharacterSetTag, dicom.CS, dicom.PadText(dicom.CS, utf8Term)); err != nil {
			return quarantine(ReasonInvalidElement, "setting (0008,0005): %v", err)
		}
	}
	return nil
}

// utf8Same reports whether raw is already the UTF-8 encoding of s.
func utf8Same(raw []byte, s string) bool { return string(raw) == s }
