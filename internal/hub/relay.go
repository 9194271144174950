package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/visa"
)

// relayPrefix is where the hub serves each node's DICOMweb: /nodes/{node}/dicomweb/...
const relayPrefix = "/nodes/"

// hopHeaders are not passed on from a node's answer.
var hopHeaders = map[string]bool{"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Upgrade": true, "Trailer": true}

// relayVisas are the visas the relay carries to node for user: those the hub issued
// to user for node's datasets, unexpired and unrevoked (the newest, at most
// visa.MaxPassportVisas). The node verifies them and decides; the hub decides nothing.
func (h *Hub) relayVisas(ctx context.Context, user, node string) ([]string, error) {
	vs, err := h.access.ValidVisas(ctx, user, node)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range vs {
		if len(out) == visa.MaxPassportVisas {
			break
		}
		out = append(out, v.Token)
	}
	return out, nil
}

// relay serves GET /nodes/{node}/dicomweb/{path...} by asking the node over the bus (see
// fed.RelayRequest) and streaming its answer, acknowledging each chunk only after it was
// written to the client: a slow client slows the node, and neither side holds more than
// the window of chunks.
func (h *Hub) relay(w http.ResponseWriter, r *http.Request) {
	p, ok, err := h.gate.Principal(r)
	switch {
	case err != nil:
		httpx.Error(w, http.StatusUnauthorized, "%v", err)
		return
	case !ok:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cie hub"`)
		httpx.Error(w, http.StatusUnauthorized, "authentication required: log in or send Authorization: Bearer <token>")
		return
	}
	node := r.PathValue("node")
	if _, known := h.reg.get(node); !known {
		httpx.Error(w, http.StatusNotFound, "no node %q is registered at this hub", node)
		return
	}
	visas, err := h.relayVisas(r.Context(), p.User, node)
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "relay: %v", err)
		return
	}
	path := "/" + r.PathValue("path")
	if path == "/" {
		path = ""
	}
	member, err := h.isMember(r.Context(), p, node)
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "relay: %v", err)
		return
	}
	c := relayCall{Node: node, User: p.User, Role: p.Role, Member: member, Visas: visas, Path: path, Query: r.URL.RawQuery,
		Accept: r.Header.Get("Accept"), BaseURL: h.relayBase(r, node)}
	if started, err := h.relayTo(r.Context(), w, c); err != nil && started {
		h.log.Warn("relay: answer cut short", "node", node, "path", path, "err", err)
		panic(http.ErrAbortHandler) // the client must see a broken body, not a short one
	}
}

// relayBase is the base URL of node's relayed DICOMweb as the client of r reached the hub.
func (h *Hub) relayBase(r *http.Request, node string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + relayPrefix + node + "/dicomweb"
}

// relayCall is one GET of a node's DICOMweb, relayed for a user with the visas to show.
type relayCall struct {
	Node, User, Role string
	Member           bool
	Visas            []string
	// Path is under the node's DICOMweb prefix ("/studies", …), Query its raw query.
	Path, Query, Accept string
	// BaseURL is what the node writes into the URLs of its answer.
	BaseURL string
}

// errRelayCut is the error of an answer the node (or the client) cut short.
var errRelayCut = errors.New("relay: the answer was cut short")

// relayTo asks c.Node over the bus and writes its answer to w as it arrives. Errors
// before the answer starts are written to w as JSON errors; started reports whether
// the node's status and headers were written, so that an error after that (the node or
// the client cutting the answer) can break the caller's answer rather than end it.
func (h *Hub) relayTo(ctx context.Context, w http.ResponseWriter, c relayCall) (started bool, err error) {
	node := c.Node
	info, known := h.reg.get(node)
	if !known {
		httpx.Error(w, http.StatusNotFound, "no node %q is registered at this hub", node)
		return false, nil
	}
	if info.State != StateOnline {
		httpx.Error(w, http.StatusBadGateway, "node %s is %s; its DICOMweb cannot be reached now", node, info.State)
		return false, nil
	}
	h.mu.Lock()
	nc := h.nc
	h.mu.Unlock()
	if nc == nil {
		httpx.Error(w, http.StatusServiceUnavailable, "the hub's bus is not running")
		return false, nil
	}
	var idb [12]byte
	_, _ = rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	msgs := make(chan *nats.Msg, fed.RelayWindow+4)
	sub, err := nc.ChanSubscribe(fed.RelayDataSubject(node, id), msgs)
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "relay: %v", err)
		return false, nil
	}
	defer sub.Unsubscribe()
	rq := fed.RelayRequest{ID: id, Method: http.MethodGet, Path: c.Path, Query: c.Query, Accept: c.Accept,
		User: c.User, Role: c.Role, Member: c.Member, Visas: c.Visas, BaseURL: c.BaseURL, Window: fed.RelayWindow}
	data, err := fed.Marshal(&rq)
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "relay: %v", err)
		return false, nil
	}
	if err := nc.Publish(fed.RelaySubject(node), data); err != nil {
		httpx.Error(w, http.StatusBadGateway, "relay to %s: %v", node, err)
		return false, nil
	}
	ack := func(kind string, seq int) {
		m := nats.NewMsg(fed.RelayAckSubject(node, id))
		m.Header.Set(fed.RelayVersionHeader, strconv.Itoa(fed.Version))
		m.Header.Set(fed.RelayKindHeader, kind)
		m.Header.Set(fed.RelaySeqHeader, strconv.Itoa(seq))
		_ = nc.PublishMsg(m)
	}
	flusher, _ := w.(http.Flusher)
	timer := time.NewTimer(fed.RelayIdle)
	defer timer.Stop()
	for next := 0; ; next++ {
		var m *nats.Msg
		select {
		case m = <-msgs:
		case <-ctx.Done():
			ack(fed.RelayCancel, next)
			return started, errRelayCut
		case <-timer.C:
			if !started {
				httpx.Error(w, http.StatusGatewayTimeout, "node %s did not answer within %s", node, fed.RelayIdle)
			}
			ack(fed.RelayCancel, next)
			h.log.Warn("relay: node went silent", "node", node, "path", c.Path)
			return started, errRelayCut
		}
		timer.Reset(fed.RelayIdle)
		seq, err := strconv.Atoi(m.Header.Get(fed.RelaySeqHeader))
		if err != nil || seq != next || m.Header.Get(fed.RelayVersionHeader) != strconv.Itoa(fed.Version) {
			h.log.Warn("relay: out of order or foreign message", "node", node, "seq", m.Header.Get(fed.RelaySeqHeader), "want", next)
			ack(fed.RelayCancel, next)
			if !started {
				httpx.Error(w, http.StatusBadGateway, "node %s answered out of order", node)
			}
			return started, errRelayCut
		}
		switch m.Header.Get(fed.RelayKindHeader) {
		case fed.RelayHead:
			status, err := strconv.Atoi(m.Header.Get(fed.RelayStatusHeader))
			if err != nil || status < 100 || status > 599 {
				status = http.StatusBadGateway
			}
			for k, vs := range m.Header {
				name, ok := strings.CutPrefix(k, fed.RelayHTTPPrefix)
				if !ok || hopHeaders[http.CanonicalHeaderKey(name)] {
					continue
				}
				for _, v := range vs {
					w.Header().Add(name, v)
				}
			}
			w.WriteHeader(status)
			started = true
		case fed.RelayData:
			if _, err := w.Write(m.Data); err != nil {
				ack(fed.RelayCancel, seq)
				return started, fmt.Errorf("%w: %v", errRelayCut, err)
			}
			if flusher != nil {
				flusher.Flush()
			}
		case fed.RelayEnd:
			if e := m.Header.Get(fed.RelayErrorHeader); e != "" {
				return started, fmt.Errorf("%w by node %s: %s", errRelayCut, node, e)
			}
			return started, nil
		}
		ack(fed.RelayAck, seq)
	}
}

// isMember reports whether the principal is a data holder or node administrator who
// belongs to node at the hub (see fed.RelayRequest.Member).
func (h *Hub) isMember(ctx context.Context, p auth.Principal, node string) (bool, error) {
	if p.Role != auth.RoleDataHolder && p.Role != auth.RoleNodeAdmin {
		return false, nil
	}
	nodes, err := h.members.Nodes(ctx, p.User)
	if err != nil {
		return false, fmt.Errorf("nodes of %s: %w", p.User, err)
	}
	return slices.Contains(nodes, node), nil
}
