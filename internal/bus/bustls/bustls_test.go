package bustls

import (
	"bytes"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestCAMadeOnceAndReused: the first call makes the CA, with private key
// files readable by the owner only; later calls, also after the server
// certificate was renewed, return the very same CA.
func TestCAMadeOnceAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	now := time.Now()
	ca, made, err := LoadOrCreateCA(dir, now)
	if err != nil || !made {
		t.Fatalf("first LoadOrCreateCA: made=%v err=%v", made, err)
	}
	if !ca.Cert.IsCA || ca.Cert.NotAfter.Before(now.Add(CAValidity-2*time.Hour)) {
		t.Fatalf("CA: IsCA=%v NotAfter=%v", ca.Cert.IsCA, ca.Cert.NotAfter)
	}
	again, made, err := LoadOrCreateCA(dir, now.Add(time.Hour))
	if err != nil || made {
		t.Fatalf("second LoadOrCreateCA: made=%v err=%v", made, err)
	}
	if !bytes.Equal(again.PEM, ca.PEM) || !again.Key.Equal(ca.Key) {
		t.Fatal("second LoadOrCreateCA returned another CA")
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil || !bytes.Equal(onDisk, ca.PEM) {
		t.Fatalf("%s does not hold the CA's PEM: %v", CACertFile, err)
	}

	cert, why, err := ServerCertificate(dir, ca, []string{"hub.example.org"}, now)
	if err != nil || why == "" {
		t.Fatalf("first ServerCertificate: why=%q err=%v", why, err)
	}
	for _, name := range []string{CAKeyFile, KeyFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	same, why, err := ServerCertificate(dir, ca, []string{"hub.example.org"}, now.Add(24*time.Hour))
	if err != nil || why != "" {
		t.Fatalf("second ServerCertificate: why=%q err=%v", why, err)
	}
	if !bytes.Equal(same.Leaf.Raw, cert.Leaf.Raw) {
		t.Fatal("a fit server certificate was replaced")
	}

	// Near its expiry, the server certificate is renewed; the CA stays.
	late := cert.Leaf.NotAfter.Add(-RenewBefore + time.Hour)
	renewed, why, err := ServerCertificate(dir, ca, []string{"hub.example.org"}, late)
	if err != nil || why == "" {
		t.Fatalf("ServerCertificate near expiry: why=%q err=%v", why, err)
	}
	if bytes.Equal(renewed.Leaf.Raw, cert.Leaf.Raw) {
		t.Fatal("a server certificate expiring within RenewBefore was kept")
	}
	t.Logf("renewed: %s", why)
	if _, err := renewed.Leaf.Verify(x509.VerifyOptions{Roots: pool(ca), CurrentTime: late, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("renewed certificate does not verify under the CA: %v", err)
	}
	if ca3, made, err := LoadOrCreateCA(dir, late); err != nil || made || !bytes.Equal(ca3.PEM, ca.PEM) {
		t.Fatalf("CA after renewal: made=%v err=%v", made, err)
	}
}

// TestSANs: the server certificate names the configured hosts and the
// loopback names, and is replaced when a configured host is not among them.
func TestSANs(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := LoadOrCreateCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"Hub.Example.org", "10.1.2.3", "0.0.0.0", "[fd00::1]", ""}
	cert, _, err := ServerCertificate(dir, ca, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"hub.example.org", "10.1.2.3", "fd00::1", "127.0.0.1", "::1", "localhost"} {
		if err := cert.Leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not name %s: %v", h, err)
		}
	}
	if slices.ContainsFunc(cert.Leaf.IPAddresses, func(ip net.IP) bool { return ip.IsUnspecified() }) {
		t.Errorf("certificate names an unspecified address: %v", cert.Leaf.IPAddresses)
	}
	if err := cert.Leaf.VerifyHostname("other.example.org"); err == nil {
		t.Error("certificate names a host it was not given")
	}

	// A new public host: new certificate, which names it.
	moved, why, err := ServerCertificate(dir, ca, []string{"bus.example.net", "10.1.2.3"}, now)
	if err != nil || why == "" {
		t.Fatalf("ServerCertificate with a new host: why=%q err=%v", why, err)
	}
	t.Logf("replaced: %s", why)
	if err := moved.Leaf.VerifyHostname("bus.example.net"); err != nil {
		t.Fatal(err)
	}
	// A subset of the named hosts keeps it.
	if _, why, err := ServerCertificate(dir, ca, []string{"bus.example.net"}, now); err != nil || why != "" {
		t.Fatalf("ServerCertificate with fewer hosts: why=%q err=%v", why, err)
	}
}

// TestCertOfAnotherCA: a server certificate signed by another CA (say the
// CA files were replaced) is replaced.
func TestCertOfAnotherCA(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := LoadOrCreateCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ServerCertificate(dir, ca, nil, now); err != nil {
		t.Fatal(err)
	}
	other, _, err := LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	cert, why, err := ServerCertificate(dir, other, nil, now)
	if err != nil || why == "" {
		t.Fatalf("why=%q err=%v", why, err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool(other), CurrentTime: now}); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentCreation: processes starting at once on an empty folder
// end up with one CA.
func TestConcurrentCreation(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	pems := make([][]byte, 8)
	errs := make([]error, 8)
	for i := range pems {
		wg.Go(func() {
			ca, _, err := LoadOrCreateCA(dir, time.Now())
			if err == nil {
				pems[i] = ca.PEM
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range pems {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(pems[i], pems[0]) {
			t.Fatalf("caller %d got another CA", i)
		}
	}
}

func TestBrokenCAFiles(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreateCA(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, CAKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, time.Now()); err == nil {
		t.Fatal("a CA certificate without its key was accepted (or replaced)")
	} else {
		t.Log(err)
	}
	// An expired CA is an error, not silently replaced.
	dir = t.TempDir()
	ca, _, err := LoadOrCreateCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, ca.Cert.NotAfter.Add(time.Hour)); err == nil {
		t.Fatal("an expired CA was accepted")
	} else {
		t.Log(err)
	}
}

func TestCertPool(t *testing.T) {
	ca, _, err := LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CertPool(ca.PEM); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"empty":    nil,
		"garbage":  []byte("not a certificate"),
		"trailing": append(append([]byte{}, ca.PEM...), "junk"...),
		"key":      []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
	} {
		if _, err := CertPool(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := ClientConfig(nil)
	if err != nil || c.RootCAs != nil || c.MinVersion < MinVersion {
		t.Fatalf("ClientConfig(nil) = %+v, %v; want system roots, TLS 1.2+", c, err)
	}
}

func pool(ca *CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}
