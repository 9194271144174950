package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/cancerimage/cie/internal/fed"
)

// TestPermissions proves a node's rights cover its own subjects only.
func TestPermissions(t *testing.T) {
	kr := &keyring{}
	s := startTestServer(t, "127.0.0.1:0", t.TempDir(), kr)
	hub := hubConn(t, s)
	ca := register(t, kr, "a", s.ClientURL())
	cb := register(t, kr, "b", s.ClientURL())
	var errsA errSink
	a := dialNode(t, ca, DialOptions{OnError: errsA.add})
	b := dialNode(t, cb, DialOptions{})

	// waitErrs waits until A was told of a permission violation on each subject.
	waitErrs := func(t *testing.T, kind string, subjects ...string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			missing := []string{}
			for _, subj := range subjects {
				found := false
				for _, err := range errsA.list() {
					if errors.Is(err, nats.ErrPermissionViolation) &&
						strings.Contains(strings.ToLower(err.Error()), kind) &&
						strings.Contains(err.Error(), `"`+subj+`"`) {
						found = true
					}
				}
				if !found {
					missing = append(missing, subj)
				}
			}
			if len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s permission violation reported for %q; errors: %v", kind, missing, errsA.list())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Run("A receives nothing meant for B or the hub", func(t *testing.T) {
		// One channel for all of A's subscriptions keeps the server's order.
		ch := make(chan *nats.Msg, 64)
		forbidden := []string{
			fed.HubSubjects("b"),
			fed.HubPrefix + ">",
			">",
			"_INBOX.>",
			fed.InboxPrefix("b") + ".>",
			fed.NodeSubjects("b"),
		}
		for _, subj := range append(forbidden, fed.PingSubject("a")) {
			sub, err := a.ChanSubscribe(subj, ch)
			if err != nil {
				t.Fatal(err)
			}
			// A second subscription matching the hub's requests would use up
			// the single answer each request allows (see doc.go).
			defer sub.Unsubscribe()
		}
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		waitErrs(t, "subscription", forbidden...)

		for _, subj := range []string{fed.PingSubject("b"), fed.HubPrefix + "b.jobs.x", "_INBOX.abc", fed.InboxPrefix("b") + ".abc", fed.HelloSubject("b")} {
			if err := hub.Publish(subj, []byte("secret")); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Publish(fed.HelloSubject("b"), []byte("secret")); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := hub.Publish(fed.PingSubject("a"), []byte("marker")); err != nil {
			t.Fatal(err)
		}
		m := recv(t, ch, 3*time.Second, "the marker on A's own subject")
		if string(m.Data) != "marker" {
			t.Fatalf("A received %q on %s before its own message", m.Data, m.Subject)
		}
		// B's publication was flushed before the marker was sent; give any
		// delivery from that other connection a moment more anyway.
		select {
		case m := <-ch:
			t.Fatalf("A received %q on %s", m.Data, m.Subject)
		case <-time.After(100 * time.Millisecond):
		}
	})

	t.Run("A cannot publish as the hub or as B", func(t *testing.T) {
		ch := make(chan *nats.Msg, 64)
		sub, err := hub.ChanSubscribe(">", ch)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := hub.Flush(); err != nil {
			t.Fatal(err)
		}
		forbidden := []string{
			fed.HubPrefix + "b.ping",
			fed.PingSubject("a"), // not even the hub's subjects to itself
			fed.HelloSubject("b"),
			"_INBOX.abc",
			fed.InboxPrefix("b") + ".abc",
			"$JS.API.INFO",
			"cie.v1.other",
		}
		for _, subj := range forbidden {
			if err := a.Publish(subj, []byte("forged")); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Publish(fed.HelloSubject("a"), []byte("marker")); err != nil {
			t.Fatal(err)
		}
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		m := recv(t, ch, 3*time.Second, "A's message on its own subject")
		if m.Subject != fed.HelloSubject("a") || string(m.Data) != "marker" {
			t.Fatalf("hub received %q on %s", m.Data, m.Subject)
		}
		waitErrs(t, "publish", forbidden...)
		if _, err := jetstream.New(a); err == nil {
			js, _ := jetstream.New(a)
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			if _, err := js.AccountInfo(ctx); err == nil {
				t.Error("A could use the JetStream API")
			}
		}
	})

	t.Run("A answers the hub and asks the hub", func(t *testing.T) {
		sub, err := a.Subscribe(fed.PingSubject("a"), func(m *nats.Msg) {
			if string(m.Data) == "ping" {
				_ = m.Respond([]byte("pong from a"))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		rep, err := hub.Request(fed.PingSubject("a"), []byte("ping"), 3*time.Second)
		if err != nil {
			t.Fatalf("hub request to A: %v", err)
		}
		if string(rep.Data) != "pong from a" {
			t.Fatalf("reply %q", rep.Data)
		}

		hs, err := hub.Subscribe(fed.AllHello, func(m *nats.Msg) {
			node, _ := fed.NodeFromSubject(m.Subject)
			_ = m.Respond([]byte("welcome " + node))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer hs.Unsubscribe()
		if err := hub.Flush(); err != nil {
			t.Fatal(err)
		}
		rep, err = a.Request(fed.HelloSubject("a"), []byte("hello"), 3*time.Second)
		if err != nil {
			t.Fatalf("A request to hub: %v", err)
		}
		if string(rep.Data) != "welcome a" || !strings.HasPrefix(rep.Subject, fed.InboxPrefix("a")+".") {
			t.Fatalf("reply %q on %s", rep.Data, rep.Subject)
		}
	})
}

// TestRefused proves that only a registered key, proven by its seed, gets in,
// and that the node name comes from the Authorizer.
func TestRefused(t *testing.T) {
	kr := &keyring{}
	s := startTestServer(t, "127.0.0.1:0", t.TempDir(), kr)
	url := s.ClientURL()
	ca := register(t, kr, "a", url)
	register(t, kr, "b", url)

	mustRefuse := func(t *testing.T, c Credentials) {
		t.Helper()
		nc, err := Dial(t.Context(), c, DialOptions{Logger: testLogger()})
		if err == nil {
			nc.Close()
			t.Fatal("connection accepted")
		}
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("err = %v, want ErrRefused", err)
		}
	}
	t.Run("unknown key", func(t *testing.T) {
		c, _, err := NewCredentials("c", url)
		if err != nil {
			t.Fatal(err)
		}
		mustRefuse(t, c)
	})
	t.Run("other valid seed", func(t *testing.T) {
		other, _, _ := NewCredentials("a", url)
		c := ca
		c.Seed = other.Seed
		mustRefuse(t, c)
	})
	t.Run("tampered seed in file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a.json")
		c := ca
		seed := []byte(c.Seed)
		seed[10] ^= 1
		c.Seed = string(seed)
		if err := os.WriteFile(path, fmt.Appendf(nil, `{"node":"a","hub_url":%q,"seed":%q}`, url, c.Seed), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadCredentials(path); err == nil || !strings.Contains(err.Error(), `"seed"`) {
			t.Fatalf("ReadCredentials: %v", err)
		}
		if _, err := Dial(t.Context(), c, DialOptions{}); err == nil || !strings.Contains(err.Error(), `"seed"`) {
			t.Fatalf("Dial: %v", err)
		}
	})
	t.Run("file names another node", func(t *testing.T) {
		c := ca
		c.Node = "b" // A's key, B's name
		mustRefuse(t, c)
	})
	t.Run("key signed by another seed", func(t *testing.T) {
		pubA, _ := ca.PublicKey()
		other, _ := nkeys.CreateUser()
		nc, err := nats.Connect(url, nats.Name("a"), nats.Nkey(pubA, other.Sign), nats.NoReconnect())
		if err == nil {
			nc.Close()
			t.Fatal("accepted a signature by another key")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no credentials, token, user", func(t *testing.T) {
		for name, opt := range map[string]nats.Option{
			"none":            nats.Name("a"),
			"guessed token":   nats.Token("guess"),
			"hub secret, TCP": nats.Token(string(s.auth.hubSecret)),
			"user":            nats.UserInfo("a", "a"),
		} {
			nc, err := nats.Connect(url, opt, nats.NoReconnect())
			if err == nil {
				nc.Close()
				t.Errorf("%s: accepted", name)
			} else if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("%s: err = %v", name, err)
			}
		}
	})
	t.Run("authorizer failures", func(t *testing.T) {
		pubA, _ := ca.PublicKey()
		kpA, _ := userKey(ca.Seed)
		for name, tc := range map[string]struct {
			auth     AuthorizerFunc
			connName string
		}{
			"store down": {func(context.Context, string) (string, error) { return "", errors.New("database is locked") }, "a"},
			"bad name":   {func(context.Context, string) (string, error) { return "a.>", nil }, "a.>"},
		} {
			s2 := startTestServer(t, "127.0.0.1:0", t.TempDir(), tc.auth)
			nc, err := nats.Connect(s2.ClientURL(), nats.Name(tc.connName), nats.Nkey(pubA, kpA.Sign), nats.NoReconnect())
			if err == nil {
				nc.Close()
				t.Errorf("%s: accepted", name)
			} else if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("%s: err = %v", name, err)
			}
		}
	})
}

// TestWatch proves that node connections are reported as they come and go,
// including a killed node process and a dropped TCP connection.
func TestWatch(t *testing.T) {
	kr := &keyring{}
	s := startTestServer(t, "127.0.0.1:0", t.TempDir(), kr)
	events := make(chan ConnEvent, 16)
	s.Watch(func(ev ConnEvent) { events <- ev })
	hubConn(t, s) // the hub's own connection is not a node's
	ca := register(t, kr, "a", s.ClientURL())

	expect := func(t *testing.T, node string, connected bool) ConnEvent {
		t.Helper()
		ev := recv(t, events, 2*time.Second, fmt.Sprintf("%s connected=%v", node, connected))
		if ev.Node != node || ev.Connected != connected {
			t.Fatalf("event %+v, want node %s connected=%v", ev, node, connected)
		}
		if !strings.HasPrefix(ev.Remote, "127.0.0.1:") || ev.Time.IsZero() || time.Since(ev.Time) > 5*time.Second {
			t.Fatalf("event %+v: bad remote or time", ev)
		}
		return ev
	}

	t.Run("close", func(t *testing.T) {
		nc := dialNode(t, ca, DialOptions{})
		ev := expect(t, "a", true)
		nc.Close()
		if ev2 := expect(t, "a", false); ev2.Remote != ev.Remote {
			t.Errorf("disconnect remote %s, connect remote %s", ev2.Remote, ev.Remote)
		}
	})

	t.Run("late watcher, revoked node", func(t *testing.T) {
		var errs errSink
		connects := make(chan struct{}, 8)
		nc := dialNode(t, ca, DialOptions{OnError: errs.add, OnConnect: func() { connects <- struct{}{} }})
		recv(t, connects, 2*time.Second, "connect")
		ev := expect(t, "a", true)
		late := make(chan ConnEvent, 8)
		s.Watch(func(ev ConnEvent) { late <- ev }) // told of A at once
		if got := recv(t, late, time.Second, "replay of the open connection"); got != ev {
			t.Fatalf("replayed %+v, want %+v", got, ev)
		}
		if got := s.Connected(); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("Connected() = %v", got)
		}
		pub, _ := ca.PublicKey()
		kr.remove(pub)
		if n := s.DisconnectNode("a"); n != 1 {
			t.Fatalf("DisconnectNode closed %d connections", n)
		}
		expect(t, "a", false)
		recv(t, late, time.Second, "disconnect at the late watcher")
		select {
		case ev := <-events:
			t.Fatalf("revoked node came back: %+v", ev)
		case <-connects:
			t.Fatal("revoked node reconnected")
		case <-time.After(1500 * time.Millisecond):
		}
		if got := s.Connected(); len(got) != 0 {
			t.Fatalf("Connected() = %v", got)
		}
		if !slices.ContainsFunc(errs.list(), func(err error) bool { return errors.Is(err, nats.ErrAuthorization) }) {
			t.Errorf("node was not told it is refused: %v", errs.list())
		}
		nc.Close()
		kr.add(pub, "a") // for the next subtests
	})

	t.Run("dropped TCP connection", func(t *testing.T) {
		pub, _ := ca.PublicKey()
		kp, _ := userKey(ca.Seed)
		d := &grabDialer{}
		nc, err := nats.Connect(s.ClientURL(), nats.Name("a"), nats.Nkey(pub, kp.Sign),
			nats.SetCustomDialer(d), nats.NoReconnect())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		expect(t, "a", true)
		d.conn().Close() // the socket goes, no protocol goodbye
		start := time.Now()
		expect(t, "a", false)
		t.Logf("drop reported after %v", time.Since(start))
	})

	t.Run("kill -9", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a.json")
		if err := WriteCredentials(path, ca); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNode$")
		cmd.Env = append(os.Environ(), "BUS_TEST_NODE_CREDS="+path)
		stdin, err := cmd.StdinPipe() // the helper exits when this closes
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		ev := recv(t, events, 20*time.Second, "the node process to connect")
		if ev.Node != "a" || !ev.Connected {
			t.Fatalf("event %+v", ev)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		start := time.Now()
		expect(t, "a", false)
		t.Logf("kill -9 reported after %v", time.Since(start))
		_ = cmd.Wait()
	})
}

// TestHelperNode is the node process killed by TestWatch.
func TestHelperNode(t *testing.T) {
	path := os.Getenv("BUS_TEST_NODE_CREDS")
	if path == "" {
		t.Skip("helper process for TestWatch")
	}
	c, err := ReadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := Dial(context.Background(), c, DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = os.Stdin.Read(make([]byte, 1)) // until the parent goes
}

type grabDialer struct {
	mu sync.Mutex
	c  net.Conn
}

func (d *grabDialer) Dial(network, address string) (net.Conn, error) {
	c, err := net.Dial(network, address)
	d.mu.Lock()
	d.c = c
	d.mu.Unlock()
	return c, err
}

func (d *grabDialer) conn() net.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}

// TestReconnect proves that a node may start before the hub, and rejoins a
// restarted hub by itself, with its subscriptions and JetStream data intact.
func TestReconnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	kr := &keyring{}
	ca := register(t, kr, "a", "nats://"+listen)

	connects := make(chan struct{}, 8)
	disconnects := make(chan error, 8)
	a := dialNode(t, ca, DialOptions{
		OnConnect:    func() { connects <- struct{}{} },
		OnDisconnect: func(err error) { disconnects <- err },
	})
	if a.IsConnected() {
		t.Fatal("connected with no hub")
	}
	if _, err := a.Subscribe(fed.PingSubject("a"), func(m *nats.Msg) { _ = m.Respond([]byte("pong")) }); err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	start := func() *Server {
		s, err := StartServer(ctx, ServerConfig{Listen: listen, DataDir: dir, Auth: kr, Logger: testLogger()})
		if err != nil {
			t.Fatalf("StartServer: %v", err)
		}
		return s
	}
	ping := func(s *Server) {
		t.Helper()
		hub, err := s.ConnectHub()
		if err != nil {
			t.Fatal(err)
		}
		defer hub.Close()
		// OnConnect may run before the server has the node's resent
		// subscriptions; a real hub retries too.
		deadline := time.Now().Add(3 * time.Second)
		for {
			_, err := hub.Request(fed.PingSubject("a"), nil, time.Second)
			if err == nil {
				return
			}
			if !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
				t.Fatalf("hub request after (re)connect: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	s1 := start()
	recv(t, connects, 5*time.Second, "first connect")
	ping(s1)
	hub, err := s1.ConnectHub()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(hub)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "JOBS", Subjects: []string{"cie.v1.jobs.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "cie.v1.jobs.a", []byte("job 1")); err != nil {
		t.Fatal(err)
	}
	hub.Close()
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	recv(t, disconnects, 5*time.Second, "disconnect")

	s2 := start()
	defer s2.Shutdown(context.Background())
	began := time.Now()
	recv(t, connects, 6*time.Second, "reconnect")
	t.Logf("rejoined %v after restart", time.Since(began))
	ping(s2)

	hub, err = s2.ConnectHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	js, _ = jetstream.New(hub)
	st, err := js.Stream(ctx, "JOBS")
	if err != nil {
		t.Fatalf("stream lost across restart: %v", err)
	}
	if m, err := st.GetLastMsgForSubject(ctx, "cie.v1.jobs.a"); err != nil || string(m.Data) != "job 1" {
		t.Fatalf("last job = %v, %v", m, err)
	}
}

// TestJetStream proves JetStream works for the hub under custom auth, and that
// a node can take durable work pushed to its subjects and acknowledge it.
func TestJetStream(t *testing.T) {
	kr := &keyring{}
	s := startTestServer(t, "127.0.0.1:0", t.TempDir(), kr)
	hub := hubConn(t, s)
	ctx := t.Context()
	js, err := jetstream.New(hub)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"cie.v1.events.>"}})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "cie.v1.events.x", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, 1)
	if err != nil || string(m.Data) != "hello" {
		t.Fatalf("GetMsg: %v, %v", m, err)
	}

	// Durable work for node a, pushed to a's hub subjects, acked by a.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"cie.v1.work.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "cie.v1.work.a", []byte("job")); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdatePushConsumer(ctx, "WORK", jetstream.ConsumerConfig{
		Durable:        "a",
		FilterSubject:  "cie.v1.work.a",
		DeliverSubject: fed.HubPrefix + "a.work",
		AckPolicy:      jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	ca := register(t, kr, "a", s.ClientURL())
	var errs errSink
	a := dialNode(t, ca, DialOptions{OnError: errs.add})
	got := make(chan string, 1)
	if _, err := a.Subscribe(fed.HubPrefix+"a.work", func(m *nats.Msg) {
		if err := m.Ack(); err != nil {
			t.Errorf("ack: %v", err)
		}
		got <- string(m.Data)
	}); err != nil {
		t.Fatal(err)
	}
	if data := recv(t, got, 5*time.Second, "the job at the node"); data != "job" {
		t.Fatalf("job %q", data)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := js.PushConsumer(ctx, "WORK", "a")
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Consumer == 1 && info.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node's ack not recorded: %+v; node errors: %v", info, errs.list())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartServerErrors(t *testing.T) {
	kr := &keyring{}
	ctx := t.Context()
	if _, err := StartServer(ctx, ServerConfig{DataDir: t.TempDir()}); err == nil {
		t.Error("started without an Authorizer")
	}
	if _, err := StartServer(ctx, ServerConfig{Auth: kr}); err == nil {
		t.Error("started without a DataDir")
	}
	if _, err := StartServer(ctx, ServerConfig{Auth: kr, DataDir: t.TempDir(), Listen: "nohost"}); err == nil {
		t.Error("started with a bad listen address")
	}
	s := startTestServer(t, "127.0.0.1:0", t.TempDir(), kr)
	busy := strings.TrimPrefix(s.ClientURL(), "nats://")
	began := time.Now()
	if _, err := StartServer(ctx, ServerConfig{Auth: kr, DataDir: t.TempDir(), Listen: busy}); err == nil {
		t.Error("started on a port in use")
	} else {
		t.Logf("port in use: %v (after %v)", err, time.Since(began))
	}
}

func TestReconnectDelay(t *testing.T) {
	prevMax := time.Duration(0)
	for attempts := 1; attempts < 40; attempts++ {
		for range 50 {
			d := reconnectDelay(attempts)
			if d < reconnectMin || d > reconnectMax*3/2 {
				t.Fatalf("attempt %d: delay %v out of [%v, %v]", attempts, d, reconnectMin, reconnectMax*3/2)
			}
			prevMax = max(prevMax, d)
		}
	}
	if prevMax < reconnectMax {
		t.Errorf("delay never reached the cap: max %v", prevMax)
	}
}

// TestDialContext proves the connection ends with its context.
func TestDialContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close() // nobody listens: Dial keeps trying in the background
	c, _, err := NewCredentials("a", url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	nc, err := Dial(ctx, c, DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nc.IsClosed() {
		t.Fatal("closed before its context ended")
	}
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for !nc.IsClosed() {
		if time.Now().After(deadline) {
			t.Fatal("still open after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := Dial(ctx, c, DialOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a done context: %v", err)
	}
}
