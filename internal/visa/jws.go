package visa

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// AlgES256 is the only JWS algorithm this package signs and accepts: ECDSA on
// P-256 with SHA-256 (RFC 7518 section 3.4). The GA4GH AAI profile allows
// ES256 or RS256 ("Signing Algorithms"); the hub signs with ES256 only.
const AlgES256 = "ES256"

// Media types of the JWS "typ" header (RFC 7515 section 4.1.9): GA4GH
// Passport 1.2 recommends TypVisa for visas ("typ" under "Visa Format"); the
// AAI profile requires TypPassport for passports ("Passport Format").
const (
	TypVisa     = "vnd.ga4gh.visa+jwt"
	TypPassport = "vnd.ga4gh.passport+jwt"
)

// MaxTokenSize is the longest compact JWS (a passport with its embedded
// visas) the parser looks at; longer input is refused before any decoding.
const MaxTokenSize = 64 << 10

// MaxVisaSize is the longest single visa accepted.
const MaxVisaSize = 8 << 10

// es256SigSize is the size of an ES256 signature: R and S as 32-octet
// big-endian integers, concatenated (RFC 7518 section 3.4).
const es256SigSize = 64

// maxNumericDate bounds NumericDate values (RFC 7519 section 2): the end of
// year 9999, far beyond any visa, and well inside int64 seconds.
const maxNumericDate = 253402300799

// b64 is base64url without padding (RFC 7515 section 2, "Base64url
// Encoding"), strict so that every token has one encoding only.
var b64 = base64.RawURLEncoding.Strict()

// jwsToken is a compact JWS split and decoded, its signature not yet checked.
type jwsToken struct {
	alg, kid, typ string
	// claims are the payload's members by exact name.
	claims map[string]json.RawMessage
	// signingInput is ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
	// (RFC 7515 section 5.2 step 8).
	signingInput string
	sig          []byte
}

// isB64URL reports whether s holds only base64url alphabet characters (the
// decoder would otherwise skip line breaks, making tokens malleable).
func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// decodePart decodes one base64url part of a compact JWS. The caller has
// bounded len(s), and the decoded length is at most len(s).
func decodePart(s, what string) ([]byte, error) {
	if !isB64URL(s) {
		return nil, fmt.Errorf("%w: %s is not base64url", ErrMalformed, what)
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return b, nil
}

// jsonObject decodes data, which must be one JSON object, into its members by
// exact name. encoding/json keeps the last of duplicate names, which RFC 7515
// section 4 allows for header parameters; matching names exactly (not the
// case-insensitive matching of struct decoding) means "ALG" is not "alg".
func jsonObject(data []byte, what string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s is not a JSON object: %v", ErrMalformed, what, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %s is null", ErrMalformed, what)
	}
	return m, nil
}

// parseJWS splits and decodes a compact JWS (RFC 7515 section 7.1) of at most
// max bytes. It checks the form only: the algorithm is checked here against
// the allow-list, the signature by verifyES256.
func parseJWS(token string, max int) (*jwsToken, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", ErrNoVisa)
	}
	if len(token) > max {
		return nil, fmt.Errorf("%w: token is %d bytes, more than %d", ErrMalformed, len(token), max)
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: not a compact JWS (three dot-separated parts)", ErrMalformed)
	}
	hb, err := decodePart(h, "header")
	if err != nil {
		return nil, err
	}
	hdr, err := jsonObject(hb, "header")
	if err != nil {
		return nil, err
	}
	t := &jwsToken{signingInput: token[:len(h)+1+len(p)]}
	if t.alg, err = stringMember(hdr, "alg", true); err != nil {
		return nil, err
	}
	// An allow-list, checked before any key is looked at: "none" (RFC 7518
	// section 3.6) and the HMAC algorithms, whose "secret" an attacker could
	// take from the public JWKS, never reach signature verification.
	if t.alg != AlgES256 {
		return nil, fmt.Errorf("%w: %q", ErrBadAlgorithm, t.alg)
	}
	if t.kid, err = stringMember(hdr, "kid", true); err != nil {
		return nil, err
	}
	if len(t.kid) > 128 {
		return nil, fmt.Errorf("%w: kid is %d bytes, at most 128", ErrMalformed, len(t.kid))
	}
	if t.typ, err = stringMember(hdr, "typ", false); err != nil {
		return nil, err
	}
	// RFC 7515 section 4.1.11: extensions listed in "crit" that the recipient
	// does not understand make the JWS invalid; this package understands none.
	if _, ok := hdr["crit"]; ok {
		return nil, fmt.Errorf("%w: critical header extensions are not supported", ErrMalformed)
	}
	// "jku", "jwk", "x5u", "x5c" are ignored: keys come only from the hub's
	// key set as the node received it over the bus (GA4GH AAI, Conformance for
	// Passport Clearinghouses 5.3.1: keys received by a trusted out-of-band
	// process need no fetching from "jku").
	pb, err := decodePart(p, "payload")
	if err != nil {
		return nil, err
	}
	if t.claims, err = jsonObject(pb, "payload"); err != nil {
		return nil, err
	}
	if t.sig, err = decodePart(s, "signature"); err != nil {
		return nil, err
	}
	return t, nil
}

// verifyES256 checks t's signature with pub.
func (t *jwsToken) verifyES256(pub *ecdsa.PublicKey) error {
	if len(t.sig) != es256SigSize {
		return fmt.Errorf("%w: ES256 signature is %d bytes, want %d", ErrBadSignature, len(t.sig), es256SigSize)
	}
	h := sha256.Sum256([]byte(t.signingInput))
	r := new(big.Int).SetBytes(t.sig[:32])
	s := new(big.Int).SetBytes(t.sig[32:])
	if !ecdsa.Verify(pub, h[:], r, s) {
		return fmt.Errorf("%w (key %q)", ErrBadSignature, t.kid)
	}
	return nil
}

// jwsHeader is the protected header this package writes.
type jwsHeader struct {
	Alg string `json:"alg"`
	JKU string `json:"jku,omitempty"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// signES256 returns the compact JWS of payload under hdr, signed with priv.
func signES256(priv *ecdsa.PrivateKey, hdr jwsHeader, payload any) (string, error) {
	hb, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, h[:])
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	sig := make([]byte, es256SigSize)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

// stringMember returns the string member name of m; absent is an error if
// required, and "" otherwise.
func stringMember(m map[string]json.RawMessage, name string, required bool) (string, error) {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		if required {
			return "", fmt.Errorf("%w: %q is missing", ErrMalformed, name)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %q is not a string", ErrMalformed, name)
	}
	if required && s == "" {
		return "", fmt.Errorf("%w: %q is empty", ErrMalformed, name)
	}
	return s, nil
}

// timeMember returns the NumericDate member name of m (RFC 7519 section 2:
// seconds since the epoch, possibly with a fraction, which is dropped); the
// zero Time if absent and not required.
func timeMember(m map[string]json.RawMessage, name string, required bool) (time.Time, error) {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		if required {
			return time.Time{}, fmt.Errorf("%w: %q is missing", ErrMalformed, name)
		}
		return time.Time{}, nil
	}
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return time.Time{}, fmt.Errorf("%w: %q is not a number", ErrMalformed, name)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("%w: %q is not a date (seconds since 1970 up to year 9999)", ErrMalformed, name)
	}
	return time.Unix(int64(f), 0).UTC(), nil
}
