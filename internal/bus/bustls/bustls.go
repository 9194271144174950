package bustls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names of the automatic bus certificates in the hub's key folder.
const (
	CACertFile = "bus-ca.pem" // the CA certificate, given to nodes
	CAKeyFile  = "bus-ca.key" // the CA's private key (0600)
	CertFile   = "bus.pem"    // the bus server's certificate
	KeyFile    = "bus.key"    // the bus server's private key (0600)
)

// Validity of the automatic certificates.
const (
	// CAValidity is how long a new CA is valid.
	CAValidity = 10 * 365 * 24 * time.Hour
	// CertValidity is how long a new server certificate is valid (never
	// beyond its CA).
	CertValidity = 2 * 365 * 24 * time.Hour
	// RenewBefore is how long before its expiry a server certificate is
	// replaced.
	RenewBefore = 30 * 24 * time.Hour
)

// backdate is how far before its creation a certificate is made valid, so
// that a peer whose clock is a little behind accepts it.
const backdate = time.Hour

// halfCAWait bounds how long LoadOrCreateCA waits for another process that
// is creating the CA to finish.
const halfCAWait = 3 * time.Second

// MinVersion is the lowest TLS version either end of the bus accepts.
const MinVersion = tls.VersionTLS12

// CA is the hub's bus certificate authority.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key *ecdsa.PrivateKey
	// PEM is Cert, PEM-encoded: what node credentials carry.
	PEM []byte
}

// errNoCA: neither file of the CA exists; errHalfCA: the key exists but not
// yet the certificate (another process may be creating them).
var (
	errNoCA   = errors.New("no CA")
	errHalfCA = errors.New("CA key without certificate")
)

// LoadOrCreateCA loads the CA kept in dir (CACertFile, CAKeyFile), or makes
// a new one valid from now for CAValidity if there is none, and reports
// whether it made it. Two processes starting at once agree on one CA. An
// expired CA is an error: the node credentials that carry it are useless
// too, so the operator must decide (remove both files and re-issue every
// node's credentials).
func LoadOrCreateCA(dir string, now time.Time) (*CA, bool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("bus CA: creating key folder: %w", err)
	}
	deadline := time.Now().Add(halfCAWait)
	for {
		ca, err := loadCA(dir)
		switch {
		case err == nil:
			if !now.Before(ca.Cert.NotAfter) {
				return nil, false, fmt.Errorf("bus CA %s expired on %s: remove %s and %s to make a new one, then issue every node new credentials",
					filepath.Join(dir, CACertFile), ca.Cert.NotAfter.Format(time.DateOnly), CACertFile, CAKeyFile)
			}
			return ca, false, nil
		case errors.Is(err, errHalfCA):
			if time.Now().After(deadline) {
				return nil, false, fmt.Errorf("bus CA: %s exists without %s (an interrupted start?): remove it to make a new CA",
					filepath.Join(dir, CAKeyFile), CACertFile)
			}
			time.Sleep(50 * time.Millisecond)
		case errors.Is(err, errNoCA):
			ca, err := createCA(dir, now)
			if errors.Is(err, fs.ErrExist) {
				continue // another process made one first: load it
			}
			if err != nil {
				return nil, false, err
			}
			return ca, true, nil
		default:
			return nil, false, err
		}
	}
}

func loadCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	keyPEM, kerr := os.ReadFile(keyPath)
	certPEM, cerr := os.ReadFile(certPath)
	switch {
	case errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist):
		return nil, errNoCA
	case errors.Is(cerr, fs.ErrNotExist) && kerr == nil:
		return nil, errHalfCA
	case errors.Is(kerr, fs.ErrNotExist) && cerr == nil:
		return nil, fmt.Errorf("bus CA: %s exists without %s: restore the key, or remove both to make a new CA (and re-issue every node's credentials)", certPath, CAKeyFile)
	case kerr != nil:
		return nil, fmt.Errorf("bus CA: reading key: %w", kerr)
	case cerr != nil:
		return nil, fmt.Errorf("bus CA: reading certificate: %w", cerr)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("bus CA %s, %s: %w", certPath, CAKeyFile, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("bus CA: %s: not an ECDSA key", keyPath)
	}
	if !pair.Leaf.IsCA {
		return nil, fmt.Errorf("bus CA: %s is not a CA certificate", certPath)
	}
	return &CA{Cert: pair.Leaf, Key: key, PEM: pemBlock("CERTIFICATE", pair.Leaf.Raw)}, nil
}

// createCA makes a new CA and stores it in dir, unless another process
// stores one first (then it returns an error wrapping fs.ErrExist). The key
// file is created first and exclusively: whoever creates it owns the CA.
func createCA(dir string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bus CA: generating key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, fmt.Errorf("bus CA: %w", err)
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: strings.TrimSpace("cie hub bus CA " + host), Organization: []string{"cie"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("bus CA: making certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("bus CA: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("bus CA: encoding key: %w", err)
	}
	ca := &CA{Cert: cert, Key: key, PEM: pemBlock("CERTIFICATE", der)}
	if err := writeFile(dir, CAKeyFile, pemBlock("PRIVATE KEY", keyDER), 0o600, true); err != nil {
		return nil, err
	}
	if err := writeFile(dir, CACertFile, ca.PEM, 0o644, false); err != nil {
		return nil, err
	}
	return ca, nil
}

// ServerCertificate returns the bus server's certificate kept in dir
// (CertFile, KeyFile), signed by ca. It makes and stores a new one, and
// reports why, when there is none or the stored one is unreadable, not
// signed by ca, expires within RenewBefore of now, or does not name every
// one of hosts (host names or IP addresses; empty and unspecified addresses
// are skipped). The new certificate names hosts plus the loopback names
// 127.0.0.1, ::1 and localhost.
func ServerCertificate(dir string, ca *CA, hosts []string, now time.Time) (tls.Certificate, string, error) {
	hosts = Hosts(hosts...)
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	var why string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		why = "none yet"
	case err != nil:
		why = fmt.Sprintf("unreadable (%v)", err)
	default:
		why = reject(cert.Leaf, ca, hosts, now)
		if why == "" {
			return cert, "", nil
		}
	}
	cert, err = newServerCert(dir, ca, hosts, now)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	return cert, why, nil
}

// reject says why leaf is not fit to be the bus server's certificate, or ""
// if it is.
func reject(leaf *x509.Certificate, ca *CA, hosts []string, now time.Time) string {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Sprintf("not valid under the bus CA (%v)", err)
	}
	if now.Add(RenewBefore).After(leaf.NotAfter) {
		return "expires on " + leaf.NotAfter.Format(time.DateOnly)
	}
	for _, h := range hosts {
		if err := leaf.VerifyHostname(h); err != nil {
			return fmt.Sprintf("does not name %s", h)
		}
	}
	return ""
}

func newServerCert(dir string, ca *CA, hosts []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bus certificate: generating key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bus certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "cie hub bus", Organization: []string{"cie"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(CertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ca.Cert.NotAfter.Before(tmpl.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	for _, h := range Hosts(append(slices.Clone(hosts), "127.0.0.1", "::1", "localhost")...) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bus certificate: signing: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bus certificate: encoding key: %w", err)
	}
	certPEM, keyPEM := pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bus certificate: %w", err)
	}
	if err := writeFile(dir, KeyFile, keyPEM, 0o600, false); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(dir, CertFile, certPEM, 0o644, false); err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}

// Hosts returns the distinct, non-empty host names and IP addresses among
// hosts, lower-cased, without IPv6 brackets, without unspecified addresses
// (0.0.0.0, ::), in their first order.
func Hosts(hosts ...string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h), "["), "]"))
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if ip.IsUnspecified() {
				continue
			}
			h = ip.String()
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// Auto loads or makes the hub's bus CA and server certificate in dir (see
// LoadOrCreateCA and ServerCertificate), logs what it made, and returns the
// server's tls.Config and the CA.
func Auto(dir string, hosts []string, log *slog.Logger) (*tls.Config, *CA, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	ca, made, err := LoadOrCreateCA(dir, now)
	if err != nil {
		return nil, nil, err
	}
	if made {
		log.Info("bus: made a new TLS certificate authority; node credentials issued from now on carry it",
			"file", filepath.Join(dir, CACertFile), "expires", ca.Cert.NotAfter.Format(time.DateOnly))
	} else if left := ca.Cert.NotAfter.Sub(now); left < 365*24*time.Hour {
		log.Warn("bus: the TLS certificate authority expires soon; nodes will not connect after that",
			"file", filepath.Join(dir, CACertFile), "expires", ca.Cert.NotAfter.Format(time.DateOnly))
	}
	cert, why, err := ServerCertificate(dir, ca, hosts, now)
	if err != nil {
		return nil, nil, err
	}
	if why != "" {
		log.Info("bus: made a new TLS server certificate", "because_old_one", why,
			"hosts", append(cert.Leaf.DNSNames, ipStrings(cert.Leaf.IPAddresses)...), "expires", cert.Leaf.NotAfter.Format(time.DateOnly))
	}
	return ServerConfig(cert), ca, nil
}

// LoadServerFiles loads a server certificate chain and its key from PEM
// files (for a hub whose bus certificate comes from elsewhere) and returns
// the server's tls.Config.
func LoadServerFiles(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("bus TLS certificate %s, key %s: %w", certFile, keyFile, err)
	}
	return ServerConfig(cert), nil
}

// ServerConfig returns the tls.Config of a bus server presenting cert.
func ServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: MinVersion}
}

// ClientConfig returns the tls.Config of a node dialling the bus: it trusts
// the CA certificates in caPEM only, or the system roots if caPEM is empty.
func ClientConfig(caPEM []byte) (*tls.Config, error) {
	c := &tls.Config{MinVersion: MinVersion}
	if len(bytes.TrimSpace(caPEM)) == 0 {
		return c, nil
	}
	pool, err := CertPool(caPEM)
	if err != nil {
		return nil, err
	}
	c.RootCAs = pool
	return c, nil
}

// CertPool parses PEM-encoded certificates into a pool. It fails unless
// there is at least one certificate and every PEM block is a valid one.
func CertPool(caPEM []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	rest := caPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("CA certificates: unexpected PEM block %q", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("CA certificates: not PEM-encoded certificates")
	}
	return pool, nil
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeFile writes data to dir/name with mode perm through a temporary file.
// With exclusive it fails (wrapping fs.ErrExist) if the file exists;
// otherwise it replaces it atomically.
func writeFile(dir, name string, data []byte, perm os.FileMode, exclusive bool) (err error) {
	path := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		_ = os.Remove(f.Name()) // after a link or on failure; gone after a rename
	}()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if exclusive {
		if err := os.Link(f.Name(), path); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	} else if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { // make it durable; best effort
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
