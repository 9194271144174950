package oidcop

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/cancerimage/cie/internal/auth"
)

// Names of the key files under Options.KeyDir.
const (
	SigningKeyFile = "oidc-signing.pem" // RSA private key, PKCS#8 PEM
	SecretKeyFile  = "oidc-secret.key"  // token encryption and CSRF keys derive from it
)

type keys struct {
	signing *rsa.PrivateKey
	kid     string
	crypto  [32]byte // encrypts opaque access tokens
	csrf    []byte   // login form CSRF tokens
}

func loadKeys(dir string) (keys, error) {
	if dir == "" {
		return keys{}, errors.New("oidcop: Options.KeyDir is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return keys{}, fmt.Errorf("oidcop: creating key folder: %w", err)
	}
	priv, err := loadOrCreateRSA(filepath.Join(dir, SigningKeyFile))
	if err != nil {
		return keys{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return keys{}, fmt.Errorf("oidcop: encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	secret, err := auth.LoadOrCreateKey(filepath.Join(dir, SecretKeyFile))
	if err != nil {
		return keys{}, fmt.Errorf("oidcop: %w", err)
	}
	k := keys{signing: priv, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}
	k.crypto = sha256.Sum256(append([]byte("cie-oidcop-crypto\x00"), secret...))
	c := sha256.Sum256(append([]byte("cie-oidcop-csrf\x00"), secret...))
	k.csrf = c[:]
	return k, nil
}

func loadOrCreateRSA(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("oidcop: signing key %s: not a PKCS#8 PEM private key", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("oidcop: signing key %s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("oidcop: signing key %s: not an RSA key", path)
		}
		return rk, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("oidcop: reading signing key: %w", err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidcop: making signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		return nil, fmt.Errorf("oidcop: encoding signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("oidcop: creating signing key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("oidcop: writing signing key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("oidcop: writing signing key: %w", err)
	}
	return rk, nil
}

// signingKey implements op.SigningKey.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (s signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (s signingKey) Key() any                                    { return s.key }
func (s signingKey) ID() string                                  { return s.id }

// publicKey implements op.Key.
type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (p publicKey) ID() string                         { return p.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.key }
