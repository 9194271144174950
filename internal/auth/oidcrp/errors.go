package oidcrp

// Kind says which step of a login failed.
type Kind string

// The kinds of login failure.
const (
	KindProvider      Kind = "provider"       // the issuer could not be reached or is not an OpenID provider
	KindDenied        Kind = "denied"         // the user cancelled or the provider denied access
	KindProviderError Kind = "provider_error" // the provider answered with another error
	KindState         Kind = "state"          // missing, forged, expired or reused state
	KindExchange      Kind = "exchange"       // the provider refused the code
	KindToken         Kind = "token"          // the ID token failed verification
	KindRole          Kind = "role"           // no role claim, or no value maps to a cie role
	KindUser          Kind = "user"           // the user name is unusable or belongs to a local account
)

// Error is a failed login. Message is written for the person at the
// browser; Err holds the details for the log.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err == nil {
		return "oidc login (" + string(e.Kind) + "): " + e.Message
	}
	return "oidc login (" + string(e.Kind) + "): " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
