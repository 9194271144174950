package visa

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/fed"
)

const (
	testIssuer = "https://hub.example.org"
	testNode   = "oslo"
	datasetA   = "https://hub.example.org/datasets/lung-ct-1"
	datasetB   = "urn:cie:dataset:prostate-mr-2"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeHub answers a node's requests as the hub would over the bus.
type fakeHub struct {
	is    *Issuer
	down  atomic.Bool
	calls atomic.Int32
	// gate, if set, holds each request until closed.
	gate chan struct{}
}

func (h *fakeHub) request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	h.calls.Add(1)
	if h.gate != nil {
		select {
		case <-h.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if h.down.Load() {
		return nil, errors.New("nats: no responders available for request")
	}
	node, err := fed.NodeFromSubject(subject)
	if err != nil {
		return nil, err
	}
	if subject != fed.VisaKeysSubject(node) {
		return nil, errors.New("wrong subject " + subject)
	}
	return h.is.HandleKeysRequest(node, data), nil
}

// memAudit is an in-memory Auditor.
type memAudit struct {
	mu     sync.Mutex
	events []audit.Event
	fail   bool
}

func (a *memAudit) Append(_ context.Context, e audit.Event) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return 0, errors.New("disk full")
	}
	a.events = append(a.events, e)
	return uint64(len(a.events) - 1), nil
}

func (a *memAudit) last(t *testing.T) audit.Event {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.events) == 0 {
		t.Fatal("no audit event")
	}
	return a.events[len(a.events)-1]
}

// world is a hub issuer and one node's cache and verifier, each with its own
// clock, joined by a fakeHub.
type world struct {
	hubClock, nodeClock *clock
	hubDir, nodeDir     string
	is                  *Issuer
	hub                 *fakeHub
	cache               *NodeCache
	v                   *Verifier
	audit               *memAudit
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{hubClock: newClock(), nodeClock: newClock(), hubDir: t.TempDir(), nodeDir: t.TempDir(), audit: &memAudit{}}
	var err error
	w.is, err = OpenIssuer(IssuerOptions{Dir: w.hubDir, Issuer: testIssuer, Now: w.hubClock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.hub = &fakeHub{is: w.is}
	w.openNode(t)
	if err := w.cache.Refresh(context.Background(), "start"); err != nil {
		t.Fatal(err)
	}
	return w
}

// openNode (re)opens the node's cache and verifier from its folder.
func (w *world) openNode(t testing.TB) {
	t.Helper()
	var err error
	w.cache, err = OpenNodeCache(NodeCacheOptions{Dir: w.nodeDir, Node: testNode, Request: w.hub.request, Now: w.nodeClock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.v = NewVerifier(w.cache, VerifierOptions{Audit: w.audit, Now: w.nodeClock.Now})
}

// push delivers the hub's current state to the node as a push would.
func (w *world) push(t *testing.T) {
	t.Helper()
	msg, err := w.is.UpdateMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cache.HandleUpdate(msg); err != nil {
		t.Fatal(err)
	}
}

func (w *world) issue(t *testing.T, dataset string, access Access, ttl time.Duration) Issued {
	t.Helper()
	iss, err := w.is.Issue(Grant{Subject: "alice", Dataset: dataset, Access: access,
		Expires: w.hubClock.Now().Add(ttl), RequestID: "req-42"})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func (w *world) allow(token, dataset string, act Action) Decision {
	return w.v.Allow(context.Background(), token, Request{Dataset: dataset, Action: act})
}

// currentKey returns the hub's signing key.
func (w *world) currentKey() (string, *ecdsa.PrivateKey) {
	w.is.mu.Lock()
	defer w.is.mu.Unlock()
	k := w.is.currentLocked()
	return k.Kid, k.priv
}

// claims returns the claims of a valid visa as a map, to change and re-sign.
func (w *world) claims(t *testing.T, ttl time.Duration) map[string]any {
	t.Helper()
	now := w.hubClock.Now()
	return map[string]any{
		"iss": testIssuer, "sub": "alice", "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randomID(),
		"ga4gh_visa_v1": map[string]any{"type": TypeControlledAccessGrants, "asserted": now.Unix(),
			"value": datasetA, "source": testIssuer, "by": "dac"},
		"cie_access": "download",
	}
}

// sign signs payload with priv under kid, typ visa.
func sign(t *testing.T, priv *ecdsa.PrivateKey, kid string, payload any) string {
	t.Helper()
	tok, err := signES256(priv, jwsHeader{Alg: AlgES256, Kid: kid, Typ: TypVisa}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawJWS assembles a token from a header and payload given as JSON, and sig.
func rawJWS(header, payload string, sig []byte) string {
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(sig)
}

// parts splits a token and decodes its payload.
func payloadOf(t *testing.T, token string) map[string]any {
	t.Helper()
	p := strings.Split(token, ".")
	b, err := b64.DecodeString(p[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantErr(t *testing.T, d Decision, sentinel error) {
	t.Helper()
	if d.Allowed || !errors.Is(d.Err, sentinel) {
		t.Fatalf("decision %+v (err %v), want refusal with %v", d, d.Err, sentinel)
	}
}

func wantAllowed(t *testing.T, d Decision) {
	t.Helper()
	if !d.Allowed || d.Err != nil {
		t.Fatalf("refused: %v", d.Err)
	}
}
