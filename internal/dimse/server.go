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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// Config configures a Server. The zero value of each field means its default.
type Config struct {
	// AETitle is this SCP's AE title (at most 16 characters); default "CIE".
	AETitle string
	// AllowedCallingAETitles lists the calling AE titles accepted; empty means any. Others
	// get A-ASSOCIATE-RJ "calling AE title not recognized".
	AllowedCallingAETitles []string
	// RequireCalledAETitle rejects associations whose called AE title is not AETitle
	// (A-ASSOCIATE-RJ "called AE title not recognized"); by default any is accepted.
	RequireCalledAETitle bool
	// MaxPDULength is the maximum P-DATA-TF length announced and accepted; default
	// DefaultMaxPDULength, at most MaxPDULengthLimit.
	MaxPDULength uint32
	// AssociateTimeout (ARTIM) bounds the wait for the A-ASSOCIATE-RQ after connect and
	// for the peer to close after a release; default 30 s.
	AssociateTimeout time.Duration
	// IdleTimeout bounds the wait for the next PDU on an established association; the
	// association is aborted after it. Default 5 minutes.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the peer; default 1 minute.
	WriteTimeout time.Duration
	// MaxAssociations bounds concurrent associations; more are rejected (transient, local
	// limit exceeded). Default 32.
	MaxAssociations int
	// SpoolDir holds C-STORE data sets while they arrive; default os.TempDir().
	SpoolDir string
	// MemorySpool is the size up to which a C-STORE data set is kept in memory instead
	// (one buffer per association, reused); a larger one moves to the spool file once it
	// outgrows it. Default 4 MiB; negative: always the spool file.
	MemorySpool int64
	// MaxStoreSize bounds the data set of one C-STORE; larger ones are received, discarded
	// and answered StatusOutOfResources. Default 16 GiB.
	MaxStoreSize int64
	// TransferSyntaxes are the transfer syntaxes accepted for storage; default
	// DefaultTransferSyntaxes. Verification and C-FIND use the uncompressed ones.
	TransferSyntaxes []string
}

func (c Config) withDefaults() (Config, error) {
	if c.AETitle == "" {
		c.AETitle = "CIE"
	}
	if len(c.AETitle) > 16 {
		return c, fmt.Errorf("dimse: AE title %q is longer than 16 characters", c.AETitle)
	}
	if c.MaxPDULength == 0 {
		c.MaxPDULength = DefaultMaxPDULength
	}
	if c.MaxPDULength < 1024 || c.MaxPDULength > MaxPDULengthLimit {
		return c, fmt.Errorf("dimse: maximum PDU length %d outside [1024, %d]", c.MaxPDULength, MaxPDULengthLimit)
	}
	if c.AssociateTimeout <= 0 {
		c.AssociateTimeout = 30 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = time.Minute
	}
	if c.MaxAssociations <= 0 {
		c.MaxAssociations = 32
	}
	if c.SpoolDir == "" {
		c.SpoolDir = os.TempDir()
	}
	if c.MaxStoreSize <= 0 {
		c.MaxStoreSize = 16 << 30
	}
	if c.MemorySpool == 0 {
		c.MemorySpool = 4 << 20
	}
	if len(c.TransferSyntaxes) == 0 {
		c.TransferSyntaxes = DefaultTransferSyntaxes
	}
	return c, nil
}

// Server is a DICOM SCP: C-ECHO always, C-STORE when it has a StoreHandler, C-FIND when
// it has a FindHandler.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store StoreHandler
	find  FindHandler

	active  atomic.Int64 // established or negotiating associations
	pending atomic.Int64 // connections being handled, including ones to reject
	wg      sync.WaitGroup
}

// NewServer returns a Server; store and find may be nil (no storage, no query).
func NewServer(cfg Config, log *slog.Logger, store StoreHandler, find FindHandler) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log, store: store, find: find}, nil
}

// ListenAndServe listens on addr (host:port) and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dimse: listening on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx ends, then closes ln, aborts the associations
// still open and returns once every one has ended. It returns nil after ctx ended and the
// accept error otherwise.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	defer s.wg.Wait()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("dimse: accepting: %w", err)
		}
		n := s.pending.Add(1)
		if n > int64(2*s.cfg.MaxAssociations) {
			// Far over the limit: not even worth a reject.
			s.pending.Add(-1)
			_ = nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.pending.Add(-1)
			s.serveConn(ctx, nc)
		}()
	}
}

// serveConn runs one association from connect to close.
func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	log := s.log.With("remote", nc.RemoteAddr().String())
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) })
	defer stop()

	// ARTIM: the A-ASSOCIATE-RQ must arrive in time (PS3.8 9.1.5, state Sta2).
	_ = nc.SetReadDeadline(time.Now().Add(s.cfg.AssociateTimeout))
	br := bufio.NewReaderSize(nc, 64<<10)
	typ, body, err := readPDU(br, 0, nil)
	if err != nil {
		if errors.Is(err, ErrProtocol) {
			_ = writeWithTimeout(nc, encodeAbort(2, abortReasonOf(err)), time.Second)
		}
		log.Info("dimse: no association", "err", err)
		return
	}
	if typ != pduAssociateRQ {
		_ = writeWithTimeout(nc, encodeAbort(2, abortUnexpectedPDU), time.Second)
		log.Info("dimse: unexpected PDU before association", "type", typ)
		return
	}
	rq, err := decodeAssociate(typ, body)
	if err != nil {
		_ = writeWithTimeout(nc, encodeAbort(2, abortReasonOf(err)), time.Second)
		log.Info("dimse: malformed A-ASSOCIATE-RQ", "err", err)
		return
	}
	log = log.With("calling", rq.callingAE, "called", rq.calledAE)

	active := s.active.Add(1)
	defer s.active.Add(-1)
	reject := func(result, source, reason byte, why string) {
		log.Info("dimse: association rejected", "reason", why)
		_ = writeWithTimeout(nc, encodeReject(result, source, reason), s.cfg.WriteTimeout)
		// Give the peer the chance to read the reject before the close (ARTIM).
		_ = nc.SetReadDeadline(time.Now().Add(min(s.cfg.AssociateTimeout, time.Second)))
		_, _ = io.Copy(io.Discard, io.LimitReader(nc, 1<<20))
	}
	switch {
	case active > int64(s.cfg.MaxAssociations):
		reject(rjTransient, rjSourcePresent, rjLocalLimitExcd, "too many associations")
		return
	case rq.protocolVersion&1 == 0:
		reject(rjPermanent, rjSourceACSE, rjProtocolVer, "protocol version not supported")
		return
	case rq.appContext != ApplicationContextName:
		reject(rjPermanent, rjSourceUser, rjAppContext, "application context not supported: "+rq.appContext)
		return
	case len(s.cfg.AllowedCallingAETitles) > 0 && !slices.Contains(s.cfg.AllowedCallingAETitles, rq.callingAE):
		reject(rjPermanent, rjSourceUser, rjCallingAE, "calling AE title not allowed")
		return
	case s.cfg.RequireCalledAETitle && rq.calledAE != s.cfg.AETitle:
		reject(rjPermanent, rjSourceUser, rjCalledAE, "called AE title not recognized")
		return
	case rq.maxLength != 0 && rq.maxLength < minSendLength:
		reject(rjPermanent, rjSourceACSE, rjNoReason, fmt.Sprintf("maximum length %d too small", rq.maxLength))
		return
	}
	ac, ctxs := s.negotiate(rq)
	if err := writeWithTimeout(nc, ac.encode(pduAssociateAC), s.cfg.WriteTimeout); err != nil {
		log.Info("dimse: sending A-ASSOCIATE-AC", "err", err)
		return
	}
	a := newAssoc(nc, br, log, s.cfg.MaxPDULength, rq.maxLength, s.cfg.WriteTimeout, ctxs)
	a.start()
	defer a.close()
	log.Debug("dimse: association accepted", "contexts", len(ctxs), "peer_max_pdu", rq.maxLength, "peer_impl", rq.implClassUID)
	sess := &session{s: s, a: a, log: log, rq: rq}
	sess.run(ctx)
}

func writeWithTimeout(nc net.Conn, b []byte, d time.Duration) error {
	_ = nc.SetWriteDeadline(time.Now().Add(d))
	_, err := nc.Write(b)
	return err
}

// negotiate answers the proposed presentation contexts and role selections.
func (s *Server) negotiate(rq *associate) (*associate, map[byte]acceptedContext) {
	ac := &associate{
		protocolVersion: 1,
		calledAE:        rq.calledAE,
		callingAE:       rq.callingAE,
		appContext:      ApplicationContextName,
		maxLength:       s.cfg.MaxPDULength,
		implClassUID:    dicom.ImplementationClassUID,
		implVersion:     dicom.ImplementationVersionName,
	}
	ctxs := map[byte]acceptedContext{}
	seen := map[byte]bool{}
	accepted := map[string]bool{}
	for _, pc := range rq.contexts {
		if seen[pc.id] {
			continue
		}
		seen[pc.id] = true
		var supported []string
		switch {
		case pc.abstractSyntax == VerificationSOPClass:
			supported = uncompressedTS
		case (pc.abstractSyntax == StudyRootFind || pc.abstractSyntax == PatientRootFind) && s.find != nil:
			supported = uncompressedTS
		case IsStorageSOPClass(pc.abstractSyntax) && s.store != nil:
			supported = s.cfg.TransferSyntaxes
		}
		ans := presCtx{id: pc.id}
		if supported == nil {
			ans.result = pcAbstractNotSupported
			ans.transferSyntaxes = []string{""}
		} else if ts := chooseTS(pc.transferSyntaxes, supported); ts == "" {
			ans.result = pcTransferNotSupported
			ans.transferSyntaxes = []string{""}
		} else {
			ans.result = pcAccepted
			ans.transferSyntaxes = []string{ts}
			ctxs[pc.id] = acceptedContext{id: pc.id, abstractSyntax: pc.abstractSyntax, transferSyntax: ts}
			accepted[pc.abstractSyntax] = true
		}
		ac.contexts = append(ac.contexts, ans)
	}
	// SCP/SCU role selection (PS3.7 D.3.3.4): the requestor may be SCU, this side is
	// only ever SCP.
	for _, r := range rq.roles {
		if accepted[r.uid] {
			ac.roles = append(ac.roles, roleItem{uid: r.uid, scu: r.scu, scp: 0})
		}
	}
	return ac, ctxs
}

// chooseTS picks a transfer syntax among the proposed ones: the first one, in the
// requestor's order, that is supported, except that when it is an uncompressed one the
// best supported uncompressed one is taken (explicit VR little endian, then implicit, then
// explicit big endian). A requestor that lists a compressed syntax first (a file's own
// encoding, as storescu does) gets it, so nothing is transcoded on the way.
func chooseTS(proposed, supported []string) string {
	for _, p := range proposed {
		if !slices.Contains(supported, p) {
			continue
		}
		if !slices.Contains(uncompressedTS, p) {
			return p
		}
		for _, u := range uncompressedTS {
			if slices.Contains(proposed, u) && slices.Contains(supported, u) {
				return u
			}
		}
	}
	return ""
}

// session is the SCP side of one established association.
type session struct {
	s   *Server
	a   *assoc
	log *slog.Logger
	rq  *associate

	spool     *os.File
	spoolW    *bufio.Writer
	spoolN    int64
	mem       []byte // the data set while it fits in memSpool (inMem)
	inMem     bool
	ident     *limitedBuffer
	refuseMsg Status // set by sink when a store is refused before its data arrives
}

// run serves messages until release, abort, error or ctx end.
func (ss *session) run(ctx context.Context) {
	a := ss.a
	asm := &assembler{validCtx: a.validCtx, sink: ss.sink}
	defer ss.dropSpool()
	for {
		timeout := ss.s.cfg.IdleTimeout
		ev, err := a.next(ctx, timeout)
		if err != nil {
			ss.log.Info("dimse: aborting association", "err", err)
			a.abort(false, abortNotSpecified)
			return
		}
		if ev.err != nil {
			if errors.Is(ev.err, ErrProtocol) {
				ss.log.Info("dimse: protocol error, aborting", "err", ev.err)
				a.abort(false, abortReasonOf(ev.err))
			} else if !errors.Is(ev.err, io.EOF) {
				ss.log.Info("dimse: connection lost", "err", ev.err)
			}
			return
		}
		switch ev.typ {
		case pduPDataTF:
			err := parsePDVs(ev.body, func(p pdv) error {
				msg, err := asm.add(p)
				if err != nil || msg == nil {
					return err
				}
				return ss.handle(ctx, msg)
			})
			a.recycle(ev.body)
			if err != nil {
				ss.log.Info("dimse: aborting association", "err", err)
				a.abort(false, abortReasonOf(err))
				return
			}
		case pduReleaseRQ:
			if asm.busy() {
				ss.log.Info("dimse: release in the middle of a message, aborting")
				a.abort(false, abortUnexpectedPDU)
				return
			}
			if err := a.write(encodeRelease(pduReleaseRP)); err != nil {
				ss.log.Info("dimse: sending A-RELEASE-RP", "err", err)
				return
			}
			ss.log.Debug("dimse: association released")
			a.waitClose(ss.s.cfg.AssociateTimeout)
			return
		case pduAbort:
			ss.log.Info("dimse: association aborted by peer", "source", ev.body[2], "reason", ev.body[3])
			return
		default:
			ss.log.Info("dimse: unexpected PDU, aborting", "type", ev.typ)
			a.abort(false, abortUnexpectedPDU)
			return
		}
	}
}

// sink chooses where the data set of a command goes.
func (ss *session) sink(ctxID byte, cmd *command) io.Writer {
	ss.refuseMsg = StatusSuccess
	pc := ss.a.ctxs[ctxID]
	switch cmd.field {
	case cStoreRQ:
		if ss.s.store == nil || !IsStorageSOPClass(pc.abstractSyntax) {
			ss.refuseMsg = StatusUnrecognizedOperation
			return nil
		}
		if cmd.sopClassUID != pc.abstractSyntax {
			ss.refuseMsg = StatusSOPClassNotSupported
			return nil
		}
		ss.spoolN = 0
		ss.mem = ss.mem[:0]
		ss.inMem = true
		return spoolWriter{ss}
	case cFindRQ:
		ss.ident = &limitedBuffer{max: MaxIdentifierLength}
		return ss.ident
	}
	return nil
}

type spoolWriter struct{ ss *session }

func (w spoolWriter) Write(p []byte) (int, error) {
	ss := w.ss
	if ss.spoolN+int64(len(p)) > ss.s.cfg.MaxStoreSize {
		return 0, errTooLong
	}
	if ss.inMem {
		if int64(len(ss.mem)+len(p)) <= ss.s.cfg.MemorySpool {
			ss.mem = append(ss.mem, p...)
			ss.spoolN += int64(len(p))
			return len(p), nil
		}
		if err := ss.spill(); err != nil {
			return 0, err
		}
	}
	n, err := ss.spoolW.Write(p)
	ss.spoolN += int64(n)
	return n, err
}

// spill moves the data set received so far from memory to the spool file.
func (ss *session) spill() error {
	if err := ss.reuseSpool(); err != nil {
		ss.log.Error("dimse: spool file", "err", err)
		return err
	}
	if ss.spoolW == nil {
		ss.spoolW = bufio.NewWriterSize(ss.spool, 256<<10)
	} else {
		ss.spoolW.Reset(ss.spool)
	}
	ss.inMem = false
	if _, err := ss.spoolW.Write(ss.mem); err != nil {
		return fmt.Errorf("spooling: %w", err)
	}
	ss.mem = ss.mem[:0]
	return nil
}

// reuseSpool readies the spool file for the next data set: the association's file,
// emptied, when it is still at its path (creating and removing a file per instance costs
// more than the transfer of a small one), or a new one.
func (ss *session) reuseSpool() error {
	if ss.spool != nil {
		if err := ss.spool.Truncate(0); err == nil {
			if _, err := ss.spool.Seek(0, io.SeekStart); err == nil {
				return nil
			}
		}
		ss.dropSpool()
	}
	f, err := os.CreateTemp(ss.s.cfg.SpoolDir, "cie-dimse-*.spool")
	if err != nil {
		return fmt.Errorf("creating spool file: %w", err)
	}
	ss.spool = f
	return nil
}

// releaseSpool is called after a store handler returned: a spool file the handler moved
// away is given up (never truncated: it is the handler's now), one still in place is kept
// for the next instance.
func (ss *session) releaseSpool() {
	if ss.spool == nil {
		return
	}
	at, err1 := os.Stat(ss.spool.Name())
	own, err2 := ss.spool.Stat()
	if err1 != nil || err2 != nil || !os.SameFile(at, own) {
		_ = ss.spool.Close()
		ss.spool = nil
	}
}

// dropSpool closes and removes the spool file, if any.
func (ss *session) dropSpool() {
	if ss.spool == nil {
		return
	}
	name := ss.spool.Name()
	_ = ss.spool.Close()
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		ss.log.Warn("dimse: removing spool file", "path", name, "err", err)
	}
	ss.spool = nil
}

// handle serves one complete request.
func (ss *session) handle(ctx context.Context, msg *message) error {
	pc := ss.a.ctxs[msg.ctxID]
	cmd := msg.cmd
	switch cmd.field {
	case cEchoRQ:
		st := StatusSuccess
		if pc.abstractSyntax != VerificationSOPClass {
			st = StatusUnrecognizedOperation
		}
		return ss.respond(msg.ctxID, &command{field: cEchoRSP, respondedTo: cmd.messageID, sopClassUID: cmd.sopClassUID, status: st})
	case cStoreRQ:
		return ss.handleStore(ctx, msg, pc)
	case cFindRQ:
		return ss.handleFind(ctx, msg, pc)
	case cCancelRQ:
		return nil // nothing in progress to cancel
	}
	if cmd.field&0x8000 != 0 {
		ss.log.Info("dimse: ignoring unexpected response", "field", cmd.field)
		return nil
	}
	return ss.respond(msg.ctxID, &command{field: cmd.field | 0x8000, respondedTo: cmd.messageID, sopClassUID: cmd.sopClassUID, status: StatusUnrecognizedOperation})
}

func (ss *session) respond(ctxID byte, rsp *command) error {
	if err := ss.a.sendMessage(ctxID, rsp, nil); err != nil {
		return fmt.Errorf("sending response: %w", err)
	}
	return nil
}

func (ss *session) handleStore(ctx context.Context, msg *message, pc acceptedContext) error {
	cmd := msg.cmd
	rsp := &command{field: cStoreRSP, respondedTo: cmd.messageID, sopClassUID: cmd.sopClassUID, sopInstanceUID: cmd.sopInstanceUID}
	defer ss.releaseSpool()
	switch {
	case !cmd.hasDataSet:
		rsp.status = StatusMistypedArgument
		rsp.errorComment = "C-STORE-RQ without a data set"
	case ss.refuseMsg != StatusSuccess:
		rsp.status = ss.refuseMsg
	case msg.sinkErr != nil:
		ss.log.Warn("dimse: C-STORE data set not spooled", "sop_instance", cmd.sopInstanceUID, "err", msg.sinkErr)
		rsp.status = StatusOutOfResources
		rsp.errorComment = "data set not received: " + msg.sinkErr.Error()
	case cmd.sopInstanceUID == "":
		rsp.status = StatusMistypedArgument
		rsp.errorComment = "no Affected SOP Instance UID"
	}
	if rsp.status == StatusSuccess && !ss.inMem {
		if err := ss.spoolW.Flush(); err != nil {
			rsp.status = StatusOutOfResources
			rsp.errorComment = "spooling data set failed"
			ss.log.Warn("dimse: flushing spool file", "err", err)
		}
	}
	if rsp.status == StatusSuccess {
		req := &StoreRequest{
			CallingAE: ss.rq.callingAE, CalledAE: ss.rq.calledAE, RemoteAddr: ss.a.nc.RemoteAddr(),
			MessageID: cmd.messageID, SOPClassUID: cmd.sopClassUID, SOPInstanceUID: cmd.sopInstanceUID,
			TransferSyntax:   dicom.TransferSyntaxFor(pc.transferSyntax),
			MoveOriginatorAE: cmd.moveOriginatorAE, MoveOriginatorMessageID: cmd.moveOriginatorMessageID,
			Size: ss.spoolN,
		}
		if ss.inMem {
			req.Data = bytes.NewReader(ss.mem)
		} else {
			req.Data, req.Path = ss.spool, ss.spool.Name()
		}
		st, err := ss.s.store.Store(ctx, req)
		if err != nil {
			ss.log.Warn("dimse: store handler failed", "sop_instance", cmd.sopInstanceUID, "status", st, "err", err)
			if st == StatusSuccess {
				st = StatusProcessingFailure
			}
			rsp.errorComment = err.Error()
		}
		rsp.status = st
	}
	ss.log.Debug("dimse: C-STORE", "sop_class", cmd.sopClassUID, "sop_instance", cmd.sopInstanceUID, "bytes", msg.dataLen, "status", rsp.status)
	return ss.respond(msg.ctxID, rsp)
}

// findParseOptions bound a C-FIND identifier.
var findParseOptions = dicom.ParseOptions{BulkThreshold: MaxIdentifierLength, MaxDepth: 8, MaxElements: 1 << 14}

func (ss *session) handleFind(ctx context.Context, msg *message, pc acceptedContext) error {
	cmd := msg.cmd
	final := &command{field: cFindRSP, respondedTo: cmd.messageID, sopClassUID: cmd.sopClassUID}
	ts := dicom.TransferSyntaxFor(pc.transferSyntax)
	var ident *dicom.Dataset
	switch {
	case pc.abstractSyntax != StudyRootFind && pc.abstractSyntax != PatientRootFind:
		final.status = StatusUnrecognizedOperation
	case !cmd.hasDataSet:
		final.status = StatusDataSetMismatch
		final.errorComment = "C-FIND-RQ without an identifier"
	case msg.sinkErr != nil:
		final.status = StatusOutOfResources
		final.errorComment = "identifier too long"
	default:
		var err error
		b := ss.ident.Bytes()
		ident, err = dicom.ParseDataset(bytes.NewReader(b), int64(len(b)), ts, findParseOptions)
		if err != nil {
			final.status = StatusCannotUnderstand
			final.errorComment = "identifier: " + err.Error()
		}
	}
	ss.ident = nil
	if ident == nil {
		return ss.respond(msg.ctxID, final)
	}
	req := &FindRequest{
		CallingAE: ss.rq.callingAE, CalledAE: ss.rq.calledAE, RemoteAddr: ss.a.nc.RemoteAddr(),
		MessageID: cmd.messageID, SOPClassUID: pc.abstractSyntax,
		Level:      strings.ToUpper(ident.Text(tags.QueryRetrieveLevel)),
		Identifier: ident, TransferSyntax: ts,
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		st  Status
		err error
	}
	matches := make(chan *dicom.Dataset)
	ack := make(chan error)
	done := make(chan result, 1)
	var canceled atomic.Bool
	go func() {
		st, err := ss.s.find.Find(fctx, req, func(ds *dicom.Dataset) error {
			if ds == nil || ds.Implicit() != ts.Implicit || (ds.ByteOrder().String() == "BigEndian") != ts.BigEndian {
				return fmt.Errorf("dimse: identifier not in the encoding of %s (use FindRequest.NewIdentifier)", ts.UID)
			}
			select {
			case matches <- ds:
			case <-fctx.Done():
				if canceled.Load() {
					return ErrCanceled
				}
				return fctx.Err()
			}
			return <-ack
		})
		done <- result{st, err}
	}()
	// The association stays readable while the handler runs, for C-CANCEL (PS3.7 9.3.2.3).
	cancelAsm := &assembler{validCtx: ss.a.validCtx}
	var connErr error
	for {
		select {
		case ds := <-matches:
			var buf bytes.Buffer
			err := connErr
			if err == nil {
				if _, err = ds.WriteTo(&buf); err == nil {
					err = ss.a.sendMessage(msg.ctxID, &command{field: cFindRSP, respondedTo: cmd.messageID, sopClassUID: cmd.sopClassUID, status: StatusPending}, &buf)
				}
				if err != nil {
					connErr = fmt.Errorf("sending C-FIND pending response: %w", err)
					cancel()
				}
			}
			ack <- err
		case r := <-done:
			if connErr != nil {
				return connErr
			}
			final.status = r.st
			if canceled.Load() {
				final.status = StatusCancel
			} else if r.err != nil {
				ss.log.Warn("dimse: find handler failed", "err", r.err)
				if final.status == StatusSuccess || final.status.IsPending() {
					final.status = StatusCannotUnderstand
				}
				final.errorComment = r.err.Error()
			}
			return ss.respond(msg.ctxID, final)
		case ev := <-ss.a.events:
			err := ss.duringFind(ev, cancelAsm, cmd.messageID, func() { canceled.Store(true); cancel() })
			if err != nil && connErr == nil {
				connErr = err
				cancel()
				// Wait for the handler to see the cancel, then report.
			}
			if err != nil {
				// Keep serving matches/done until the handler returns.
				for {
					select {
					case <-matches:
						ack <- connErr
					case <-done:
						return connErr
					}
				}
			}
		}
	}
}

// duringFind handles a PDU that arrives while a C-FIND runs: a C-CANCEL for it cancels
// it; anything but P-DATA ends the association.
func (ss *session) duringFind(ev pduEvent, asm *assembler, msgID uint16, onCancel func()) error {
	if ev.err != nil {
		return fmt.Errorf("reading during C-FIND: %w", ev.err)
	}
	switch ev.typ {
	case pduPDataTF:
		err := parsePDVs(ev.body, func(p pdv) error {
			m, err := asm.add(p)
			if err != nil || m == nil {
				return err
			}
			if m.cmd.field == cCancelRQ && m.cmd.respondedTo == msgID {
				ss.log.Debug("dimse: C-FIND cancelled by peer", "message_id", msgID)
				onCancel()
				return nil
			}
			return protoErr(abortUnexpectedParam, "command 0x%04x while a C-FIND is in progress", m.cmd.field)
		})
		ss.a.recycle(ev.body)
		if err != nil {
			ss.a.abort(false, abortReasonOf(err))
		}
		return err
	case pduAbort:
		ss.a.close()
		return &AbortError{Source: ev.body[2], Reason: ev.body[3]}
	}
	ss.a.abort(false, abortUnexpectedPDU)
	return protoErr(abortUnexpectedPDU, "PDU type 0x%02x during C-FIND", ev.typ)
}
