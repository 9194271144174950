package oidcrp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/cancerimage/cie/internal/auth"
)

// StateCookie holds state, nonce and PKCE verifier between Start and Finish.
const StateCookie = "cie_oidc_state"

// StateTTL is how long a started login may take at the provider.
const StateTTL = 10 * time.Minute

// DefaultScopes are requested when Config.Scopes is empty.
var DefaultScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}

// Config describes the provider and how its claims become a cie user.
type Config struct {
	Issuer       string   // the issuer URL, exactly as the provider names itself
	ClientID     string   // this hub's client at the provider
	ClientSecret string   // its secret
	RedirectURL  string   // the callback URL registered at the provider
	Scopes       []string // DefaultScopes when empty; "openid" is added if missing
	// RoleClaim is the claim holding the user's roles or groups: a name
	// ("roles", "groups") or a dotted path into nested objects
	// ("realm_access.roles"). Its value may be a string or a list of strings.
	RoleClaim string
	// RoleMap maps claim values to cie roles (auth.Roles).
	RoleMap map[string]string
	// DefaultRole is given when the claim is present but no value maps, or
	// when it is missing; empty: such logins are refused.
	DefaultRole string
	// NodeClaim, if set, is the claim holding the nodes (or groups that stand
	// for nodes) the user belongs to, a name or dotted path like RoleClaim;
	// its values are returned in Identity.NodeValues for the caller to map.
	NodeClaim string
	// UsernameClaim names the claim that becomes the cie user name (lower
	// case); empty: preferred_username, then email, then sub.
	UsernameClaim string
	// PostLogoutURL is where the provider sends the browser after logout
	// (it must be registered there).
	PostLogoutURL string
}

// ParseRoleMap reads role map entries of the form "claim value=cie role"
// (the value may itself contain '='; the role is after the last one).
func ParseRoleMap(entries []string) (map[string]string, error) {
	m := map[string]string{}
	for _, e := range entries {
		i := strings.LastIndex(e, "=")
		if i <= 0 || i == len(e)-1 {
			return nil, fmt.Errorf("role map entry %q: want VALUE=ROLE", e)
		}
		v, role := strings.TrimSpace(e[:i]), strings.TrimSpace(e[i+1:])
		if err := auth.CheckRole(role); err != nil {
			return nil, fmt.Errorf("role map entry %q: %w", e, err)
		}
		m[v] = role
	}
	return m, nil
}

// Options are what RP needs besides Config.
type Options struct {
	// Key authenticates the state cookie (at least 32 bytes).
	Key []byte
	// Secure marks the state cookie Secure (HTTPS sites).
	Secure bool
	// HTTPClient talks to the provider; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Log receives details of failures.
	Log *slog.Logger
}

// Identity is a user the provider vouched for, with the cie role mapped
// from its claims.
type Identity struct {
	Issuer   string
	Subject  string
	Username string // the cie user name
	Name     string
	Email    string
	Role     string   // the mapped cie role
	Values   []string // the role claim's values
	// NodeValues are the values of Config.NodeClaim; NodeClaim reports
	// whether the claim was present at all (absent: the user's nodes are
	// left as they are).
	NodeValues []string
	NodeClaim  bool
	IDToken    string // the raw ID token, for the logout hint
	Next       string // the local page to return to
}

// RP is a relying party for one provider. It is safe for concurrent use.
type RP struct {
	cfg  Config
	opts Options
	now  func() time.Time

	mu    sync.Mutex
	rp    rp.RelyingParty // nil until discovery succeeded
	used  map[string]time.Time
	endSe string
}

// New checks cfg and returns an RP; the provider is contacted on first use.
func New(cfg Config, o Options) (*RP, error) {
	if o.Log == nil {
		return nil, errors.New("oidcrp: Options.Log is required")
	}
	if len(o.Key) < 32 {
		return nil, errors.New("oidcrp: Options.Key must have at least 32 bytes")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if u, err := url.Parse(cfg.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oidcrp: issuer %q: want an http(s) URL", cfg.Issuer)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oidcrp: client ID is required")
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oidcrp: redirect URL %q: want an http(s) URL", cfg.RedirectURL)
	}
	if cfg.RoleClaim == "" {
		return nil, errors.New("oidcrp: role claim is required")
	}
	for v, role := range cfg.RoleMap {
		if err := auth.CheckRole(role); err != nil {
			return nil, fmt.Errorf("oidcrp: role map %q: %w", v, err)
		}
	}
	if cfg.DefaultRole != "" {
		if err := auth.CheckRole(cfg.DefaultRole); err != nil {
			return nil, fmt.Errorf("oidcrp: default role: %w", err)
		}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	return &RP{cfg: cfg, opts: o, now: time.Now, used: map[string]time.Time{}}, nil
}

// Config returns the configuration in use.
func (p *RP) Config() Config { return p.cfg }

type nonceKey struct{}

// party returns the discovered relying party, discovering it first if
// needed.
func (p *RP) party(ctx context.Context) (rp.RelyingParty, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rp != nil {
		return p.rp, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	party, err := rp.NewRelyingPartyOIDC(ctx, p.cfg.Issuer, p.cfg.ClientID, p.cfg.ClientSecret, p.cfg.RedirectURL, p.cfg.Scopes,
		rp.WithHTTPClient(p.opts.HTTPClient),
		rp.WithLogger(p.opts.Log),
		rp.WithVerifierOpts(
			rp.WithNonce(func(ctx context.Context) string { n, _ := ctx.Value(nonceKey{}).(string); return n }),
			rp.WithIssuedAtOffset(30*time.Second),
		),
	)
	if err != nil {
		return nil, &Error{Kind: KindProvider, Err: fmt.Errorf("discovering OpenID provider %s: %w", p.cfg.Issuer, err),
			Message: fmt.Sprintf("The login provider %s could not be reached or is not an OpenID provider. Try again later, or tell the hub's operator.", p.cfg.Issuer)}
	}
	p.rp = party
	p.endSe = party.GetEndSessionEndpoint()
	return party, nil
}

// state is the content of the state cookie.
type state struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Next     string    `json:"x"`
	Expires  time.Time `json:"e"`
}

func (p *RP) mac(payload string) string {
	m := hmac.New(sha256.New, p.opts.Key)
	m.Write([]byte("cie-oidc-state\x00" + p.cfg.Issuer + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Start sends the browser to the provider to log in; next is the local page
// to return to afterwards.
func (p *RP) Start(w http.ResponseWriter, r *http.Request, next string) error {
	party, err := p.party(r.Context())
	if err != nil {
		return err
	}
	st := state{State: auth.RandomSecret(24), Nonce: auth.RandomSecret(24), Verifier: oauth2.GenerateVerifier(),
		Next: next, Expires: p.now().Add(StateTTL)}
	body, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("oidcrp: encoding state: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	http.SetCookie(w, &http.Cookie{Name: StateCookie, Value: payload + "." + p.mac(payload), Path: "/",
		MaxAge: int(StateTTL / time.Second), HttpOnly: true, Secure: p.opts.Secure, SameSite: http.SameSiteLaxMode})
	u := party.OAuthConfig().AuthCodeURL(st.State, oauth2.SetAuthURLParam("nonce", st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// readState returns the state cookie of r if it is authentic and fresh.
func (p *RP) readState(r *http.Request) (state, bool) {
	c, err := r.Cookie(StateCookie)
	if err != nil {
		return state{}, false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(p.mac(payload))) {
		return state{}, false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return state{}, false
	}
	var st state
	if json.Unmarshal(body, &st) != nil || st.State == "" || !p.now().Before(st.Expires) {
		return state{}, false
	}
	return st, true
}

// consume marks a state as used; it reports false if it was used before.
func (p *RP) consume(st state) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for s, exp := range p.used {
		if now.After(exp) {
			delete(p.used, s)
		}
	}
	if _, seen := p.used[st.State]; seen {
		return false
	}
	p.used[st.State] = st.Expires
	return true
}

// clearState removes the state cookie.
func (p *RP) clearState(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: StateCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: p.opts.Secure, SameSite: http.SameSiteLaxMode})
}

// Finish handles the provider's redirect back to RedirectURL and returns
// who logged in. It always clears the state cookie.
func (p *RP) Finish(w http.ResponseWriter, r *http.Request) (Identity, error) {
	p.clearState(w)
	q := r.URL.Query()
	st, ok := p.readState(r)
	if e := q.Get("error"); e != "" {
		desc := q.Get("error_description")
		err := fmt.Errorf("provider answered %s: %s", e, desc)
		if e == string(oidc.AccessDenied) {
			return Identity{}, &Error{Kind: KindDenied, Err: err, Message: "The login was cancelled or access was denied at the login provider."}
		}
		return Identity{}, &Error{Kind: KindProviderError, Err: err, Message: fmt.Sprintf("The login provider refused the login (%s).", e)}
	}
	if !ok {
		return Identity{}, &Error{Kind: KindState, Err: errors.New("no valid state cookie"),
			Message: "This login link is not from a login started here, or it took too long. Please log in again."}
	}
	if got := q.Get("state"); got == "" || !hmac.Equal([]byte(got), []byte(st.State)) {
		return Identity{}, &Error{Kind: KindState, Err: errors.New("state parameter does not match the state cookie"),
			Message: "The login answer does not belong to the login started in this browser. Please log in again."}
	}
	if !p.consume(st) {
		return Identity{}, &Error{Kind: KindState, Err: errors.New("state used before"),
			Message: "This login answer was already used. Please log in again."}
	}
	code := q.Get("code")
	if code == "" {
		return Identity{}, &Error{Kind: KindProviderError, Err: errors.New("no code in the callback"), Message: "The login provider sent no login code."}
	}
	party, err := p.party(r.Context())
	if err != nil {
		return Identity{}, err
	}
	ctx := context.WithValue(r.Context(), nonceKey{}, st.Nonce)
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, party, rp.WithCodeVerifier(st.Verifier))
	if err != nil {
		return Identity{}, classifyExchange(err)
	}
	id, err := p.identity(ctx, party, tokens)
	if err != nil {
		return Identity{}, err
	}
	id.Next = st.Next
	return id, nil
}

func classifyExchange(err error) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		return &Error{Kind: KindExchange, Err: fmt.Errorf("exchanging the code: %w", err),
			Message: "The login provider did not accept the login code (it may have been used already or expired). Please log in again."}
	case errors.Is(err, oidc.ErrIssuerInvalid):
		return &Error{Kind: KindToken, Err: err, Message: "The login provider's answer came from another issuer; it was refused."}
	case errors.Is(err, oidc.ErrAudience), errors.Is(err, oidc.ErrAzpInvalid), errors.Is(err, oidc.ErrAzpMissing):
		return &Error{Kind: KindToken, Err: err, Message: "The login provider's answer was meant for another application; it was refused."}
	case errors.Is(err, oidc.ErrExpired), errors.Is(err, oidc.ErrIatToOld), errors.Is(err, oidc.ErrIatInFuture):
		return &Error{Kind: KindToken, Err: err, Message: "The login provider's answer has expired (or the clocks disagree). Please log in again."}
	case errors.Is(err, oidc.ErrNonceInvalid):
		return &Error{Kind: KindToken, Err: err, Message: "The login provider's answer does not belong to this login (nonce). Please log in again."}
	case errors.Is(err, oidc.ErrSignatureInvalid), errors.Is(err, oidc.ErrSignatureUnsupportedAlg), errors.Is(err, oidc.ErrSignatureMissing),
		errors.Is(err, oidc.ErrSignatureMultiple), errors.Is(err, oidc.ErrSignatureInvalidPayload):
		return &Error{Kind: KindToken, Err: err, Message: "The login provider's answer is not signed by the provider; it was refused."}
	}
	return &Error{Kind: KindToken, Err: fmt.Errorf("verifying the ID token: %w", err),
		Message: "The login provider's answer could not be verified; it was refused."}
}

// identity maps the verified tokens to an Identity.
func (p *RP) identity(ctx context.Context, party rp.RelyingParty, tokens *oidc.Tokens[*oidc.IDTokenClaims]) (Identity, error) {
	c := tokens.IDTokenClaims
	claims := map[string]any{}
	for k, v := range c.Claims {
		claims[k] = v
	}
	raw, found := lookup(claims, p.cfg.RoleClaim)
	if !found && party.UserinfoEndpoint() != "" && tokens.AccessToken != "" {
		ui, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, oidc.BearerToken, c.Subject, party)
		if err != nil {
			p.opts.Log.Warn("reading userinfo for the role claim", "err", err)
		} else if raw, found = lookup(ui.Claims, p.cfg.RoleClaim); found {
			for k, v := range ui.Claims {
				if _, ok := claims[k]; !ok {
					claims[k] = v
				}
			}
		}
	}
	id := Identity{Issuer: c.Issuer, Subject: c.Subject, Name: c.Name, Email: c.Email, IDToken: tokens.IDToken}
	id.Values = values(raw)
	role, err := p.mapRole(found, id.Values)
	if err != nil {
		return Identity{}, err
	}
	id.Role = role
	if p.cfg.NodeClaim != "" {
		raw, found := lookup(claims, p.cfg.NodeClaim)
		id.NodeValues, id.NodeClaim = values(raw), found
	}
	if id.Username, err = p.username(c, claims); err != nil {
		return Identity{}, err
	}
	if id.Name == "" {
		id.Name = id.Username
	}
	return id, nil
}

func (p *RP) mapRole(found bool, vals []string) (string, error) {
	if !found {
		if p.cfg.DefaultRole != "" {
			return p.cfg.DefaultRole, nil
		}
		return "", &Error{Kind: KindRole, Err: fmt.Errorf("the ID token and userinfo have no claim %q", p.cfg.RoleClaim),
			Message: fmt.Sprintf("The login provider did not say which role you have (no %q claim). Ask the hub's operator to give you a role.", p.cfg.RoleClaim)}
	}
	best := -1
	for _, v := range vals {
		if role, ok := p.cfg.RoleMap[v]; ok {
			if i := slices.Index(auth.Roles, role); i > best {
				best = i
			}
		}
	}
	if best >= 0 {
		return auth.Roles[best], nil
	}
	if p.cfg.DefaultRole != "" {
		return p.cfg.DefaultRole, nil
	}
	return "", &Error{Kind: KindRole, Err: fmt.Errorf("no value of claim %q maps to a cie role: %q", p.cfg.RoleClaim, vals),
		Message: "Your account at the login provider has no role in cie. Ask the hub's operator to give you one."}
}

func (p *RP) username(c *oidc.IDTokenClaims, claims map[string]any) (string, error) {
	var name string
	if p.cfg.UsernameClaim != "" {
		v, _ := lookup(claims, p.cfg.UsernameClaim)
		name, _ = v.(string)
	} else {
		for _, n := range []string{c.PreferredUsername, c.Email, c.Subject} {
			if n != "" {
				name = n
				break
			}
		}
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if err := auth.CheckUserName(name); err != nil {
		return "", &Error{Kind: KindUser, Err: err,
			Message: fmt.Sprintf("The user name %q from the login provider cannot be used in cie (lower-case letters, digits and - _ . @, at most 64).", name)}
	}
	return name, nil
}

// lookup finds a claim by name, or by a dotted path into nested objects
// when there is no claim with the full name.
func lookup(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	var cur any = claims
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// values returns a claim's string values (a string, or a list of them).
func values(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []string:
		return t
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// LogoutURL returns where to send the browser to end the session at the
// provider (RP-initiated logout), or false when the provider offers no
// end_session_endpoint (or has not been reached yet).
func (p *RP) LogoutURL(idToken string) (string, bool) {
	p.mu.Lock()
	end := p.endSe
	p.mu.Unlock()
	if end == "" {
		return "", false
	}
	u, err := url.Parse(end)
	if err != nil {
		return "", false
	}
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("client_id", p.cfg.ClientID)
	if p.cfg.PostLogoutURL != "" {
		q.Set("post_logout_redirect_uri", p.cfg.PostLogoutURL)
	}
	u.RawQuery = q.Encode()
	return u.String(), true
}
