// Package oidcrp is the hub's OpenID Connect relying party: it sends a
// browser to an OpenID provider (the embedded one of internal/auth/oidcop,
// or any issuer such as Keycloak or LS Login) and turns the answer into a
// cie session.
//
// RP does the protocol. Start redirects to the provider's authorization
// endpoint with a random state, a random nonce and a PKCE S256 challenge;
// the three, with the page to return to, travel in a short-lived cookie
// authenticated with HMAC-SHA256 (HttpOnly, SameSite=Lax so that it comes
// back on the provider's redirect, Secure when configured). Finish checks
// that the callback's state equals the cookie's and was not used before,
// exchanges the code with the client secret and the PKCE verifier, and
// verifies the ID token: issuer, audience and authorized party, signature
// against the provider's JWKS, expiry and issued-at, the nonce, and the
// access token hash. It then maps the configured role claim (a top-level
// claim or a dotted path such as realm_access.roles, read from the ID token
// or else from the userinfo endpoint) to one cie role through the role map:
// when several values map, the most privileged role wins; when none does,
// DefaultRole applies if set, else the login is refused. Discovery is done
// on first use and retried until it succeeds, so the hub starts even when
// its provider is down (or is itself, for the embedded provider).
//
// Every failure is an *Error whose Message is meant for the person at the
// browser (unknown issuer, provider unreachable, consent denied, bad or
// reused state, refused code, invalid ID token, missing role claim, no
// role), while Error() carries the details for the log.
//
// Login wires RP into a role's web pages through webauth.Gate: GET /login
// (a button per provider and, if enabled, the local password form), the
// start and callback paths, and POST /logout, which ends the local session
// and, when the provider announces an end_session_endpoint, continues with
// RP-initiated logout there (id_token_hint, client_id and
// post_logout_redirect_uri). Sessions are auth.Sessions cookies (HttpOnly,
// SameSite=Lax, Secure when configured, 12 hours); the ID token needed for
// the logout hint is kept in a separate HttpOnly cookie.
package oidcrp
