package bus

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// keyring is a real, in-memory Authorizer, as the hub's store would be.
type keyring struct {
	mu   sync.Mutex
	keys map[string]string
}

func (k *keyring) NodeForKey(_ context.Context, pub string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n, ok := k.keys[pub]
	if !ok {
		return "", fmt.Errorf("key %s: %w", pub, ErrUnknownKey)
	}
	return n, nil
}

func (k *keyring) add(pub, node string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string]string{}
	}
	k.keys[pub] = node
}

func (k *keyring) remove(pub string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.keys, pub)
}

// testLogger logs at debug level (so the NATS adapter formats everything) to
// stderr when CIE_TEST_LOG is set, else nowhere.
func testLogger() *slog.Logger {
	var w io.Writer = io.Discard
	if os.Getenv("CIE_TEST_LOG") != "" {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startTestServer(t *testing.T, listen, dir string, auth Authorizer) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := StartServer(ctx, ServerConfig{Listen: listen, DataDir: dir, Auth: auth, Logger: testLogger()})
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
	return s
}

// register makes credentials for node and registers its key.
func register(t *testing.T, k *keyring, node, url string) Credentials {
	t.Helper()
	c, pub, err := NewCredentials(node, url)
	if err != nil {
		t.Fatal(err)
	}
	k.add(pub, node)
	return c
}

func hubConn(t *testing.T, s *Server) *nats.Conn {
	t.Helper()
	nc, err := s.ConnectHub()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// errSink collects a node connection's asynchronous errors.
type errSink struct {
	mu   sync.Mutex
	errs []error
}

func (e *errSink) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *errSink) list() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

func dialNode(t *testing.T, c Credentials, o DialOptions) *nats.Conn {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	nc, err := Dial(t.Context(), c, o)
	if err != nil {
		t.Fatalf("Dial %s: %v", c.Node, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// recv waits up to d for a value on ch.
func recv[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		var zero T
		t.Fatalf("timed out after %v waiting for %s", d, what)
		return zero
	}
}
