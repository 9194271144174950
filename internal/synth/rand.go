package synth

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
)

// keyer derives random streams and UIDs from the seed, the node and a path naming an
// object of the plan ("p/12/s/1/r/3"), so that any object can be generated on its own
// and two nodes or seeds never share a value.
type keyer struct {
	prefix []byte // seed and node, length-prefixed
}

func newKeyer(seed uint64, node string) keyer {
	b := binary.BigEndian.AppendUint64(nil, seed)
	b = binary.BigEndian.AppendUint32(b, uint32(len(node)))
	b = append(b, node...)
	return keyer{prefix: b}
}

func (k keyer) sum(kind byte, path string) [32]byte {
	h := sha256.New()
	h.Write(k.prefix)
	h.Write([]byte{kind})
	h.Write([]byte(path))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// rng returns the random stream of a path.
func (k keyer) rng(path string) *rnd {
	s := k.sum('r', path)
	return &rnd{rand.New(rand.NewPCG(binary.BigEndian.Uint64(s[:8]), binary.BigEndian.Uint64(s[8:16])))}
}

// uid returns the 2.25 UID of a path: "2.25." and the decimal value of 128 bits of
// its hash (PS3.5 B.2: a UUID as an integer under the root 2.25; at most 44 characters).
func (k keyer) uid(path string) string {
	s := k.sum('u', path)
	n := new(big.Int).SetBytes(s[:16])
	return "2.25." + n.String()
}

// rnd is a random stream with the helpers the generator needs.
type rnd struct{ *rand.Rand }

// between returns an integer in [lo, hi].
func (r *rnd) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

// uniform returns a float in [lo, hi).
func (r *rnd) uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// chance reports true with probability p.
func (r *rnd) chance(p float64) bool { return r.Float64() < p }

// pick returns one of the strings.
func (r *rnd) pick(s []string) string { return s[r.IntN(len(s))] }

// normal returns a normally distributed value, clamped to [lo, hi].
func (r *rnd) normal(mean, sd, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, mean+sd*r.NormFloat64()))
}

// digits replaces each '#' of pattern with a random digit.
func (r *rnd) digits(pattern string) string {
	b := []byte(pattern)
	for i, c := range b {
		if c == '#' {
			b[i] = byte('0' + r.IntN(10))
		}
	}
	return string(b)
}

// mix64 is the SplitMix64 finaliser: a cheap, good hash of a 64-bit value, used for
// pixel noise.
func mix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// noise returns a value in about [-1, 1] with a triangular distribution (sd ≈ 0.41),
// from a hash of key.
func noise(key uint64) float64 {
	h := mix64(key)
	a := float64(h&0xFFFFFFFF) / (1 << 32)
	b := float64(h>>32) / (1 << 32)
	return a + b - 1
}
