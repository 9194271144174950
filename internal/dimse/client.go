package dimse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
)

// PresentationContext is a presentation context to propose: an abstract syntax (SOP
// class) and the transfer syntaxes offered for it, in order of preference.
type PresentationContext struct {
	AbstractSyntax   string
	TransferSyntaxes []string
}

// DialOptions tune Dial; nil means the defaults.
type DialOptions struct {
	// MaxPDULength is the maximum P-DATA-TF length announced; default DefaultMaxPDULength.
	MaxPDULength uint32
	// AssociateTimeout bounds connecting and the wait for A-ASSOCIATE-AC, and the wait for
	// A-RELEASE-RP; default 30 s.
	AssociateTimeout time.Duration
	// WriteTimeout bounds each write; default 1 minute.
	WriteTimeout time.Duration
	// ResponseTimeout bounds the wait for each response PDU; default 5 minutes.
	ResponseTimeout time.Duration
	// Logger receives debug and warning messages; nil discards them.
	Logger *slog.Logger
}

// Association is an association this side requested (SCU). Its operations run one at a
// time (the asynchronous operations window is 1); they may be called from several
// goroutines.
type Association struct {
	a         *assoc
	opts      DialOptions
	mu        sync.Mutex
	nextMsgID uint16
	dead      error
	// CallingAE and CalledAE are the AE titles of the association.
	CallingAE, CalledAE string
	// PeerImplementationClassUID and PeerImplementationVersion identify the peer's
	// implementation, as it announced them.
	PeerImplementationClassUID, PeerImplementationVersion string
}

// Dial connects to addr (host:port) and requests an association from callingAE to
// calledAE proposing contexts (at most 128). It fails with a *RejectError when the peer
// rejects the association, and when the peer accepts none of the contexts.
func Dial(ctx context.Context, addr, callingAE, calledAE string, contexts []PresentationContext, opts *DialOptions) (*Association, error) {
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxPDULength == 0 {
		o.MaxPDULength = DefaultMaxPDULength
	}
	if o.MaxPDULength < 1024 || o.MaxPDULength > MaxPDULengthLimit {
		return nil, fmt.Errorf("dimse: maximum PDU length %d outside [1024, %d]", o.MaxPDULength, MaxPDULengthLimit)
	}
	if o.AssociateTimeout <= 0 {
		o.AssociateTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = time.Minute
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(contexts) == 0 || len(contexts) > 128 {
		return nil, fmt.Errorf("dimse: %d presentation contexts proposed, want 1 to 128", len(contexts))
	}
	if len(callingAE) > 16 || len(calledAE) > 16 || callingAE == "" || calledAE == "" {
		return nil, fmt.Errorf("dimse: AE titles %q and %q must have 1 to 16 characters", callingAE, calledAE)
	}
	rq := &associate{
		protocolVersion: 1, calledAE: calledAE, callingAE: callingAE, appContext: ApplicationContextName,
		maxLength: o.MaxPDULength, implClassUID: dicom.ImplementationClassUID, implVersion: dicom.ImplementationVersionName,
	}
	for i, c := range contexts {
		if c.AbstractSyntax == "" || len(c.TransferSyntaxes) == 0 {
			return nil, fmt.Errorf("dimse: presentation context %d needs an abstract syntax and transfer syntaxes", i)
		}
		rq.contexts = append(rq.contexts, presCtx{id: byte(2*i + 1), abstractSyntax: c.AbstractSyntax, transferSyntaxes: c.TransferSyntaxes})
	}
	dctx, cancel := context.WithTimeout(ctx, o.AssociateTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dimse: dialing %s: %w", addr, err)
	}
	deadline, _ := dctx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	fail := func(err error) (*Association, error) {
		_ = nc.Close()
		return nil, err
	}
	if _, err := nc.Write(rq.encode(pduAssociateRQ)); err != nil {
		return fail(fmt.Errorf("dimse: sending A-ASSOCIATE-RQ to %s: %w", addr, err))
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	typ, body, err := readPDU(br, 0, nil)
	if err != nil {
		return fail(fmt.Errorf("dimse: reading A-ASSOCIATE answer from %s: %w", addr, err))
	}
	switch typ {
	case pduAssociateAC:
	case pduAssociateRJ:
		return fail(&RejectError{Result: body[1], Source: body[2], Reason: body[3]})
	case pduAbort:
		return fail(&AbortError{Source: body[2], Reason: body[3]})
	default:
		_, _ = nc.Write(encodeAbort(2, abortUnexpectedPDU))
		return fail(fmt.Errorf("dimse: answer to A-ASSOCIATE-RQ: %w", protoErr(abortUnexpectedPDU, "PDU type 0x%02x", typ)))
	}
	ac, err := decodeAssociate(typ, body)
	if err == nil && ac.maxLength != 0 && ac.maxLength < minSendLength {
		err = protoErr(abortInvalidParam, "peer maximum length %d too small", ac.maxLength)
	}
	if err != nil {
		_, _ = nc.Write(encodeAbort(2, abortReasonOf(err)))
		return fail(fmt.Errorf("dimse: A-ASSOCIATE-AC from %s: %w", addr, err))
	}
	ctxs := map[byte]acceptedContext{}
	for _, pc := range ac.contexts {
		if pc.result != pcAccepted || pc.id%2 == 0 || int(pc.id/2) >= len(contexts) || len(pc.transferSyntaxes) != 1 {
			continue
		}
		prop := contexts[pc.id/2]
		ts := pc.transferSyntaxes[0]
		if !containsString(prop.TransferSyntaxes, ts) {
			_, _ = nc.Write(encodeAbort(2, abortInvalidParam))
			return fail(fmt.Errorf("dimse: A-ASSOCIATE-AC from %s: %w", addr, protoErr(abortInvalidParam, "context %d accepted with transfer syntax %s, which was not proposed", pc.id, ts)))
		}
		ctxs[pc.id] = acceptedContext{id: pc.id, abstractSyntax: prop.AbstractSyntax, transferSyntax: ts}
	}
	if len(ctxs) == 0 {
		_, _ = nc.Write(encodeAbort(0, 0))
		return fail(fmt.Errorf("dimse: %s accepted none of the %d presentation contexts", addr, len(contexts)))
	}
	_ = nc.SetDeadline(time.Time{})
	a := newAssoc(nc, br, o.Logger.With("remote", addr, "called", calledAE), o.MaxPDULength, ac.maxLength, o.WriteTimeout, ctxs)
	a.start()
	return &Association{a: a, opts: o, nextMsgID: 1, CallingAE: callingAE, CalledAE: calledAE,
		PeerImplementationClassUID: ac.implClassUID, PeerImplementationVersion: ac.implVersion}, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AcceptedTransferSyntaxes returns the transfer syntaxes the peer accepted for an
// abstract syntax, one per accepted context, in the order proposed.
func (as *Association) AcceptedTransferSyntaxes(abstractSyntax string) []string {
	var out []string
	for id := byte(1); id < 255; id += 2 {
		if pc, ok := as.a.ctxs[id]; ok && pc.abstractSyntax == abstractSyntax {
			out = append(out, pc.transferSyntax)
		}
	}
	return out
}

// MaxSendLength returns the P-DATA-TF length messages to the peer are cut to.
func (as *Association) MaxSendLength() uint32 { return as.a.maxSend }

// ErrNoContext is returned for an operation no accepted presentation context allows.
var ErrNoContext = errors.New("dimse: no accepted presentation context")

// context finds the accepted context for an abstract syntax and, if not empty, a transfer
// syntax.
func (as *Association) context(abstract, ts string) (acceptedContext, error) {
	for id := byte(1); id < 255; id += 2 {
		if pc, ok := as.a.ctxs[id]; ok && pc.abstractSyntax == abstract && (ts == "" || pc.transferSyntax == ts) {
			return pc, nil
		}
	}
	if ts == "" {
		return acceptedContext{}, fmt.Errorf("%w for %s", ErrNoContext, abstract)
	}
	return acceptedContext{}, fmt.Errorf("%w for %s in %s", ErrNoContext, abstract, ts)
}

// begin takes the operation lock and a message ID.
func (as *Association) begin() (uint16, error) {
	as.mu.Lock()
	if as.dead != nil {
		as.mu.Unlock()
		return 0, as.dead
	}
	id := as.nextMsgID
	as.nextMsgID++
	if as.nextMsgID == 0 {
		as.nextMsgID = 1
	}
	return id, nil
}

// fail marks the association unusable after err, aborting it unless the peer did.
func (as *Association) fail(err error) error {
	if as.dead == nil {
		as.dead = fmt.Errorf("dimse: association ended: %w", err)
		var ae *AbortError
		if !errors.As(err, &ae) {
			as.a.abort(false, abortReasonOf(err))
		}
		as.a.close()
	}
	return err
}

// Echo sends a C-ECHO request and waits for its response.
func (as *Association) Echo(ctx context.Context) error {
	pc, err := as.context(VerificationSOPClass, "")
	if err != nil {
		return err
	}
	id, err := as.begin()
	if err != nil {
		return err
	}
	defer as.mu.Unlock()
	if err := as.a.sendMessage(pc.id, &command{field: cEchoRQ, messageID: id, sopClassUID: VerificationSOPClass}, nil); err != nil {
		return as.fail(fmt.Errorf("dimse: C-ECHO: %w", err))
	}
	rsp, _, err := as.response(ctx, cEchoRSP, id, nil)
	if err != nil {
		return fmt.Errorf("dimse: C-ECHO: %w", err)
	}
	if !rsp.status.IsSuccess() {
		return fmt.Errorf("dimse: C-ECHO: status %v", rsp.status)
	}
	return nil
}

// Store sends a C-STORE request for the data set read from data (bare: no preamble or meta
// group; in the encoding of transferSyntaxUID, deflated for deflate) on a context accepted
// for sopClassUID and transferSyntaxUID, and returns the response's status. A failure
// status is not an error; an error means the association failed.
func (as *Association) Store(ctx context.Context, sopClassUID, sopInstanceUID, transferSyntaxUID string, data io.Reader) (Status, error) {
	pc, err := as.context(sopClassUID, transferSyntaxUID)
	if err != nil {
		return 0, err
	}
	id, err := as.begin()
	if err != nil {
		return 0, err
	}
	defer as.mu.Unlock()
	cmd := &command{field: cStoreRQ, messageID: id, sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID}
	if err := as.a.sendMessage(pc.id, cmd, data); err != nil {
		return 0, as.fail(fmt.Errorf("dimse: C-STORE %s: %w", sopInstanceUID, err))
	}
	rsp, _, err := as.response(ctx, cStoreRSP, id, nil)
	if err != nil {
		return 0, fmt.Errorf("dimse: C-STORE %s: %w", sopInstanceUID, err)
	}
	return rsp.status, nil
}

// StoreFile sends a Part 10 file with C-STORE, its data set byte for byte as in the file,
// taking the SOP class, instance and transfer syntax from its meta group.
func (as *Association) StoreFile(ctx context.Context, path string) (Status, error) {
	f, closer, err := dicom.ParseFile(path, dicom.ParseOptions{})
	if err != nil {
		return 0, fmt.Errorf("dimse: reading %s: %w", path, err)
	}
	defer closer.Close()
	if f.Meta == nil || f.Preamble == nil {
		return 0, fmt.Errorf("dimse: %s has no Part 10 file meta group", path)
	}
	cls := f.Meta.Text(dicom.NewTag(2, 2))
	inst := f.Meta.Text(dicom.NewTag(2, 3))
	var n countWriter
	if _, err := f.Meta.WriteTo(&n); err != nil {
		return 0, fmt.Errorf("dimse: measuring meta group of %s: %w", path, err)
	}
	r, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("dimse: opening %s: %w", path, err)
	}
	defer r.Close()
	st, err := r.Stat()
	if err != nil {
		return 0, fmt.Errorf("dimse: %s: %w", path, err)
	}
	off := 132 + int64(n)
	return as.Store(ctx, cls, inst, f.TS.UID, io.NewSectionReader(r, off, st.Size()-off-f.TrailingPadding()))
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// Find sends a C-FIND request with the identifier (in the encoding of the context's
// transfer syntax) for the information model sopClassUID (StudyRootFind or
// PatientRootFind) and calls yield for each pending response's identifier. When yield
// returns an error, a C-CANCEL is sent, the remaining responses are read and dropped, and
// Find returns the final status with yield's error.
func (as *Association) Find(ctx context.Context, sopClassUID string, identifier *dicom.Dataset, yield func(*dicom.Dataset) error) (Status, error) {
	pc, err := as.context(sopClassUID, "")
	if err != nil {
		return 0, err
	}
	ts := dicom.TransferSyntaxFor(pc.transferSyntax)
	if identifier == nil || identifier.Implicit() != ts.Implicit {
		return 0, fmt.Errorf("dimse: C-FIND: identifier must be encoded in %s", ts.UID)
	}
	var buf bytes.Buffer
	if _, err := identifier.WriteTo(&buf); err != nil {
		return 0, fmt.Errorf("dimse: C-FIND: encoding identifier: %w", err)
	}
	id, err := as.begin()
	if err != nil {
		return 0, err
	}
	defer as.mu.Unlock()
	if err := as.a.sendMessage(pc.id, &command{field: cFindRQ, messageID: id, sopClassUID: sopClassUID}, &buf); err != nil {
		return 0, as.fail(fmt.Errorf("dimse: C-FIND: %w", err))
	}
	var yieldErr error
	for {
		rsp, data, err := as.response(ctx, cFindRSP, id, func() io.Writer { return &limitedBuffer{max: MaxIdentifierLength} })
		if err != nil {
			return 0, fmt.Errorf("dimse: C-FIND: %w", err)
		}
		if !rsp.status.IsPending() {
			return rsp.status, yieldErr
		}
		if yieldErr != nil {
			continue
		}
		var ds *dicom.Dataset
		if lb, ok := data.(*limitedBuffer); ok && lb.Len() > 0 {
			b := lb.Bytes()
			ds, err = dicom.ParseDataset(bytes.NewReader(b), int64(len(b)), ts, findParseOptions)
			if err != nil {
				yieldErr = fmt.Errorf("dimse: C-FIND: parsing pending response: %w", err)
			}
		}
		if yieldErr == nil {
			yieldErr = yield(ds)
		}
		if yieldErr != nil {
			if err := as.a.sendMessage(pc.id, &command{field: cCancelRQ, respondedTo: id}, nil); err != nil {
				return 0, as.fail(fmt.Errorf("dimse: C-CANCEL: %w", err))
			}
		}
	}
}

// FindAll is Find collecting every match.
func (as *Association) FindAll(ctx context.Context, sopClassUID string, identifier *dicom.Dataset) ([]*dicom.Dataset, Status, error) {
	var out []*dicom.Dataset
	st, err := as.Find(ctx, sopClassUID, identifier, func(ds *dicom.Dataset) error {
		out = append(out, ds)
		return nil
	})
	return out, st, err
}

// response reads PDUs until the response with field to message id is complete; its data
// set, if any, goes to the writer sink returns (discarded when sink is nil). Any other
// message, a release request or a protocol error ends the association.
func (as *Association) response(ctx context.Context, field, id uint16, sink func() io.Writer) (*command, io.Writer, error) {
	var w io.Writer
	asm := &assembler{validCtx: as.a.validCtx, sink: func(byte, *command) io.Writer {
		if sink == nil {
			return nil
		}
		w = sink()
		return w
	}}
	for {
		ev, err := as.a.next(ctx, as.opts.ResponseTimeout)
		if err != nil {
			return nil, nil, as.fail(err)
		}
		if ev.err != nil {
			return nil, nil, as.fail(ev.err)
		}
		switch ev.typ {
		case pduPDataTF:
			var got *message
			err := parsePDVs(ev.body, func(p pdv) error {
				m, err := asm.add(p)
				if err != nil || m == nil {
					return err
				}
				if m.cmd.field != field || m.cmd.respondedTo != id || got != nil {
					return protoErr(abortUnexpectedParam, "unexpected message 0x%04x (responding to %d), want 0x%04x for %d", m.cmd.field, m.cmd.respondedTo, field, id)
				}
				got = m
				return nil
			})
			as.a.recycle(ev.body)
			if err != nil {
				return nil, nil, as.fail(err)
			}
			if got != nil {
				if got.sinkErr != nil {
					return nil, nil, as.fail(protoErr(abortNotSpecified, "response data set: %v", got.sinkErr))
				}
				return got.cmd, w, nil
			}
		case pduAbort:
			return nil, nil, as.fail(&AbortError{Source: ev.body[2], Reason: ev.body[3]})
		default:
			return nil, nil, as.fail(protoErr(abortUnexpectedPDU, "PDU type 0x%02x while waiting for a response", ev.typ))
		}
	}
}

// Release asks the peer to release the association (A-RELEASE-RQ), waits for its
// A-RELEASE-RP at most the associate timeout, and closes the connection.
func (as *Association) Release(ctx context.Context) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.dead != nil {
		return as.dead
	}
	as.dead = errors.New("dimse: association released")
	defer as.a.close()
	if err := as.a.write(encodeRelease(pduReleaseRQ)); err != nil {
		return fmt.Errorf("dimse: sending A-RELEASE-RQ: %w", err)
	}
	for {
		ev, err := as.a.next(ctx, as.opts.AssociateTimeout)
		if err != nil {
			as.a.abort(false, abortNotSpecified)
			return fmt.Errorf("dimse: waiting for A-RELEASE-RP: %w", err)
		}
		if ev.err != nil {
			return fmt.Errorf("dimse: waiting for A-RELEASE-RP: %w", ev.err)
		}
		switch ev.typ {
		case pduReleaseRP:
			return nil
		case pduAbort:
			return &AbortError{Source: ev.body[2], Reason: ev.body[3]}
		case pduPDataTF:
			as.a.recycle(ev.body) // late data: ignored while releasing
		default:
			as.a.abort(false, abortUnexpectedPDU)
			return fmt.Errorf("dimse: waiting for A-RELEASE-RP: %w", protoErr(abortUnexpectedPDU, "PDU type 0x%02x", ev.typ))
		}
	}
}

// Abort sends an A-ABORT (service user) and closes the connection.
// It does not wait for an operation in progress, which fails.
func (as *Association) Abort() {
	as.a.abort(true, 0)
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.dead == nil {
		as.dead = errors.New("dimse: association aborted")
	}
}
