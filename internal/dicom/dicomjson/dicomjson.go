package dicomjson

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/charset"
)

// Attribute is one attribute of the DICOM JSON Model.
type Attribute struct {
	VR           string `json:"vr"`
	Value        []any  `json:"Value,omitempty"`
	InlineBinary string `json:"InlineBinary,omitempty"`
	BulkDataURI  string `json:"BulkDataURI,omitempty"`
}

// Object is a data set in the DICOM JSON Model, keyed by the tag's eight upper case hex
// digits (encoding/json writes map keys sorted, which is tag order).
type Object map[string]*Attribute

// PersonName is one value of a PN attribute.
type PersonName struct {
	Alphabetic  string `json:"Alphabetic,omitempty"`
	Ideographic string `json:"Ideographic,omitempty"`
	Phonetic    string `json:"Phonetic,omitempty"`
}

// Options tune Encode.
type Options struct {
	// BulkThreshold is the largest binary value written inline; larger ones (and pixel
	// data, always) get a BulkDataURI if BulkURI is set, and are left out otherwise.
	// 0 means 1024 bytes.
	BulkThreshold int64
	// BulkURI returns the Bulk Data URI of the binary element e at path (the tags of the
	// enclosing sequences, then e's own tag); nil leaves large binary values out.
	BulkURI func(path []dicom.Tag, e *dicom.Element) string
	// Include, when not nil, selects the top-level attributes written.
	Include func(dicom.Tag) bool
}

// Key returns the JSON key of a tag.
func Key(t dicom.Tag) string { return fmt.Sprintf("%08X", uint32(t)) }

// Encode converts ds. Text is decoded in the character set ds declares (or cs when it
// declares none; nil means the default repertoire); bytes invalid in that set are replaced
// by U+FFFD rather than failing the whole answer. Group lengths and the private creator
// elements' blocks are written like any other attribute; group lengths are left out.
func Encode(ds *dicom.Dataset, cs *charset.Set, opt Options) (Object, error) {
	if opt.BulkThreshold == 0 {
		opt.BulkThreshold = 1024
	}
	return encode(ds, cs, opt, nil)
}

func encode(ds *dicom.Dataset, inherited *charset.Set, opt Options, path []dicom.Tag) (Object, error) {
	cs := inherited
	if e := ds.Get(dicom.SpecificCharacterSetTag); e != nil {
		if v, err := e.Value(); err == nil {
			if s, err := charset.Parse(strings.Split(dicom.TrimText(v), `\`)); err == nil {
				cs = s
			}
		}
	}
	if cs == nil {
		cs = charset.Default()
	}
	obj := Object{}
	signed := false
	if ds.Implicit() {
		if e := ds.Get(tagPixelRepresentation); e != nil {
			if v, err := e.Value(); err == nil && len(v) == 2 && ds.ByteOrder().Uint16(v) == 1 {
				signed = true
			}
		}
	}
	for _, e := range ds.Elements() {
		if e.Tag.IsGroupLength() {
			continue
		}
		if len(path) == 0 && opt.Include != nil && !opt.Include(e.Tag) {
			continue
		}
		a, err := attribute(e, cs, ds.ByteOrder(), opt, append(path, e.Tag))
		if err == nil && signed && a.VR == "US" && usOrSS[e.Tag] {
			// Implicit VR: the dictionary says "US or SS"; Pixel Representation 1 means SS.
			v, _ := e.Value()
			a.VR, a.Value = "SS", nil
			if len(v) > 0 {
				a.Value, err = binaryValues(dicom.SS, v, ds.ByteOrder())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("dicomjson: %s: %w", e.Tag, err)
		}
		obj[Key(e.Tag)] = a
	}
	return obj, nil
}

var tagPixelRepresentation = dicom.NewTag(0x0028, 0x0103)

// usOrSS are the attributes PS3.6 gives as "US or SS" whose VR follows Pixel
// Representation (0028,0103) in the same data set.
var usOrSS = map[dicom.Tag]bool{
	dicom.NewTag(0x0028, 0x0106): true, // Smallest Image Pixel Value
	dicom.NewTag(0x0028, 0x0107): true, // Largest Image Pixel Value
	dicom.NewTag(0x0028, 0x0108): true, // Smallest Pixel Value in Series
	dicom.NewTag(0x0028, 0x0109): true, // Largest Pixel Value in Series
	dicom.NewTag(0x0028, 0x0110): true, // Smallest Image Pixel Value in Plane (retired)
	dicom.NewTag(0x0028, 0x0111): true, // Largest Image Pixel Value in Plane (retired)
	dicom.NewTag(0x0028, 0x0120): true, // Pixel Padding Value
	dicom.NewTag(0x0028, 0x0121): true, // Pixel Padding Range Limit
}

// vrOf returns the VR to write: UN elements of known tags get their dictionary VR only
// when they are sequences; other UN stays UN (its bytes may be in any encoding).
func vrOf(e *dicom.Element) dicom.VR {
	if e.IsSequence() {
		return dicom.SQ
	}
	return e.VR
}

func attribute(e *dicom.Element, cs *charset.Set, order binary.ByteOrder, opt Options, path []dicom.Tag) (*Attribute, error) {
	vr := vrOf(e)
	a := &Attribute{VR: vr.String()}
	if vr == dicom.SQ {
		for _, it := range e.Items() {
			o, err := encode(it, cs, opt, path)
			if err != nil {
				return nil, err
			}
			a.Value = append(a.Value, o)
		}
		return a, nil
	}
	if e.IsEncapsulated() || e.Tag == dicom.PixelDataTag {
		if opt.BulkURI != nil {
			a.BulkDataURI = opt.BulkURI(path, e)
		}
		return a, nil
	}
	switch vr {
	case dicom.OB, dicom.OD, dicom.OF, dicom.OL, dicom.OV, dicom.OW, dicom.UN:
		if e.Len() == 0 {
			return a, nil
		}
		if e.Len() > opt.BulkThreshold {
			if opt.BulkURI != nil {
				a.BulkDataURI = opt.BulkURI(path, e)
			}
			return a, nil
		}
		v, err := e.Value()
		if err != nil {
			return nil, err
		}
		a.InlineBinary = base64.StdEncoding.EncodeToString(v)
		return a, nil
	}
	v, err := e.Value()
	if err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return a, nil
	}
	vals, err := values(vr, v, cs, order)
	if err != nil {
		return nil, err
	}
	a.Value = vals
	return a, nil
}

// values decodes the value bytes of a non-sequence, non-bulk element.
func values(vr dicom.VR, v []byte, cs *charset.Set, order binary.ByteOrder) ([]any, error) {
	switch vr {
	case dicom.US, dicom.SS, dicom.UL, dicom.SL, dicom.FL, dicom.FD, dicom.SV, dicom.UV, dicom.AT:
		return binaryValues(vr, v, order)
	case dicom.PN:
		var out []any
		for _, s := range strings.Split(cs.DecodeLossy("PN", v), `\`) {
			s = strings.TrimRight(s, " \x00")
			if strings.Trim(s, "^= ") == "" { // only delimiters: no name
				out = append(out, nil)
				continue
			}
			g := strings.SplitN(s, "=", 3)
			pn := PersonName{Alphabetic: g[0]}
			if len(g) > 1 {
				pn.Ideographic = g[1]
			}
			if len(g) > 2 {
				pn.Phonetic = g[2]
			}
			out = append(out, pn)
		}
		return trimNulls(out), nil
	case dicom.IS, dicom.DS:
		var out []any
		for _, s := range strings.Split(dicom.TrimText(v), `\`) {
			s = strings.TrimSpace(s)
			if s == "" {
				out = append(out, nil)
				continue
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				// Not a number: keep it as the text it is rather than lose it.
				out = append(out, s)
				continue
			}
			if vr == dicom.IS && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				out = append(out, int64(f))
			} else {
				out = append(out, f)
			}
		}
		return trimNulls(out), nil
	case dicom.LT, dicom.ST, dicom.UT, dicom.UR:
		s := strings.TrimRight(cs.DecodeLossy(vr.String(), v), " \x00")
		if s == "" {
			return nil, nil
		}
		return []any{s}, nil
	}
	var out []any
	text := cs.DecodeLossy(vr.String(), v)
	if vr == dicom.UI {
		text = strings.TrimRight(text, "\x00")
	}
	for _, s := range strings.Split(text, `\`) {
		s = strings.Trim(s, " \x00")
		if s == "" {
			out = append(out, nil)
			continue
		}
		out = append(out, s)
	}
	return trimNulls(out), nil
}

// trimNulls returns nil for a list of only empty values (an attribute with no value).
func trimNulls(v []any) []any {
	for _, x := range v {
		if x != nil {
			return v
		}
	}
	return nil
}

func binaryValues(vr dicom.VR, v []byte, o binary.ByteOrder) ([]any, error) {
	size := map[dicom.VR]int{dicom.US: 2, dicom.SS: 2, dicom.UL: 4, dicom.SL: 4, dicom.FL: 4, dicom.FD: 8, dicom.SV: 8, dicom.UV: 8, dicom.AT: 4}[vr]
	if len(v)%size != 0 {
		return nil, fmt.Errorf("%d bytes are not a whole number of %s values", len(v), vr)
	}
	out := make([]any, 0, len(v)/size)
	for i := 0; i < len(v); i += size {
		b := v[i : i+size]
		switch vr {
		case dicom.US:
			out = append(out, o.Uint16(b))
		case dicom.SS:
			out = append(out, int16(o.Uint16(b)))
		case dicom.UL:
			out = append(out, o.Uint32(b))
		case dicom.SL:
			out = append(out, int32(o.Uint32(b)))
		case dicom.FL:
			f := math.Float32frombits(o.Uint32(b))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				out = append(out, nil)
			} else {
				// The shortest decimal that reads back as the same float32.
				out = append(out, json.Number(strconv.FormatFloat(float64(f), 'g', -1, 32)))
			}
		case dicom.FD:
			out = append(out, jsonFloat(math.Float64frombits(o.Uint64(b))))
		case dicom.SV:
			out = append(out, int64(o.Uint64(b)))
		case dicom.UV:
			out = append(out, o.Uint64(b))
		case dicom.AT:
			out = append(out, fmt.Sprintf("%04X%04X", o.Uint16(b), o.Uint16(b[2:])))
		}
	}
	return out, nil
}

// jsonFloat maps the floats JSON cannot hold (NaN, ±Inf) to null.
func jsonFloat(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}
