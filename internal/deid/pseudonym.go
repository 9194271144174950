package deid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/bits"
	"os"
	"strings"
	"sync"
)

// MinKeyLen is the shortest key the pseudonymizer accepts.
const MinKeyLen = 32

// ErrShortKey is returned for a key shorter than MinKeyLen bytes.
var ErrShortKey = errors.New("deid: key shorter than 32 bytes")

// Pseudonyms derives pseudonyms with keyed HMAC-SHA256: the same input and
// key give the same pseudonym in every run and process; without the key
// they cannot be linked back to their input. It is safe for concurrent use.
type Pseudonyms struct {
	key  []byte
	macs sync.Pool // of *macState under key
}

// macState is an HMAC-SHA256 under the key, reused by Reset (which restores
// the precomputed keyed state), with room for one message and its sum.
type macState struct {
	h   hash.Hash
	msg []byte
	sum [sha256.Size]byte
}

// NewPseudonyms returns pseudonyms under key (at least MinKeyLen bytes).
func NewPseudonyms(key []byte) (*Pseudonyms, error) {
	if len(key) < MinKeyLen {
		return nil, ErrShortKey
	}
	p := &Pseudonyms{key: append([]byte(nil), key...)}
	p.macs.New = func() any { return &macState{h: hmac.New(sha256.New, p.key)} }
	return p, nil
}

// ReadKeyFile reads a key file: its content, trimmed of surrounding white
// space, is the key.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("deid: reading key file: %w", err)
	}
	k := []byte(strings.TrimSpace(string(b)))
	if len(k) < MinKeyLen {
		return nil, fmt.Errorf("deid: key file %s: %w", path, ErrShortKey)
	}
	return k, nil
}

// mac returns HMAC-SHA256(key, domain 0x00 parts[0] 0x00 parts[1] ...): the
// parts joined by zero bytes, as the pseudonyms have always been derived.
func (p *Pseudonyms) mac(domain string, parts ...string) [sha256.Size]byte {
	m := p.macs.Get().(*macState)
	m.msg = append(m.msg[:0], domain...)
	for _, s := range parts {
		m.msg = append(append(m.msg, 0), s...)
	}
	m.h.Reset()
	m.h.Write(m.msg)
	sum := [sha256.Size]byte(m.h.Sum(m.sum[:0]))
	if cap(m.msg) <= 4<<10 { // do not keep a huge value's buffer
		p.macs.Put(m)
	}
	return sum
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// UID returns the pseudonymous UID for uid: "2.25." and the decimal value of
// 128 bits of the HMAC (PS3.5 B.2), at most 44 characters.
func (p *Pseudonyms) UID(uid string) string {
	h := p.mac("uid", uid)
	var b [5 + 39]byte // "2.25." and at most 39 digits (2¹²⁸ < 10³⁹)
	return string(appendDecimal128(append(b[:0], "2.25."...), binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:16])))
}

// appendDecimal128 appends the decimal digits of hi·2⁶⁴+lo to b, as
// big.Int's String would write them (no leading zeros, "0" for zero).
func appendDecimal128(b []byte, hi, lo uint64) []byte {
	// From the last digit: divide by 10¹⁹ while the quotient is not zero,
	// writing the 19 digits of each remainder (fewer for the leading one).
	var d [39]byte
	i := len(d)
	for {
		var r uint64
		hi, r = bits.Div64(0, hi, 1e19)
		lo, r = bits.Div64(r, lo, 1e19)
		last := hi == 0 && lo == 0
		for k := 0; k < 19 && (!last || r != 0 || k == 0); k++ {
			i--
			d[i] = byte('0' + r%10)
			r /= 10
		}
		if last {
			return append(b, d[i:]...)
		}
	}
}

// PatientID returns the pseudonym of a patient, identified by its ID and
// the issuer of the ID: "CIE" and 16 base32 characters.
func (p *Pseudonyms) PatientID(issuer, id string) string {
	h := p.mac("patient", issuer, id)
	var b [3 + 16]byte
	copy(b[:], "CIE")
	b32.Encode(b[3:], h[:10]) // 10 bytes are 16 base32 characters
	return string(b[:])
}

// Accession returns the pseudonym of an accession number: 16 characters,
// the most Short String (SH) holds.
func (p *Pseudonyms) Accession(issuer, acc string) string {
	h := p.mac("accession", issuer, acc)
	var b [1 + 16]byte
	b[0] = 'A'
	b32.Encode(b[1:], h[:10])
	return string(b[:16]) // "A" and 15 characters
}

// DateShift returns the number of days (negative, -3650 to -1) by which
// the dates of the patient (by issuer and ID) are moved under the Modified
// Dates option: the same for every file of the patient, so intervals within
// a patient are kept.
func (p *Pseudonyms) DateShift(issuer, id string) int {
	h := p.mac("dateshift", issuer, id)
	return -int(1 + binary.BigEndian.Uint64(h[:8])%3650)
}
