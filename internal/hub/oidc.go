package hub

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/auth/oidcop"
	"github.com/cancerimage/cie/internal/auth/oidcrp"
	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/hub/members"
	"github.com/cancerimage/cie/internal/store"
)

// OIDCConfig is the oidc section of hub.yaml: how people log in to the
// hub's pages. With neither embedded nor issuer set, the hub keeps its
// local password form.
type OIDCConfig struct {
	Embedded         bool     `yaml:"embedded" help:"run the embedded OpenID provider at PUBLIC_URL/oidc over the hub's local users (cie admin user add) and log in through it"`
	Issuer           string   `yaml:"issuer" help:"issuer URL of an external OpenID provider (Keycloak, LS Login, ...); leave empty with embedded"`
	ClientID         string   `yaml:"client_id" help:"the hub's client ID at the external provider"`
	ClientSecretFile string   `yaml:"client_secret_file" help:"file holding the hub's client secret at the external provider (a file, so that the secret stays out of the audit log, which records the configuration)"`
	RedirectURL      string   `yaml:"redirect_url" help:"the callback URL registered at the provider (default PUBLIC_URL/login/oidc/callback)"`
	Scopes           []string `yaml:"scopes" help:"scopes to ask for (default openid,profile,email)"`
	RoleClaim        string   `yaml:"role_claim" help:"claim holding the user's roles or groups; a dotted path reaches into objects, e.g. realm_access.roles (default roles)"`
	RoleMap          []string `yaml:"role_map" help:"claim values and the cie role each gives, as VALUE=ROLE, e.g. /cie/researcher=researcher; roles: researcher, data_holder, node_admin, platform_admin (default: each role name maps to itself)"`
	DefaultRole      string   `yaml:"default_role" help:"role for users whose role claim is missing or maps to no role (empty: they cannot log in)"`
	NodeClaim        string   `yaml:"node_claim" help:"claim holding the nodes a data holder or node admin belongs to (a dotted path like role_claim; it may be the role claim itself); empty: nodes are set with cie admin user only"`
	NodeMap          []string `yaml:"node_map" help:"node claim values and the node each stands for, as VALUE=NODE, e.g. /cie/nodes/oslo=oslo (default: each value that is a node name stands for that node)"`
	UsernameClaim    string   `yaml:"username_claim" help:"claim that becomes the cie user name (default preferred_username, then email, then sub)"`
	Name             string   `yaml:"name" help:"the provider's name on the login button"`
	PasswordLogin    bool     `yaml:"password_login" help:"with an external provider, keep the local password form on the login page as well (bootstrap, break-glass)"`
}

// Enabled reports whether logins go through OpenID Connect.
func (o OIDCConfig) Enabled() bool { return o.Embedded || o.Issuer != "" }

// Paths of the OIDC login on the hub.
const (
	OIDCPrefix       = "/oidc"                // the embedded provider's issuer path
	OIDCStartPath    = "/login/oidc"          // starts a login
	OIDCCallbackPath = "/login/oidc/callback" // default redirect URL path
	// EmbeddedClientID is the hub's client at its embedded provider.
	EmbeddedClientID = "cie-hub"
)

// checkOIDC validates the oidc section; PublicURL is known.
func (c *Config) checkOIDC() error {
	o := &c.OIDC
	if !o.Enabled() {
		for _, f := range []struct{ key, v string }{{"oidc.client_id", o.ClientID}, {"oidc.client_secret_file", o.ClientSecretFile}, {"oidc.redirect_url", o.RedirectURL}} {
			if f.v != "" {
				return config.Errorf(f.key, "is used only with oidc.issuer or oidc.embedded")
			}
		}
		return nil
	}
	base := strings.TrimSuffix(c.HTTP.PublicURL, "/")
	if o.Embedded {
		if o.Issuer != "" && o.Issuer != base+OIDCPrefix {
			return config.Errorf("oidc.issuer", "leave it empty with oidc.embedded: the embedded provider's issuer is %s", base+OIDCPrefix)
		}
		if o.ClientID != "" || o.ClientSecretFile != "" {
			return config.Errorf("oidc.client_id", "is set by the hub with oidc.embedded; leave client_id and client_secret_file empty")
		}
	} else {
		if err := config.CheckURL("oidc.issuer", o.Issuer, "http", "https"); err != nil {
			return err
		}
		if o.ClientID == "" {
			return config.Errorf("oidc.client_id", "must be set with oidc.issuer")
		}
	}
	if o.RedirectURL == "" {
		o.RedirectURL = base + OIDCCallbackPath
	} else if err := config.CheckURL("oidc.redirect_url", o.RedirectURL, "http", "https"); err != nil {
		return err
	}
	if o.RoleClaim == "" {
		o.RoleClaim = oidcop.DefaultRoleClaim
	}
	if _, err := oidcrp.ParseRoleMap(o.RoleMap); err != nil {
		return config.Errorf("oidc.role_map", "%v", err)
	}
	if _, err := parseNodeMap(o.NodeMap); err != nil {
		return config.Errorf("oidc.node_map", "%v", err)
	}
	if len(o.NodeMap) > 0 && o.NodeClaim == "" {
		return config.Errorf("oidc.node_map", "is used only with oidc.node_claim")
	}
	if o.DefaultRole != "" {
		if err := auth.CheckRole(o.DefaultRole); err != nil {
			return config.Errorf("oidc.default_role", "%v", err)
		}
	}
	if o.Name == "" {
		o.Name = "cie"
		if !o.Embedded {
			if u, err := url.Parse(o.Issuer); err == nil {
				o.Name = u.Host
			}
		}
	}
	return nil
}

// embeddedSecret is the hub's client secret at its own provider: derived
// from the session key, so it is stable and never written anywhere.
func embeddedSecret(sessionKey []byte) string {
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte("cie-hub-embedded-oidc-client"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setupOIDC makes the embedded provider (if configured) and the OIDC login.
func (h *Hub) setupOIDC(ctx context.Context) error {
	o := h.cfg.OIDC
	if !o.Enabled() {
		return nil
	}
	base := strings.TrimSuffix(h.cfg.HTTP.PublicURL, "/")
	postLogout := base + "/login?flash=logged-out"
	rpc := oidcrp.Config{
		Issuer: o.Issuer, ClientID: o.ClientID, RedirectURL: o.RedirectURL, Scopes: o.Scopes,
		RoleClaim: o.RoleClaim, DefaultRole: o.DefaultRole, UsernameClaim: o.UsernameClaim, PostLogoutURL: postLogout,
		NodeClaim: o.NodeClaim,
	}
	var err error
	if rpc.RoleMap, err = oidcrp.ParseRoleMap(o.RoleMap); err != nil {
		return fmt.Errorf("oidc.role_map: %w", err)
	}
	if len(rpc.RoleMap) == 0 {
		for _, r := range auth.Roles {
			rpc.RoleMap[r] = r
		}
	}
	if o.Embedded {
		rpc.Issuer = base + OIDCPrefix
		rpc.ClientID = EmbeddedClientID
		rpc.ClientSecret = embeddedSecret(h.keys.Session)
		h.op, err = oidcop.New(ctx, oidcop.Options{
			Issuer: rpc.Issuer, KeyDir: filepath.Join(h.cfg.DataDir, "keys"), Users: oidcop.LocalUsers(h.users),
			RoleClaim: o.RoleClaim, Title: h.cfg.Name, Log: h.log,
			Clients: []oidcop.Client{{ID: rpc.ClientID, Secret: rpc.ClientSecret, RedirectURIs: []string{o.RedirectURL}, PostLogoutRedirectURIs: []string{postLogout}}},
		})
		if err != nil {
			return fmt.Errorf("starting the embedded OpenID provider: %w", err)
		}
	} else if o.ClientSecretFile != "" {
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return fmt.Errorf("oidc.client_secret_file: %w", err)
		}
		rpc.ClientSecret = strings.TrimSpace(string(b))
	}
	party, err := oidcrp.New(rpc, oidcrp.Options{
		Key: h.keys.Session, Secure: h.cfg.SecureCookies, Log: h.log.With("part", "oidc"),
		HTTPClient: &http.Client{Timeout: 15 * time.Second},
	})
	if err != nil {
		return err
	}
	cb, err := url.Parse(o.RedirectURL)
	if err != nil {
		return fmt.Errorf("oidc.redirect_url: %w", err)
	}
	h.login = &oidcrp.Login{
		RP: party, Gate: h.gate, Name: o.Name, StartPath: OIDCStartPath, CallbackPath: cb.Path,
		Password: !o.Embedded && o.PasswordLogin, Secure: h.cfg.SecureCookies, Accept: h.acceptOIDC,
	}
	h.gate.LoginData = h.login.LoginData
	return nil
}

// acceptOIDC turns a verified OIDC identity into a hub user. From the
// embedded provider, the subject is a local user; from an external one, the
// user is recorded (without a password) under its user name and the mapped
// role, unless that name belongs to a local password account.
func (h *Hub) acceptOIDC(ctx context.Context, id oidcrp.Identity) (auth.User, error) {
	if h.cfg.OIDC.Embedded {
		u, err := h.users.Get(ctx, id.Subject)
		if errors.Is(err, store.ErrNotFound) {
			return auth.User{}, &oidcrp.Error{Kind: oidcrp.KindUser, Err: err, Message: "Your account no longer exists on this hub."}
		}
		if err != nil {
			return auth.User{}, err
		}
		u.Role = id.Role
		return u, nil
	}
	u, err := h.users.PutExternal(ctx, id.Username, id.Role)
	if errors.Is(err, auth.ErrLocalAccount) {
		return auth.User{}, &oidcrp.Error{Kind: oidcrp.KindUser, Err: err,
			Message: fmt.Sprintf("The user name %q belongs to a local account of this hub, so it cannot be used for a login through %s. Ask the hub's operator.", id.Username, h.cfg.OIDC.Name)}
	}
	if err != nil {
		return auth.User{}, fmt.Errorf("recording OIDC user %s: %w", id.Username, err)
	}
	if h.cfg.OIDC.NodeClaim != "" && id.NodeClaim {
		nodes, err := mapNodes(h.cfg.OIDC.NodeMap, id.NodeValues)
		if err != nil {
			return auth.User{}, err
		}
		if err := h.members.Set(ctx, u.Name, nodes); err != nil {
			return auth.User{}, fmt.Errorf("recording the nodes of OIDC user %s: %w", u.Name, err)
		}
	}
	return u, nil
}

// parseNodeMap reads oidc.node_map entries VALUE=NODE (the value may contain '=').
func parseNodeMap(entries []string) (map[string]string, error) {
	m := map[string]string{}
	for _, e := range entries {
		i := strings.LastIndex(e, "=")
		if i <= 0 || i == len(e)-1 {
			return nil, fmt.Errorf("node map entry %q: want VALUE=NODE", e)
		}
		v, n := strings.TrimSpace(e[:i]), strings.TrimSpace(e[i+1:])
		if err := members.Check([]string{n}); err != nil {
			return nil, fmt.Errorf("node map entry %q: %w", e, err)
		}
		m[v] = n
	}
	return m, nil
}

// mapNodes turns the node claim's values into node names: through the node map if
// there is one (unmapped values are ignored), else each value that is a node name.
func mapNodes(entries, values []string) ([]string, error) {
	m, err := parseNodeMap(entries)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range values {
		if len(m) > 0 {
			if n, ok := m[v]; ok {
				out = append(out, n)
			}
		} else if members.Check([]string{v}) == nil {
			out = append(out, v)
		}
	}
	return out, nil
}
