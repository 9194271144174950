// Package auth holds who may do what: local users with roles, API bearer
// tokens, browser sessions and CSRF protection.
//
// Both the hub and the node use it against their own SQL store (each role's
// migrations create the users and tokens tables: see
// internal/hub/migrations and internal/node/migrations). Tokens
// and passwords are never stored: tokens as SHA-256 hashes, passwords as
// bcrypt hashes. Sessions are stateless cookies authenticated with HMAC-SHA256
// under a key held by the role; the CSRF token of a form is derived from the
// session, so a form posted without the session's token is refused.
//
// OpenID Connect login lives in the subpackages oidcop (the embedded
// provider) and oidcrp (the relying party, which ends in the same sessions);
// users who log in through an external provider are recorded without a
// password (PutExternal), so that they can hold API tokens.
package auth
