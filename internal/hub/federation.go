package hub

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/note"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/version"
)

// subscribe listens to what nodes send on the bus.
func (h *Hub) subscribe(ctx context.Context, nc *nats.Conn) error {
	subs := []struct {
		subject string
		fn      func(context.Context, string, *nats.Msg)
	}{
		{fed.AllHello, h.onHello},
		{fed.AllHeartbeat, h.onHeartbeat},
		{fed.AllCheckpoint, h.onCheckpoint},
		{fed.AllDatasetSync, h.onDatasetSync},
		{fed.AllVisaKeys, h.onVisaKeys},
	}
	for _, s := range subs {
		fn := s.fn
		_, err := nc.Subscribe(s.subject, func(m *nats.Msg) {
			node, err := fed.NodeFromSubject(m.Subject)
			if err != nil {
				h.log.Warn("bus message on bad subject", "subject", m.Subject, "err", err)
				return
			}
			fn(ctx, node, m)
		})
		if err != nil {
			return fmt.Errorf("subscribing to %s: %w", s.subject, err)
		}
	}
	return nc.Flush()
}

func (h *Hub) reply(m *nats.Msg, v fed.Message) {
	if m.Reply == "" {
		return
	}
	data, err := fed.Marshal(v)
	if err != nil {
		h.log.Error("encoding reply", "err", err)
		return
	}
	if err := m.Respond(data); err != nil {
		h.log.Warn("replying on bus", "subject", m.Subject, "err", err)
	}
}

func (h *Hub) onHello(ctx context.Context, node string, m *nats.Msg) {
	var hello fed.Hello
	w := &fed.Welcome{Hub: h.cfg.Name, Version: version.String(), Time: time.Now().UTC(), AuditKey: h.keys.AuditVKey}
	if err := fed.Unmarshal(m.Data, &hello); err != nil {
		w.Error = err.Error()
	} else if hello.Node != node {
		w.Error = fmt.Sprintf("hello names node %q but was sent by %q", hello.Node, node)
	} else {
		h.reg.seen(ctx, node, &hello)
	}
	h.reply(m, w)
}

func (h *Hub) onHeartbeat(ctx context.Context, node string, m *nats.Msg) {
	var hb fed.Heartbeat
	if err := fed.Unmarshal(m.Data, &hb); err != nil {
		h.log.Warn("bad heartbeat", "node", node, "err", err)
		return
	}
	h.reg.seen(ctx, node, nil)
}

// onCheckpoint witnesses a node's audit checkpoint: it must verify with the
// key registered for that node and be consistent with the last checkpoint the
// hub witnessed for it.
func (h *Hub) onCheckpoint(ctx context.Context, node string, m *nats.Msg) {
	rep := &fed.CheckpointReply{}
	defer h.reply(m, rep)
	var req fed.CheckpointRequest
	if err := fed.Unmarshal(m.Data, &req); err != nil {
		rep.Error = err.Error()
		return
	}
	size, cosigned, err := h.witnessCheckpoint(ctx, node, req)
	rep.Size = size
	if err != nil {
		rep.Error = err.Error()
		h.witnessed.WithLabelValues("refused").Inc()
		h.log.Warn("refused to witness checkpoint", "node", node, "err", err)
		return
	}
	h.witnessed.WithLabelValues("cosigned").Inc()
	rep.Witnessed = cosigned
}

// ErrStaleProof is returned when a node proves consistency from another size
// than the last one the hub witnessed; the reply carries the right size.
var ErrStaleProof = errors.New("consistency proof is not from the last witnessed size")

func (h *Hub) witnessCheckpoint(ctx context.Context, node string, req fed.CheckpointRequest) (uint64, []byte, error) {
	var vkey string
	if err := h.db.QueryRow(ctx, `SELECT audit_key FROM nodes WHERE name = ?`, node).Scan(&vkey); err != nil {
		return 0, nil, fmt.Errorf("node %s: %w", node, store.Classify(err))
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return 0, nil, fmt.Errorf("node %s audit key: %w", node, err)
	}
	var lastSize uint64
	var last string
	err = h.db.QueryRow(ctx, `SELECT size, checkpoint FROM witnessed WHERE node = ? ORDER BY size DESC LIMIT 1`, node).Scan(&lastSize, &last)
	if err != nil && !errors.Is(store.Classify(err), store.ErrNotFound) {
		return 0, nil, fmt.Errorf("reading last witnessed checkpoint of %s: %w", node, err)
	}
	var prev []byte
	if last != "" {
		prev = []byte(last)
	}
	// The same checkpoint again (a node that lost the hub's reply): hand back
	// the stored cosignature, after checking that it is really the same.
	if next, err := audit.ParseCheckpoint(req.Checkpoint, verifier); err == nil && next.Size == lastSize && lastSize > 0 {
		old, err := audit.ParseCheckpoint(prev, verifier)
		if err != nil {
			return lastSize, nil, fmt.Errorf("stored checkpoint of %s: %w", node, err)
		}
		if !bytes.Equal(old.Root, next.Root) {
			return lastSize, nil, fmt.Errorf("%w: two roots at size %d", audit.ErrInconsistent, lastSize)
		}
		return lastSize, prev, nil
	}
	if req.OldSize != lastSize {
		return lastSize, nil, fmt.Errorf("%w: proof from %d, last witnessed %d", ErrStaleProof, req.OldSize, lastSize)
	}
	cosigned, err := h.witness.Cosign(req.Checkpoint, prev, req.Proof, verifier)
	if err != nil {
		return lastSize, nil, err
	}
	cp, err := audit.ParseCheckpoint(cosigned, verifier)
	if err != nil {
		return lastSize, nil, err
	}
	if cp.Size == lastSize {
		return lastSize, cosigned, nil // nothing new; already stored
	}
	if _, err := h.db.Exec(ctx, `INSERT INTO witnessed (node, size, root, checkpoint, witnessed_ms) VALUES (?, ?, ?, ?, ?)`,
		node, cp.Size, hex.EncodeToString(cp.Root), string(cosigned), time.Now().UnixMilli()); err != nil {
		return lastSize, nil, fmt.Errorf("storing witnessed checkpoint of %s: %w", node, store.Classify(err))
	}
	h.reg.witnessed(node, cp.Size)
	return cp.Size, cosigned, nil
}
