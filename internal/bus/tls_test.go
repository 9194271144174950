package bus

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/bus/bustls"
	"github.com/cancerimage/cie/internal/fed"
)

// startTLSServer starts a bus server with the automatic certificates kept
// in keys, naming 127.0.0.1 (and the loopback names), and returns it with
// the CA's PEM.
func startTLSServer(t *testing.T, listen, keys string, auth Authorizer) (*Server, string) {
	t.Helper()
	tc, ca, err := bustls.Auto(keys, []string{"127.0.0.1"}, testLogger())
	if err != nil {
		t.Fatalf("bustls.Auto: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := StartServer(ctx, ServerConfig{Listen: listen, DataDir: t.TempDir(), Auth: auth, Logger: testLogger(), TLS: tc})
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, string(ca.PEM)
}

// TestTLS proves that a node holding the hub's CA reaches a TLS bus over
// TLS, with its rights and no more, and that the hub's own in-process
// connection works beside it.
func TestTLS(t *testing.T) {
	kr := &keyring{}
	s, caPEM := startTLSServer(t, "127.0.0.1:0", t.TempDir(), kr)
	if !strings.HasPrefix(s.ClientURL(), "tls://") {
		t.Fatalf("ClientURL of a TLS server = %s, want tls://", s.ClientURL())
	}
	hub := hubConn(t, s)
	c := register(t, kr, "a", s.ClientURL())
	c.HubCA = caPEM
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var errs errSink
	a := dialNode(t, c, DialOptions{OnError: errs.add})
	if !a.TLSRequired() {
		t.Error("the node's connection does not require TLS")
	}
	st, err := a.TLSConnectionState()
	if err != nil {
		t.Fatalf("node connection: %v", err)
	}
	if !st.HandshakeComplete || st.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state: handshake complete %v, version %x", st.HandshakeComplete, st.Version)
	}
	t.Logf("node connected with %s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))

	// Hub → node on the node's subjects.
	ping := make(chan *nats.Msg, 4)
	if _, err := a.ChanSubscribe(fed.PingSubject("a"), ping); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := hub.Publish(fed.PingSubject("a"), []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ping, 3*time.Second, "the hub's message at the node"); string(m.Data) != "over tls" {
		t.Fatalf("node got %q", m.Data)
	}
	// Node → hub on its own subjects, and a request answered by the hub.
	hello := make(chan *nats.Msg, 4)
	if _, err := hub.ChanSubscribe(fed.HelloSubject("a"), hello); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Subscribe(fed.NodeSubjects("a"), func(m *nats.Msg) {
		if m.Reply != "" {
			_ = m.Respond([]byte("ack:" + string(m.Data)))
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := hub.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(fed.HelloSubject("a"), []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, hello, 3*time.Second, "the node's message at the hub"); string(m.Data) != "hello" {
		t.Fatalf("hub got %q", m.Data)
	}
	resp, err := a.Request(fed.HelloSubject("a"), []byte("req"), 3*time.Second)
	if err != nil || string(resp.Data) != "ack:req" {
		t.Fatalf("request over TLS: %v %v", resp, err)
	}
	// Still no more than its rights: another node's subject is refused.
	if err := a.Publish(fed.HelloSubject("b"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !slicesContainsErr(errs.list(), nats.ErrPermissionViolation) {
		if time.Now().After(deadline) {
			t.Fatalf("no permission violation for another node's subject; errors: %v", errs.list())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// "localhost" is in the certificate too.
	lc := c
	lc.HubURL = strings.Replace(s.ClientURL(), "127.0.0.1", "localhost", 1)
	if nc, err := Dial(t.Context(), lc, DialOptions{Logger: testLogger()}); err != nil {
		t.Errorf("dial %s: %v", lc.HubURL, err)
	} else {
		nc.Close()
	}
}

func slicesContainsErr(errs []error, target error) bool {
	for _, err := range errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// TestTLSRefusesPlainClients proves a TLS bus serves no client that does not
// speak TLS, even one with valid credentials: its CONNECT, sent in clear,
// gets no answer but a closed connection. The same client is served by a
// plain bus, so the client itself is sound.
func TestTLSRefusesPlainClients(t *testing.T) {
	kr := &keyring{}
	plainSrv := startTestServer(t, "127.0.0.1:0", t.TempDir(), kr)
	s, _ := startTLSServer(t, "127.0.0.1:0", t.TempDir(), kr)
	c := register(t, kr, "a", s.ClientURL())
	addr := strings.TrimPrefix(s.ClientURL(), "tls://")

	if info, reply := rawClient(t, strings.TrimPrefix(plainSrv.ClientURL(), "nats://"), c); !strings.Contains(reply, "PONG") {
		t.Fatalf("the raw client is not served by a plain bus either: INFO %s, reply %q", info, reply)
	}
	info, reply := rawClient(t, addr, c)
	if !strings.Contains(info, `"tls_required":true`) {
		t.Errorf("INFO does not require TLS: %s", info)
	}
	if strings.Contains(reply, "PONG") {
		t.Fatalf("a plain client was served: %q", reply)
	}
	t.Logf("plain client on the TLS bus: connection closed after %q", reply)

	// Credentials without the CA, with the nats:// URL of old: nats.go
	// follows the server to TLS, but trusts only the system's CAs.
	plain := c
	plain.HubURL = "nats://" + addr
	if nc, err := Dial(t.Context(), plain, DialOptions{Logger: testLogger()}); err == nil {
		nc.Close()
		t.Fatal("a node without the hub's CA connected")
	} else if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("err = %v, want ErrUntrusted", err)
	}
}

// rawClient speaks the NATS protocol in clear on a TCP connection to addr:
// it reads INFO, sends a CONNECT signed with c's seed and a PING, and returns
// the INFO line and everything read until the server closed the connection.
func rawClient(t *testing.T, addr string, c Credentials) (string, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading INFO: %v", err)
	}
	var fields struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(info), "INFO ")), &fields); err != nil {
		t.Fatalf("INFO %q: %v", info, err)
	}
	kp, err := userKey(c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	sig, err := kp.Sign([]byte(fields.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	connect, _ := json.Marshal(map[string]any{
		"verbose": false, "pedantic": false, "protocol": 1, "name": c.Node,
		"nkey": pub, "sig": base64.RawURLEncoding.EncodeToString(sig),
	})
	if _, err := fmt.Fprintf(conn, "CONNECT %s\r\nPING\r\n", connect); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if strings.Contains(got.String(), "PONG") {
			return info, got.String()
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server neither answered nor closed the connection: %q", got.String())
			}
			return info, got.String()
		}
	}
}

// TestTLSOtherCA proves a node whose credentials carry another CA than the
// hub's is refused at once, with an error that says why.
func TestTLSOtherCA(t *testing.T) {
	kr := &keyring{}
	s, _ := startTLSServer(t, "127.0.0.1:0", t.TempDir(), kr)
	other, _, err := bustls.LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := register(t, kr, "a", s.ClientURL())
	c.HubCA = string(other.PEM)
	began := time.Now()
	nc, err := Dial(t.Context(), c, DialOptions{Logger: testLogger()})
	if err == nil {
		nc.Close()
		t.Fatal("a node trusting another CA connected")
	}
	if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("err = %v, want ErrUntrusted", err)
	}
	for _, want := range []string{"hub_ca", "certificate", c.HubURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("refusal took %v", d)
	}
	t.Logf("other CA: %v", err)

}

// TestTLSWrongHost proves a certificate from the right CA that does not
// name the host of the hub URL is refused.
func TestTLSWrongHost(t *testing.T) {
	ca, _, err := bustls.LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "elsewhere"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"hub.example.org"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	kr := &keyring{}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := StartServer(ctx, ServerConfig{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Auth: kr, Logger: testLogger(),
		TLS: bustls.ServerConfig(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := register(t, kr, "a", s.ClientURL())
	c.HubCA = string(ca.PEM)
	nc, err := Dial(t.Context(), c, DialOptions{Logger: testLogger()})
	if err == nil {
		nc.Close()
		t.Fatal("connected although the certificate does not name 127.0.0.1")
	}
	if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("err = %v, want ErrUntrusted", err)
	}
	t.Logf("wrong host: %v", err)
}

// TestTLSNodeWantsTLS proves credentials that ask for TLS do not fall back
// to plain TCP on a hub without it.
func TestTLSNodeWantsTLS(t *testing.T) {
	kr := &keyring{}
	s := startTestServer(t, "127.0.0.1:0", t.TempDir(), kr)
	ca, _, err := bustls.LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := register(t, kr, "a", s.ClientURL())
	c.HubCA = string(ca.PEM)
	nc, err := Dial(t.Context(), c, DialOptions{Logger: testLogger()})
	if err == nil {
		nc.Close()
		t.Fatal("credentials with hub_ca connected to a plain bus")
	}
	if !errors.Is(err, ErrNoTLS) {
		t.Fatalf("err = %v, want ErrNoTLS", err)
	}
	t.Logf("plain hub: %v", err)
}

// TestTLSRestart proves the automatic certificates survive a restart of
// the hub: the CA is the same, so credentials issued before still work.
func TestTLSRestart(t *testing.T) {
	kr := &keyring{}
	keys := filepath.Join(t.TempDir(), "keys")
	s1, ca1 := startTLSServer(t, "127.0.0.1:0", keys, kr)
	c := register(t, kr, "a", s1.ClientURL())
	c.HubCA = ca1
	nc := dialNode(t, c, DialOptions{})
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	listen := strings.TrimPrefix(s1.ClientURL(), "tls://")
	if err := s1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	s2, ca2 := startTLSServer(t, listen, keys, kr)
	if ca2 != ca1 {
		t.Fatal("the CA changed across a restart")
	}
	connected := make(chan struct{}, 1)
	nc = dialNode(t, c, DialOptions{OnConnect: func() { connected <- struct{}{} }})
	recv(t, connected, 5*time.Second, "the node connected to the restarted hub")
	if s2.ClientURL() != c.HubURL {
		t.Fatalf("restarted on %s, credentials say %s", s2.ClientURL(), c.HubURL)
	}
	if st, err := nc.TLSConnectionState(); err != nil || !st.HandshakeComplete {
		t.Fatalf("not TLS after restart: %v", err)
	}
}
