// Package visa issues and verifies the GA4GH Passport visas that grant access
// to a node's datasets.
//
// # Issuing, at the hub
//
// When a data holder approves an access request, the hub's Issuer signs a visa
// (a "Visa Document Token" of the GA4GH AAI profile; GA4GH Passport 1.2,
// "Visa Format"): a JWT in JWS compact serialization, header
//
//	{"alg":"ES256","jku":"<hub>/.well-known/jwks.json","kid":"<RFC 7638 thumbprint>","typ":"vnd.ga4gh.visa+jwt"}
//
// and payload
//
//	{"iss":"<hub>","sub":"<researcher>","iat":…,"exp":…,"jti":"<random>",
//	 "ga4gh_visa_v1":{"type":"ControlledAccessGrants","asserted":…,
//	                  "value":"<dataset URL or URN>","source":"<hub or its DAC>","by":"dac"},
//	 "cie_access":"download"|"view"|"process","cie_request":"<access request id>"}
//
// ES256 is one of the two algorithms the AAI profile allows ("Signing
// Algorithms"). The access model is a private claim (RFC 7519 section 4.3)
// beside the visa object, not a "conditions" clause: see ClaimAccess. A hub
// may also wrap visas in a passport (typ "vnd.ga4gh.passport+jwt", claim
// "ga4gh_passport_v1") with IssuePassport.
//
// The Issuer keeps its keys in a folder (KeysFile, mode 0600): one current
// key that signs, one next key already published, and retired keys that stay
// in the JWKS until every token they signed has expired (each key records the
// latest "exp" it signed, durably, before the token is returned). Rotate
// rotates at once, Maintain (or Run) on schedule. Revoke adds a visa's jti
// to the revocation list (RevocationsFile), whose version grows with every
// revocation; a revocation is final and is forgotten only after the visa
// expired.
//
// # Keys over the bus
//
// A node never fetches "jku": it receives the hub's JWKS and revocation list
// over the bus (internal/fed, VisaKeysSubject and VisaUpdateSubject), the
// "trusted, out-of-band process" of the AAI profile. The hub answers requests
// with Issuer.HandleKeysRequest and pushes Issuer.UpdateMessage to every node
// after a rotation or revocation. The node's NodeCache applies both, keeps
// the key set of the highest generation and the union of all revocations, and
// persists them (CacheFile), so that a node restarted while the hub is down
// still verifies. A visa signed with a key id the cache does not know causes
// one request to the hub, shared by concurrent verifications and repeated at
// most every MinRefreshInterval.
//
// # Verifying, at the node
//
// Verifier.Allow takes a visa or a passport and a Request (dataset, action,
// optionally the authenticated subject), and decides. It accepts only ES256
// (so never "none" nor an HMAC keyed with a public key), ignores keys carried
// by the token ("jwk", "jku", "x5c"), refuses "crit", looks the kid up in the
// cache, checks the signature, "iss" against the hub's, "exp", "nbf" and
// "iat" with a small leeway, the revocation list, the visa type
// (ControlledAccessGrants, "by" "dac", no "conditions", which the node does
// not evaluate), the dataset ("value", a case-sensitive full match as Passport
// 1.2 "URL Claims" requires) and the access model against the action:
//
//	access model   view  download  process
//	download        yes     yes      yes
//	view            yes     no       no
//	process         no      no       yes
//
// Every decision goes to the node's audit log (EventAllowed, EventDenied) with
// the visa's jti, key, access model and access request, never the token; a
// grant that cannot be logged is refused. If the cache has not heard from the
// hub for MaxStale, visas are refused (ErrStale): revocations may be missing.
//
// A node that weighs several tokens or datasets for one request (the visas a
// relayed request carries; a study in more than one dataset) verifies them
// once with Check, decides per dataset with Decide and logs the one decision
// with Record, which also logs refusals made for the node's own reasons.
//
// Refusals wrap one sentinel error (ErrExpired, ErrRevoked, ErrBadSignature,
// ErrUnknownKey, ErrWrongDataset, ErrWrongAccess, …), to test with errors.Is.
package visa
