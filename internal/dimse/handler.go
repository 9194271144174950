package dimse

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/cancerimage/cie/internal/dicom"
)

// StoreRequest is a received C-STORE request whose data set is complete, in memory or
// (when large) in a spool file.
type StoreRequest struct {
	// CallingAE and CalledAE are the AE titles of the association.
	CallingAE, CalledAE string
	// RemoteAddr is the peer's network address.
	RemoteAddr net.Addr
	// MessageID is the request's message ID.
	MessageID uint16
	// SOPClassUID and SOPInstanceUID are the Affected SOP Class and Instance UIDs.
	SOPClassUID, SOPInstanceUID string
	// TransferSyntax is the transfer syntax of the presentation context: the encoding of
	// the data set.
	TransferSyntax dicom.TransferSyntax
	// MoveOriginatorAE and MoveOriginatorMessageID are set when the store is a
	// sub-operation of a C-MOVE.
	MoveOriginatorAE        string
	MoveOriginatorMessageID uint16
	// Data holds the bare data set (no preamble, no meta group; deflated when the transfer
	// syntax is), Size bytes long; parse it with dicom.ParseDataset. It is valid until the
	// handler returns.
	Data io.ReaderAt
	// Size is the length of the data set in bytes.
	Size int64
	// Path is the spool file holding Data, or "" when Data is in memory (a data set of at
	// most Config.MemorySpool bytes). The handler may rename the file (e.g. into a store on the same file
	// system: the server then never touches it again); a file left there is reused for the
	// association's next instance and removed when the association ends.
	Path string
}

// StoreHandler stores received instances. Store is called once per C-STORE request, after
// its data set is complete, and the C-STORE response carries the status it returns: it
// should return StatusSuccess only once the instance is durably stored. A non-nil error is
// logged and, if the status is success, replaced by StatusProcessingFailure; its text goes
// into the response's Error Comment (at most 64 characters). Calls may run concurrently
// (one per association).
type StoreHandler interface {
	Store(ctx context.Context, req *StoreRequest) (Status, error)
}

// StoreFunc adapts a function to StoreHandler.
type StoreFunc func(ctx context.Context, req *StoreRequest) (Status, error)

// Store calls f.
func (f StoreFunc) Store(ctx context.Context, req *StoreRequest) (Status, error) { return f(ctx, req) }

// FindRequest is a received C-FIND request.
type FindRequest struct {
	// CallingAE and CalledAE are the AE titles of the association.
	CallingAE, CalledAE string
	// RemoteAddr is the peer's network address.
	RemoteAddr net.Addr
	// MessageID is the request's message ID.
	MessageID uint16
	// SOPClassUID is the information model: PatientRootFind or StudyRootFind.
	SOPClassUID string
	// Level is the Query/Retrieve Level (0008,0052) of the identifier: PATIENT, STUDY,
	// SERIES or IMAGE.
	Level string
	// Identifier holds the matching and return keys.
	Identifier *dicom.Dataset
	// TransferSyntax is the encoding of the identifiers; make matches with NewIdentifier.
	TransferSyntax dicom.TransferSyntax
}

// NewIdentifier returns an empty data set in the encoding of the request's presentation
// context, to be filled with a match and passed to yield.
func (r *FindRequest) NewIdentifier() *dicom.Dataset { return dicom.NewDataset(r.TransferSyntax) }

// ErrCanceled is returned by a FindHandler's yield after the peer sent a C-CANCEL.
var ErrCanceled = errors.New("dimse: canceled by peer")

// FindHandler answers C-FIND requests. Find calls yield once per match with an identifier
// made by req.NewIdentifier; each becomes a pending response. yield returns an error (then
// Find should return) when the peer cancelled (ErrCanceled, and ctx is cancelled too) or
// the association failed. The returned status ends the operation: StatusSuccess, or a
// failure; after a cancel the response is StatusCancel whatever Find returns.
type FindHandler interface {
	Find(ctx context.Context, req *FindRequest, yield func(*dicom.Dataset) error) (Status, error)
}

// FindFunc adapts a function to FindHandler.
type FindFunc func(ctx context.Context, req *FindRequest, yield func(*dicom.Dataset) error) (Status, error)

// Find calls f.
func (f FindFunc) Find(ctx context.Context, req *FindRequest, yield func(*dicom.Dataset) error) (Status, error) {
	return f(ctx, req, yield)
}
