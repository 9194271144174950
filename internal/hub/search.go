package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/query"
)

// maxQueryBody is the largest search request body read; query.Parse has its own,
// smaller limit and names it.
const maxQueryBody = 1 << 20

// NodeResult is one node's part of a federated search result.
type NodeResult struct {
	Node string `json:"node"`
	// Status is the node's (fed.SearchOK, fed.SearchRefused, fed.SearchError) or the
	// hub's (AskOffline, AskTimeout, AskUnreachable, AskBadAnswer).
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// Unsupported are the query's keys the node does not evaluate.
	Unsupported []string         `json:"unsupported,omitempty"`
	Collections []fed.Collection `json:"collections,omitempty"`
	// Subjects and Studies sum the collections' released counts.
	Subjects Total       `json:"subjects"`
	Studies  Total       `json:"studies"`
	Budget   *fed.Budget `json:"budget,omitempty"`
	// ElapsedMS is how long the node took to answer (0 when it was not asked).
	ElapsedMS int64 `json:"elapsed_ms"`
}

// SearchResult is the whole result of a federated search: what the JSON answer and
// the download hold, and what the stream ends with.
type SearchResult struct {
	ID         string          `json:"id"`
	Researcher string          `json:"researcher"`
	Hash       string          `json:"hash"`
	Query      json.RawMessage `json:"query"` // canonical form
	Asked      time.Time       `json:"asked"`
	Deadline   time.Time       `json:"deadline"`
	// Nodes are in the order their results arrived.
	Nodes    []NodeResult `json:"nodes"`
	Subjects Total        `json:"subjects"`
	Studies  Total        `json:"studies"`
}

// searchStart is the first event of a streamed search: which nodes there are and
// which of them were asked.
type searchStart struct {
	ID       string      `json:"id"`
	Hash     string      `json:"hash"`
	Deadline time.Time   `json:"deadline"`
	Nodes    []startNode `json:"nodes"`
}

type startNode struct {
	Node  string `json:"node"`
	Asked bool   `json:"asked"`
}

// nodeResult turns a node's reply into its result.
func nodeResult(r reply) NodeResult {
	out := NodeResult{Node: r.node, Status: r.status, Message: r.message, ElapsedMS: r.elapsed.Milliseconds()}
	if r.status != "" {
		return out
	}
	var a fed.SearchAnswer
	if err := fed.Unmarshal(r.data, &a); err != nil {
		out.Status, out.Message = AskBadAnswer, fmt.Sprintf("the node's answer cannot be read: %v", err)
		return out
	}
	if a.Node != r.node {
		out.Status, out.Message = AskBadAnswer, fmt.Sprintf("the answer names node %q", a.Node)
		return out
	}
	switch a.Status {
	case fed.SearchOK, fed.SearchRefused, fed.SearchError:
	default:
		out.Status, out.Message = AskBadAnswer, fmt.Sprintf("unknown status %q", a.Status)
		return out
	}
	out.Status, out.Message, out.Unsupported, out.Collections, out.Budget = a.Status, a.Message, a.Unsupported, a.Collections, a.Budget
	for _, c := range a.Collections {
		out.Subjects.Add(c.SubjectsCount)
		out.Studies.Add(c.StudiesCount)
	}
	return out
}

// searchStore keeps recent results in memory for their download.
type searchStore struct {
	mu   sync.Mutex
	list []*SearchResult // oldest first
}

const (
	keptSearches   = 200
	keptSearchTime = time.Hour
)

func (s *searchStore) put(r *SearchResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := time.Now().Add(-keptSearchTime)
	i := 0
	for i < len(s.list) && (s.list[i].Asked.Before(cut) || len(s.list)-i >= keptSearches) {
		i++
	}
	s.list = append(s.list[i:], r)
}

func (s *searchStore) get(id string) (*SearchResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.list {
		if r.ID == id {
			return r, true
		}
	}
	return nil, false
}

// queryProblem is the 400 answer to a bad query: what is wrong and where (a JSON
// Pointer into the request body).
type queryProblem struct {
	httpx.Problem
	Path string `json:"path"`
	Kind string `json:"kind,omitempty"`
}

// queryError answers 400 for a query.Parse error.
func queryError(w http.ResponseWriter, err error) {
	p := queryProblem{Problem: httpx.Problem{Status: http.StatusBadRequest, Error: err.Error()}}
	var qe *query.Error
	if errors.As(err, &qe) {
		p.Path, p.Kind = qe.Path, qe.Err.Error()
	}
	httpx.JSON(w, http.StatusBadRequest, p)
}

// search runs a federated search for user: it logs it, asks every node and calls
// each with the nodes' results as they arrive (start first). The result is kept for
// download.
func (h *Hub) search(ctx context.Context, p auth.Principal, body []byte, q *query.Query, start func(searchStart), each func(NodeResult)) (*SearchResult, error) {
	now := time.Now().UTC()
	res := &SearchResult{ID: newID(), Researcher: p.User, Hash: q.Hash().String(), Query: q.Canonical(),
		Asked: now, Deadline: now.Add(h.cfg.Search.Timeout), Nodes: []NodeResult{}}
	nodes := h.reg.list()
	st := searchStart{ID: res.ID, Hash: res.Hash, Deadline: res.Deadline}
	var asked, offline []string
	for _, n := range nodes {
		on := n.State == StateOnline
		st.Nodes = append(st.Nodes, startNode{Node: n.Name, Asked: on})
		if on {
			asked = append(asked, n.Name)
		} else {
			offline = append(offline, n.Name)
		}
	}
	if _, err := h.audit.Append(ctx, audit.Event{Type: "search", Actor: p.User, Subject: res.ID, Fields: map[string]string{
		"hash": res.Hash, "role": p.Role, "nodes": strings.Join(asked, ","), "offline": strings.Join(offline, ","),
	}}); err != nil {
		return nil, fmt.Errorf("logging the search: %w", err)
	}
	msg, err := fed.Marshal(&fed.SearchRequest{ID: res.ID, Researcher: p.User, Query: body, Hash: res.Hash, Deadline: res.Deadline})
	if err != nil {
		return nil, fmt.Errorf("encoding the search: %w", err)
	}
	start(st)
	h.fanOut(ctx, nodes, fed.SearchSubject, msg, res.Deadline, func(r reply) {
		nr := nodeResult(r)
		res.Nodes = append(res.Nodes, nr)
		res.Subjects.AddTotal(nr.Subjects)
		res.Studies.AddTotal(nr.Studies)
		each(nr)
	})
	h.searches.put(res)
	return res, nil
}

// apiSearch serves POST /api/v1/search: the body is a EUCAIM query. With Accept:
// text/event-stream the answer is a stream of server-sent events — "start" (the
// nodes, and which were asked), one "node" per node as its result arrives, "done"
// (the whole result); otherwise one JSON document when every node is accounted for.
func (h *Hub) apiSearch(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.csrfOK(r, p) {
		httpx.Error(w, http.StatusForbidden, "missing or wrong CSRF token: send the page's token in X-CSRF-Token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQueryBody))
	if err != nil {
		httpx.Error(w, http.StatusRequestEntityTooLarge, "reading the query: %v", err)
		return
	}
	q, err := query.Parse(body)
	if err != nil {
		queryError(w, err)
		return
	}
	if !wantsStream(r) {
		res, err := h.search(r.Context(), p, body, q, func(searchStart) {}, func(NodeResult) {})
		if err != nil {
			httpx.Error(w, http.StatusInternalServerError, "search: %v", err)
			return
		}
		httpx.JSON(w, http.StatusOK, res)
		return
	}
	rc := http.NewResponseController(w)
	send := func(event string, v any) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // "< 10" as it is
		if err := enc.Encode(v); err != nil {
			h.log.Error("encoding a search event", "err", err)
			return
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, bytes.TrimSpace(buf.Bytes())); err != nil {
			return // the client went away; the search ends at its deadline
		}
		_ = rc.Flush()
	}
	started := false
	res, err := h.search(r.Context(), p, body, q, func(st searchStart) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		started = true
		send("start", st)
	}, func(nr NodeResult) { send("node", nr) })
	switch {
	case err != nil && !started:
		httpx.Error(w, http.StatusInternalServerError, "search: %v", err)
	case err != nil:
		send("error", httpx.Problem{Status: http.StatusInternalServerError, Error: err.Error()})
	default:
		send("done", res)
	}
}

// wantsStream reports whether the client asks for server-sent events.
func wantsStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			return true
		}
	}
	return false
}

// apiSearchResult serves GET /api/v1/search/{id}: a recent result, to the researcher
// who asked it (or a platform administrator), as a JSON download with ?download=1.
func (h *Hub) apiSearchResult(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	res, ok := h.searches.get(r.PathValue("id"))
	if !ok || (res.Researcher != p.User && p.Role != auth.RolePlatformAdmin) {
		httpx.Error(w, http.StatusNotFound, "no search %q of yours is kept here (results are kept for %s)", r.PathValue("id"), keptSearchTime)
		return
	}
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", `attachment; filename="search-`+res.ID+`.json"`)
	}
	httpx.JSON(w, http.StatusOK, res)
}
