// Package oidcop is cie's embedded OpenID Provider, built on the op package
// of github.com/zitadel/oidc: the authorization code flow with PKCE (S256,
// required), discovery, JWKS, ID tokens carrying sub, name,
// preferred_username, email and a role claim, the userinfo, introspection,
// revocation and end_session endpoints, and rotating refresh tokens.
//
// Who may log in comes from a Users value: LocalUsers reads a role's users
// table (internal/auth), so the hub's `cie admin user add` accounts and the
// demo's users log in through the provider with their own passwords;
// StaticUsers serves a fixed list (the test provider command in
// cmd/cie-oidcop). Each user carries the values of one role claim, whose
// name the provider is configured with ("roles" by default; "groups" with
// values such as "/cie/researcher" shows a different claim layout).
//
// The login page is server-rendered by the provider itself (it has no
// dependency on the hub's web pages, so it runs alone too). Its form is
// CSRF-protected: the token is an HMAC over the authorization request and a
// random cookie of the browser. "Cancel" ends the request with the OAuth
// error access_denied at the client. There is no single sign-on session at
// the provider: every authorization shows the form (the hub keeps its own
// session), so end_session only revokes the user's tokens for the client.
//
// Keys: the RS256 signing key (PKCS#8 PEM) and the key that encrypts opaque
// access tokens are kept in Options.KeyDir and made on first use, so ID
// tokens stay verifiable across restarts. Authorization requests, codes and
// tokens are kept in memory: a restart logs nobody out of the hub but ends
// pending logins and refresh tokens.
//
// Lifetimes: an authorization request lasts 10 minutes, a code 1 minute
// after login and can be used once, ID and access tokens 15 minutes, refresh
// tokens 12 hours (rotated at each use).
//
// The Handler serves every path under the issuer's path (for example
// /oidc/… for the issuer https://hub.example/oidc), so it can be mounted on
// the hub's listener or serve a listener of its own.
package oidcop
