package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/disclosure"
)

// The hub as broker: it asks every registered node the same question over the bus and
// collects the answers as they arrive, until a deadline. A node that the registry shows
// offline is not asked; a node that is asked and does not answer in time, or that has
// nobody answering on its subject, is reported as such — never waited for past the
// deadline, never silently dropped.

// Outcomes of asking a node that are the hub's, not the node's (the node's own are
// fed.SearchOK, fed.SearchRefused and fed.SearchError).
const (
	// AskOffline: the registry shows the node offline (or never connected); it was
	// not asked.
	AskOffline = "offline"
	// AskTimeout: the node was asked and did not answer before the deadline.
	AskTimeout = "timeout"
	// AskUnreachable: the node is connected, but nothing answers on its subject (a
	// node without this feature, or one that is just restarting).
	AskUnreachable = "unreachable"
	// AskBadAnswer: the node answered something the hub cannot read.
	AskBadAnswer = "bad-answer"
)

// reply is one node's raw answer to a fan-out, or why there is none.
type reply struct {
	node    string
	data    []byte
	status  string // "" when data holds the answer, else one of the Ask… outcomes
	message string
	elapsed time.Duration
}

// fanOut sends msg to subject(node) of every node in nodes, calling got with each
// reply in the order they arrive: first the nodes that are not online (not asked),
// then the answers, then, at the deadline, every node still silent. It returns when
// every node is accounted for. ctx ending early (the client went away) ends the
// waiting the same way.
func (h *Hub) fanOut(ctx context.Context, nodes []NodeInfo, subject func(string) string, msg []byte, deadline time.Time, got func(reply)) {
	h.mu.Lock()
	nc := h.nc
	h.mu.Unlock()
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	replies := make(chan reply, len(nodes))
	asked := 0
	for _, n := range nodes {
		if n.State != StateOnline {
			why := "offline since " + n.Since.UTC().Format(time.RFC3339)
			if n.State == StateNever {
				why = "has never connected to the hub"
			} else if n.Since.IsZero() {
				why = "offline"
			}
			got(reply{node: n.Name, status: AskOffline, message: "node " + why + "; not asked"})
			continue
		}
		if nc == nil {
			got(reply{node: n.Name, status: AskUnreachable, message: "the hub's bus is not running; not asked"})
			continue
		}
		asked++
		go func(node string) {
			m, err := nc.RequestWithContext(dctx, subject(node), msg)
			r := reply{node: node, elapsed: time.Since(start)}
			switch {
			case err == nil:
				r.data = m.Data
			case errors.Is(err, nats.ErrNoResponders):
				r.status, r.message = AskUnreachable, "node is connected but nothing answers on "+subject(node)+" (it may not support this yet)"
			case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
				r.status, r.message = AskTimeout, "no answer within "+deadline.Sub(start).Round(time.Millisecond).String()
			case ctx.Err() != nil:
				r.status, r.message = AskTimeout, "the search was cancelled before the node answered"
			default:
				r.status, r.message = AskUnreachable, fmt.Sprintf("asking the node: %v", err)
			}
			replies <- r
		}(n.Name)
	}
	for ; asked > 0; asked-- {
		got(<-replies)
	}
}

// newID returns a random identifier for a search.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Total sums released counts: the exact ones add up, the suppressed ones ("< 10") are
// counted apart, since their values are unknown by design.
type Total struct {
	Exact int
	// Suppressed is how many of the summed counts were "< Below".
	Suppressed int
	// Below is the largest threshold of those counts.
	Below int
}

// Add adds a released count.
func (t *Total) Add(c disclosure.Count) {
	if below, ok := c.Suppressed(); ok {
		t.Suppressed++
		t.Below = max(t.Below, below)
		return
	}
	n, _ := c.Value()
	t.Exact += n
}

// AddTotal adds another total.
func (t *Total) AddTotal(o Total) {
	t.Exact += o.Exact
	t.Suppressed += o.Suppressed
	t.Below = max(t.Below, o.Below)
}

// String writes the total as people read it: "120", "< 10" (only one suppressed
// count), "120 + < 10", or "120 + 3 × < 10".
func (t Total) String() string {
	sup := ""
	switch {
	case t.Suppressed == 1:
		sup = "< " + strconv.Itoa(t.Below)
	case t.Suppressed > 1:
		sup = strconv.Itoa(t.Suppressed) + " × < " + strconv.Itoa(t.Below)
	}
	switch {
	case sup == "":
		return strconv.Itoa(t.Exact)
	case t.Exact == 0:
		return sup
	}
	return strconv.Itoa(t.Exact) + " + " + sup
}

// MarshalJSON writes {"exact":120,"suppressed":1,"below":10,"text":"120 + < 10"}.
func (t Total) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Exact      int    `json:"exact"`
		Suppressed int    `json:"suppressed"`
		Below      int    `json:"below,omitempty"`
		Text       string `json:"text"`
	}{t.Exact, t.Suppressed, t.Below, t.String()})
}
