package dimse

import "fmt"

// Status is a DIMSE status code (the Status (0000,0900) of a response).
type Status uint16

// Status codes. Source: DICOM PS3.7 Annex C (general status codes) and the service
// specific ones of PS3.4 B.2.3 (Storage, C-STORE) and C.4.1.1.4 (Query/Retrieve, C-FIND).
const (
	// StatusSuccess: the operation succeeded (PS3.7 C.1.1).
	StatusSuccess Status = 0x0000
	// StatusCancel: the operation was cancelled by a C-CANCEL (PS3.7 C.3.1).
	StatusCancel Status = 0xFE00
	// StatusPending: more responses follow (PS3.7 C.2.1).
	StatusPending Status = 0xFF00
	// StatusPendingWarning: pending, some optional keys were not supported (PS3.4
	// C.4.1.1.4).
	StatusPendingWarning Status = 0xFF01
	// StatusWarningCoercion: the data set was stored with coerced elements (PS3.4 B.2.3).
	StatusWarningCoercion Status = 0xB000
	// StatusWarningElementsDiscarded: elements were discarded (PS3.4 B.2.3).
	StatusWarningElementsDiscarded Status = 0xB006
	// StatusWarningDataSetMismatch: the data set does not match the SOP class (PS3.4 B.2.3).
	StatusWarningDataSetMismatch Status = 0xB007
	// StatusProcessingFailure: a general failure (PS3.7 C.4.2).
	StatusProcessingFailure Status = 0x0110
	// StatusDuplicateInvocation: the message ID is in use (PS3.7 C.5.5).
	StatusDuplicateInvocation Status = 0x0210
	// StatusUnrecognizedOperation: the operation is not supported on this context
	// (PS3.7 C.5.17).
	StatusUnrecognizedOperation Status = 0x0211
	// StatusMistypedArgument: a parameter had the wrong type (PS3.7 C.5.14).
	StatusMistypedArgument Status = 0x0212
	// StatusSOPClassNotSupported: refused, SOP class not supported (PS3.7 C.5.20).
	StatusSOPClassNotSupported Status = 0x0122
	// StatusNotAuthorized: refused, not authorized (PS3.7 C.5.21).
	StatusNotAuthorized Status = 0x0124
	// StatusOutOfResources: refused, out of resources (PS3.4 B.2.3 and C.4.1.1.4: A7xx).
	StatusOutOfResources Status = 0xA700
	// StatusDataSetMismatch: error, the data set or identifier does not match the SOP
	// class (PS3.4 B.2.3 and C.4.1.1.4: A9xx).
	StatusDataSetMismatch Status = 0xA900
	// StatusCannotUnderstand: error, cannot understand / unable to process (PS3.4 B.2.3
	// and C.4.1.1.4: Cxxx).
	StatusCannotUnderstand Status = 0xC000
)

// IsSuccess reports whether s is success.
func (s Status) IsSuccess() bool { return s == StatusSuccess }

// IsPending reports whether s is a pending status (more responses follow).
func (s Status) IsPending() bool { return s == StatusPending || s == StatusPendingWarning }

// IsWarning reports whether s is a warning (PS3.7 C.1.2: 0001, 0107, 0116, Bxxx).
func (s Status) IsWarning() bool {
	return s == 0x0001 || s == 0x0107 || s == 0x0116 || s&0xF000 == 0xB000
}

// IsFailure reports whether s is neither success, warning, pending nor cancel.
func (s Status) IsFailure() bool {
	return !s.IsSuccess() && !s.IsWarning() && !s.IsPending() && s != StatusCancel
}

func (s Status) String() string {
	switch {
	case s == StatusSuccess:
		return "success (0x0000)"
	case s == StatusCancel:
		return "cancel (0xFE00)"
	case s.IsPending():
		return fmt.Sprintf("pending (0x%04X)", uint16(s))
	case s.IsWarning():
		return fmt.Sprintf("warning (0x%04X)", uint16(s))
	}
	return fmt.Sprintf("failure (0x%04X)", uint16(s))
}
