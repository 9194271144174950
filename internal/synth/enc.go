package synth

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// enc fills a data set, keeping the first error so that a long run of sets needs one
// check at the end.
type enc struct {
	d   *dicom.Dataset
	err *error
}

func newEnc(ds *dicom.Dataset) *enc {
	var err error
	return &enc{d: ds, err: &err}
}

// item returns an encoder of a new item of the data set, sharing the error.
func (e *enc) item() *enc { return &enc{d: e.d.NewItem(), err: e.err} }

func (e *enc) set(tag dicom.Tag, vr dicom.VR, v []byte) {
	if *e.err != nil {
		return
	}
	if err := e.d.Set(tag, vr, v); err != nil {
		*e.err = fmt.Errorf("synth: set %s: %w", tag, err)
	}
}

// str sets a text value with the tag's dictionary VR; several values are joined by '\'.
func (e *enc) str(tag dicom.Tag, vals ...string) {
	vr := dicom.DictionaryVR(tag)
	e.set(tag, vr, dicom.PadText(vr, strings.Join(vals, `\`)))
}

// date and tm set DA and TM values.
func (e *enc) date(tag dicom.Tag, t time.Time) { e.str(tag, t.Format("20060102")) }
func (e *enc) tm(tag dicom.Tag, t time.Time)   { e.str(tag, t.Format("150405")) }

// ds sets numbers: as decimal strings (at most 16 characters each, PS3.5 6.2), or
// as binary doubles or floats when the dictionary gives the tag VR FD or FL.
func (e *enc) ds(tag dicom.Tag, vals ...float64) {
	switch dicom.DictionaryVR(tag) {
	case dicom.FD:
		e.fd(tag, vals...)
		return
	case dicom.FL:
		b := make([]byte, 0, 4*len(vals))
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
		}
		e.set(tag, dicom.FL, b)
		return
	}
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = formatDS(v)
	}
	e.str(tag, s...)
}

// is sets integers: as integer strings, or binary when the dictionary gives the tag
// VR US or UL.
func (e *enc) is(tag dicom.Tag, vals ...int) {
	switch dicom.DictionaryVR(tag) {
	case dicom.US:
		u := make([]uint16, len(vals))
		for i, v := range vals {
			u[i] = uint16(v)
		}
		e.us(tag, u...)
		return
	case dicom.UL:
		u := make([]uint32, len(vals))
		for i, v := range vals {
			u[i] = uint32(v)
		}
		e.ul(tag, u...)
		return
	}
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = strconv.Itoa(v)
	}
	e.str(tag, s...)
}

func (e *enc) us(tag dicom.Tag, vals ...uint16) {
	b := make([]byte, 0, 2*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	e.set(tag, dicom.US, b)
}

func (e *enc) ul(tag dicom.Tag, vals ...uint32) {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	e.set(tag, dicom.UL, b)
}

func (e *enc) fd(tag dicom.Tag, vals ...float64) {
	b := make([]byte, 0, 8*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	e.set(tag, dicom.FD, b)
}

func (e *enc) at(tag dicom.Tag, vals ...dicom.Tag) {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint16(b, v.Group())
		b = binary.LittleEndian.AppendUint16(b, v.Element())
	}
	e.set(tag, dicom.AT, b)
}

func (e *enc) seq(tag dicom.Tag, items ...*enc) {
	if *e.err != nil {
		return
	}
	ds := make([]*dicom.Dataset, len(items))
	for i, it := range items {
		ds[i] = it.d
	}
	if err := e.d.SetSequence(tag, ds); err != nil {
		*e.err = fmt.Errorf("synth: set sequence %s: %w", tag, err)
	}
}

// code returns an item of a code sequence (Basic Code Sequence Macro, PS3.3 8.8).
func (e *enc) code(c Code) *enc {
	it := e.item()
	it.str(tags.CodeValue, c.Value)
	it.str(tags.CodingSchemeDesignator, c.Scheme)
	it.str(tags.CodeMeaning, c.Meaning)
	return it
}

// formatDS formats v in at most 16 characters.
func formatDS(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	for prec := 6; prec >= 0; prec-- {
		s := strconv.FormatFloat(v, 'f', prec, 64)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		if len(s) <= 16 {
			return s
		}
	}
	return strconv.FormatFloat(v, 'g', 10, 64)
}
