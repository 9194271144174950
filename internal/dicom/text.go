package dicom

import "strings"

// PadText returns s as a value of vr: padded to even length with a NUL for
// UI and a space for every other VR (PS3.5 6.2). It does not encode
// characters: s must already be in the data set's character set (package
// charset).
func PadText(vr VR, s string) []byte {
	b := []byte(s)
	if len(b)%2 == 1 {
		if vr == UI {
			return append(b, 0)
		}
		return append(b, ' ')
	}
	return b
}

// TrimText returns a raw text or UID value without its trailing padding
// (spaces and NULs).
func TrimText(b []byte) string {
	return strings.TrimRight(string(b), " \x00")
}
