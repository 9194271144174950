package visa

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/fed"
)

// CacheFile is the file in which a NodeCache keeps what it learnt from the hub.
const CacheFile = "visa-cache.json"

// Defaults of NodeCacheOptions.
const (
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultRequestTimeout     = 5 * time.Second
)

// MaxRevocations is the most revocation entries a node keeps; a hub message
// that would take it beyond is refused (entries leave the list when their
// visa expires).
const MaxRevocations = 100000

// RequestFunc sends a request on subject and returns the reply's data. The
// node wires it to its bus connection, e.g.
//
//	func(ctx context.Context, subj string, data []byte) ([]byte, error) {
//		m, err := nc.RequestWithContext(ctx, subj, data)
//		if err != nil {
//			return nil, err
//		}
//		return m.Data, nil
//	}
type RequestFunc func(ctx context.Context, subject string, data []byte) ([]byte, error)

// NodeCacheOptions configure a NodeCache.
type NodeCacheOptions struct {
	// Dir is the folder of CacheFile (created 0700 if missing).
	Dir string
	// Node is the node's name, for its request subject.
	Node string
	// Request asks the hub; nil means the node never asks (Refresh returns
	// ErrNoHub) and learns only from Update.
	Request RequestFunc
	// MinRefreshInterval is the least time between two refreshes caused by
	// an unknown key id; DefaultMinRefreshInterval if zero.
	MinRefreshInterval time.Duration
	// RequestTimeout bounds one request to the hub; DefaultRequestTimeout if zero.
	RequestTimeout time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Log receives refresh failures; slog.Default() if nil.
	Log *slog.Logger
}

// cacheFile is CacheFile.
type cacheFile struct {
	Issuer     string               `json:"issuer"`
	Generation uint64               `json:"generation"`
	JWKS       json.RawMessage      `json:"jwks"`
	RevVersion uint64               `json:"revocation_version"`
	Revoked    []fed.VisaRevocation `json:"revoked"`
	// Updated is when the node last heard from the hub (the node's clock).
	Updated time.Time `json:"updated"`
}

// NodeCache is a node's copy of the hub's visa keys and revocation list: fed
// by the hub's replies and pushes, persisted so that a node restarted while
// the hub is down still verifies visas. Keys follow the hub (the highest
// generation wins); revocations accumulate (the union of every list seen,
// since a revocation is final) until their visa has expired. Its methods are
// safe for concurrent use.
type NodeCache struct {
	opts NodeCacheOptions

	mu      sync.RWMutex
	issuer  string
	gen     uint64
	jwks    json.RawMessage
	keys    map[string]*ecdsa.PublicKey
	rver    uint64
	revoked map[string]fed.VisaRevocation
	updated time.Time

	// Refreshes caused by unknown key ids: at most one at a time, and none
	// sooner than MinRefreshInterval after the last.
	rmu         sync.Mutex
	inflight    chan struct{}
	lastUnknown time.Time
	requests    int // requests sent to the hub, for tests and metrics
}

// OpenNodeCache opens the cache in opts.Dir, loading what an earlier run
// persisted.
func OpenNodeCache(opts NodeCacheOptions) (*NodeCache, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: no folder for the visa cache", ErrInvalid)
	}
	if opts.Request != nil {
		if err := fed.ValidNodeName(opts.Node); err != nil {
			return nil, err
		}
	}
	if opts.MinRefreshInterval <= 0 {
		opts.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("visa cache folder: %w", err)
	}
	c := &NodeCache{opts: opts, keys: map[string]*ecdsa.PublicKey{}, revoked: map[string]fed.VisaRevocation{}}
	path := filepath.Join(opts.Dir, CacheFile)
	data, err := readStateFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the visa cache: %w", err)
	}
	if data != nil {
		var cf cacheFile
		if err := json.Unmarshal(data, &cf); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		keys, err := ParseJWKS(cf.JWKS)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		c.issuer, c.gen, c.jwks, c.keys, c.rver, c.updated = cf.Issuer, cf.Generation, cf.JWKS, keys, cf.RevVersion, cf.Updated
		for _, e := range cf.Revoked {
			c.revoked[e.JTI] = e
		}
	}
	return c, nil
}

// saveLocked persists the cache.
func (c *NodeCache) saveLocked() error {
	cf := cacheFile{Issuer: c.issuer, Generation: c.gen, JWKS: c.jwks, RevVersion: c.rver, Updated: c.updated,
		Revoked: make([]fed.VisaRevocation, 0, len(c.revoked))}
	for _, e := range c.revoked {
		cf.Revoked = append(cf.Revoked, e)
	}
	slices.SortFunc(cf.Revoked, func(a, b fed.VisaRevocation) int { return strings.Compare(a.JTI, b.JTI) })
	data, err := json.Marshal(cf)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(c.opts.Dir, CacheFile), data, 0o600); err != nil {
		return fmt.Errorf("saving the visa cache: %w", err)
	}
	return nil
}

// Update applies a VisaKeys message from the hub (a reply or a push): its
// key set if its generation is not below the one held, and its revocations
// in any case. It persists the result before returning.
func (c *NodeCache) Update(m *fed.VisaKeys) error {
	if m == nil {
		return fmt.Errorf("%w: no message", ErrMalformed)
	}
	if m.Error != "" {
		return fmt.Errorf("hub refused the visa keys request: %s", m.Error)
	}
	if err := checkURLClaim("issuer", m.Issuer); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	keys, err := ParseJWKS(m.JWKS)
	if err != nil {
		return err
	}
	for _, e := range m.Revocations.Entries {
		if e.JTI == "" || len(e.JTI) > 255 {
			return fmt.Errorf("%w: a revocation without a usable jti", ErrMalformed)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now().UTC()
	added := 0
	for _, e := range m.Revocations.Entries {
		if _, ok := c.revoked[e.JTI]; !ok {
			added++
		}
	}
	if len(c.revoked)+added > MaxRevocations {
		return fmt.Errorf("%w: more than %d revocations", ErrMalformed, MaxRevocations)
	}
	if m.Issuer != c.issuer || m.Generation >= c.gen {
		// A new issuer (a reconfigured hub) replaces everything it signed for.
		c.issuer, c.gen, c.jwks, c.keys = m.Issuer, m.Generation, slices.Clone(m.JWKS), keys
	}
	for _, e := range m.Revocations.Entries {
		if old, ok := c.revoked[e.JTI]; !ok || e.RevokedAt.Before(old.RevokedAt) {
			c.revoked[e.JTI] = e
		}
	}
	for jti, e := range c.revoked {
		if e.Expires.Add(keyGrace).Before(now) {
			delete(c.revoked, jti)
		}
	}
	c.rver = max(c.rver, m.Revocations.Version)
	c.updated = now
	return c.saveLocked()
}

// HandleUpdate decodes and applies a fed.VisaKeys message the hub pushed on
// fed.VisaUpdateSubject(node).
func (c *NodeCache) HandleUpdate(data []byte) error {
	var m fed.VisaKeys
	if err := fed.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c.Update(&m)
}

// Refresh asks the hub for its keys and revocations and applies the answer.
// reason is sent along ("start", "periodic", "manual").
func (c *NodeCache) Refresh(ctx context.Context, reason string) error {
	return c.refresh(ctx, reason, "")
}

func (c *NodeCache) refresh(ctx context.Context, reason, kid string) error {
	if c.opts.Request == nil {
		return ErrNoHub
	}
	c.mu.RLock()
	req := fed.VisaKeysRequest{Node: c.opts.Node, Generation: c.gen, RevocationVersion: c.rver, Reason: reason, Kid: kid}
	c.mu.RUnlock()
	data, err := fed.Marshal(&req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	c.rmu.Lock()
	c.requests++
	c.rmu.Unlock()
	reply, err := c.opts.Request(ctx, fed.VisaKeysSubject(c.opts.Node), data)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoHub, err)
	}
	return c.HandleUpdate(reply)
}

// refreshForKid asks the hub once for a key id it does not know: concurrent
// callers wait for the same request, and no request is sent sooner than
// MinRefreshInterval after the previous one. It returns when the key set may
// have changed.
func (c *NodeCache) refreshForKid(ctx context.Context, kid string) {
	c.rmu.Lock()
	if ch := c.inflight; ch != nil {
		c.rmu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	now := c.opts.Now()
	if !c.lastUnknown.IsZero() && now.Sub(c.lastUnknown) < c.opts.MinRefreshInterval {
		c.rmu.Unlock()
		return
	}
	c.lastUnknown = now
	ch := make(chan struct{})
	c.inflight = ch
	c.rmu.Unlock()

	// The request outlives a caller that gives up: others wait for it.
	err := c.refresh(context.WithoutCancel(ctx), "unknown-kid", kid)
	if err != nil && !errors.Is(err, ErrNoHub) {
		c.opts.Log.Warn("visa: refreshing keys for an unknown key id failed", "kid", kid, "err", err)
	}
	c.rmu.Lock()
	c.inflight = nil
	c.rmu.Unlock()
	close(ch)
}

// Run refreshes at once and then every interval until ctx ends, logging
// failures (the cache keeps serving what it has).
func (c *NodeCache) Run(ctx context.Context, interval time.Duration) {
	reason := "start"
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.Refresh(ctx, reason); err != nil && ctx.Err() == nil {
			c.opts.Log.Warn("visa: refreshing keys from the hub failed", "err", err)
		}
		reason = "periodic"
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// key returns the public key kid, asking the hub once if it is unknown.
func (c *NodeCache) key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	c.mu.RLock()
	k := c.keys[kid]
	c.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	c.refreshForKid(ctx, kid)
	c.mu.RLock()
	k = c.keys[kid]
	c.mu.RUnlock()
	if k == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	return k, nil
}

// revocation returns the revocation of jti, if any.
func (c *NodeCache) revocation(jti string) (fed.VisaRevocation, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.revoked[jti]
	return e, ok
}

// Issuer returns the hub's issuer name ("" before the first update).
func (c *NodeCache) Issuer() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.issuer
}

// Generation returns the generation of the key set held.
func (c *NodeCache) Generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// RevocationVersion returns the highest revocation list version seen.
func (c *NodeCache) RevocationVersion() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rver
}

// KeyIDs returns the ids of the keys held, sorted.
func (c *NodeCache) KeyIDs() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := make([]string, 0, len(c.keys))
	for id := range c.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Updated returns when the node last heard from the hub (zero if never).
func (c *NodeCache) Updated() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.updated
}

// Requests returns how many requests the cache has sent to the hub.
func (c *NodeCache) Requests() int {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.requests
}
