package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// algEd25519 is the note algorithm byte for Ed25519 keys.
const algEd25519 = 1

// GenerateKey returns a new Ed25519 note signer key (secret) and verifier key
// (public) named origin. The origin is also the log's checkpoint origin.
func GenerateKey(origin string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", fmt.Errorf("audit: generating key %q: %w", origin, err)
	}
	// note.GenerateKey does not check the name; note.NewSigner does.
	if _, err := note.NewSigner(skey); err != nil {
		return "", "", fmt.Errorf("audit: generating key %q: not a valid key name: %w", origin, err)
	}
	return skey, vkey, nil
}

// VerifierKey derives the public verifier key (note format,
// "<name>+<hash>+<base64>") from an Ed25519 signer key, e.g. to publish it
// in fed.Hello.AuditKey.
func VerifierKey(skey string) (string, error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", fmt.Errorf("audit: parsing signer key: %w", err)
	}
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return "", errors.New("audit: parsing signer key: malformed")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return "", errors.New("audit: parsing signer key: not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", fmt.Errorf("audit: deriving verifier key: %w", err)
	}
	return vkey, nil
}

// ReadVerifierKey reads the signer key file at path (as written by
// LoadOrCreateKey) and returns its public verifier key.
func ReadVerifierKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("audit: reading key: %w", err)
	}
	return VerifierKey(strings.TrimSpace(string(b)))
}

// LoadOrCreateKey loads the Ed25519 signer key stored in the file at path,
// or, if there is no such file, generates one named origin and stores it
// there (mode 0600, created atomically). It returns the signer and its
// matching verifier. A key whose name is not origin is an error.
func LoadOrCreateKey(path, origin string) (note.Signer, note.Verifier, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if b, err = createKeyFile(path, origin); err != nil {
			return nil, nil, err
		}
	case err != nil:
		return nil, nil, fmt.Errorf("audit: reading key: %w", err)
	}
	skey := strings.TrimSpace(string(b))
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: key file %s: %w", path, err)
	}
	if signer.Name() != origin {
		return nil, nil, fmt.Errorf("audit: key file %s holds the key of %q, not %q", path, signer.Name(), origin)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: key file %s: %w", path, err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: key file %s: %w", path, err)
	}
	return signer, verifier, nil
}

// createKeyFile writes a new key to path unless a file appears there first,
// and returns the content of the file at path.
func createKeyFile(path, origin string) ([]byte, error) {
	skey, _, err := GenerateKey(origin)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: creating key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".auditkey-*")
	if err != nil {
		return nil, fmt.Errorf("audit: creating key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("audit: creating key file: %w", err)
	}
	if _, err := tmp.WriteString(skey + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("audit: writing key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("audit: writing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("audit: writing key file: %w", err)
	}
	// Link fails if path exists: never overwrite a key someone else created.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("audit: creating key file: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: reading key: %w", err)
	}
	return b, nil
}
