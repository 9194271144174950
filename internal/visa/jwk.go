package visa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// MaxJWKSSize is the largest JWKS document ParseJWKS reads.
const MaxJWKSSize = 64 << 10

// MaxJWKSKeys is the most keys ParseJWKS keeps from one document.
const MaxJWKSKeys = 32

// JWK is a public JSON Web Key (RFC 7517 section 4) of key type "EC" (RFC
// 7518 section 6.2.1) on curve "P-256".
type JWK struct {
	Kty string `json:"kty"`           // "EC"
	Crv string `json:"crv"`           // "P-256"
	X   string `json:"x"`             // base64url of the 32-byte x coordinate
	Y   string `json:"y"`             // base64url of the 32-byte y coordinate
	Kid string `json:"kid"`           // key id, the RFC 7638 thumbprint
	Use string `json:"use,omitempty"` // "sig"
	Alg string `json:"alg,omitempty"` // "ES256"
}

// JWKSet is a JSON Web Key Set document (RFC 7517 section 5).
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// publicJWK returns the JWK of pub with its thumbprint as kid.
func publicJWK(pub *ecdsa.PublicKey) (JWK, error) {
	b, err := pub.Bytes() // 0x04 || X || Y (SEC 1 uncompressed point)
	if err != nil || len(b) != 65 {
		return JWK{}, fmt.Errorf("%w: not a P-256 public key", ErrInvalid)
	}
	k := JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(b[1:33]), Y: b64.EncodeToString(b[33:]), Use: "sig", Alg: AlgES256}
	k.Kid = thumbprint(k)
	return k, nil
}

// thumbprint is the RFC 7638 JWK Thumbprint of an EC key: SHA-256 over the
// required members "crv", "kty", "x", "y" in lexicographic order, without
// white space (section 3.2), base64url-encoded.
func thumbprint(k JWK) string {
	// The member values are base64url or fixed ASCII names, so no escaping is
	// needed; json.Marshal of a string would give the same bytes.
	s := `{"crv":"` + k.Crv + `","kty":"` + k.Kty + `","x":"` + k.X + `","y":"` + k.Y + `"}`
	h := sha256.Sum256([]byte(s))
	return b64.EncodeToString(h[:])
}

// Thumbprint returns the RFC 7638 thumbprint of a P-256 public key, the key
// id the hub gives it.
func Thumbprint(pub *ecdsa.PublicKey) (string, error) {
	k, err := publicJWK(pub)
	if err != nil {
		return "", err
	}
	return k.Kid, nil
}

// coordinate decodes one 32-byte P-256 coordinate.
func coordinate(s, name, kid string) ([]byte, error) {
	if len(s) != 43 { // 32 bytes in unpadded base64url
		return nil, fmt.Errorf("%w: key %q: %q is not 32 bytes", ErrMalformed, kid, name)
	}
	b, err := decodePart(s, "key "+name)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%w: key %q: %q is not 32 bytes of base64url", ErrMalformed, kid, name)
	}
	return b, nil
}

// parseJWK returns the public key of an EC P-256 signing JWK. ok is false for
// a key of another type or use, which a key set may hold and a reader
// ignores (RFC 7517 section 5).
func parseJWK(k JWK) (pub *ecdsa.PublicKey, ok bool, err error) {
	if k.Kty != "EC" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != AlgES256) {
		return nil, false, nil
	}
	if k.Crv != "P-256" {
		return nil, false, nil
	}
	if k.Kid == "" || len(k.Kid) > 128 {
		return nil, false, fmt.Errorf("%w: EC key without a usable kid", ErrMalformed)
	}
	x, err := coordinate(k.X, "x", k.Kid)
	if err != nil {
		return nil, false, err
	}
	y, err := coordinate(k.Y, "y", k.Kid)
	if err != nil {
		return nil, false, err
	}
	point := make([]byte, 0, 65)
	point = append(append(append(point, 4), x...), y...)
	// ParseUncompressedPublicKey rejects points not on the curve.
	pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, false, fmt.Errorf("%w: key %q is not a P-256 point: %v", ErrMalformed, k.Kid, err)
	}
	return pub, true, nil
}

// ParseJWKS reads a JWKS document and returns its ES256 keys by kid. Keys of
// other types or uses are ignored; a malformed EC key, a repeated kid or more
// than MaxJWKSKeys usable keys make the whole document an error.
func ParseJWKS(data []byte) (map[string]*ecdsa.PublicKey, error) {
	if len(data) > MaxJWKSSize {
		return nil, fmt.Errorf("%w: JWKS is %d bytes, more than %d", ErrMalformed, len(data), MaxJWKSSize)
	}
	var set JWKSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%w: JWKS: %v", ErrMalformed, err)
	}
	keys := make(map[string]*ecdsa.PublicKey)
	for _, k := range set.Keys {
		pub, ok, err := parseJWK(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("%w: JWKS: kid %q twice", ErrMalformed, k.Kid)
		}
		if len(keys) == MaxJWKSKeys {
			return nil, fmt.Errorf("%w: JWKS holds more than %d keys", ErrMalformed, MaxJWKSKeys)
		}
		keys[k.Kid] = pub
	}
	return keys, nil
}
