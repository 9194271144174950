package dicom

import "fmt"

// Tag is a DICOM data element tag: group<<16 | element.
type Tag uint32

// Tags the codec itself knows about.
const (
	// ItemTag (FFFE,E000) starts an item of a sequence or a fragment of encapsulated data.
	ItemTag Tag = 0xFFFEE000
	// ItemDelimTag (FFFE,E00D) ends an item of undefined length.
	ItemDelimTag Tag = 0xFFFEE00D
	// SeqDelimTag (FFFE,E0DD) ends a sequence or encapsulated value of undefined length.
	SeqDelimTag Tag = 0xFFFEE0DD
	// FileMetaGroupLengthTag is (0002,0000) File Meta Information Group Length.
	FileMetaGroupLengthTag Tag = 0x00020000
	// TransferSyntaxUIDTag is (0002,0010) Transfer Syntax UID.
	TransferSyntaxUIDTag Tag = 0x00020010
	// SpecificCharacterSetTag is (0008,0005) Specific Character Set.
	SpecificCharacterSetTag Tag = 0x00080005
	// PixelDataTag is (7FE0,0010) Pixel Data.
	PixelDataTag Tag = 0x7FE00010
)

// NewTag returns the tag (group,element).
func NewTag(group, element uint16) Tag { return Tag(uint32(group)<<16 | uint32(element)) }

// Group returns the tag's group number.
func (t Tag) Group() uint16 { return uint16(t >> 16) }

// Element returns the tag's element number.
func (t Tag) Element() uint16 { return uint16(t) }

// IsPrivate reports whether the tag is in a private group (odd group numbers from 0009;
// groups 0001, 0003, 0005, 0007 and FFFF are not private but illegal, PS3.5 7.8.1).
func (t Tag) IsPrivate() bool {
	g := t.Group()
	return g&1 == 1 && g > 0x0008 && g != 0xFFFF
}

// IsGroupLength reports whether the tag is a group length element (gggg,0000).
func (t Tag) IsGroupLength() bool { return t.Element() == 0 }

// String formats the tag as "(GGGG,EEEE)" in upper case hexadecimal.
func (t Tag) String() string { return fmt.Sprintf("(%04X,%04X)", t.Group(), t.Element()) }
