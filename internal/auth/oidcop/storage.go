package oidcop

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cancerimage/cie/internal/auth"
)

// authRequest is one authorization request; it implements op.AuthRequest.
// Values handed to the op package are copies, so they never change under it.
type authRequest struct {
	id           string
	created      time.Time
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	loginHint    string

	subject  string
	done     bool
	authTime time.Time
	code     string
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }
func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

type accessToken struct {
	id       string
	subject  string
	clientID string
	audience []string
	scopes   []string
	expires  time.Time
	refresh  string // the refresh token issued with it, if any
}

// refreshToken is a refresh token; it implements op.RefreshTokenRequest.
type refreshToken struct {
	token    string
	subject  string
	clientID string
	audience []string
	scopes   []string
	authTime time.Time
	amr      []string
	expires  time.Time
}

func (r *refreshToken) GetAMR() []string             { return r.amr }
func (r *refreshToken) GetAudience() []string        { return r.audience }
func (r *refreshToken) GetAuthTime() time.Time       { return r.authTime }
func (r *refreshToken) GetClientID() string          { return r.clientID }
func (r *refreshToken) GetScopes() []string          { return r.scopes }
func (r *refreshToken) GetSubject() string           { return r.subject }
func (r *refreshToken) SetCurrentScopes(sc []string) { r.scopes = sc }

// storage implements op.Storage (and op.CanSetUserinfoFromRequest) in
// memory, over the configured users and clients.
type storage struct {
	users     Users
	roleClaim string
	keys      keys
	clients   map[string]*client
	now       func() time.Time

	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]string // code → request id
	access   map[string]*accessToken
	refresh  map[string]*refreshToken
}

func newStorage(o Options, k keys, prefix string) *storage {
	s := &storage{
		users: o.Users, roleClaim: o.RoleClaim, keys: k, clients: map[string]*client{}, now: time.Now,
		requests: map[string]*authRequest{}, codes: map[string]string{},
		access: map[string]*accessToken{}, refresh: map[string]*refreshToken{},
	}
	for _, c := range o.Clients {
		s.clients[c.ID] = &client{Client: c, secret: secretHash(c.Secret), loginPath: prefix + "/login", roleClaim: o.RoleClaim, idTTL: o.IDTokenLifetime}
	}
	return s
}

// errNotFound marks a missing request or token for the op package.
type errNotFound struct{ what string }

func (e errNotFound) Error() string { return e.what + " not found" }
func (e errNotFound) IsNotFound()   {}

// prune drops expired entries; s.mu is held.
func (s *storage) prune(now time.Time) {
	for id, r := range s.requests {
		if now.Sub(r.created) > AuthRequestTTL {
			delete(s.requests, id)
			if r.code != "" {
				delete(s.codes, r.code)
			}
		}
	}
	for id, t := range s.access {
		if now.After(t.expires) {
			delete(s.access, id)
		}
	}
	for id, t := range s.refresh {
		if now.After(t.expires) {
			delete(s.refresh, id)
		}
	}
}

// CreateAuthRequest implements op.AuthStorage. PKCE with S256 is required,
// and prompt=none is refused (the provider keeps no session).
func (s *storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
	}
	if slices.Contains(r.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired().WithDescription("this provider keeps no login session; prompt=none cannot succeed")
	}
	now := s.now()
	a := &authRequest{
		id: auth.RandomSecret(18), created: now, clientID: r.ClientID, redirectURI: r.RedirectURI,
		state: r.State, nonce: r.Nonce, scopes: slices.Clone(r.Scopes), responseType: r.ResponseType,
		responseMode: r.ResponseMode, loginHint: r.LoginHint,
		challenge: &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	s.requests[a.id] = a
	c := *a
	return &c, nil
}

func (s *storage) request(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || s.now().Sub(a.created) > AuthRequestTTL {
		return nil, errNotFound{"authorization request"}
	}
	c := *a
	return &c, nil
}

// AuthRequestByID implements op.AuthStorage.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.request(id)
}

// AuthRequestByCode implements op.AuthStorage: a code is valid for CodeTTL
// after the login and only until it is exchanged (the request is deleted).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errNotFound{"code"}
	}
	a, ok := s.requests[id]
	if !ok || !a.done || s.now().Sub(a.authTime) > CodeTTL {
		return nil, errNotFound{"code"}
	}
	c := *a
	return &c, nil
}

// SaveAuthCode implements op.AuthStorage.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return errNotFound{"authorization request"}
	}
	if a.code != "" {
		delete(s.codes, a.code)
	}
	a.code = code
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest implements op.AuthStorage.
func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok {
		delete(s.codes, a.code)
		delete(s.requests, id)
	}
	return nil
}

// markDone records that subject logged in for request id.
func (s *storage) markDone(id, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || s.now().Sub(a.created) > AuthRequestTTL {
		return errNotFound{"authorization request"}
	}
	if a.done {
		return errors.New("authorization request already completed")
	}
	a.subject, a.done, a.authTime = subject, true, s.now()
	return nil
}

func clientOf(r op.TokenRequest) string {
	switch t := r.(type) {
	case op.AuthRequest:
		return t.GetClientID()
	case op.RefreshTokenRequest:
		return t.GetClientID()
	}
	return ""
}

// newAccess stores a new access token; s.mu is held.
func (s *storage) newAccess(r op.TokenRequest, refresh string) *accessToken {
	t := &accessToken{
		id: auth.RandomSecret(18), subject: r.GetSubject(), clientID: clientOf(r),
		audience: slices.Clone(r.GetAudience()), scopes: slices.Clone(r.GetScopes()),
		expires: s.now().Add(AccessTokenTTL), refresh: refresh,
	}
	s.access[t.id] = t
	return t
}

// CreateAccessToken implements op.AuthStorage.
func (s *storage) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(s.now())
	t := s.newAccess(r, "")
	return t.id, t.expires, nil
}

// CreateAccessAndRefreshTokens implements op.AuthStorage. A refresh token
// is rotated: the one presented stops working.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, current string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	rt := &refreshToken{
		token: auth.RandomSecret(32), subject: r.GetSubject(), clientID: clientOf(r),
		audience: slices.Clone(r.GetAudience()), scopes: slices.Clone(r.GetScopes()), expires: now.Add(RefreshTokenTTL),
	}
	switch t := r.(type) {
	case op.AuthRequest:
		rt.authTime, rt.amr = t.GetAuthTime(), t.GetAMR()
	case op.RefreshTokenRequest:
		rt.authTime, rt.amr = t.GetAuthTime(), t.GetAMR()
	}
	if current != "" {
		old, ok := s.refresh[current]
		if !ok || now.After(old.expires) {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		delete(s.refresh, current)
		for id, at := range s.access {
			if at.refresh == current {
				delete(s.access, id)
			}
		}
	}
	s.refresh[rt.token] = rt
	at := s.newAccess(r, rt.token)
	return at.id, rt.token, at.expires, nil
}

// TokenRequestByRefreshToken implements op.AuthStorage.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok || s.now().After(rt.expires) {
		return nil, op.ErrInvalidRefreshToken
	}
	c := *rt
	return &c, nil
}

// TerminateSession implements op.AuthStorage: it revokes the user's tokens
// for the client (the provider keeps no login session of its own).
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.access {
		if t.subject == userID && t.clientID == clientID {
			delete(s.access, id)
		}
	}
	for id, t := range s.refresh {
		if t.subject == userID && t.clientID == clientID {
			delete(s.refresh, id)
		}
	}
	return nil
}

// GetRefreshTokenInfo implements op.AuthStorage.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok || rt.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

// RevokeToken implements op.AuthStorage. Unknown tokens are not an error
// (RFC 7009 section 2.2).
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.access[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.access, tokenOrID)
		return nil
	}
	if t, ok := s.refresh[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refresh, tokenOrID)
		for id, at := range s.access {
			if at.refresh == tokenOrID {
				delete(s.access, id)
			}
		}
	}
	return nil
}

// SigningKey implements op.AuthStorage.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return signingKey{id: s.keys.kid, key: s.keys.signing}, nil
}

// SignatureAlgorithms implements op.AuthStorage.
func (s *storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet implements op.AuthStorage: the JWKS.
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{id: s.keys.kid, key: &s.keys.signing.PublicKey}}, nil
}

// GetClientByClientID implements op.OPStorage.
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client_id")
	}
	return c, nil
}

// AuthorizeClientIDSecret implements op.OPStorage.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, ok := s.clients[id]
	got := secretHash(secret)
	if !ok || subtle.ConstantTimeCompare(got[:], c.secret[:]) != 1 {
		return oidc.ErrInvalidClient().WithDescription("wrong client_id or client_secret")
	}
	return nil
}

// SetUserinfoFromScopes implements op.OPStorage; the work is done in
// SetUserinfoFromRequest, as the op package asks.
func (s *storage) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, clientID string, scopes []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the
// claims of the ID token.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(ctx, ui, r.GetSubject(), scopes)
}

// SetUserinfoFromToken implements op.OPStorage: the userinfo endpoint.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	s.mu.Lock()
	t, ok := s.access[tokenID]
	var scopes []string
	if ok && s.now().Before(t.expires) {
		scopes = t.scopes
	}
	s.mu.Unlock()
	if scopes == nil || t.subject != subject {
		return oidc.ErrAccessDenied().WithDescription("access token invalid or expired")
	}
	return s.setUserinfo(ctx, ui, subject, scopes)
}

// SetIntrospectionFromToken implements op.OPStorage.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, in *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	t, ok := s.access[tokenID]
	s.mu.Unlock()
	if !ok || s.now().After(t.expires) || t.subject != subject || !slices.Contains(t.audience, clientID) {
		return oidc.ErrAccessDenied().WithDescription("token is not active for this client")
	}
	var ui oidc.UserInfo
	if err := s.setUserinfo(ctx, &ui, subject, t.scopes); err != nil {
		return err
	}
	in.SetUserInfo(&ui)
	in.Scope = t.scopes
	in.ClientID = t.clientID
	in.Audience = t.audience
	in.Expiration = oidc.FromTime(t.expires)
	in.Active = true
	return nil
}

func (s *storage) setUserinfo(ctx context.Context, ui *oidc.UserInfo, subject string, scopes []string) error {
	u, err := s.users.Lookup(ctx, subject)
	if err != nil {
		return fmt.Errorf("oidcop: user %s: %w", subject, err)
	}
	ui.Subject = u.Subject
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			ui.PreferredUsername = u.Username
			ui.Name = u.Name
			if ui.Name == "" {
				ui.Name = u.Username
			}
		case oidc.ScopeEmail:
			if u.Email != "" {
				ui.Email = u.Email
				ui.EmailVerified = true
			}
		}
	}
	if slices.Contains(scopes, oidc.ScopeOpenID) && u.Roles != nil {
		ui.AppendClaims(s.roleClaim, slices.Clone(u.Roles))
	}
	return nil
}

// GetPrivateClaimsFromScopes implements op.OPStorage: access tokens are
// opaque, so they carry no claims.
func (s *storage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID implements op.OPStorage: private_key_jwt client
// authentication is not offered.
func (s *storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidcop: private_key_jwt is not supported")
}

// ValidateJWTProfileScopes implements op.OPStorage: the JWT profile grant is
// not offered.
func (s *storage) ValidateJWTProfileScopes(ctx context.Context, userID string, scopes []string) ([]string, error) {
	return nil, errors.New("oidcop: the JWT profile grant is not supported")
}

// Health implements op.Storage.
func (s *storage) Health(ctx context.Context) error { return nil }

// client implements op.Client for a confidential web client.
type client struct {
	Client
	secret    [32]byte
	loginPath string
	roleClaim string
	idTTL     time.Duration
}

func (c *client) GetID() string                       { return c.ID }
func (c *client) RedirectURIs() []string              { return c.Client.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return c.Client.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) LoginURL(id string) string            { return c.loginPath + "?id=" + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return c.idTTL }
func (c *client) DevMode() bool                        { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IsScopeAllowed(scope string) bool     { return scope == c.roleClaim }
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
