package dicom

// VR is a value representation: its two ASCII characters packed big endian, so that
// VR('O'<<8|'B') is OB. Values that are not one of the constants below are VRs unknown
// to this package, as read from an explicit VR data set.
type VR uint16

// The value representations of PS3.5 6.2.
const (
	AE VR = 'A'<<8 | 'E'
	AS VR = 'A'<<8 | 'S'
	AT VR = 'A'<<8 | 'T'
	CS VR = 'C'<<8 | 'S'
	DA VR = 'D'<<8 | 'A'
	DS VR = 'D'<<8 | 'S'
	DT VR = 'D'<<8 | 'T'
	FD VR = 'F'<<8 | 'D'
	FL VR = 'F'<<8 | 'L'
	IS VR = 'I'<<8 | 'S'
	LO VR = 'L'<<8 | 'O'
	LT VR = 'L'<<8 | 'T'
	OB VR = 'O'<<8 | 'B'
	OD VR = 'O'<<8 | 'D'
	OF VR = 'O'<<8 | 'F'
	OL VR = 'O'<<8 | 'L'
	OV VR = 'O'<<8 | 'V'
	OW VR = 'O'<<8 | 'W'
	PN VR = 'P'<<8 | 'N'
	SH VR = 'S'<<8 | 'H'
	SL VR = 'S'<<8 | 'L'
	SQ VR = 'S'<<8 | 'Q'
	SS VR = 'S'<<8 | 'S'
	ST VR = 'S'<<8 | 'T'
	SV VR = 'S'<<8 | 'V'
	TM VR = 'T'<<8 | 'M'
	UC VR = 'U'<<8 | 'C'
	UI VR = 'U'<<8 | 'I'
	UL VR = 'U'<<8 | 'L'
	UN VR = 'U'<<8 | 'N'
	UR VR = 'U'<<8 | 'R'
	US VR = 'U'<<8 | 'S'
	UT VR = 'U'<<8 | 'T'
	UV VR = 'U'<<8 | 'V'
)

type vrInfo struct {
	known, long, text bool
}

func vrProps(v VR) vrInfo {
	switch v {
	case OB, OD, OF, OL, OV, OW, SQ, SV, UN, UV:
		return vrInfo{known: true, long: true}
	case UC, UR, UT:
		return vrInfo{known: true, long: true, text: true}
	case AE, AS, CS, DA, DS, DT, IS, LO, LT, PN, SH, ST, TM, UI:
		return vrInfo{known: true, text: true}
	case AT, FD, FL, SL, SS, UL, US:
		return vrInfo{known: true}
	}
	// PS3.5 6.2: VRs added in the future use the 12-byte header of explicit VR data sets.
	return vrInfo{long: true}
}

// String returns the VR's two characters, or "??" for bytes that are not upper case letters.
func (v VR) String() string {
	a, b := byte(v>>8), byte(v)
	if !isUpper(a) || !isUpper(b) {
		return "??"
	}
	return string([]byte{a, b})
}

// Known reports whether v is one of the VRs of PS3.5 6.2 known to this package.
func (v VR) Known() bool { return vrProps(v).known }

// LongLength reports whether an explicit VR header for v has the 2 reserved bytes and a
// 4-byte length (12 bytes in all) rather than a 2-byte length (8 bytes). This is true for
// OB, OD, OF, OL, OV, OW, SQ, SV, UC, UN, UR, UT, UV and for VRs unknown to this package.
func (v VR) LongLength() bool { return vrProps(v).long }

// IsText reports whether values of v are character strings (whose character set is the
// data set's Specific Character Set for SH, LO, ST, LT, UC, UT and PN).
func (v VR) IsText() bool { return vrProps(v).text }

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// validVRBytes reports whether b[0:2] can be an explicit VR: two upper case letters.
func validVRBytes(b []byte) bool { return isUpper(b[0]) && isUpper(b[1]) }
