package dicom

import "github.com/cancerimage/cie/internal/dicom/dict"

// DictionaryVR returns the VR the data dictionary (package dict, generated from PS3.6)
// gives the tag: group lengths UL, private creators LO, the first VR of attributes with
// several ("US or SS", "OB or OW"), and UN for tags it does not know (private elements)
// and for item and delimitation tags.
func DictionaryVR(t Tag) VR {
	if t.Element() == 0 {
		return UL // group length
	}
	e, ok := dict.Lookup(uint32(t))
	if !ok || len(e.VR) != 2 {
		return UN
	}
	if t == 0x7FE00010 { // pixel data: OW in implicit VR little endian (PS3.5 A.1)
		return OW
	}
	return VR(uint16(e.VR[0])<<8 | uint16(e.VR[1]))
}
