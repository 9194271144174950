package deid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
)

// refMAC and the ref functions are the first, plain derivation of the
// pseudonyms (a new HMAC per value, math/big for the UID); the faster one
// must give the same pseudonyms, or earlier outputs and re-identification
// maps would no longer match.
func refMAC(key []byte, domain, value string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

func TestPseudonymsMatchReference(t *testing.T) {
	p, err := NewPseudonyms(key)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"", "1", "1.2.840.113619.2.1.1.1", "12345", strings.Repeat("9", 64), "ä\x00ö", strings.Repeat("x", 5000)}
	for i := range 2000 {
		inputs = append(inputs, fmt.Sprintf("1.2.826.0.1.3680043.10.997.%d.%d", i%7, i))
	}
	for _, in := range inputs {
		h := refMAC(key, "uid", in)
		if want, got := "2.25."+new(big.Int).SetBytes(h[:16]).String(), p.UID(in); got != want {
			t.Fatalf("UID(%q) = %s, want %s", in, got, want)
		}
		if want, got := "CIE"+b32.EncodeToString(refMAC(key, "patient", "ISS\x00"+in))[:16], p.PatientID("ISS", in); got != want {
			t.Fatalf("PatientID(ISS, %q) = %s, want %s", in, got, want)
		}
		if want, got := "A"+b32.EncodeToString(refMAC(key, "accession", in+"\x00"+in))[:15], p.Accession(in, in); got != want {
			t.Fatalf("Accession(%q, %q) = %s, want %s", in, in, got, want)
		}
		h = refMAC(key, "dateshift", "\x00"+in)
		if want, got := -int(1+binary.BigEndian.Uint64(h[:8])%3650), p.DateShift("", in); got != want {
			t.Fatalf("DateShift(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestUIDDigits checks the decimal conversion at the edges: zero, powers of
// ten around 10^19 and 10^38, and the largest 128-bit value.
func TestUIDDigits(t *testing.T) {
	for _, s := range []string{"0", "1", "9999999999999999999", "10000000000000000000", "10000000000000000001",
		"18446744073709551615", "18446744073709551616", "100000000000000000000000000000000000000",
		"99999999999999999999999999999999999999", "340282366920938463463374607431768211455"} {
		n, _ := new(big.Int).SetString(s, 10)
		var h [16]byte
		n.FillBytes(h[:])
		if got := string(appendDecimal128(nil, binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:]))); got != s {
			t.Errorf("appendDecimal128(%s) = %s", s, got)
		}
	}
}

func TestPseudonymsConcurrent(t *testing.T) {
	p, _ := NewPseudonyms(key)
	want := p.UID("1.2.3")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				if got := p.UID("1.2.3"); got != want {
					t.Errorf("UID = %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
