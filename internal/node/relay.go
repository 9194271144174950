package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/fed"
)

// relayVia marks a principal the hub asserted over the bus.
const relayVia = "hub"

// onRelay answers a DICOMweb request relayed by the hub (see fed.RelayRequest): it runs
// the node's own DICOMweb handler and streams the answer back in acknowledged chunks.
func (n *Node) onRelay(ctx context.Context, nc *nats.Conn, m *nats.Msg) {
	var rq fed.RelayRequest
	if err := fed.Unmarshal(m.Data, &rq); err != nil {
		n.log.Warn("bad relay request", "err", err)
		return
	}
	if err := fed.ValidRelayID(rq.ID); err != nil {
		n.log.Warn("bad relay request", "err", err)
		return
	}
	go n.relay(ctx, nc, rq)
}

func (n *Node) relay(ctx context.Context, nc *nats.Conn, rq fed.RelayRequest) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &relayWriter{nc: nc, subject: fed.RelayDataSubject(n.cfg.Name, rq.ID), window: rq.Window, header: http.Header{},
		acked: -1, ctx: ctx}
	if w.window < 1 || w.window > 64 {
		w.window = fed.RelayWindow
	}
	w.cond = sync.NewCond(&w.mu)
	sub, err := nc.Subscribe(fed.RelayAckSubject(n.cfg.Name, rq.ID), func(m *nats.Msg) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if m.Header.Get(fed.RelayKindHeader) == fed.RelayCancel {
			w.canceled = true
			cancel()
		} else if seq, err := strconv.Atoi(m.Header.Get(fed.RelaySeqHeader)); err == nil && seq > w.acked {
			w.acked = seq
		}
		w.cond.Broadcast()
	})
	if err != nil {
		n.log.Warn("relay: subscribing to acks", "err", err)
		return
	}
	defer sub.Unsubscribe()
	// Wake waiters when ctx ends.
	stop := context.AfterFunc(ctx, func() { w.mu.Lock(); w.cond.Broadcast(); w.mu.Unlock() })
	defer stop()

	req, err := relayRequest(ctx, rq)
	if err != nil {
		w.fail(http.StatusBadRequest, err.Error())
		return
	}
	serveRelayed(n.relayMux, w, req)
	w.finish()
}

// serveRelayed runs h for a relayed request; a handler that cuts its answer short
// (panic(http.ErrAbortHandler), as net/http knows it) marks the relayed answer broken
// instead of ending the node.
func serveRelayed(h http.Handler, w *relayWriter, req *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			if w.err == nil {
				w.err = errors.New("the node cut its answer short")
			}
		}
	}()
	h.ServeHTTP(w, req)
}

// relayWriter is an http.ResponseWriter that streams over the bus.
type relayWriter struct {
	nc      *nats.Conn
	subject string
	window  int
	ctx     context.Context
	header  http.Header

	mu       sync.Mutex
	cond     *sync.Cond
	acked    int // highest sequence number the hub acknowledged
	canceled bool

	seq     int // next sequence number
	started bool
	buf     []byte
	err     error
}

func (w *relayWriter) Header() http.Header { return w.header }

func (w *relayWriter) WriteHeader(status int) {
	if w.started {
		return
	}
	w.started = true
	h := nats.Header{}
	h.Set(fed.RelayStatusHeader, strconv.Itoa(status))
	for k, vs := range w.header {
		for _, v := range vs {
			h.Add(fed.RelayHTTPPrefix+k, v)
		}
	}
	w.send(fed.RelayHead, h, nil)
}

func (w *relayWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		k := min(fed.RelayChunk-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == fed.RelayChunk {
			w.flushChunk()
			if w.err != nil {
				return 0, w.err
			}
		}
	}
	return n, nil
}

// Flush sends what is buffered.
func (w *relayWriter) Flush() {
	if len(w.buf) > 0 {
		w.flushChunk()
	}
}

func (w *relayWriter) flushChunk() {
	w.send(fed.RelayData, nats.Header{}, w.buf)
	w.buf = w.buf[:0]
}

// send publishes one message once the window allows it.
func (w *relayWriter) send(kind string, h nats.Header, data []byte) {
	if w.err != nil {
		return
	}
	w.mu.Lock()
	deadline := time.Now().Add(fed.RelayIdle)
	for w.seq-w.acked > w.window && !w.canceled && w.ctx.Err() == nil {
		if time.Now().After(deadline) {
			w.mu.Unlock()
			w.err = errors.New("relay: the hub stopped acknowledging")
			return
		}
		waitFor(w.cond, time.Second)
	}
	canceled := w.canceled || w.ctx.Err() != nil
	w.mu.Unlock()
	if canceled {
		w.err = context.Canceled
		return
	}
	h.Set(fed.RelayVersionHeader, strconv.Itoa(fed.Version))
	h.Set(fed.RelayKindHeader, kind)
	h.Set(fed.RelaySeqHeader, strconv.Itoa(w.seq))
	w.seq++
	if err := w.nc.PublishMsg(&nats.Msg{Subject: w.subject, Header: h, Data: data}); err != nil {
		w.err = fmt.Errorf("relay: %w", err)
	}
}

// waitFor waits on c (whose lock is held) for at most d.
func waitFor(c *sync.Cond, d time.Duration) {
	t := time.AfterFunc(d, func() { c.L.Lock(); c.Broadcast(); c.L.Unlock() })
	c.Wait()
	t.Stop()
}

func (w *relayWriter) fail(status int, msg string) {
	w.header.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"status\": %d, \"error\": %q}\n", status, msg)
	w.finish()
}

// finish sends the rest of the body and the end message.
func (w *relayWriter) finish() {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	w.Flush()
	h := nats.Header{}
	if w.err != nil {
		h.Set(fed.RelayErrorHeader, w.err.Error())
		w.err = nil // the end message must go out
	}
	w.send(fed.RelayEnd, h, nil)
}

// relayRequest is the HTTP request a relay request stands for, as the node's DICOMweb
// handlers (n.relayMux) serve it: the user the hub authenticated as its principal
// (Via relayVia) and the visas the hub attached in its context.
func relayRequest(ctx context.Context, rq fed.RelayRequest) (*http.Request, error) {
	base, err := url.Parse(rq.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, errors.New("relay: bad base URL")
	}
	if rq.Method != http.MethodGet {
		return nil, errors.New("relay: only GET requests are relayed")
	}
	target := DICOMwebPrefix + rq.Path
	if rq.Query != "" {
		target += "?" + rq.Query
	}
	rctx := withRelayed(auth.WithPrincipal(ctx, auth.Principal{User: rq.User, Role: rq.Role, Via: relayVia}), rq.Visas, rq.Member)
	req, err := http.NewRequestWithContext(rctx, rq.Method, target, nil)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	req.Host = base.Host
	req.Header.Set("Accept", rq.Accept)
	req.Header.Set("X-Forwarded-Proto", base.Scheme)
	req.Header.Set("X-Forwarded-Prefix", base.Path)
	return req, nil
}
