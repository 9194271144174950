package hub

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/fed"
)

// Node states as the hub shows them.
const (
	StateNever   = "never"   // registered, never connected
	StateOnline  = "online"  // connected and sending heartbeats
	StateOffline = "offline" // was connected, is not now
)

// NodeInfo is what the hub knows about a node.
type NodeInfo struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`
	Since      time.Time `json:"since,omitzero"`     // when State began
	LastSeen   time.Time `json:"last_seen,omitzero"` // last heartbeat or hello
	Version    string    `json:"version"`
	HTTPURL    string    `json:"http_url,omitempty"`
	DIMSE      string    `json:"dimse,omitempty"`
	Registered time.Time `json:"registered"`
	Witnessed  uint64    `json:"witnessed_size"` // size of the last witnessed audit checkpoint
	conns      int       // open bus connections of this node
}

// registry tracks every registered node's state, in memory, persisted to the
// nodes table on every change of state.
type registry struct {
	h     *Hub
	mu    sync.Mutex
	nodes map[string]*NodeInfo
	now   func() time.Time
}

func newRegistry(h *Hub) *registry {
	return &registry{h: h, nodes: map[string]*NodeInfo{}, now: time.Now}
}

// list returns a snapshot of all nodes sorted by name.
func (r *registry) list() []NodeInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]NodeInfo, 0, len(r.nodes))
	for _, n := range r.nodes {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *registry) get(name string) (NodeInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[name]
	if !ok {
		return NodeInfo{}, false
	}
	return *n, true
}

// load reads the nodes table: new registrations appear (and are audit
// logged once), known nodes keep their in-memory state.
func (r *registry) load(ctx context.Context) error {
	rows, err := r.h.db.Query(ctx, `SELECT n.name, n.registered_ms, n.registered_by, n.logged, n.state, n.state_ms, n.last_seen_ms, n.version, n.http_url, n.dimse_addr,
		COALESCE((SELECT MAX(size) FROM witnessed w WHERE w.node = n.name), 0) FROM nodes n`)
	if err != nil {
		return fmt.Errorf("loading nodes: %w", err)
	}
	type reg struct{ name, by string }
	var unlogged []reg
	seen := map[string]bool{}
	r.mu.Lock()
	for rows.Next() {
		var n NodeInfo
		var regMS int64
		var by string
		var logged int
		var stateMS, seenMS *int64
		if err := rows.Scan(&n.Name, &regMS, &by, &logged, &n.State, &stateMS, &seenMS, &n.Version, &n.HTTPURL, &n.DIMSE, &n.Witnessed); err != nil {
			r.mu.Unlock()
			rows.Close()
			return fmt.Errorf("loading nodes: %w", err)
		}
		seen[n.Name] = true
		n.Registered = time.UnixMilli(regMS).UTC()
		if logged == 0 {
			unlogged = append(unlogged, reg{n.Name, by})
		}
		if cur, ok := r.nodes[n.Name]; ok {
			cur.Witnessed = max(cur.Witnessed, n.Witnessed)
			continue
		}
		if stateMS != nil {
			n.Since = time.UnixMilli(*stateMS).UTC()
		}
		if seenMS != nil {
			n.LastSeen = time.UnixMilli(*seenMS).UTC()
		}
		if n.State == StateOnline { // from a previous run of the hub: not connected now
			n.State = StateOffline
			n.Since = r.now().UTC()
		}
		r.nodes[n.Name] = &n
	}
	for name := range r.nodes {
		if !seen[name] {
			delete(r.nodes, name)
		}
	}
	r.mu.Unlock()
	if err := rows.Close(); err != nil {
		return fmt.Errorf("loading nodes: %w", err)
	}
	for _, u := range unlogged {
		if _, err := r.h.audit.Append(ctx, audit.Event{Type: "node.registered", Actor: u.by, Subject: u.name}); err != nil {
			return fmt.Errorf("logging registration of %s: %w", u.name, err)
		}
		if _, err := r.h.db.Exec(ctx, `UPDATE nodes SET logged = 1 WHERE name = ?`, u.name); err != nil {
			return fmt.Errorf("marking registration of %s: %w", u.name, err)
		}
	}
	return nil
}

// run reloads registrations and marks silent nodes offline, until ctx ends.
func (r *registry) run(ctx context.Context) {
	if err := r.load(ctx); err != nil {
		r.h.log.Error("node registry", "err", err)
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	reload := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if reload++; reload%2 == 0 {
			if err := r.load(ctx); err != nil {
				r.h.log.Error("node registry", "err", err)
			}
		}
		now := r.now()
		var silent []string
		r.mu.Lock()
		for name, n := range r.nodes {
			if n.State == StateOnline && now.Sub(n.LastSeen) > fed.OfflineAfter {
				silent = append(silent, name)
			}
		}
		r.mu.Unlock()
		for _, name := range silent {
			r.setState(ctx, name, StateOffline, "no heartbeat for "+fed.OfflineAfter.String())
		}
	}
}

// stopAll marks every online node offline when the hub stops.
func (r *registry) stopAll(ctx context.Context) {
	for _, n := range r.list() {
		if n.State == StateOnline {
			r.setState(ctx, n.Name, StateOffline, "hub stopping")
		}
	}
}

// setState changes a node's state, persists it and logs the transition.
func (r *registry) setState(ctx context.Context, name, state, reason string) {
	r.mu.Lock()
	n, ok := r.nodes[name]
	if !ok || n.State == state {
		r.mu.Unlock()
		return
	}
	now := r.now().UTC()
	n.State, n.Since = state, now
	if state == StateOnline {
		n.LastSeen = now
	}
	lastSeen := n.LastSeen
	r.mu.Unlock()
	if _, err := r.h.db.Exec(ctx, `UPDATE nodes SET state = ?, state_ms = ?, last_seen_ms = ? WHERE name = ?`,
		state, now.UnixMilli(), nullMS(lastSeen), name); err != nil {
		r.h.log.Error("saving node state", "node", name, "err", err)
	}
	typ := "node.connected"
	if state != StateOnline {
		typ = "node.disconnected"
	}
	if _, err := r.h.audit.Append(ctx, audit.Event{Type: typ, Actor: name, Subject: name, Fields: map[string]string{"reason": reason}}); err != nil {
		r.h.log.Error("logging node state", "node", name, "err", err)
	}
	r.h.log.Info("node "+state, "node", name, "reason", reason)
}

func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// connEvent receives bus connection events.
func (r *registry) connEvent(ev bus.ConnEvent) {
	ctx := context.Background()
	r.mu.Lock()
	n, ok := r.nodes[ev.Node]
	if !ok {
		r.mu.Unlock()
		if err := r.load(ctx); err != nil {
			r.h.log.Error("node registry", "err", err)
		}
		r.mu.Lock()
		if n, ok = r.nodes[ev.Node]; !ok {
			r.mu.Unlock()
			return
		}
	}
	if ev.Connected {
		n.conns++
	} else if n.conns > 0 {
		n.conns--
	}
	conns := n.conns
	r.mu.Unlock()
	switch {
	case ev.Connected:
		r.setState(ctx, ev.Node, StateOnline, "connected from "+ev.Remote)
	case conns == 0:
		r.setState(ctx, ev.Node, StateOffline, "connection closed")
	}
}

// seen records a heartbeat or hello from a node.
func (r *registry) seen(ctx context.Context, name string, hello *fed.Hello) {
	r.mu.Lock()
	n, ok := r.nodes[name]
	if !ok {
		r.mu.Unlock()
		return
	}
	n.LastSeen = r.now().UTC()
	changed := false
	if hello != nil {
		changed = n.Version != hello.Version || n.HTTPURL != hello.HTTPURL || n.DIMSE != hello.DIMSEAddr
		n.Version, n.HTTPURL, n.DIMSE = hello.Version, hello.HTTPURL, hello.DIMSEAddr
	}
	state := n.State
	r.mu.Unlock()
	if changed {
		if _, err := r.h.db.Exec(ctx, `UPDATE nodes SET version = ?, http_url = ?, dimse_addr = ? WHERE name = ?`,
			hello.Version, hello.HTTPURL, hello.DIMSEAddr, name); err != nil {
			r.h.log.Error("saving node info", "node", name, "err", err)
		}
	}
	if state != StateOnline {
		r.setState(ctx, name, StateOnline, "heartbeat")
	}
}

func (r *registry) witnessed(name string, size uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.nodes[name]; ok && size > n.Witnessed {
		n.Witnessed = size
	}
}
