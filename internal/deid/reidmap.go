package deid

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// reidMagic starts every re-identification map file.
var reidMagic = []byte("CIE-REID-MAP-1\n")

// ErrReidKey is returned when a re-identification map does not open with
// the given key.
var ErrReidKey = errors.New("deid: re-identification map does not open with this key")

// ReidEntry links a patient pseudonym back to the original identifiers.
type ReidEntry struct {
	Pseudonym string            `json:"pseudonym"`
	PatientID string            `json:"patient_id"`
	Studies   map[string]string `json:"studies"` // pseudonymous study UID → original study UID
}

// ReidMap collects re-identification entries in memory and writes them
// only encrypted (AES-256-GCM under a key derived from the data holder's
// key file), never in clear. It is safe for concurrent use.
type ReidMap struct {
	mu      sync.Mutex
	entries map[string]*ReidEntry
}

// NewReidMap returns an empty map.
func NewReidMap() *ReidMap { return &ReidMap{entries: map[string]*ReidEntry{}} }

// Add records a de-identified file.
func (m *ReidMap) Add(r Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[r.PatientPseudonym]
	if !ok {
		e = &ReidEntry{Pseudonym: r.PatientPseudonym, PatientID: r.OriginalPatientID, Studies: map[string]string{}}
		m.entries[r.PatientPseudonym] = e
	}
	if r.StudyUID != "" {
		e.Studies[r.StudyUID] = r.OriginalStudyUID
	}
}

// Entries returns the entries sorted by pseudonym.
func (m *ReidMap) Entries() []ReidEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ReidEntry, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pseudonym < out[j].Pseudonym })
	return out
}

func reidAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) < MinKeyLen {
		return nil, ErrShortKey
	}
	k := sha256.Sum256(append([]byte("cie re-identification map\x00"), key...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("deid: %w", err)
	}
	return cipher.NewGCM(block)
}

// Write encrypts the map with key and writes it to path atomically
// (readable by its owner only). An existing map at path is merged in first,
// so that several runs build one map; it must open with the same key.
func (m *ReidMap) Write(path string, key []byte) error {
	if old, err := ReadReidMap(path, key); err == nil {
		for _, e := range old {
			m.mu.Lock()
			cur, ok := m.entries[e.Pseudonym]
			if !ok {
				ee := e
				m.entries[e.Pseudonym] = &ee
			} else {
				for k, v := range e.Studies {
					if _, ok := cur.Studies[k]; !ok {
						cur.Studies[k] = v
					}
				}
			}
			m.mu.Unlock()
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("deid: merging into %s: %w", path, err)
	}
	plain, err := json.Marshal(m.Entries())
	if err != nil {
		return fmt.Errorf("deid: encoding re-identification map: %w", err)
	}
	aead, err := reidAEAD(key)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append(append(append([]byte(nil), reidMagic...), nonce...), aead.Seal(nil, nonce, plain, reidMagic)...)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".reid-*")
	if err != nil {
		return fmt.Errorf("deid: writing re-identification map: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("deid: writing re-identification map: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("deid: writing re-identification map: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("deid: writing re-identification map: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("deid: writing re-identification map: %w", err)
	}
	return nil
}

// ReadReidMap decrypts the map at path with key.
func ReadReidMap(path string, key []byte) ([]ReidEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, reidMagic) {
		return nil, fmt.Errorf("deid: %s is not a re-identification map", path)
	}
	aead, err := reidAEAD(key)
	if err != nil {
		return nil, err
	}
	b = b[len(reidMagic):]
	if len(b) < aead.NonceSize() {
		return nil, fmt.Errorf("deid: %s is truncated", path)
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], reidMagic)
	if err != nil {
		return nil, ErrReidKey
	}
	var out []ReidEntry
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("deid: decoding %s: %w", path, err)
	}
	return out, nil
}
