package dimse

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
)

// recorder is a TCP proxy in front of an SCP that keeps, per connection, the bytes the
// client sent: the PDUs a real dcmtk tool puts on the wire.
type recorder struct {
	mu      sync.Mutex
	streams []*bytes.Buffer
	wg      sync.WaitGroup
}

// startRecorder proxies a loopback port to target until the test ends.
func startRecorder(t testing.TB, target string) (string, *recorder) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			buf := &bytes.Buffer{}
			r.mu.Lock()
			r.streams = append(r.streams, buf)
			r.mu.Unlock()
			r.wg.Add(2)
			go func() {
				defer r.wg.Done()
				_, _ = io.Copy(io.MultiWriter(s, lockedWriter{&r.mu, buf}), c)
				_ = s.(*net.TCPConn).CloseWrite()
			}()
			go func() {
				defer r.wg.Done()
				_, _ = io.Copy(c, s)
				c.Close()
				s.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return ln.Addr().String(), r
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// wireStore is what a recorded client stream carried: the calling AE title and the data
// sets of its messages, concatenated from their PDVs.
type wireStore struct {
	callingAE string
	dataSets  [][]byte
	pdus      [][]byte // every PDU, header included
}

// parseStream splits a recorded client stream into PDUs and data sets.
func parseStream(b []byte) (wireStore, error) {
	var ws wireStore
	br := bufio.NewReader(bytes.NewReader(b))
	var cur []byte
	inData := false
	for {
		typ, body, err := readPDU(br, MaxPDULengthLimit, nil)
		if err == io.EOF {
			return ws, nil
		}
		if err != nil {
			return ws, err
		}
		ws.pdus = append(ws.pdus, append(appendPDUHeader(nil, typ, len(body)), body...))
		switch typ {
		case pduAssociateRQ:
			rq, err := decodeAssociate(typ, body)
			if err != nil {
				return ws, err
			}
			ws.callingAE = rq.callingAE
		case pduPDataTF:
			err := parsePDVs(body, func(p pdv) error {
				if p.command {
					return nil
				}
				if !inData {
					cur, inData = nil, true
				}
				cur = append(cur, p.value...)
				if p.last {
					ws.dataSets = append(ws.dataSets, cur)
					inData = false
				}
				return nil
			})
			if err != nil {
				return ws, err
			}
		}
	}
}

func (r *recorder) all(t testing.TB) []wireStore {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []wireStore
	for _, s := range r.streams {
		ws, err := parseStream(s.Bytes())
		if err != nil {
			t.Errorf("parsing a recorded stream: %v", err)
		}
		out = append(out, ws)
	}
	return out
}
