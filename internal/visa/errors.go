package visa

import "errors"

// Sentinel errors. Every error this package returns for a refused visa wraps
// exactly one of them, so that a caller can test it with errors.Is.
var (
	// ErrMalformed means a token, key set or message could not be parsed.
	ErrMalformed = errors.New("visa: malformed")
	// ErrBadAlgorithm means a token names a signature algorithm other than
	// ES256 (including "none" and every HMAC algorithm).
	ErrBadAlgorithm = errors.New("visa: signature algorithm not accepted")
	// ErrBadSignature means a token's signature does not verify with the key
	// its "kid" names.
	ErrBadSignature = errors.New("visa: bad signature")
	// ErrUnknownKey means a token names a key id that is not in the hub's key
	// set, even after asking the hub.
	ErrUnknownKey = errors.New("visa: unknown signing key")
	// ErrWrongIssuer means a token's "iss" is not the hub.
	ErrWrongIssuer = errors.New("visa: issuer not trusted")
	// ErrExpired means a token's "exp" has passed.
	ErrExpired = errors.New("visa: expired")
	// ErrNotYetValid means a token's "nbf" or "iat" lies in the future.
	ErrNotYetValid = errors.New("visa: not yet valid")
	// ErrRevoked means the hub revoked the visa.
	ErrRevoked = errors.New("visa: revoked")
	// ErrNotGrant means a token is a valid visa, but not a ControlledAccessGrants
	// visa this node can act on (another type, "conditions" present, no access
	// model).
	ErrNotGrant = errors.New("visa: not a usable access grant")
	// ErrWrongDataset means no visa presented is for the dataset asked for.
	ErrWrongDataset = errors.New("visa: not for this dataset")
	// ErrWrongAccess means the visa's access model does not permit the action.
	ErrWrongAccess = errors.New("visa: access model does not permit this action")
	// ErrWrongSubject means the visa was issued to someone else than the caller.
	ErrWrongSubject = errors.New("visa: issued to another subject")
	// ErrNoVisa means no token was presented, or a passport carried no visa.
	ErrNoVisa = errors.New("visa: no visa")
	// ErrStale means the node has not heard from the hub for longer than it
	// accepts (revocations may have been missed).
	ErrStale = errors.New("visa: keys and revocations are stale")
	// ErrNoHub means the node cannot ask the hub (no connection configured).
	ErrNoHub = errors.New("visa: hub not reachable")
	// ErrAudit means a decision could not be written to the audit log; an
	// access that cannot be logged is refused.
	ErrAudit = errors.New("visa: audit log failed")
	// ErrInvalid means an argument given to this package is not acceptable
	// (an issuer's own input, not outside input).
	ErrInvalid = errors.New("visa: invalid argument")
)
