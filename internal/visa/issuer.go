package visa

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

// Files an Issuer keeps in its folder.
const (
	// KeysFile holds the hub's signing keys, private halves included (mode 0600).
	KeysFile = "visa-keys.json"
	// RevocationsFile holds the hub's revocation list.
	RevocationsFile = "visa-revocations.json"
)

// Defaults of IssuerOptions.
const (
	DefaultRotateEvery = 30 * 24 * time.Hour
	DefaultMaxLifetime = 365 * 24 * time.Hour
)

// MaxPassportVisas is the most visas a passport may carry.
const MaxPassportVisas = 64

// keyGrace is how long after the last expiry of what a key signed the key
// stays published, and how long after its visa's expiry a revocation stays
// listed; it covers clock skew and any verifier leeway up to it.
const keyGrace = 10 * time.Minute

// IssuerOptions configure an Issuer.
type IssuerOptions struct {
	// Dir is the folder of KeysFile and RevocationsFile; it is created (0700)
	// if missing.
	Dir string
	// Issuer is the "iss" of every visa, e.g. "https://hub.example.org".
	Issuer string
	// Source is the ga4gh_visa_v1 "source" (the organisation that decides on
	// access); Issuer if empty.
	Source string
	// JWKSURL is the "jku" header (the GA4GH AAI profile requires it on visa
	// document tokens): where the hub serves JWKS() over HTTPS. Issuer +
	// "/.well-known/jwks.json" if empty.
	JWKSURL string
	// RotateEvery is how long a key signs before Maintain rotates it;
	// DefaultRotateEvery if zero.
	RotateEvery time.Duration
	// MaxLifetime is the longest a visa may be valid; DefaultMaxLifetime if zero.
	MaxLifetime time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Log receives Run's errors; slog.Default() if nil.
	Log *slog.Logger
}

// Grant is what an approved access request grants.
type Grant struct {
	// Subject is the researcher ("sub"), as the hub's login names them.
	Subject string
	// Dataset is the dataset's identifier (the visa "value"): a URL or URN,
	// or the hub's catalogue identifier, which cie nodes match exactly.
	Dataset string
	// Access is the access model granted.
	Access Access
	// Expires is when the grant ends ("exp"); at most MaxLifetime from now.
	Expires time.Time
	// RequestID is the access request that was approved (ClaimRequest).
	RequestID string
}

// Issued describes a visa the Issuer signed.
type Issued struct {
	Token    string    // the visa, a compact JWS
	JTI      string    // its "jti", to revoke it
	KeyID    string    // the key that signed it
	IssuedAt time.Time // "iat"
	Expires  time.Time // "exp"
}

// Key states in the ring.
const (
	stateNext    = "next"    // published, not yet signing
	stateCurrent = "current" // signing
	stateRetired = "retired" // published until what it signed has expired
)

// ringKey is one key of the ring as stored.
type ringKey struct {
	Kid       string    `json:"kid"`
	State     string    `json:"state"`
	Created   time.Time `json:"created"`
	Activated time.Time `json:"activated,omitzero"`
	Retired   time.Time `json:"retired,omitzero"`
	// LastExp is the latest "exp" of anything the key signed.
	LastExp time.Time `json:"last_exp,omitzero"`
	// D is the private scalar (SEC 1 section 2.3.6).
	D []byte `json:"d"`

	priv *ecdsa.PrivateKey
}

// ringFile is KeysFile.
type ringFile struct {
	Generation uint64     `json:"generation"`
	Keys       []*ringKey `json:"keys"`
}

// revocationFile is RevocationsFile.
type revocationFile struct {
	Version uint64               `json:"version"`
	Entries []fed.VisaRevocation `json:"entries"`
}

// Issuer is the hub's visa issuer: a key ring persisted in a folder, the
// revocation list, and the answers to the nodes' requests for both.
//
// The ring holds one current key (signing), one next key (published ahead
// so that nodes hold it before it signs) and retired keys, each kept in the
// JWKS until everything it signed has expired. Its methods are safe for
// concurrent use.
type Issuer struct {
	opts IssuerOptions

	mu   sync.Mutex
	ring ringFile
	revs map[string]fed.VisaRevocation
	rver uint64
}

// OpenIssuer opens the key ring and revocation list in opts.Dir, creating
// them if missing.
func OpenIssuer(opts IssuerOptions) (*Issuer, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: no folder for the visa keys", ErrInvalid)
	}
	if err := checkURLClaim("issuer", opts.Issuer); err != nil {
		return nil, err
	}
	if opts.Source == "" {
		opts.Source = opts.Issuer
	}
	if err := checkURLClaim("source", opts.Source); err != nil {
		return nil, err
	}
	if opts.JWKSURL == "" {
		opts.JWKSURL = strings.TrimSuffix(opts.Issuer, "/") + "/.well-known/jwks.json"
	}
	if opts.RotateEvery <= 0 {
		opts.RotateEvery = DefaultRotateEvery
	}
	if opts.MaxLifetime <= 0 {
		opts.MaxLifetime = DefaultMaxLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("visa keys folder: %w", err)
	}
	is := &Issuer{opts: opts, revs: make(map[string]fed.VisaRevocation)}
	if err := is.loadRing(); err != nil {
		return nil, err
	}
	if err := is.loadRevocations(); err != nil {
		return nil, err
	}
	return is, nil
}

func (is *Issuer) now() time.Time { return is.opts.Now().UTC() }

// nextGeneration returns a generation above old that also grows with the
// clock, so that a hub whose key folder was lost and re-created still
// publishes a generation above what its nodes hold.
func nextGeneration(old uint64, now time.Time) uint64 {
	return max(old+1, uint64(max(now.UnixMicro(), 0)))
}

// newRingKey generates a key in state.
func newRingKey(state string, now time.Time) (*ringKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a visa key: %w", err)
	}
	d, err := priv.Bytes()
	if err != nil {
		return nil, err
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	k := &ringKey{Kid: kid, State: state, Created: now, D: d, priv: priv}
	if state == stateCurrent {
		k.Activated = now
	}
	return k, nil
}

func (is *Issuer) loadRing() error {
	path := filepath.Join(is.opts.Dir, KeysFile)
	data, err := readStateFile(path)
	if err != nil {
		return fmt.Errorf("reading visa keys: %w", err)
	}
	if data == nil {
		now := is.now()
		cur, err := newRingKey(stateCurrent, now)
		if err != nil {
			return err
		}
		next, err := newRingKey(stateNext, now)
		if err != nil {
			return err
		}
		is.ring = ringFile{Generation: nextGeneration(0, now), Keys: []*ringKey{cur, next}}
		return is.saveRing()
	}
	var rf ringFile
	if err := json.Unmarshal(data, &rf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	current := 0
	for _, k := range rf.Keys {
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), k.D)
		if err != nil {
			return fmt.Errorf("%s: key %q: %w", path, k.Kid, err)
		}
		kid, err := Thumbprint(&priv.PublicKey)
		if err != nil || kid != k.Kid {
			return fmt.Errorf("%s: key %q does not match its private key", path, k.Kid)
		}
		k.priv = priv
		switch k.State {
		case stateCurrent:
			current++
		case stateNext, stateRetired:
		default:
			return fmt.Errorf("%s: key %q has unknown state %q", path, k.Kid, k.State)
		}
	}
	if current != 1 {
		return fmt.Errorf("%s: %d current keys, want 1", path, current)
	}
	is.ring = rf
	return nil
}

func (is *Issuer) saveRing() error {
	data, err := json.MarshalIndent(is.ring, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(is.opts.Dir, KeysFile), data, 0o600); err != nil {
		return fmt.Errorf("saving visa keys: %w", err)
	}
	return nil
}

func (is *Issuer) loadRevocations() error {
	path := filepath.Join(is.opts.Dir, RevocationsFile)
	data, err := readStateFile(path)
	if err != nil || data == nil {
		return err
	}
	var rf revocationFile
	if err := json.Unmarshal(data, &rf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	is.rver = rf.Version
	for _, e := range rf.Entries {
		is.revs[e.JTI] = e
	}
	return nil
}

// revocationsLocked returns the revocation list, sorted by jti.
func (is *Issuer) revocationsLocked() fed.VisaRevocations {
	l := fed.VisaRevocations{Version: is.rver, Entries: make([]fed.VisaRevocation, 0, len(is.revs))}
	for _, e := range is.revs {
		l.Entries = append(l.Entries, e)
	}
	slices.SortFunc(l.Entries, func(a, b fed.VisaRevocation) int { return strings.Compare(a.JTI, b.JTI) })
	return l
}

func (is *Issuer) saveRevocations() error {
	l := is.revocationsLocked()
	data, err := json.MarshalIndent(revocationFile{Version: l.Version, Entries: l.Entries}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(is.opts.Dir, RevocationsFile), data, 0o600); err != nil {
		return fmt.Errorf("saving visa revocations: %w", err)
	}
	return nil
}

// currentLocked returns the signing key.
func (is *Issuer) currentLocked() *ringKey {
	for _, k := range is.ring.Keys {
		if k.State == stateCurrent {
			return k
		}
	}
	return nil // loadRing and rotate keep exactly one
}

// signLocked signs payload with the current key, first recording (durably)
// that the key signed something valid until exp, so that the key is never
// dropped while that token is valid.
func (is *Issuer) signLocked(typ string, exp time.Time, payload any) (string, *ringKey, error) {
	k := is.currentLocked()
	if k == nil {
		return "", nil, errors.New("visa key ring has no current key")
	}
	if exp.After(k.LastExp) {
		old := k.LastExp
		k.LastExp = exp
		if err := is.saveRing(); err != nil {
			k.LastExp = old
			return "", nil, err
		}
	}
	tok, err := signES256(k.priv, jwsHeader{Alg: AlgES256, JKU: is.opts.JWKSURL, Kid: k.Kid, Typ: typ}, payload)
	return tok, k, err
}

// randomID returns 128 random bits in base64url.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b64.EncodeToString(b)
}

// checkExpiry checks that exp is after now and at most MaxLifetime away.
func (is *Issuer) checkExpiry(now, exp time.Time) error {
	if !exp.After(now) {
		return fmt.Errorf("%w: expiry %s is not in the future", ErrInvalid, exp.Format(time.RFC3339))
	}
	if exp.Sub(now) > is.opts.MaxLifetime {
		return fmt.Errorf("%w: expiry %s is more than %s away", ErrInvalid, exp.Format(time.RFC3339), is.opts.MaxLifetime)
	}
	return nil
}

// Issue signs a GA4GH Passport visa (a visa document token, GA4GH AAI
// profile) of type ControlledAccessGrants for g, with "by" "dac".
func (is *Issuer) Issue(g Grant) (Issued, error) {
	if err := checkText("subject", g.Subject, true); err != nil {
		return Issued{}, err
	}
	if err := checkDatasetClaim(g.Dataset); err != nil {
		return Issued{}, err
	}
	if err := g.Access.Valid(); err != nil {
		return Issued{}, err
	}
	if err := checkText("request id", g.RequestID, false); err != nil {
		return Issued{}, err
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.now().Truncate(time.Second)
	exp := g.Expires.UTC().Truncate(time.Second)
	if err := is.checkExpiry(now, exp); err != nil {
		return Issued{}, err
	}
	p := visaPayload{
		Iss: is.opts.Issuer, Sub: g.Subject, Iat: now.Unix(), Exp: exp.Unix(), Jti: randomID(),
		Visa: visaObject{Type: TypeControlledAccessGrants, Asserted: now.Unix(), Value: g.Dataset,
			Source: is.opts.Source, By: ByDAC},
		Access: g.Access, Request: g.RequestID,
	}
	tok, k, err := is.signLocked(TypVisa, exp, p)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Token: tok, JTI: p.Jti, KeyID: k.Kid, IssuedAt: now, Expires: exp}, nil
}

// IssuePassport signs a passport (GA4GH AAI profile, "Passport Format") for
// subject carrying visas, which the hub issued to the same subject.
func (is *Issuer) IssuePassport(subject string, visas []string, expires time.Time) (string, error) {
	if err := checkText("subject", subject, true); err != nil {
		return "", err
	}
	if len(visas) > MaxPassportVisas {
		return "", fmt.Errorf("%w: %d visas, at most %d", ErrInvalid, len(visas), MaxPassportVisas)
	}
	for _, v := range visas {
		if len(v) > MaxVisaSize {
			return "", fmt.Errorf("%w: a visa of %d bytes, at most %d", ErrInvalid, len(v), MaxVisaSize)
		}
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.now().Truncate(time.Second)
	exp := expires.UTC().Truncate(time.Second)
	if err := is.checkExpiry(now, exp); err != nil {
		return "", err
	}
	p := passportPayload{Iss: is.opts.Issuer, Sub: subject, Iat: now.Unix(), Exp: exp.Unix(), Jti: randomID(),
		Visas: append([]string{}, visas...)}
	tok, _, err := is.signLocked(TypPassport, exp, p)
	return tok, err
}

// Rotate makes the next key the signing key, retires the current one (it
// stays published until what it signed has expired) and adds a new next key.
func (is *Issuer) Rotate() error {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.rotateLocked()
}

func (is *Issuer) rotateLocked() error {
	now := is.now()
	fresh, err := newRingKey(stateNext, now)
	if err != nil {
		return err
	}
	var promote *ringKey
	for _, k := range is.ring.Keys {
		if k.State == stateNext {
			promote = k
			break
		}
	}
	var extra []*ringKey
	if promote == nil { // a ring without a next key: a new key signs at once
		if promote, err = newRingKey(stateNext, now); err != nil {
			return err
		}
		extra = append(extra, promote)
	}
	// Keep the old state to put back if the ring cannot be saved.
	oldKeys, oldGen := slices.Clone(is.ring.Keys), is.ring.Generation
	saved := make([]ringKey, len(oldKeys))
	for i, k := range oldKeys {
		saved[i] = *k
	}
	for _, k := range is.ring.Keys {
		if k.State == stateCurrent {
			k.State, k.Retired = stateRetired, now
		}
	}
	promote.State, promote.Activated = stateCurrent, now
	is.ring.Keys = append(append(is.ring.Keys, extra...), fresh)
	is.ring.Generation = nextGeneration(oldGen, now)
	if err := is.saveRing(); err != nil {
		for i, k := range oldKeys {
			*k = saved[i]
		}
		is.ring.Keys, is.ring.Generation = oldKeys, oldGen
		return err
	}
	return nil
}

// Maintain rotates the signing key if it has signed for RotateEvery, drops
// retired keys whose last signed token expired more than keyGrace ago, and
// forgets revocations of visas expired as long. It reports whether the key
// set changed (the hub then pushes UpdateMessage to every node).
func (is *Issuer) Maintain() (changed bool, err error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.now()
	if cur := is.currentLocked(); cur != nil && now.Sub(cur.Activated) >= is.opts.RotateEvery {
		if err := is.rotateLocked(); err != nil {
			return false, err
		}
		changed = true
	}
	kept := is.ring.Keys[:0:0]
	for _, k := range is.ring.Keys {
		if k.State == stateRetired && k.LastExp.Add(keyGrace).Before(now) {
			continue
		}
		kept = append(kept, k)
	}
	if len(kept) != len(is.ring.Keys) {
		old, gen := is.ring.Keys, is.ring.Generation
		is.ring.Keys, is.ring.Generation = kept, nextGeneration(gen, now)
		if err := is.saveRing(); err != nil {
			is.ring.Keys, is.ring.Generation = old, gen
			return changed, err
		}
		changed = true
	}
	pruned := false
	for jti, e := range is.revs {
		if e.Expires.Add(keyGrace).Before(now) {
			delete(is.revs, jti)
			pruned = true
		}
	}
	if pruned {
		if err := is.saveRevocations(); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// Run calls Maintain every interval until ctx ends, and onChange (if not
// nil) after each call that changed the key set.
func (is *Issuer) Run(ctx context.Context, interval time.Duration, onChange func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		changed, err := is.Maintain()
		if err != nil {
			is.opts.Log.Error("visa: key maintenance failed", "err", err)
		}
		if changed && onChange != nil {
			onChange()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Revoke records that the visa jti (valid until expires) is revoked, for
// reason. Revoking a revoked visa changes nothing; a revocation is final. A
// zero expires stands for now + MaxLifetime, after which no visa issued until
// now can be valid.
func (is *Issuer) Revoke(jti string, expires time.Time, reason string) error {
	if err := checkText("jti", jti, true); err != nil {
		return err
	}
	if err := checkText("reason", reason, false); err != nil {
		return err
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if _, ok := is.revs[jti]; ok {
		return nil
	}
	now := is.now()
	if expires.IsZero() {
		expires = now.Add(is.opts.MaxLifetime)
	}
	is.revs[jti] = fed.VisaRevocation{JTI: jti, RevokedAt: now, Reason: reason, Expires: expires.UTC()}
	is.rver++
	if err := is.saveRevocations(); err != nil {
		delete(is.revs, jti)
		is.rver--
		return err
	}
	return nil
}

// Revocations returns the revocation list.
func (is *Issuer) Revocations() fed.VisaRevocations {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.revocationsLocked()
}

// Generation returns the key set's generation, which grows with every change.
func (is *Issuer) Generation() uint64 {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.ring.Generation
}

// CurrentKeyID returns the kid of the signing key.
func (is *Issuer) CurrentKeyID() string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.currentLocked().Kid
}

// jwksLocked encodes the public keys: current, next, then retired ones.
func (is *Issuer) jwksLocked() []byte {
	order := map[string]int{stateCurrent: 0, stateNext: 1, stateRetired: 2}
	keys := slices.Clone(is.ring.Keys)
	slices.SortStableFunc(keys, func(a, b *ringKey) int { return order[a.State] - order[b.State] })
	set := JWKSet{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		j, err := publicJWK(&k.priv.PublicKey)
		if err != nil {
			continue // cannot happen for a P-256 key the ring loaded
		}
		set.Keys = append(set.Keys, j)
	}
	data, _ := json.Marshal(set) // strings only: cannot fail
	return data
}

// JWKS returns the hub's JSON Web Key Set (RFC 7517), to serve at JWKSURL
// with media type application/jwk-set+json.
func (is *Issuer) JWKS() []byte {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.jwksLocked()
}

// State returns what nodes need to verify visas: the reply to a
// fed.VisaKeysRequest and the message pushed on fed.VisaUpdateSubject.
func (is *Issuer) State() *fed.VisaKeys {
	is.mu.Lock()
	defer is.mu.Unlock()
	return &fed.VisaKeys{Issuer: is.opts.Issuer, Generation: is.ring.Generation, JWKS: is.jwksLocked(),
		Revocations: is.revocationsLocked(), Time: is.now()}
}

// UpdateMessage returns State encoded for publishing on
// fed.VisaUpdateSubject(node) to every node.
func (is *Issuer) UpdateMessage() ([]byte, error) {
	return fed.Marshal(is.State())
}

// HandleKeysRequest answers a fed.VisaKeysRequest that node sent on
// fed.VisaKeysSubject(node): the encoded State, or a fed.VisaKeys with Error
// set if the request is not understood. The hub replies with the result.
func (is *Issuer) HandleKeysRequest(node string, data []byte) []byte {
	var req fed.VisaKeysRequest
	var msg *fed.VisaKeys
	switch err := fed.Unmarshal(data, &req); {
	case err != nil:
		msg = &fed.VisaKeys{Error: err.Error()}
	case req.Node != node:
		msg = &fed.VisaKeys{Error: fmt.Sprintf("request names node %q, sent by %q", req.Node, node)}
	default:
		msg = is.State()
	}
	out, err := fed.Marshal(msg)
	if err != nil { // strings, numbers and valid JSON only: cannot happen
		out, _ = fed.Marshal(&fed.VisaKeys{Error: "encoding the visa keys failed"})
	}
	return out
}
