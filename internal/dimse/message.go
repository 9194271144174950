package dimse

import (
	"bytes"
	"errors"
	"io"
)

// message is a DIMSE message whose command set is complete and whose data set, if any, has
// been written to the sink chosen for it.
type message struct {
	ctxID   byte
	cmd     *command
	dataLen int64
	sinkErr error // the first error of the sink; the rest of the data set was discarded
}

// assembler puts DIMSE messages together from PDVs (PS3.7 6.3.1, PS3.8 9.3.5): the
// fragments of a command set, all on one presentation context and each flagged as command,
// then, when the command says so, the fragments of its data set on the same context.
type assembler struct {
	// validCtx reports whether a presentation context ID was accepted.
	validCtx func(byte) bool
	// sink returns where the data set of a command goes; nil means io.Discard.
	sink func(ctxID byte, cmd *command) io.Writer

	started bool
	inData  bool
	ctxID   byte
	cmdBuf  []byte
	cur     *message
	w       io.Writer
}

// busy reports whether a message is partly received.
func (a *assembler) busy() bool { return a.started }

// add takes one PDV and returns the message it completes, if any.
func (a *assembler) add(p pdv) (*message, error) {
	if a.validCtx != nil && !a.validCtx(p.ctxID) {
		return nil, protoErr(abortInvalidParam, "PDV on presentation context %d, which was not accepted", p.ctxID)
	}
	if a.started && p.ctxID != a.ctxID {
		return nil, protoErr(abortUnexpectedParam, "PDV on presentation context %d in a message on context %d", p.ctxID, a.ctxID)
	}
	if !a.started {
		a.started, a.ctxID, a.cmdBuf = true, p.ctxID, a.cmdBuf[:0]
	}
	if !a.inData {
		if !p.command {
			return nil, protoErr(abortUnexpectedParam, "data PDV before the command set is complete")
		}
		if len(a.cmdBuf)+len(p.value) > MaxCommandLength {
			return nil, protoErr(abortInvalidParam, "command set longer than %d bytes", MaxCommandLength)
		}
		a.cmdBuf = append(a.cmdBuf, p.value...)
		if !p.last {
			return nil, nil
		}
		cmd, err := decodeCommand(a.cmdBuf)
		if err != nil {
			return nil, err
		}
		a.cur = &message{ctxID: a.ctxID, cmd: cmd}
		if !cmd.hasDataSet {
			return a.finish(), nil
		}
		a.inData = true
		a.w = nil
		if a.sink != nil {
			a.w = a.sink(a.ctxID, cmd)
		}
		if a.w == nil {
			a.w = io.Discard
		}
		return nil, nil
	}
	if p.command {
		return nil, protoErr(abortUnexpectedParam, "command PDV inside a data set")
	}
	a.cur.dataLen += int64(len(p.value))
	if a.cur.sinkErr == nil {
		if _, err := a.w.Write(p.value); err != nil {
			a.cur.sinkErr = err
		}
	}
	if p.last {
		return a.finish(), nil
	}
	return nil, nil
}

func (a *assembler) finish() *message {
	m := a.cur
	a.started, a.inData, a.cur, a.w = false, false, nil, nil
	if cap(a.cmdBuf) > 4096 {
		a.cmdBuf = nil
	}
	return m
}

// errTooLong is the error of a limitedBuffer that is full.
var errTooLong = errors.New("data set longer than the limit")

// limitedBuffer keeps up to max bytes and fails beyond.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}
