package dimse

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cancerimage/cie/internal/dicom"
)

// Command set elements (PS3.7 Annex E, Table E.1-1).
const (
	tagCommandGroupLength      dicom.Tag = 0x00000000
	tagAffectedSOPClassUID     dicom.Tag = 0x00000002
	tagRequestedSOPClassUID    dicom.Tag = 0x00000003
	tagCommandField            dicom.Tag = 0x00000100
	tagMessageID               dicom.Tag = 0x00000110
	tagMessageIDRespondedTo    dicom.Tag = 0x00000120
	tagPriority                dicom.Tag = 0x00000700
	tagCommandDataSetType      dicom.Tag = 0x00000800
	tagStatus                  dicom.Tag = 0x00000900
	tagErrorComment            dicom.Tag = 0x00000902
	tagAffectedSOPInstanceUID  dicom.Tag = 0x00001000
	tagMoveOriginatorAE        dicom.Tag = 0x00001030
	tagMoveOriginatorMessageID dicom.Tag = 0x00001031
)

// Command field values (PS3.7 E.1).
const (
	cStoreRQ  uint16 = 0x0001
	cStoreRSP uint16 = 0x8001
	cGetRQ    uint16 = 0x0010
	cFindRQ   uint16 = 0x0020
	cFindRSP  uint16 = 0x8020
	cMoveRQ   uint16 = 0x0021
	cEchoRQ   uint16 = 0x0030
	cEchoRSP  uint16 = 0x8030
	cCancelRQ uint16 = 0x0FFF
)

// Command Data Set Type values (PS3.7 E.1): 0x0101 means no data set; any other value
// means one follows.
const (
	dataSetAbsent  uint16 = 0x0101
	dataSetPresent uint16 = 0x0001
)

// command is a DIMSE command set with the fields this package uses.
type command struct {
	field                   uint16
	messageID               uint16
	respondedTo             uint16
	sopClassUID             string // Affected (or Requested) SOP Class UID
	sopInstanceUID          string
	priority                uint16
	hasDataSet              bool
	status                  Status
	hasStatus               bool
	errorComment            string
	moveOriginatorAE        string
	moveOriginatorMessageID uint16
}

// encode returns the command set as an implicit VR little endian data set with its group
// length (PS3.7 6.3.1).
func (c *command) encode() ([]byte, error) {
	ds := dicom.NewDataset(dicom.TransferSyntaxFor(dicom.ImplicitVRLittleEndianUID))
	us := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	type el struct {
		tag dicom.Tag
		vr  dicom.VR
		val []byte
	}
	els := []el{}
	if c.sopClassUID != "" {
		els = append(els, el{tagAffectedSOPClassUID, dicom.UI, dicom.PadText(dicom.UI, c.sopClassUID)})
	}
	els = append(els, el{tagCommandField, dicom.US, us(c.field)})
	if c.field&0x8000 == 0 && c.field != cCancelRQ {
		els = append(els, el{tagMessageID, dicom.US, us(c.messageID)})
	} else {
		els = append(els, el{tagMessageIDRespondedTo, dicom.US, us(c.respondedTo)})
	}
	if c.field == cStoreRQ || c.field == cFindRQ {
		els = append(els, el{tagPriority, dicom.US, us(c.priority)})
	}
	dst := dataSetAbsent
	if c.hasDataSet {
		dst = dataSetPresent
	}
	els = append(els, el{tagCommandDataSetType, dicom.US, us(dst)})
	if c.field&0x8000 != 0 {
		els = append(els, el{tagStatus, dicom.US, us(uint16(c.status))})
	}
	if c.errorComment != "" {
		comment := c.errorComment
		if len(comment) > 64 {
			comment = comment[:64]
		}
		els = append(els, el{tagErrorComment, dicom.LO, dicom.PadText(dicom.LO, comment)})
	}
	if c.sopInstanceUID != "" {
		els = append(els, el{tagAffectedSOPInstanceUID, dicom.UI, dicom.PadText(dicom.UI, c.sopInstanceUID)})
	}
	if c.moveOriginatorAE != "" {
		els = append(els, el{tagMoveOriginatorAE, dicom.AE, dicom.PadText(dicom.AE, c.moveOriginatorAE)})
		els = append(els, el{tagMoveOriginatorMessageID, dicom.US, us(c.moveOriginatorMessageID)})
	}
	for _, e := range els {
		if err := ds.Set(e.tag, e.vr, e.val); err != nil {
			return nil, fmt.Errorf("encoding command element %v: %w", e.tag, err)
		}
	}
	var body bytes.Buffer
	if _, err := ds.WriteTo(&body); err != nil {
		return nil, fmt.Errorf("encoding command set: %w", err)
	}
	// Group length (0000,0000), UL, implicit VR: tag, length 4, value.
	out := make([]byte, 0, 12+body.Len())
	out = append(out, 0, 0, 0, 0, 4, 0, 0, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(body.Len()))
	return append(out, body.Bytes()...), nil
}

// commandParseOptions keep everything of a small command set in memory and bound it.
var commandParseOptions = dicom.ParseOptions{BulkThreshold: MaxCommandLength, MaxDepth: 2, MaxElements: 256}

// decodeCommand parses a command set. Elements it does not use are ignored; a missing
// Command Field or a used element with a value of the wrong size is a protocol error.
func decodeCommand(b []byte) (*command, error) {
	ds, err := dicom.ParseDataset(bytes.NewReader(b), int64(len(b)), dicom.TransferSyntaxFor(dicom.ImplicitVRLittleEndianUID), commandParseOptions)
	if err != nil {
		return nil, protoErr(abortInvalidParam, "parsing command set: %v", err)
	}
	c := &command{}
	var bad error
	us := func(tag dicom.Tag) (uint16, bool) {
		e := ds.Get(tag)
		if e == nil {
			return 0, false
		}
		v, err := e.Value()
		if err != nil || len(v) != 2 {
			bad = protoErr(abortInvalidParam, "command element %v: want 2 bytes, got %d", tag, len(v))
			return 0, false
		}
		return binary.LittleEndian.Uint16(v), true
	}
	field, ok := us(tagCommandField)
	if bad != nil {
		return nil, bad
	}
	if !ok {
		return nil, protoErr(abortInvalidParam, "command set without Command Field (0000,0100)")
	}
	c.field = field
	c.messageID, _ = us(tagMessageID)
	c.respondedTo, _ = us(tagMessageIDRespondedTo)
	c.priority, _ = us(tagPriority)
	dst, ok := us(tagCommandDataSetType)
	c.hasDataSet = ok && dst != dataSetAbsent
	st, ok := us(tagStatus)
	c.status, c.hasStatus = Status(st), ok
	c.moveOriginatorMessageID, _ = us(tagMoveOriginatorMessageID)
	if bad != nil {
		return nil, bad
	}
	c.sopClassUID = ds.Text(tagAffectedSOPClassUID)
	if c.sopClassUID == "" {
		c.sopClassUID = ds.Text(tagRequestedSOPClassUID)
	}
	c.sopInstanceUID = ds.Text(tagAffectedSOPInstanceUID)
	c.errorComment = ds.Text(tagErrorComment)
	c.moveOriginatorAE = ds.Text(tagMoveOriginatorAE)
	return c, nil
}
