package oidcop

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Lifetimes of what the provider issues.
const (
	AuthRequestTTL  = 10 * time.Minute
	CodeTTL         = time.Minute
	AccessTokenTTL  = 15 * time.Minute
	IDTokenTTL      = 15 * time.Minute
	RefreshTokenTTL = 12 * time.Hour
)

// DefaultRoleClaim is the claim that carries a user's roles unless
// Options.RoleClaim names another.
const DefaultRoleClaim = "roles"

// ErrBadCredentials is returned by Users.Authenticate for an unknown user or
// a wrong password (the two are not told apart).
var ErrBadCredentials = errors.New("wrong user name or password")

// ErrUnknownUser is returned by Users.Lookup for a subject that does not
// exist (any more).
var ErrUnknownUser = errors.New("unknown user")

// User is someone who can log in at the provider.
type User struct {
	Subject  string   // the sub claim: stable, unique
	Username string   // preferred_username
	Name     string   // display name (name claim); Username when empty
	Email    string   // email claim, omitted when empty
	Roles    []string // values of the role claim
}

// Users is where the provider checks passwords and reads the claims of a
// user. Implementations must be safe for concurrent use.
type Users interface {
	// Authenticate returns the user with this user name and password, or an
	// error wrapping ErrBadCredentials.
	Authenticate(ctx context.Context, username, password string) (User, error)
	// Lookup returns the user with this subject, or an error wrapping
	// ErrUnknownUser.
	Lookup(ctx context.Context, subject string) (User, error)
}

// Client is a relying party registered at the provider: a confidential web
// application that authenticates with its secret (HTTP Basic or form post).
type Client struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	// RedirectURIs are the exact callback URLs the client may use.
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs are the exact URLs end_session may send the
	// browser to afterwards.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
}

// Options configure a Provider.
type Options struct {
	// Issuer is the provider's URL, such as https://hub.example/oidc; it
	// must be http(s) without a query. http is allowed (loopback, tests, the
	// demo) but logged as a warning for other hosts.
	Issuer string
	// KeyDir holds the signing and token encryption keys (made on first
	// use, readable only by the owner).
	KeyDir string
	// Users are the people who can log in.
	Users Users
	// Clients are the relying parties; at least one.
	Clients []Client
	// RoleClaim names the claim carrying User.Roles (DefaultRoleClaim when
	// empty).
	RoleClaim string
	// Title is shown on the login page ("cie" when empty).
	Title string
	// Secure marks the login page's cookie Secure; set it when the issuer
	// is served over HTTPS (it is, whenever Issuer starts with https://).
	Secure bool
	// IDTokenLifetime is how long ID tokens are valid (IDTokenTTL when 0).
	IDTokenLifetime time.Duration
	// Log receives the provider's messages.
	Log *slog.Logger
}

// Provider is a running embedded OpenID provider.
type Provider struct {
	opts    Options
	prefix  string // the issuer's path, without a trailing slash ("" at the root)
	store   *storage
	op      *op.Provider
	login   *loginUI
	handler http.Handler
}

// New checks o, loads or makes the keys and returns the provider.
func New(ctx context.Context, o Options) (*Provider, error) {
	if o.Log == nil {
		return nil, errors.New("oidcop: Options.Log is required")
	}
	if o.Users == nil {
		return nil, errors.New("oidcop: Options.Users is required")
	}
	if len(o.Clients) == 0 {
		return nil, errors.New("oidcop: at least one client is required")
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidcop: issuer %q: want an http(s) URL without query", o.Issuer)
	}
	o.Issuer = strings.TrimSuffix(o.Issuer, "/")
	if u.Scheme == "https" {
		o.Secure = true
	} else if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
		o.Log.Warn("the OpenID provider's issuer is not HTTPS; use it only on a trusted network", "issuer", o.Issuer)
	}
	if o.RoleClaim == "" {
		o.RoleClaim = DefaultRoleClaim
	}
	if o.IDTokenLifetime <= 0 {
		o.IDTokenLifetime = IDTokenTTL
	}
	if o.Title == "" {
		o.Title = "cie"
	}
	for _, c := range o.Clients {
		if c.ID == "" || c.Secret == "" || len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("oidcop: client %q: ID, Secret and RedirectURIs are required", c.ID)
		}
	}
	keys, err := loadKeys(o.KeyDir)
	if err != nil {
		return nil, err
	}
	p := &Provider{opts: o, prefix: strings.TrimSuffix(u.Path, "/")}
	p.store = newStorage(o, keys, p.prefix)
	cfg := &op.Config{
		CryptoKey:                keys.crypto,
		DefaultLogoutRedirectURI: p.prefix + "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English},
		SupportedClaims:          append(append([]string(nil), op.DefaultSupportedClaims...), o.RoleClaim),
	}
	opts := []op.Option{op.WithLogger(o.Log.With("part", "oidcop"))}
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(cfg, p.store, op.StaticIssuer(o.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidcop: creating provider: %w", err)
	}
	p.login = &loginUI{p: p, csrfKey: keys.csrf}
	if err := p.login.parse(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", p.login.show)
	mux.HandleFunc("POST /login", p.login.submit)
	mux.HandleFunc("GET /logged-out", p.login.loggedOut)
	mux.Handle("/", p.op)
	var h http.Handler = mux
	if p.prefix != "" {
		h = http.StripPrefix(p.prefix, mux)
	}
	p.handler = h
	o.Log.Info("OpenID provider ready", "issuer", o.Issuer, "clients", len(o.Clients), "role_claim", o.RoleClaim)
	return p, nil
}

// Issuer returns the provider's issuer URL (without a trailing slash).
func (p *Provider) Issuer() string { return p.opts.Issuer }

// Handler serves the provider: every path under the issuer's path, as the
// requests arrive (mount it at that path, e.g. mux.Handle("/oidc/", h)).
func (p *Provider) Handler() http.Handler { return p.handler }

// callbackURL is where the login page sends the browser once the user is
// known: the op package's authorize callback, which redirects to the client.
func (p *Provider) callbackURL(id string) string {
	return p.opts.Issuer + op.DefaultEndpoints.Authorization.Relative() + "/callback?id=" + url.QueryEscape(id)
}

// secretHash is how client secrets are kept in memory and compared.
func secretHash(s string) [32]byte { return sha256.Sum256([]byte("cie-oidcop-client\x00" + s)) }
