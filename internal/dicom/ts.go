package dicom

import (
	"encoding/binary"
	"strings"
)

// Transfer syntax UIDs whose element encoding differs from explicit VR little endian.
const (
	ImplicitVRLittleEndianUID         = "1.2.840.10008.1.2"
	ExplicitVRLittleEndianUID         = "1.2.840.10008.1.2.1"
	EncapsulatedUncompressedUID       = "1.2.840.10008.1.2.1.98"
	DeflatedExplicitVRLittleEndianUID = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndianUID            = "1.2.840.10008.1.2.2"
	JPIPReferencedUID                 = "1.2.840.10008.1.2.4.94"
	JPIPReferencedDeflateUID          = "1.2.840.10008.1.2.4.95"
)

// TransferSyntax says how a data set is encoded (PS3.5 10).
type TransferSyntax struct {
	// UID is the transfer syntax UID, without padding.
	UID string
	// Implicit is true for implicit VR encoding.
	Implicit bool
	// BigEndian is true for big endian encoding (only explicit VR big endian, retired).
	BigEndian bool
	// Deflated is true when the data set after the file meta group is compressed with
	// raw deflate (RFC 1951).
	Deflated bool
	// Encapsulated is true when pixel data is encapsulated (compressed) in fragments.
	Encapsulated bool
}

// TransferSyntaxFor returns the transfer syntax of a UID (trailing NUL and space padding
// is ignored). Every UID other than the native ones is taken, as PS3.5 10 requires of all
// compressed syntaxes, as explicit VR little endian with encapsulated pixel data.
func TransferSyntaxFor(uid string) TransferSyntax {
	uid = strings.TrimRight(uid, "\x00 ")
	ts := TransferSyntax{UID: uid}
	switch uid {
	case ImplicitVRLittleEndianUID:
		ts.Implicit = true
	case ExplicitVRLittleEndianUID, JPIPReferencedUID:
	case ExplicitVRBigEndianUID:
		ts.BigEndian = true
	case DeflatedExplicitVRLittleEndianUID, JPIPReferencedDeflateUID:
		ts.Deflated = true
	default:
		ts.Encapsulated = true
	}
	return ts
}

// encoding is the element encoding of one data set (an item may differ from its parent:
// UN of undefined length is implicit VR little endian, and some writers put implicit VR
// items into explicit VR files).
type encoding struct {
	implicit  bool
	bigEndian bool
}

func (e encoding) order() binary.ByteOrder {
	if e.bigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func (e encoding) tag(b []byte) Tag {
	o := e.order()
	return Tag(uint32(o.Uint16(b))<<16 | uint32(o.Uint16(b[2:])))
}

func (e encoding) putTag(b []byte, t Tag) {
	o := e.order()
	o.PutUint16(b, t.Group())
	o.PutUint16(b[2:], t.Element())
}
