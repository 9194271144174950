package disclosure

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// Uniform derives a number in the open interval (0, 1) from the secret and
// the fields: the first 53 bits k of HMAC-SHA256(secret, fields) give
// (k + ½)/2⁵³. Each field is written with its length first, so that no two
// different lists of fields give the same input.
func Uniform(secret []byte, fields ...string) float64 {
	mac := hmac.New(sha256.New, secret)
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		mac.Write(n[:])
		mac.Write([]byte(f))
	}
	sum := mac.Sum(nil)
	k := binary.BigEndian.Uint64(sum[:8]) >> 11 // 53 bits
	return (float64(k) + 0.5) / (1 << 53)
}

// LaplaceQuantile is the inverse CDF of the Laplace distribution with mean 0
// and scale b, at u in (0, 1): b·ln(2u) below ½, −b·ln(2(1−u)) from ½ on.
func LaplaceQuantile(u, b float64) float64 {
	if u < 0.5 {
		return b * math.Log(2*u)
	}
	return -b * math.Log(2*(1-u))
}

// Laplace draws noise of scale b, determined by the secret and the fields.
func Laplace(secret []byte, b float64, fields ...string) float64 {
	return LaplaceQuantile(Uniform(secret, fields...), b)
}
