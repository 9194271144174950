package dimse

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
)

// validRQ returns an A-ASSOCIATE-RQ proposing Verification.
func validRQ() []byte {
	rq := &associate{protocolVersion: 1, calledAE: "CIE", callingAE: "T", appContext: ApplicationContextName,
		maxLength: 16384, implClassUID: "1.2.3",
		contexts: []presCtx{{id: 1, abstractSyntax: VerificationSOPClass, transferSyntaxes: []string{dicom.ImplicitVRLittleEndianUID}}}}
	return rq.encode(pduAssociateRQ)
}

// exchange sends raw bytes to the server and returns the first PDU type it answers with
// (0 when it just closed), reading until the server closes the connection.
func exchange(t *testing.T, addr string, chunks ...[]byte) []byte {
	return exchangeHalf(t, addr, true, chunks...)
}

// exchangeHalf is exchange that, when closeWrite is false, keeps its side open.
func exchangeHalf(t *testing.T, addr string, closeWrite bool, chunks ...[]byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for _, b := range chunks {
		if _, err := c.Write(b); err != nil {
			break
		}
	}
	if len(chunks) > 0 && closeWrite {
		_ = c.(*net.TCPConn).CloseWrite() // the peer sees the end of what we send
	}
	var types []byte
	br := bufio.NewReader(c)
	for {
		typ, _, err := readPDU(br, MaxPDULengthLimit, nil)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return types
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server did not close the connection")
			}
			return types
		}
		types = append(types, typ)
	}
}

func pdata(ctxID byte, mch byte, value []byte) []byte {
	b := appendPDUHeader(nil, pduPDataTF, len(value)+6)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)+2))
	return append(append(b, ctxID, mch), value...)
}

func TestMalformedPDUs(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("cases", func(t *testing.T) {
		addr, _ := startServer(t, Config{AssociateTimeout: 500 * time.Millisecond}, &testStore{dir: t.TempDir()}, nil)
		rq := validRQ()
		huge := appendPDUHeader(nil, pduPDataTF, 1<<30)
		echo, _ := (&command{field: cEchoRQ, messageID: 1, sopClassUID: VerificationSOPClass}).encode()
		cases := []struct {
			name   string
			chunks [][]byte
			want   []byte // PDU types the server answers with, in order
		}{
			{"unknown PDU type", [][]byte{{0x09, 0, 0, 0, 0, 4, 0, 0, 0, 0}}, []byte{pduAbort}},
			{"P-DATA before association", [][]byte{pdata(1, 3, echo)}, []byte{pduAbort}},
			{"huge A-ASSOCIATE-RQ length", [][]byte{{0x01, 0, 0x7f, 0xff, 0xff, 0xff}}, []byte{pduAbort}},
			{"truncated A-ASSOCIATE-RQ", [][]byte{rq[:40]}, nil},
			{"A-ASSOCIATE-RQ item overrun", [][]byte{func() []byte {
				b := append([]byte(nil), rq...)
				binary.BigEndian.PutUint16(b[6+68+2:], 0xffff)
				return b
			}()}, []byte{pduAbort}},
			{"release PDU of length 5", [][]byte{rq, {0x05, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0}}, []byte{pduAssociateAC, pduAbort}},
			{"huge P-DATA length", [][]byte{rq, huge}, []byte{pduAssociateAC, pduAbort}},
			{"PDV on unknown context", [][]byte{rq, pdata(3, 3, echo)}, []byte{pduAssociateAC, pduAbort}},
			{"data PDV before command", [][]byte{rq, pdata(1, 2, echo)}, []byte{pduAssociateAC, pduAbort}},
			{"bad message control header", [][]byte{rq, pdata(1, 0xf3, echo)}, []byte{pduAssociateAC, pduAbort}},
			{"PDV length overrun", [][]byte{rq, func() []byte {
				b := pdata(1, 3, echo)
				binary.BigEndian.PutUint32(b[6:], 1000)
				return b
			}()}, []byte{pduAssociateAC, pduAbort}},
			{"garbage command set", [][]byte{rq, pdata(1, 3, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})}, []byte{pduAssociateAC, pduAbort}},
			{"command without command field", [][]byte{rq, pdata(1, 3, echo[:0])}, []byte{pduAssociateAC, pduAbort}},
			{"A-ASSOCIATE-RQ twice", [][]byte{rq, rq}, []byte{pduAssociateAC, pduAbort}},
			{"truncated P-DATA then close", [][]byte{rq, pdata(1, 3, echo)[:9]}, []byte{pduAssociateAC}},
			{"echo then release", [][]byte{rq, pdata(1, 3, echo), encodeRelease(pduReleaseRQ)}, []byte{pduAssociateAC, pduPDataTF, pduReleaseRP}},
			{"ARTIM: nothing sent", nil, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := exchange(t, addr, tc.chunks...)
				if string(got) != string(tc.want) {
					t.Fatalf("server answered PDU types %v, want %v", got, tc.want)
				}
			})
		}
	})
	// Every goroutine of the server is gone.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestIdleTimeoutAborts(t *testing.T) {
	addr, _ := startServer(t, Config{IdleTimeout: 200 * time.Millisecond}, nil, nil)
	start := time.Now()
	got := exchangeHalf(t, addr, false, validRQ())
	if string(got) != string([]byte{pduAssociateAC, pduAbort}) {
		t.Fatalf("got %v, want AC then A-ABORT", got)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("aborted before the idle timeout")
	}
}

func TestMaxAssociations(t *testing.T) {
	addr, _ := startServer(t, Config{MaxAssociations: 2}, nil, nil)
	ctx := context.Background()
	pcs := []PresentationContext{{VerificationSOPClass, uncompressedTS}}
	var open []*Association
	for i := 0; i < 2; i++ {
		as, err := Dial(ctx, addr, "SCU", "CIE", pcs, nil)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, as)
	}
	_, err := Dial(ctx, addr, "SCU", "CIE", pcs, nil)
	var rj *RejectError
	if !errors.As(err, &rj) || rj.Result != 2 || rj.Source != 3 || rj.Reason != 2 {
		t.Fatalf("third association: %v, want transient reject, local limit exceeded", err)
	}
	// The open ones still work concurrently; after one is released a new one is accepted.
	errs := make(chan error, 2)
	for _, as := range open {
		go func() { errs <- as.Echo(ctx) }()
	}
	for range open {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := open[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	var as *Association
	for i := 0; i < 50; i++ { // the server counts the released one until its goroutine ends
		if as, err = Dial(ctx, addr, "SCU", "CIE", pcs, nil); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	as.Abort()
	open[1].Abort()
}

func TestNegotiation(t *testing.T) {
	s, err := NewServer(Config{}, nil, &testStore{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rq := &associate{contexts: []presCtx{
		{id: 1, abstractSyntax: "1.2.840.10008.5.1.4.1.1.2", transferSyntaxes: []string{dicom.ImplicitVRLittleEndianUID, dicom.ExplicitVRBigEndianUID, dicom.ExplicitVRLittleEndianUID}},
		{id: 3, abstractSyntax: "1.2.840.10008.5.1.4.1.1.2", transferSyntaxes: []string{JPEG2000LosslessUID, dicom.ExplicitVRLittleEndianUID}},
		{id: 5, abstractSyntax: "1.2.3.4", transferSyntaxes: []string{dicom.ImplicitVRLittleEndianUID}},
		{id: 7, abstractSyntax: StudyRootFind, transferSyntaxes: []string{dicom.ImplicitVRLittleEndianUID}},
		{id: 9, abstractSyntax: "1.2.840.10008.5.1.4.1.1.4", transferSyntaxes: []string{"1.2.3.99"}},
		{id: 11, abstractSyntax: "1.2.840.10008.5.1.4.1.1.6", transferSyntaxes: []string{dicom.DeflatedExplicitVRLittleEndianUID}}, // retired US
	}, roles: []roleItem{{uid: "1.2.840.10008.5.1.4.1.1.2", scu: 1, scp: 1}}}
	ac, ctxs := s.negotiate(rq)
	want := []struct {
		result byte
		ts     string
	}{{0, dicom.ExplicitVRLittleEndianUID}, {0, JPEG2000LosslessUID}, {3, ""}, {3, ""}, {4, ""}, {0, dicom.DeflatedExplicitVRLittleEndianUID}}
	for i, w := range want {
		got := ac.contexts[i]
		if got.result != w.result || got.transferSyntaxes[0] != w.ts {
			t.Errorf("context %d: result %d ts %q, want %d %q", got.id, got.result, got.transferSyntaxes[0], w.result, w.ts)
		}
	}
	if len(ctxs) != 3 {
		t.Errorf("%d accepted contexts, want 3", len(ctxs))
	}
	if len(ac.roles) != 1 || ac.roles[0].scu != 1 || ac.roles[0].scp != 0 {
		t.Errorf("role selection answer %+v, want SCU yes, SCP no", ac.roles)
	}
	// The AC round-trips through the decoder.
	b := ac.encode(pduAssociateAC)
	back, err := decodeAssociate(pduAssociateAC, b[6:])
	if err != nil || len(back.contexts) != 6 || back.maxLength != DefaultMaxPDULength || len(back.roles) != 1 {
		t.Fatalf("AC round trip: %+v %v", back, err)
	}
}
