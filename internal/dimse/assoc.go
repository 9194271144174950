package dimse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// acceptedContext is a presentation context accepted on an association.
type acceptedContext struct {
	id             byte
	abstractSyntax string
	transferSyntax string
}

// pduEvent is one PDU (or the error that ended reading) from the reader goroutine.
type pduEvent struct {
	typ  byte
	body []byte
	err  error
}

// errTimeout is returned by next when no PDU arrived in time.
var errTimeout = errors.New("timed out waiting for a PDU")

// assoc is an established association, shared by the SCP and SCU sides: the connection,
// the negotiated limits and contexts, and a goroutine that reads PDUs so that the owner
// can wait for a PDU, a timer and its own work at once (C-CANCEL during C-FIND).
type assoc struct {
	nc           net.Conn
	br           *bufio.Reader
	log          *slog.Logger
	maxRecv      uint32 // the P-DATA-TF length this side announced
	maxSend      uint32 // the P-DATA-TF length the peer announced (0 replaced)
	writeTimeout time.Duration
	ctxs         map[byte]acceptedContext

	events     chan pduEvent
	free       chan []byte
	stop       chan struct{}
	readerDone chan struct{}
	closeOnce  sync.Once
	wbuf       []byte
}

func newAssoc(nc net.Conn, br *bufio.Reader, log *slog.Logger, maxRecv, peerMax uint32, writeTimeout time.Duration, ctxs map[byte]acceptedContext) *assoc {
	maxSend := min(peerMax, MaxPDULengthLimit)
	if peerMax == 0 {
		maxSend = unlimitedSendLength
	}
	return &assoc{
		nc: nc, br: br, log: log, maxRecv: maxRecv, maxSend: maxSend, writeTimeout: writeTimeout, ctxs: ctxs,
		events: make(chan pduEvent), free: make(chan []byte, 2), stop: make(chan struct{}), readerDone: make(chan struct{}),
	}
}

// start launches the reader goroutine; close stops it.
func (a *assoc) start() {
	_ = a.nc.SetReadDeadline(time.Time{})
	go a.readLoop()
}

func (a *assoc) readLoop() {
	defer close(a.readerDone)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		default:
		}
		typ, body, err := readPDU(a.br, a.maxRecv, buf)
		select {
		case a.events <- pduEvent{typ: typ, body: body, err: err}:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// recycle gives the body of a processed P-DATA-TF back to the reader.
func (a *assoc) recycle(b []byte) {
	if b == nil {
		return
	}
	select {
	case a.free <- b[:0]:
	default:
	}
}

// next waits for the next PDU, at most timeout (0: no limit) and until ctx ends.
func (a *assoc) next(ctx context.Context, timeout time.Duration) (pduEvent, error) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case ev := <-a.events:
		return ev, nil
	case <-tc:
		return pduEvent{}, errTimeout
	case <-ctx.Done():
		return pduEvent{}, ctx.Err()
	}
}

// write sends bytes with the write timeout.
func (a *assoc) write(b []byte) error {
	if a.writeTimeout > 0 {
		_ = a.nc.SetWriteDeadline(time.Now().Add(a.writeTimeout))
	}
	_, err := a.nc.Write(b)
	return err
}

// sendMessage sends a command set and, when data is not nil, a data set read from data,
// in P-DATA-TF PDUs that fit the peer's maximum length (one PDV per PDU).
func (a *assoc) sendMessage(ctxID byte, cmd *command, data io.Reader) error {
	cmd.hasDataSet = data != nil
	cb, err := cmd.encode()
	if err != nil {
		return err
	}
	frag := int(a.maxSend) - 6
	if err := a.sendFragments(ctxID, true, cb, frag); err != nil {
		return fmt.Errorf("sending command: %w", err)
	}
	if data == nil {
		return nil
	}
	if cap(a.wbuf) < 12+frag {
		a.wbuf = make([]byte, 0, 12+frag)
	}
	br := bufio.NewReaderSize(data, 64<<10)
	buf := a.wbuf[:12+frag]
	for {
		n, err := io.ReadFull(br, buf[12:])
		last := false
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			last = true
		case err != nil:
			return fmt.Errorf("reading data set to send: %w", err)
		default:
			if _, perr := br.Peek(1); perr == io.EOF {
				last = true
			} else if perr != nil {
				return fmt.Errorf("reading data set to send: %w", perr)
			}
		}
		hdr := appendPDataHeader(buf[:0], ctxID, false, last, n)
		if err := a.write(buf[:len(hdr)+n]); err != nil {
			return fmt.Errorf("sending data set: %w", err)
		}
		if last {
			return nil
		}
	}
}

func (a *assoc) sendFragments(ctxID byte, command bool, b []byte, frag int) error {
	for {
		n := min(len(b), frag)
		last := n == len(b)
		out := appendPDataHeader(make([]byte, 0, 12+n), ctxID, command, last, n)
		if err := a.write(append(out, b[:n]...)); err != nil {
			return err
		}
		if last {
			return nil
		}
		b = b[n:]
	}
}

// abort sends an A-ABORT (source 2, service provider, with reason; or source 0, service
// user, when user is true) and closes the connection.
func (a *assoc) abort(user bool, reason byte) {
	src := byte(2)
	if user {
		src, reason = 0, 0
	}
	_ = a.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = a.nc.Write(encodeAbort(src, reason))
	a.close()
}

// close closes the connection and waits for the reader goroutine to end.
func (a *assoc) close() {
	a.closeOnce.Do(func() {
		close(a.stop)
		_ = a.nc.Close()
		<-a.readerDone
	})
}

// waitClose waits, at most timeout, for the peer to close the connection (after a
// release), then closes it.
func (a *assoc) waitClose(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev := <-a.events:
			if ev.err != nil {
				a.close()
				return
			}
		case <-t.C:
			a.close()
			return
		}
	}
}

// validCtx reports whether id is an accepted presentation context.
func (a *assoc) validCtx(id byte) bool {
	_, ok := a.ctxs[id]
	return ok
}
