package node

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/node/access"
	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/visa"
)

// relayKey carries what the hub said of a relayed request's user in its context.
type relayKey struct{}

// relayed is what the hub said of a relayed request's user: the visas it attached, and
// whether it vouches that the user is a member of this node (fed.RelayRequest).
type relayed struct {
	visas  []string
	member bool
}

// withRelayed returns ctx carrying what the hub said of a relayed request's user.
func withRelayed(ctx context.Context, visas []string, member bool) context.Context {
	return context.WithValue(ctx, relayKey{}, relayed{visas: visas, member: member})
}

func relayedFrom(ctx context.Context) relayed {
	v, _ := ctx.Value(relayKey{}).(relayed)
	return v
}

// isJWT tells a JWT (a visa or passport: three base64url parts) from the node's own API
// tokens, which start with auth.TokenPrefix.
func isJWT(tok string) bool {
	if tok == "" || strings.HasPrefix(tok, auth.TokenPrefix) {
		return false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return false
	}
	for _, c := range tok {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// archiveRole reports whether a role opens the whole archive: the node's data holders
// and administrators.
func archiveRole(role string) bool { return role == auth.RoleDataHolder || role == auth.RoleNodeAdmin }

// archiveGuard guards every DICOMweb route (see package access for the policy):
//
//   - the node's own data holders and administrators (a session, or a node API token
//     "cie_…") reach everything;
//   - a request relayed by the hub is the user the hub authenticated: a user the hub
//     vouches for as a member of this node (fed.RelayRequest.Member) and whom the node
//     knows itself with one of those roles reaches everything; anyone else only what the
//     visas the hub attached (fed.RelayRequest.Visas) grant; neither the role the hub
//     asserts nor a name alone grants anything;
//   - a visa or passport presented directly (Authorization: Bearer <JWT>) reaches what
//     it grants;
//   - any other authenticated caller needs a visa and is refused (and logged);
//     no credentials at all is 401.
func (n *Node) archiveGuard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if p, ok := auth.PrincipalFrom(ctx); ok && p.Via == relayVia {
			rl := relayedFrom(ctx)
			if u, err := n.users.Get(ctx, p.User); err == nil && archiveRole(u.Role) && rl.member {
				h(w, r)
				return
			}
			n.visaAccess(w, r, h, access.Caller{Subject: p.User, Tokens: rl.visas}, "relayed by the hub")
			return
		}
		if tok := auth.Bearer(r); isJWT(tok) {
			n.visaAccess(w, r, h, access.Caller{Tokens: []string{tok}}, "direct")
			return
		}
		n.gate.API(func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
			if archiveRole(p.Role) {
				h(w, r)
				return
			}
			n.visaAccess(w, r, h, access.Caller{Subject: p.User}, "direct, "+p.Role+" "+p.User)
		})(w, r)
	}
}

// visaAccess lets a request through if the node's policy grants it to the caller's
// visas, and answers 403 (or 503) with the reason otherwise.
func (n *Node) visaAccess(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, c access.Caller, via string) {
	ctx := r.Context()
	op := dicomweb.OpOf(ctx)
	resource := r.Method + " " + r.URL.Path + " (" + via + ")"
	act, ok := access.ActionFor(op)
	if !ok {
		if op == dicomweb.OpNone {
			httpx.Error(w, http.StatusNotFound, "no such DICOMweb resource: %s %s", r.Method, r.URL.Path)
			return
		}
		d := n.verifier.Record(ctx, visa.Request{Action: visa.Action(op), Subject: c.Subject, Resource: resource},
			visa.Decision{Err: fmt.Errorf("%w: %s is for the data holders and administrators of node %s", visa.ErrWrongAccess, op, n.cfg.Name)})
		httpx.Error(w, http.StatusForbidden, "%s", d.Reason)
		return
	}
	var res access.Result
	if op == dicomweb.OpSearch {
		res = n.policy.Search(ctx, c, resource)
		if res.Allowed {
			r = r.WithContext(dicomweb.WithScope(ctx, res.Datasets))
		}
	} else {
		res = n.policy.Resource(ctx, c, r.PathValue("study"), act, resource)
	}
	if !res.Allowed {
		httpx.Error(w, res.Status, "%s", res.Reason)
		return
	}
	h(w, r)
}
