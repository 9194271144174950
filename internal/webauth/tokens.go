package webauth

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/web"
)

// RegisterTokens adds the personal API token page to mux: GET /tokens
// lists the visitor's tokens, POST /tokens makes one (shown once), POST
// /tokens/{id}/revoke revokes one of the visitor's own. Both forms are
// CSRF-checked and audit-logged. Any logged-in user may use it; the user
// must exist in the users table (local accounts, and OIDC users, which the
// OIDC login records there).
func (g *Gate) RegisterTokens(mux httpx.Mux) {
	mux.HandleFunc("GET /tokens", g.tokensPage)
	mux.HandleFunc("POST /tokens", g.tokenCreate)
	mux.HandleFunc("POST /tokens/{id}/revoke", g.tokenRevoke)
}

const tokensWhy = "API tokens are for logged-in users."

func (g *Gate) tokensData(r *http.Request, user string) (web.TokensData, error) {
	ts, err := g.Users.Tokens(r.Context(), user)
	if err != nil {
		return web.TokensData{}, err
	}
	var d web.TokensData
	for i := len(ts) - 1; i >= 0; i-- { // newest first
		t := ts[i]
		d.Tokens = append(d.Tokens, web.TokenRow{ID: t.ID, Label: t.Label, Created: t.Created, Revoked: t.Revoked})
	}
	return d, nil
}

func (g *Gate) tokensPage(w http.ResponseWriter, r *http.Request) {
	s, ok := g.RequireRole(w, r, tokensWhy, auth.Roles...)
	if !ok {
		return
	}
	d, err := g.tokensData(r, s.User)
	if err != nil {
		g.Log.Error("listing tokens", "user", s.User, "err", err)
		g.RenderError(w, r, http.StatusInternalServerError, "Your tokens could not be listed.")
		return
	}
	g.Render(w, r, http.StatusOK, "tokens", "", "API tokens", d)
}

// formSession returns the session of a POSTed form whose CSRF token is
// right; else it has answered.
func (g *Gate) formSession(w http.ResponseWriter, r *http.Request) (auth.Session, bool) {
	s, ok := g.RequireRole(w, r, tokensWhy, auth.Roles...)
	if !ok {
		return s, false
	}
	if !g.Sessions.CheckCSRF(r, s) {
		g.RenderError(w, r, http.StatusForbidden, "The form expired or did not come from this site. Reload the page and try again.")
		return s, false
	}
	return s, true
}

func (g *Gate) tokenCreate(w http.ResponseWriter, r *http.Request) {
	s, ok := g.formSession(w, r)
	if !ok {
		return
	}
	label := strings.TrimSpace(r.PostFormValue("label"))
	if label == "" || utf8.RuneCountInString(label) > 64 {
		g.RenderError(w, r, http.StatusBadRequest, "A token needs a label of 1 to 64 characters.")
		return
	}
	ctx := r.Context()
	tok, info, err := g.Users.IssueToken(ctx, s.User, label)
	if err != nil {
		g.Log.Error("issuing token", "user", s.User, "err", err)
		g.RenderError(w, r, http.StatusInternalServerError, "The token could not be made (is your account known to this server?).")
		return
	}
	if _, err := g.Audit.Append(ctx, audit.Event{Type: "token.issued", Actor: s.User, Subject: info.ID, Fields: map[string]string{"label": label, "via": "web"}}); err != nil {
		g.Log.Error("logging token issue", "err", err)
		if rerr := g.Users.RevokeToken(ctx, info.ID); rerr != nil {
			g.Log.Error("revoking unlogged token", "err", rerr)
		}
		g.RenderError(w, r, http.StatusInternalServerError, "The token could not be recorded in the audit log, so it was revoked.")
		return
	}
	d, err := g.tokensData(r, s.User)
	if err != nil {
		g.Log.Error("listing tokens", "user", s.User, "err", err)
	}
	d.New, d.NewLabel = tok, label
	g.Render(w, r, http.StatusOK, "tokens", "", "API tokens", d)
}

func (g *Gate) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	s, ok := g.formSession(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	ts, err := g.Users.Tokens(ctx, s.User)
	if err != nil {
		g.Log.Error("listing tokens", "user", s.User, "err", err)
		g.RenderError(w, r, http.StatusInternalServerError, "Your tokens could not be listed.")
		return
	}
	if !slices.ContainsFunc(ts, func(t auth.Token) bool { return t.ID == id }) {
		g.RenderError(w, r, http.StatusNotFound, "You have no such token.")
		return
	}
	if err := g.Users.RevokeToken(ctx, id); errors.Is(err, store.ErrNotFound) {
		http.Redirect(w, r, "/tokens", http.StatusSeeOther) // revoked before
		return
	} else if err != nil {
		g.Log.Error("revoking token", "id", id, "err", err)
		g.RenderError(w, r, http.StatusInternalServerError, "The token could not be revoked.")
		return
	}
	if _, err := g.Audit.Append(ctx, audit.Event{Type: "token.revoked", Actor: s.User, Subject: id, Fields: map[string]string{"via": "web"}}); err != nil {
		g.Log.Error("logging token revocation", "err", err)
	}
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}
