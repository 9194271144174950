package dimse

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PDU types (PS3.8 9.3.1: Table 9-1 and the PDU structures of 9.3.2 - 9.3.8).
const (
	pduAssociateRQ byte = 0x01
	pduAssociateAC byte = 0x02
	pduAssociateRJ byte = 0x03
	pduPDataTF     byte = 0x04
	pduReleaseRQ   byte = 0x05
	pduReleaseRP   byte = 0x06
	pduAbort       byte = 0x07
)

// Item types of A-ASSOCIATE-RQ/AC PDUs (PS3.8 9.3.2 - 9.3.3, Annex D for user information
// sub-items and PS3.7 D.3.3 for the extended ones).
const (
	itemAppContext   byte = 0x10
	itemPresCtxRQ    byte = 0x20
	itemPresCtxAC    byte = 0x21
	itemAbstractSyn  byte = 0x30
	itemTransferSyn  byte = 0x40
	itemUserInfo     byte = 0x50
	itemMaxLength    byte = 0x51
	itemImplClassUID byte = 0x52
	itemRoleSelect   byte = 0x54
	itemImplVersion  byte = 0x55
)

// ApplicationContextName is the DICOM application context name (PS3.7 A.2.1).
const ApplicationContextName = "1.2.840.10008.3.1.1.1"

// Limits on what this package reads from a peer.
const (
	// MaxAssociatePDULength bounds the length of an A-ASSOCIATE-RQ or -AC PDU.
	MaxAssociatePDULength = 256 << 10
	// MaxPDULengthLimit bounds the maximum P-DATA-TF PDU length a Server or Association
	// announces (and so accepts).
	MaxPDULengthLimit = 16 << 20
	// DefaultMaxPDULength is the maximum P-DATA-TF PDU length announced when none is
	// configured.
	DefaultMaxPDULength = 256 << 10
	// MaxCommandLength bounds the length of a DIMSE command set.
	MaxCommandLength = 64 << 10
	// MaxIdentifierLength bounds the length of a C-FIND identifier.
	MaxIdentifierLength = 1 << 20
	// unlimitedSendLength is the PDU length used to send to a peer that announced 0
	// (no limit, PS3.8 D.1).
	unlimitedSendLength = 1 << 20
	// minSendLength is the smallest maximum length this package can send to: a PDV
	// header and some bytes.
	minSendLength = 64
)

// ErrProtocol marks a violation of the upper layer protocol by the peer (a malformed or
// unexpected PDU); the association is aborted.
var ErrProtocol = errors.New("dimse: protocol error")

// protoErr returns an error wrapping ErrProtocol that also carries the A-ABORT reason
// (PS3.8 9.3.8: 1 unrecognized PDU, 2 unexpected PDU, 4 unrecognized PDU parameter,
// 5 unexpected PDU parameter, 6 invalid PDU parameter value).
func protoErr(reason byte, format string, args ...any) error {
	return &protocolError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

type protocolError struct {
	reason byte
	msg    string
}

func (e *protocolError) Error() string { return "dimse: protocol error: " + e.msg }
func (e *protocolError) Unwrap() error { return ErrProtocol }

// Abort reasons when the source is the service provider (PS3.8 9.3.8).
const (
	abortNotSpecified      byte = 0
	abortUnrecognizedPDU   byte = 1
	abortUnexpectedPDU     byte = 2
	abortUnrecognizedParam byte = 4
	abortUnexpectedParam   byte = 5
	abortInvalidParam      byte = 6
)

// abortReasonOf returns the A-ABORT reason for an error.
func abortReasonOf(err error) byte {
	var pe *protocolError
	if errors.As(err, &pe) {
		return pe.reason
	}
	return abortNotSpecified
}

// readPDU reads one PDU and returns its type and variable field. A P-DATA-TF longer than
// maxPData, an association PDU longer than MaxAssociatePDULength, a release or abort PDU
// of any length but 4, or an unknown type is a protocol error, found before anything is
// allocated. buf is reused for the body when large enough.
func readPDU(r *bufio.Reader, maxPData uint32, buf []byte) (byte, []byte, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	typ, n := hdr[0], binary.BigEndian.Uint32(hdr[2:])
	var limit uint32
	switch typ {
	case pduPDataTF:
		limit = maxPData
	case pduAssociateRQ, pduAssociateAC:
		limit = MaxAssociatePDULength
	case pduAssociateRJ, pduReleaseRQ, pduReleaseRP, pduAbort:
		if n != 4 {
			return 0, nil, protoErr(abortInvalidParam, "PDU type 0x%02x with length %d, want 4", typ, n)
		}
		limit = 4
	default:
		return 0, nil, protoErr(abortUnrecognizedPDU, "unknown PDU type 0x%02x", typ)
	}
	if n > limit {
		return 0, nil, protoErr(abortInvalidParam, "PDU type 0x%02x of %d bytes exceeds the limit of %d", typ, n, limit)
	}
	var body []byte
	if uint32(cap(buf)) >= n {
		body = buf[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("reading PDU type 0x%02x body of %d bytes: %w", typ, n, err)
	}
	return typ, body, nil
}

// appendPDUHeader appends a PDU header for a variable field of n bytes.
func appendPDUHeader(b []byte, typ byte, n int) []byte {
	return binary.BigEndian.AppendUint32(append(b, typ, 0), uint32(n))
}

// presCtx is a presentation context item: proposed (abstract syntax and transfer
// syntaxes) in an A-ASSOCIATE-RQ or answered (result and one transfer syntax) in an -AC.
type presCtx struct {
	id               byte
	result           byte // AC only
	abstractSyntax   string
	transferSyntaxes []string
}

// roleItem is an SCP/SCU role selection sub-item (PS3.7 D.3.3.4).
type roleItem struct {
	uid      string
	scu, scp byte
}

// associate is the content of an A-ASSOCIATE-RQ or -AC PDU.
type associate struct {
	protocolVersion uint16
	calledAE        string
	callingAE       string
	appContext      string
	contexts        []presCtx
	maxLength       uint32
	implClassUID    string
	implVersion     string
	roles           []roleItem
}

// encode returns the PDU (header included) as type typ (RQ or AC).
func (a *associate) encode(typ byte) []byte {
	var v []byte
	v = binary.BigEndian.AppendUint16(v, a.protocolVersion)
	v = append(v, 0, 0)
	v = append(v, aeField(a.calledAE)...)
	v = append(v, aeField(a.callingAE)...)
	v = append(v, make([]byte, 32)...)
	v = appendItem(v, itemAppContext, []byte(a.appContext))
	for _, c := range a.contexts {
		var ci []byte
		if typ == pduAssociateRQ {
			ci = append(ci, c.id, 0, 0, 0)
			ci = appendItem(ci, itemAbstractSyn, []byte(c.abstractSyntax))
			for _, ts := range c.transferSyntaxes {
				ci = appendItem(ci, itemTransferSyn, []byte(ts))
			}
			v = appendItem(v, itemPresCtxRQ, ci)
		} else {
			ci = append(ci, c.id, 0, c.result, 0)
			ts := ""
			if len(c.transferSyntaxes) > 0 {
				ts = c.transferSyntaxes[0]
			}
			ci = appendItem(ci, itemTransferSyn, []byte(ts))
			v = appendItem(v, itemPresCtxAC, ci)
		}
	}
	var ui []byte
	ui = appendItem(ui, itemMaxLength, binary.BigEndian.AppendUint32(nil, a.maxLength))
	ui = appendItem(ui, itemImplClassUID, []byte(a.implClassUID))
	for _, r := range a.roles {
		var ri []byte
		ri = binary.BigEndian.AppendUint16(ri, uint16(len(r.uid)))
		ri = append(ri, r.uid...)
		ri = append(ri, r.scu, r.scp)
		ui = appendItem(ui, itemRoleSelect, ri)
	}
	if a.implVersion != "" {
		ui = appendItem(ui, itemImplVersion, []byte(a.implVersion))
	}
	v = appendItem(v, itemUserInfo, ui)
	return append(appendPDUHeader(make([]byte, 0, 6+len(v)), typ, len(v)), v...)
}

// aeField returns an AE title as the 16-byte space-padded field of PS3.8 9.3.2.
func aeField(ae string) []byte {
	b := []byte(fmt.Sprintf("%-16s", ae))
	return b[:16]
}

func appendItem(b []byte, typ byte, v []byte) []byte {
	b = append(b, typ, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// items splits a run of items (type, reserved, 2-byte length, value), checking every
// length against what is left.
func items(b []byte, fn func(typ byte, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return protoErr(abortInvalidParam, "item header truncated: %d bytes left", len(b))
		}
		typ, n := b[0], int(binary.BigEndian.Uint16(b[2:]))
		if n > len(b)-4 {
			return protoErr(abortInvalidParam, "item type 0x%02x of %d bytes overruns its PDU (%d left)", typ, n, len(b)-4)
		}
		if err := fn(typ, b[4:4+n]); err != nil {
			return err
		}
		b = b[4+n:]
	}
	return nil
}

// uidText returns a UID field without the trailing NUL or space padding some peers add.
func uidText(b []byte) string { return strings.TrimRight(string(b), "\x00 ") }

// decodeAssociate parses the variable field of an A-ASSOCIATE-RQ (typ pduAssociateRQ) or
// -AC.
func decodeAssociate(typ byte, b []byte) (*associate, error) {
	if len(b) < 68 {
		return nil, protoErr(abortInvalidParam, "A-ASSOCIATE PDU of %d bytes is shorter than its fixed fields", len(b))
	}
	a := &associate{
		protocolVersion: binary.BigEndian.Uint16(b),
		calledAE:        strings.TrimSpace(string(b[4:20])),
		callingAE:       strings.TrimSpace(string(b[20:36])),
	}
	err := items(b[68:], func(it byte, v []byte) error {
		switch it {
		case itemAppContext:
			a.appContext = uidText(v)
		case itemPresCtxRQ, itemPresCtxAC:
			if (typ == pduAssociateRQ) != (it == itemPresCtxRQ) {
				return protoErr(abortUnexpectedParam, "presentation context item 0x%02x in PDU type 0x%02x", it, typ)
			}
			if len(v) < 4 {
				return protoErr(abortInvalidParam, "presentation context item of %d bytes", len(v))
			}
			pc := presCtx{id: v[0], result: v[2]}
			err := items(v[4:], func(st byte, sv []byte) error {
				switch st {
				case itemAbstractSyn:
					pc.abstractSyntax = uidText(sv)
				case itemTransferSyn:
					if len(pc.transferSyntaxes) >= 64 {
						return protoErr(abortInvalidParam, "more than 64 transfer syntaxes in presentation context %d", pc.id)
					}
					pc.transferSyntaxes = append(pc.transferSyntaxes, uidText(sv))
				default:
					return protoErr(abortUnrecognizedParam, "sub-item 0x%02x in presentation context %d", st, pc.id)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(a.contexts) >= 256 {
				return protoErr(abortInvalidParam, "more than 256 presentation contexts")
			}
			a.contexts = append(a.contexts, pc)
		case itemUserInfo:
			return items(v, func(st byte, sv []byte) error {
				switch st {
				case itemMaxLength:
					if len(sv) != 4 {
						return protoErr(abortInvalidParam, "maximum length sub-item of %d bytes", len(sv))
					}
					a.maxLength = binary.BigEndian.Uint32(sv)
				case itemImplClassUID:
					a.implClassUID = uidText(sv)
				case itemImplVersion:
					a.implVersion = strings.TrimSpace(string(sv))
				case itemRoleSelect:
					if len(sv) < 2 {
						return protoErr(abortInvalidParam, "role selection sub-item of %d bytes", len(sv))
					}
					n := int(binary.BigEndian.Uint16(sv))
					if n+4 != len(sv) {
						return protoErr(abortInvalidParam, "role selection sub-item: UID length %d in %d bytes", n, len(sv))
					}
					if len(a.roles) < 256 {
						a.roles = append(a.roles, roleItem{uid: uidText(sv[2 : 2+n]), scu: sv[2+n], scp: sv[3+n]})
					}
				default:
					// Asynchronous operations window, extended negotiation, user identity
					// and others: accepted and ignored (not answering them declines them).
				}
				return nil
			})
		default:
			return protoErr(abortUnrecognizedParam, "item type 0x%02x in A-ASSOCIATE PDU", it)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Results of a presentation context in an A-ASSOCIATE-AC (PS3.8 9.3.3.2).
const (
	pcAccepted             byte = 0
	pcUserRejection        byte = 1
	pcNoReason             byte = 2
	pcAbstractNotSupported byte = 3
	pcTransferNotSupported byte = 4
)

// A-ASSOCIATE-RJ fields (PS3.8 9.3.4).
const (
	rjPermanent byte = 1
	rjTransient byte = 2

	rjSourceUser     byte = 1 // DICOM UL service-user
	rjSourceACSE     byte = 2 // DICOM UL service-provider (ACSE related function)
	rjSourcePresent  byte = 3 // DICOM UL service-provider (presentation related function)
	rjNoReason       byte = 1
	rjAppContext     byte = 2 // source 1
	rjCallingAE      byte = 3 // source 1
	rjCalledAE       byte = 7 // source 1
	rjProtocolVer    byte = 2 // source 2
	rjLocalLimitExcd byte = 2 // source 3
)

// RejectError is returned by Dial when the peer rejects the association (A-ASSOCIATE-RJ,
// PS3.8 9.3.4).
type RejectError struct {
	// Result is 1 (rejected permanent) or 2 (rejected transient).
	Result byte
	// Source is 1 (service user), 2 (service provider, ACSE) or 3 (service provider,
	// presentation).
	Source byte
	// Reason is the reason code, whose meaning depends on Source; e.g. source 1 reason 3
	// is "calling AE title not recognized".
	Reason byte
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("dimse: association rejected (result %d, source %d, reason %d)", e.Result, e.Source, e.Reason)
}

// AbortError reports an A-ABORT received from the peer (PS3.8 9.3.8).
type AbortError struct {
	// Source is 0 (service user) or 2 (service provider).
	Source byte
	// Reason is the provider's reason (0 when the source is the user).
	Reason byte
}

func (e *AbortError) Error() string {
	return fmt.Sprintf("dimse: association aborted by peer (source %d, reason %d)", e.Source, e.Reason)
}

func encodeReject(result, source, reason byte) []byte {
	return append(appendPDUHeader(nil, pduAssociateRJ, 4), 0, result, source, reason)
}

func encodeAbort(source, reason byte) []byte {
	return append(appendPDUHeader(nil, pduAbort, 4), 0, 0, source, reason)
}

func encodeRelease(typ byte) []byte {
	return append(appendPDUHeader(nil, typ, 4), 0, 0, 0, 0)
}

// pdv is one presentation data value item of a P-DATA-TF PDU (PS3.8 9.3.5.1 and E.2).
type pdv struct {
	ctxID   byte
	command bool // message control header bit 0
	last    bool // message control header bit 1
	value   []byte
}

// parsePDVs splits the variable field of a P-DATA-TF PDU into its PDV items, which alias b.
func parsePDVs(b []byte, fn func(pdv) error) error {
	if len(b) == 0 {
		return protoErr(abortInvalidParam, "P-DATA-TF without PDV items")
	}
	for len(b) > 0 {
		if len(b) < 6 {
			return protoErr(abortInvalidParam, "PDV item header truncated: %d bytes left", len(b))
		}
		n := binary.BigEndian.Uint32(b)
		if n < 2 || uint64(n) > uint64(len(b)-4) {
			return protoErr(abortInvalidParam, "PDV item length %d with %d bytes left", n, len(b)-4)
		}
		mch := b[5]
		if mch&^3 != 0 {
			return protoErr(abortInvalidParam, "PDV message control header 0x%02x", mch)
		}
		if err := fn(pdv{ctxID: b[4], command: mch&1 != 0, last: mch&2 != 0, value: b[6 : 4+n]}); err != nil {
			return err
		}
		b = b[4+n:]
	}
	return nil
}

// appendPDataHeader appends the header of a P-DATA-TF PDU holding one PDV of n value bytes.
func appendPDataHeader(b []byte, ctxID byte, command, last bool, n int) []byte {
	b = appendPDUHeader(b, pduPDataTF, n+6)
	b = binary.BigEndian.AppendUint32(b, uint32(n+2))
	var mch byte
	if command {
		mch |= 1
	}
	if last {
		mch |= 2
	}
	return append(b, ctxID, mch)
}
