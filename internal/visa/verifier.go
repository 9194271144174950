package visa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cancerimage/cie/internal/audit"
)

// Defaults of VerifierOptions.
const (
	// DefaultLeeway is the clock skew allowed on "exp", "nbf" and "iat"
	// (RFC 7519 sections 4.1.4 and 4.1.5 allow "some small leeway").
	DefaultLeeway = time.Minute
	// DefaultMaxStale is how long a node keeps verifying without news from
	// the hub: revocations made meanwhile cannot reach it.
	DefaultMaxStale = 24 * time.Hour
)

// Audit event types a Verifier writes.
const (
	EventAllowed = "visa.allowed"
	EventDenied  = "visa.denied"
)

// Auditor appends events to an audit log; *audit.Log is one.
type Auditor interface {
	Append(ctx context.Context, e audit.Event) (uint64, error)
}

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	// Leeway is the clock skew allowed; DefaultLeeway if zero, none if negative.
	Leeway time.Duration
	// MaxStale is how long since the cache last heard from the hub visas are
	// still accepted; DefaultMaxStale if zero, no limit if negative.
	MaxStale time.Duration
	// Audit receives every decision Allow makes; nil logs nothing.
	Audit Auditor
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Verifier is the node's visa checker: it verifies visas and passports with
// the keys and revocations of a NodeCache and decides, per request, whether a
// visa grants it.
type Verifier struct {
	cache *NodeCache
	opts  VerifierOptions
}

// NewVerifier returns a Verifier over cache.
func NewVerifier(cache *NodeCache, opts VerifierOptions) *Verifier {
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.Leeway < 0 {
		opts.Leeway = 0
	}
	if opts.MaxStale == 0 {
		opts.MaxStale = DefaultMaxStale
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Verifier{cache: cache, opts: opts}
}

// verifyJWS checks a parsed token's signature with the cached key its kid
// names, its issuer and its times.
func (v *Verifier) verifyJWS(ctx context.Context, t *jwsToken) error {
	key, err := v.cache.key(ctx, t.kid)
	if err != nil {
		return err
	}
	if err := t.verifyES256(key); err != nil {
		return err
	}
	iss, err := stringMember(t.claims, "iss", true)
	if err != nil {
		return err
	}
	if want := v.cache.Issuer(); iss != want {
		return fmt.Errorf("%w: %q (the hub is %q)", ErrWrongIssuer, iss, want)
	}
	return nil
}

// checkTimes checks exp, nbf and iat against now with the leeway.
func (v *Verifier) checkTimes(iat, nbf, exp time.Time) error {
	now := v.opts.Now()
	if !now.Before(exp.Add(v.opts.Leeway)) {
		return fmt.Errorf("%w at %s", ErrExpired, exp.Format(time.RFC3339))
	}
	if !nbf.IsZero() && now.Add(v.opts.Leeway).Before(nbf) {
		return fmt.Errorf("%w: not before %s", ErrNotYetValid, nbf.Format(time.RFC3339))
	}
	if now.Add(v.opts.Leeway).Before(iat) {
		return fmt.Errorf("%w: issued in the future, at %s", ErrNotYetValid, iat.Format(time.RFC3339))
	}
	return nil
}

// checkTyp checks the "typ" header: for a visa, absent, "JWT" or the visa
// media type; for a passport, the passport media type. Media types compare
// case-insensitively, with or without "application/" (RFC 7515 4.1.9).
func checkTyp(typ, want string, optional bool) error {
	t := strings.TrimPrefix(strings.ToLower(typ), "application/")
	if t == want || optional && (typ == "" || t == "jwt") {
		return nil
	}
	return fmt.Errorf("%w: typ %q, want %q", ErrMalformed, typ, want)
}

// verifyVisaToken verifies one visa token. The Visa is returned, with the
// error, once its signature and issuer have been checked, so that a caller
// can tell which dataset an expired or revoked visa was for.
func (v *Verifier) verifyVisaToken(ctx context.Context, token string) (*Visa, error) {
	t, err := parseJWS(token, MaxVisaSize)
	if err != nil {
		return nil, err
	}
	if _, ok := t.claims[ClaimPassport]; ok {
		return nil, fmt.Errorf("%w: a passport where a visa was expected", ErrMalformed)
	}
	if err := checkTyp(t.typ, TypVisa, true); err != nil {
		return nil, err
	}
	if err := v.verifyJWS(ctx, t); err != nil {
		return nil, err
	}
	vi, err := visaFromClaims(t.claims, t.kid)
	if err != nil {
		return nil, err
	}
	if err := v.checkTimes(vi.IssuedAt, vi.NotBefore, vi.Expires); err != nil {
		return vi, err
	}
	if r, ok := v.cache.revocation(vi.JTI); ok {
		return vi, fmt.Errorf("%w at %s: %s", ErrRevoked, r.RevokedAt.Format(time.RFC3339), r.Reason)
	}
	// Passport 1.2, "conditions": a clearinghouse that does not evaluate
	// conditions MUST reject visas that carry them.
	switch {
	case vi.Type != TypeControlledAccessGrants:
		return vi, fmt.Errorf("%w: visa type %q", ErrNotGrant, vi.Type)
	case vi.Conditions:
		return vi, fmt.Errorf("%w: visa has conditions, which this node does not evaluate", ErrNotGrant)
	case vi.By != ByDAC:
		return vi, fmt.Errorf("%w: by %q, want %q", ErrNotGrant, vi.By, ByDAC)
	case vi.Access.Valid() != nil:
		return vi, fmt.Errorf("%w: no valid %s claim (%q)", ErrNotGrant, ClaimAccess, string(vi.Access))
	}
	return vi, nil
}

// VerifyVisa verifies a visa: form, algorithm, key, signature, issuer,
// times, revocation, and that it is a ControlledAccessGrants visa with an
// access model. On error the Visa may be returned too (see the error).
func (v *Verifier) VerifyVisa(ctx context.Context, token string) (*Visa, error) {
	if err := v.fresh(); err != nil {
		return nil, err
	}
	return v.verifyVisaToken(ctx, token)
}

// fresh checks that the cache heard from the hub recently enough.
func (v *Verifier) fresh() error {
	if v.opts.MaxStale < 0 {
		return nil
	}
	u := v.cache.Updated()
	if u.IsZero() {
		return nil // nothing cached: key lookup asks the hub, or fails
	}
	if age := v.opts.Now().Sub(u); age > v.opts.MaxStale {
		return fmt.Errorf("%w: last heard from the hub %s ago", ErrStale, age.Round(time.Second))
	}
	return nil
}

// Checked is one visa of a presented token with the outcome of its checks.
type Checked struct {
	Visa *Visa // nil if the visa could not be authenticated
	Err  error // nil if the visa is valid
}

// VerifyToken verifies a passport or a bare visa. For a passport, it checks
// the passport (typ, signature by the hub, times, revocation of its jti) and
// then each embedded visa, which must be the hub's and name the passport's
// subject. It returns every visa with its outcome; err is set only if the
// token as a whole is refused.
func (v *Verifier) VerifyToken(ctx context.Context, token string) ([]Checked, error) {
	if err := v.fresh(); err != nil {
		return nil, err
	}
	t, err := parseJWS(token, MaxTokenSize)
	if err != nil {
		return nil, err
	}
	raw, isPassport := t.claims[ClaimPassport]
	if !isPassport {
		vi, err := v.verifyVisaToken(ctx, token)
		return []Checked{{Visa: vi, Err: err}}, nil
	}
	if err := checkTyp(t.typ, TypPassport, false); err != nil {
		return nil, err
	}
	if err := v.verifyJWS(ctx, t); err != nil {
		return nil, err
	}
	sub, err := stringMember(t.claims, "sub", true)
	if err != nil {
		return nil, err
	}
	iat, err := timeMember(t.claims, "iat", true)
	if err != nil {
		return nil, err
	}
	exp, err := timeMember(t.claims, "exp", true)
	if err != nil {
		return nil, err
	}
	nbf, err := timeMember(t.claims, "nbf", false)
	if err != nil {
		return nil, err
	}
	if err := v.checkTimes(iat, nbf, exp); err != nil {
		return nil, fmt.Errorf("passport: %w", err)
	}
	if jti, _ := stringMember(t.claims, "jti", false); jti != "" {
		if r, ok := v.cache.revocation(jti); ok {
			return nil, fmt.Errorf("passport: %w at %s: %s", ErrRevoked, r.RevokedAt.Format(time.RFC3339), r.Reason)
		}
	}
	var visas []string
	if err := json.Unmarshal(raw, &visas); err != nil {
		return nil, fmt.Errorf("%w: %s is not a list of strings", ErrMalformed, ClaimPassport)
	}
	if len(visas) == 0 {
		return nil, fmt.Errorf("%w: the passport carries none", ErrNoVisa)
	}
	if len(visas) > MaxPassportVisas {
		return nil, fmt.Errorf("%w: %d visas in the passport, at most %d", ErrMalformed, len(visas), MaxPassportVisas)
	}
	out := make([]Checked, 0, len(visas))
	for _, s := range visas {
		vi, err := v.verifyVisaToken(ctx, s)
		// Visas of other subjects would need LinkedIdentities visas
		// (Passport 1.2), which this node does not evaluate.
		if err == nil && vi.Subject != sub {
			err = fmt.Errorf("%w: visa for %q in a passport of %q", ErrWrongSubject, vi.Subject, sub)
		}
		out = append(out, Checked{Visa: vi, Err: err})
	}
	return out, nil
}

// Request is what a caller asks a node to do.
type Request struct {
	// Dataset is the dataset's identifier, as the visa "value" names it.
	Dataset string
	// Action is what the caller wants to do.
	Action Action
	// Subject, if not empty, is who the node authenticated; the visa's "sub"
	// must equal it.
	Subject string
	// Resource, if not empty, names what was asked for (e.g. a DICOMweb
	// path); it is logged with the decision.
	Resource string
}

// Decision is the outcome of Allow.
type Decision struct {
	// Allowed is true if a presented visa grants the request.
	Allowed bool
	// Reason explains the decision in one sentence.
	Reason string
	// Err is nil if Allowed, and otherwise wraps one of the sentinel errors.
	Err error
	// Visa is the visa that granted the request or, for a refusal, the visa
	// that came closest (nil if none could be authenticated).
	Visa *Visa
}

// rank orders refusals by how close the visa came to granting req, so that
// the reason given is the most useful one.
func rank(c Checked, req Request) int {
	switch {
	case c.Visa == nil:
		return 1
	case c.Visa.Value != req.Dataset:
		return 2
	default:
		return 3
	}
}

// decide evaluates the verified visas against req.
func decide(checked []Checked, req Request) Decision {
	best, bestRank := Decision{Err: fmt.Errorf("%w presented", ErrNoVisa)}, 0
	for _, c := range checked {
		err := c.Err
		if err == nil {
			switch {
			case c.Visa.Value != req.Dataset:
				err = fmt.Errorf("%w: the visa is for %q", ErrWrongDataset, c.Visa.Value)
			case req.Subject != "" && c.Visa.Subject != req.Subject:
				err = fmt.Errorf("%w: the visa is for %q", ErrWrongSubject, c.Visa.Subject)
			case !c.Visa.Access.Permits(req.Action):
				err = fmt.Errorf("%w: %s access does not permit %s", ErrWrongAccess, c.Visa.Access, req.Action)
			default:
				return Decision{Allowed: true, Visa: c.Visa,
					Reason: fmt.Sprintf("visa %s grants %s access to %s until %s", c.Visa.JTI, c.Visa.Access,
						c.Visa.Value, c.Visa.Expires.Format(time.RFC3339))}
			}
		}
		if r := rank(c, req); r > bestRank {
			best, bestRank = Decision{Err: err, Visa: c.Visa}, r
		}
	}
	if bestRank == 2 && best.Err != nil && !errors.Is(best.Err, ErrWrongDataset) {
		// The closest visa is for another dataset: that is the reason, even if
		// it was also expired or revoked.
		best.Err = fmt.Errorf("%w (no visa for %q): %v", ErrWrongDataset, req.Dataset, best.Err)
	}
	return best
}

// Allow decides whether token (a visa or a passport) grants req, and writes
// the decision to the audit log. A decision that cannot be audited is a
// refusal.
func (v *Verifier) Allow(ctx context.Context, token string, req Request) Decision {
	var d Decision
	if err := req.check(); err != nil {
		d.Err = err
	} else if checked, err := v.VerifyToken(ctx, token); err != nil {
		d.Err = err
	} else {
		d = decide(checked, req)
	}
	return v.Record(ctx, req, d)
}

// Record writes a decision (made with Decide, or by the caller for a
// reason of its own) to the audit log and returns it. A grant that cannot
// be logged comes back as a refusal wrapping ErrAudit. A refusal without an
// error is given one wrapping ErrNoVisa.
func (v *Verifier) Record(ctx context.Context, req Request, d Decision) Decision {
	if !d.Allowed && d.Err == nil {
		d.Err = fmt.Errorf("%w presented", ErrNoVisa)
	}
	if d.Err != nil {
		d.Allowed = false
		d.Reason = d.Err.Error()
	}
	if err := v.audit(ctx, req, d); err != nil && d.Allowed {
		d = Decision{Err: fmt.Errorf("%w: %v", ErrAudit, err), Visa: d.Visa}
		d.Reason = d.Err.Error()
	}
	return d
}

// audit writes d to the audit log. The token is never logged, only its jti.
func (v *Verifier) audit(ctx context.Context, req Request, d Decision) error {
	if v.opts.Audit == nil {
		return nil
	}
	e := audit.Event{Type: EventDenied, Actor: clip(req.Subject), Subject: clip(req.Dataset),
		Fields: map[string]string{"action": string(req.Action), "reason": clip(d.Reason)}}
	if req.Resource != "" {
		e.Fields["resource"] = clip(req.Resource)
	}
	if d.Allowed {
		e.Type = EventAllowed
	}
	if d.Visa != nil {
		if e.Actor == "" {
			e.Actor = d.Visa.Subject
		}
		e.Fields["jti"] = d.Visa.JTI
		e.Fields["kid"] = d.Visa.KeyID
		e.Fields["access"] = string(d.Visa.Access)
		e.Fields["visa_dataset"] = d.Visa.Value
		e.Fields["expires"] = d.Visa.Expires.Format(time.RFC3339)
		if d.Visa.Request != "" {
			e.Fields["request"] = d.Visa.Request
		}
	}
	if e.Actor == "" {
		e.Actor = "unknown"
	}
	_, err := v.opts.Audit.Append(ctx, e)
	return err
}

// maxAuditField bounds a text from outside input in an audit entry (an entry
// holds at most 64 KiB).
const maxAuditField = 512

// clip shortens s to at most maxAuditField bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxAuditField {
		return s
	}
	i := maxAuditField
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
