package deid

import (
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
)

// dummy returns a non-empty value consistent with vr that identifies
// nobody, for action D; nil for VRs whose dummy is best left empty.
func dummy(vr dicom.VR) []byte {
	switch vr {
	case dicom.AE:
		return dicom.PadText(vr, "ANONYMOUS")
	case dicom.AS:
		return dicom.PadText(vr, "000D")
	case dicom.CS:
		return dicom.PadText(vr, "ANONYMIZED")
	case dicom.DA:
		return dicom.PadText(vr, "19000101")
	case dicom.DT:
		return dicom.PadText(vr, "19000101000000")
	case dicom.TM:
		return dicom.PadText(vr, "000000")
	case dicom.DS, dicom.IS:
		return dicom.PadText(vr, "0")
	case dicom.LO, dicom.SH, dicom.ST, dicom.LT, dicom.UT, dicom.UC:
		return dicom.PadText(vr, "ANONYMIZED")
	case dicom.PN:
		return dicom.PadText(vr, "ANONYMIZED")
	case dicom.UR:
		return dicom.PadText(vr, "urn:x:anonymized")
	case dicom.US, dicom.SS:
		return []byte{0, 0}
	case dicom.UL, dicom.SL, dicom.FL:
		return []byte{0, 0, 0, 0}
	case dicom.FD, dicom.SV, dicom.UV:
		return make([]byte, 8)
	}
	return nil
}

// shiftDate moves a DA value (possibly multi-valued or a range) by days.
// It reports false when a value is not a date it can read.
func shiftDate(s string, days int) (string, bool) {
	vals := strings.Split(s, `\`)
	for i, v := range vals {
		parts := strings.Split(v, "-") // a range in a query: "d1-d2"
		for j, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			t, err := time.Parse("20060102", p)
			if err != nil {
				return "", false
			}
			parts[j] = t.AddDate(0, 0, days).Format("20060102")
		}
		vals[i] = strings.Join(parts, "-")
	}
	return strings.Join(vals, `\`), true
}

// shiftDateTime moves a DT value by days; the time of day and any
// offset from UTC are kept.
func shiftDateTime(s string, days int) (string, bool) {
	vals := strings.Split(s, `\`)
	for i, v := range vals {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if len(v) < 8 {
			return "", false // a year or month alone: no day to shift
		}
		d, ok := shiftDate(v[:8], days)
		if !ok {
			return "", false
		}
		vals[i] = d + v[8:]
	}
	return strings.Join(vals, `\`), true
}

// splitLO splits text into values of at most 64 characters (LO's limit),
// for a multi-valued LO.
func splitLO(s string) string {
	var vals []string
	for len(s) > 64 {
		cut := strings.LastIndex(s[:64], ", ")
		if cut <= 0 {
			cut = 64
		}
		vals = append(vals, s[:cut])
		s = strings.TrimPrefix(s[cut:], ", ")
	}
	return strings.Join(append(vals, s), `\`)
}

// vrOf returns the VR to use for an element: its own, or the dictionary's
// when it was read as UN from an implicit VR data set.
func vrOf(e *dicom.Element) dicom.VR {
	if e.VR != dicom.UN {
		return e.VR
	}
	if v := dicom.DictionaryVR(e.Tag); v != dicom.UN {
		return v
	}
	return e.VR
}
