package iod

import "strings"

// typeNames are the Types, strictest first; the table stores their index.
var typeNames = [...]string{"1", "1C", "2", "2C", "3"}

type iodDef struct {
	name     string
	complete bool
	modules  []uint16
}

type sopClass struct {
	uid string
	iod uint16
}

func findSOPClass(uid string) (iodDef, bool) {
	lo, hi := 0, len(sopClasses)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sopClasses[m].uid < uid {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(sopClasses) && sopClasses[lo].uid == uid {
		return iods[sopClasses[lo].iod], true
	}
	return iodDef{}, false
}

// canonical maps the repeating groups of curves (5000-501E) and overlays
// (6000-601E) to their first group, as the table stores them.
func canonical(tag uint32) uint32 {
	g := tag >> 16
	if g&1 == 0 && (g>>8 == 0x50 || g>>8 == 0x60) && g&0xFF <= 0x1E {
		return tag & 0xFF00FFFF
	}
	return tag
}

// Type returns the Type ("1", "1C", "2", "2C" or "3") of the top-level
// attribute tag in the IOD of the SOP class sopClassUID: the strictest Type
// the attribute has in any module of the IOD, whatever the module's usage.
// known is false when the SOP class is not in the table, or the attribute
// in none of its IOD's modules (not part of the IOD, or of a module newer
// than the table's source).
func Type(sopClassUID string, tag uint32) (t string, known bool) {
	def, ok := findSOPClass(strings.TrimSpace(sopClassUID))
	if !ok {
		return "", false
	}
	tag = canonical(tag)
	best := len(typeNames)
	for _, mi := range def.modules {
		attrs := modules[mi]
		lo, hi := 0, len(attrs)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if uint32(attrs[m]>>4) < tag {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo < len(attrs) && uint32(attrs[lo]>>4) == tag {
			if ti := int(attrs[lo] & 0xF); ti < best {
				best = ti
			}
		}
	}
	if best >= len(typeNames) {
		return "", false
	}
	return typeNames[best], true
}

// Known reports whether the SOP class is in the table.
func Known(sopClassUID string) bool {
	_, ok := findSOPClass(strings.TrimSpace(sopClassUID))
	return ok
}

// Complete reports whether every module of the SOP class's IOD (current
// edition) was found in the table's source: when false, Type may answer
// known=false, or a looser Type, for attributes of the missing modules.
func Complete(sopClassUID string) bool {
	def, ok := findSOPClass(strings.TrimSpace(sopClassUID))
	return ok && def.complete
}

// IODName returns the name of the SOP class's IOD, e.g. "CT Image".
func IODName(sopClassUID string) (string, bool) {
	def, ok := findSOPClass(strings.TrimSpace(sopClassUID))
	return def.name, ok
}

// Part3Edition is the DICOM edition of the PS3.3 tables the Types come from.
const Part3Edition = part3Edition
