package dict

import (
	"slices"
	"strings"
)

// Entry is one Data Element of the dictionary.
type Entry struct {
	// Tag is the element's tag, group in the high 16 bits. For a wildcard
	// entry such as (60xx,3000) the wildcard digits are zero.
	Tag uint32
	// Mask has the bits of Tag that are fixed set: 0xFFFFFFFF for an exact
	// entry, 0xFF00FFFF for (60xx,3000), 0xFFFFFF00 for (0020,31xx).
	Mask uint32
	// VR is the Value Representation, the first one the standard lists when
	// it lists several ("OB or OW" gives "OB"). It is "" for the item and
	// delimitation tags (FFFE,E000/E00D/E0DD), which have no VR, and for the
	// few retired entries the standard leaves blank.
	VR string
	// AltVRs are the other Value Representations the standard allows, in its
	// order ("OB or OW" gives ["OW"]); nil for most entries. Shared with the
	// table: do not modify.
	AltVRs []string
	// VM is the Value Multiplicity as the standard writes it ("1", "1-n",
	// "2-2n", …).
	VM string
	// Keyword is the standard keyword, e.g. "PatientName"; "" for a few
	// retired entries.
	Keyword string
	// Name is the standard's name, e.g. "Patient's Name".
	Name string
	// Retired reports whether the standard lists the element as retired.
	Retired bool
}

// Matches reports whether tag is covered by e.
func (e Entry) Matches(tag uint32) bool { return tag&e.Mask == e.Tag&e.Mask }

// HasVR reports whether vr is one of the Value Representations of e.
func (e Entry) HasVR(vr string) bool {
	return vr != "" && (vr == e.VR || slices.Contains(e.AltVRs, vr))
}

// Generic keywords of the entries Lookup makes up for tags the dictionary
// does not list one by one.
const (
	// KeywordGroupLength is the keyword of a group length (gggg,0000) other
	// than the listed ones, e.g. (0008,0000).
	KeywordGroupLength = "GenericGroupLength"
	// KeywordPrivateCreator is the keyword of a private creator element
	// (gggg,0010-00FF), gggg odd.
	KeywordPrivateCreator = "PrivateCreator"
)

// Lookup returns the entry of tag: the exact entry if there is one, else the
// most specific wildcard entry that matches, else a generic entry for a
// group length or a private creator (its Tag is tag itself, its Mask
// 0xFFFFFFFF). Private (odd group) elements never match a standard entry.
func Lookup(tag uint32) (Entry, bool) {
	// Binary search by hand: comparing through entries[i].Tag copies no Entry.
	lo, hi := 0, numExact
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if entries[m].Tag < tag {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < numExact && entries[lo].Tag == tag {
		return entries[lo], true
	}
	group, elem := tag>>16, tag&0xFFFF
	private := group&1 == 1
	if !private {
		for i := numExact; i < Count; i++ {
			if e := &entries[i]; tag&e.Mask == e.Tag {
				return *e, true
			}
		}
	}
	switch {
	case elem == 0:
		return Entry{Tag: tag, Mask: 0xFFFFFFFF, VR: "UL", VM: "1", Keyword: KeywordGroupLength, Name: "Group Length"}, true
	case private && isPrivateGroup(group) && elem >= 0x0010 && elem <= 0x00FF:
		return Entry{Tag: tag, Mask: 0xFFFFFFFF, VR: "LO", VM: "1", Keyword: KeywordPrivateCreator, Name: "Private Creator"}, true
	}
	return Entry{}, false
}

// isPrivateGroup reports whether group may hold private elements: odd, and
// not one of 0001, 0003, 0005, 0007 and FFFF, which PS3.5 7.8.1 reserves.
func isPrivateGroup(group uint32) bool {
	return group&1 == 1 && group > 0x0008 && group != 0xFFFF
}

// ByKeyword returns the entry whose keyword is kw (case-sensitive, as in
// the standard).
func ByKeyword(kw string) (Entry, bool) {
	i, ok := slices.BinarySearchFunc(byKeyword[:], kw, func(idx uint16, k string) int {
		return strings.Compare(entries[idx].Keyword, k)
	})
	if !ok || kw == "" {
		return Entry{}, false
	}
	return entries[byKeyword[i]], true
}

// All calls yield for every entry of the dictionary, exact entries in tag
// order first, then wildcard entries; it stops when yield returns false.
// It has the shape of an iter.Seq, for use in range-over-func loops.
func All(yield func(Entry) bool) {
	for _, e := range entries {
		if !yield(e) {
			return
		}
	}
}
