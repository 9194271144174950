package visa

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/fed"
)

// TestOverTheBus runs the key exchange over the real bus, with a node's
// permissions: the node asks on its own subject and reads its own pushes; the
// hub answers and pushes; the node keeps verifying once the hub is gone.
func TestOverTheBus(t *testing.T) {
	ctx := t.Context()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	creds, pub, err := bus.NewCredentials(testNode, "nats://127.0.0.1:1") // URL set below
	if err != nil {
		t.Fatal(err)
	}
	auth := bus.AuthorizerFunc(func(_ context.Context, key string) (string, error) {
		if key == pub {
			return testNode, nil
		}
		return "", bus.ErrUnknownKey
	})
	startCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	srv, err := bus.StartServer(startCtx, bus.ServerConfig{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Auth: auth, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	creds.HubURL = srv.ClientURL()

	// The hub side.
	clk := newClock()
	is, err := OpenIssuer(IssuerOptions{Dir: t.TempDir(), Issuer: testIssuer, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := srv.ConnectHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	sub, err := hub.Subscribe(fed.AllVisaKeys, func(m *nats.Msg) {
		node, err := fed.NodeFromSubject(m.Subject)
		if err != nil {
			return
		}
		_ = m.Respond(is.HandleKeysRequest(node, m.Data))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Flush(); err != nil {
		t.Fatal(err)
	}

	// The node side.
	var errMu sync.Mutex
	var busErrs []error
	nc, err := bus.Dial(ctx, creds, bus.DialOptions{Logger: quiet, OnError: func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		busErrs = append(busErrs, err)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nodeDir := t.TempDir()
	request := func(ctx context.Context, subject string, data []byte) ([]byte, error) {
		m, err := nc.RequestWithContext(ctx, subject, data)
		if err != nil {
			return nil, err
		}
		return m.Data, nil
	}
	cache, err := OpenNodeCache(NodeCacheOptions{Dir: nodeDir, Node: testNode, Request: request, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(fed.VisaUpdateSubject(testNode), func(m *nats.Msg) { _ = cache.HandleUpdate(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(ctx, "start"); err != nil {
		t.Fatalf("refresh over the bus: %v", err)
	}
	v := NewVerifier(cache, VerifierOptions{Now: clk.Now})

	iss, err := is.Issue(Grant{Subject: "alice", Dataset: datasetA, Access: AccessView, Expires: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, v.Allow(ctx, iss.Token, Request{Dataset: datasetA, Action: ActionView}))

	// A revocation pushed by the hub reaches the node.
	if err := is.Revoke(iss.JTI, iss.Expires, "pushed"); err != nil {
		t.Fatal(err)
	}
	msg, err := is.UpdateMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Publish(fed.VisaUpdateSubject(testNode), msg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for cache.RevocationVersion() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the pushed revocation did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantErr(t, v.Allow(ctx, iss.Token, Request{Dataset: datasetA, Action: ActionView}), ErrRevoked)

	// The hub stops answering: refreshes fail, verification goes on.
	other, err := is.Issue(Grant{Subject: "alice", Dataset: datasetB, Access: AccessDownload, Expires: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	_ = hub.Flush()
	if err := cache.Refresh(ctx, "manual"); !errors.Is(err, ErrNoHub) {
		t.Fatalf("refresh without the hub: %v", err)
	}
	wantAllowed(t, v.Allow(ctx, other.Token, Request{Dataset: datasetB, Action: ActionDownload}))
	_ = nc.Flush()
	errMu.Lock()
	defer errMu.Unlock()
	if len(busErrs) != 0 {
		t.Fatalf("bus errors (permission violations?): %v", busErrs)
	}
}
