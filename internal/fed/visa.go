package fed

import (
	"encoding/json"
	"time"
)

// Visa keys and revocations travel from the hub to its nodes over the bus, so that
// a node verifies GA4GH Passport visas with keys it holds itself (see internal/visa):
//
//  1. A node asks: it sends a VisaKeysRequest on VisaKeysSubject(node) (under
//     NodeSubjects, so its bus permissions allow it) and receives a VisaKeys reply
//     in its own inbox. It asks when it connects, periodically, and once when it
//     meets a visa signed with a key id it does not know.
//  2. The hub pushes: whenever its key set changes (rotation, a key dropped) or a
//     visa is revoked, it publishes a VisaKeys message on VisaUpdateSubject(node)
//     for every node (under HubSubjects, which only that node may read).
//
// Both carry the whole current state (not a delta): the hub's issuer name, its
// JWKS and its revocation list. A node keeps the key set of the highest
// Generation it has seen and the union of every revocation list it has seen
// (revocation is final), so a lost, repeated or reordered message does no harm.

// VisaKeysSubject is where a node asks the hub for its visa keys and revocations.
func VisaKeysSubject(node string) string { return NodePrefix + node + ".visa.keys" }

// VisaUpdateSubject is where the hub pushes changed visa keys or revocations to node.
func VisaUpdateSubject(node string) string { return HubPrefix + node + ".visa.update" }

// AllVisaKeys is the wildcard on which the hub answers VisaKeysRequest for all nodes.
const AllVisaKeys = NodePrefix + "*.visa.keys"

// VisaKeysRequest asks the hub for its current VisaKeys.
type VisaKeysRequest struct {
	Header
	// Node is the node asking; the hub refuses a request naming another node
	// than the subject it came on.
	Node string `json:"node"`
	// Generation and RevocationVersion are what the node holds (zero if nothing);
	// informative only, the hub always answers with its whole state.
	Generation        uint64 `json:"generation"`
	RevocationVersion uint64 `json:"revocation_version"`
	// Reason says why the node asks: "start", "periodic", "unknown-kid", "manual".
	Reason string `json:"reason,omitempty"`
	// Kid is the unknown key id that caused the request, if any.
	Kid string `json:"kid,omitempty"`
}

// VisaKeys is the hub's visa verification state: the reply to VisaKeysRequest and
// the message pushed on VisaUpdateSubject.
type VisaKeys struct {
	Header
	// Issuer is the "iss" of every visa the hub signs.
	Issuer string `json:"issuer"`
	// Generation counts the changes of the hub's key set; a node ignores a JWKS
	// of a lower generation than the one it has.
	Generation uint64 `json:"generation"`
	// JWKS is the hub's JSON Web Key Set document (RFC 7517 section 5), exactly as
	// the hub also serves it over HTTP.
	JWKS json.RawMessage `json:"jwks"`
	// Revocations is the hub's list of revoked, not yet expired visas.
	Revocations VisaRevocations `json:"revocations"`
	// Time is the hub's clock when it wrote the message.
	Time time.Time `json:"time"`
	// Error, in a reply, says why the hub refused the request; the other
	// fields are then empty.
	Error string `json:"error,omitempty"`
}

// VisaRevocations is a revocation list. Version grows by one with every
// revocation the hub records.
type VisaRevocations struct {
	// Version is the number of revocations the hub has recorded.
	Version uint64 `json:"version"`
	// Entries are the revocations of visas not yet expired, sorted by JTI.
	Entries []VisaRevocation `json:"entries"`
}

// VisaRevocation is one revoked visa.
type VisaRevocation struct {
	// JTI is the visa's "jti" claim.
	JTI string `json:"jti"`
	// RevokedAt is when the hub revoked it; Reason says why.
	RevokedAt time.Time `json:"revoked_at"`
	Reason    string    `json:"reason,omitempty"`
	// Expires is the visa's "exp": after it, the entry may be forgotten.
	Expires time.Time `json:"expires"`
}
