package deid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// MinKeyLen is the shortest key the pseudonymizer accepts.
const MinKeyLen = 32

// ErrShortKey is returned for a key shorter than MinKeyLen bytes.
var ErrShortKey = errors.New("deid: key shorter than 32 bytes")

// Pseudonyms derives pseudonyms with keyed HMAC-SHA256: the same input and
// key give the same pseudonym in every run and process; without the key
// they cannot be linked back to their input.
type Pseudonyms struct {
	key []byte
}

// NewPseudonyms returns pseudonyms under key (at least MinKeyLen bytes).
func NewPseudonyms(key []byte) (*Pseudonyms, error) {
	if len(key) < MinKeyLen {
		return nil, ErrShortKey
	}
	return &Pseudonyms{key: append([]byte(nil), key...)}, nil
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

func (p *Pseudonyms) mac(domain, value string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// UID returns the pseudonymous UID for uid: "2.25." and the decimal value of
// 128 bits of the HMAC (PS3.5 B.2), at most 44 characters.
func (p *Pseudonyms) UID(uid string) string {
	h := p.mac("uid", uid)
	n := new(big.Int).SetBytes(h[:16])
	return "2.25." + n.String()
}

// PatientID returns the pseudonym of a patient, identified by its ID and
// the issuer of the ID: "CIE" and 16 base32 characters.
func (p *Pseudonyms) PatientID(issuer, id string) string {
	return "CIE" + b32.EncodeToString(p.mac("patient", issuer+"\x00"+id))[:16]
}

// Accession returns the pseudonym of an accession number: 16 characters,
// the most Short String (SH) holds.
func (p *Pseudonyms) Accession(issuer, acc string) string {
	return "A" + b32.EncodeToString(p.mac("accession", issuer+"\x00"+acc))[:15]
}

// DateShift returns the number of days (negative, -3650 to -1) by which
// the dates of the patient (by issuer and ID) are moved under the Modified
// Dates option: the same for every file of the patient, so intervals within
// a patient are kept.
func (p *Pseudonyms) DateShift(issuer, id string) int {
	h := p.mac("dateshift", issuer+"\x00"+id)
	return -int(1 + binary.BigEndian.Uint64(h[:8])%3650)
}
