package audit

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// tessera logs through klog; keep test output readable.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

func testKey(t *testing.T, origin string) (note.Signer, note.Verifier) {
	t.Helper()
	return testKeyB(t, origin)
}

func testKeyB(t testing.TB, origin string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func openLog(t *testing.T, dir string, s note.Signer, v note.Verifier) *Log {
	t.Helper()
	l, err := Open(t.Context(), Options{
		Dir: dir, Signer: s, Verifier: v,
		Logger:             slog.New(slog.NewTextHandler(t.Output(), nil)),
		CheckpointInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// deterministic makes l's timestamps a function of the entry count, so that
// two logs fed the same events hold the same bytes.
func deterministic(l *Log) {
	var mu sync.Mutex
	n := 0
	l.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return time.Date(2025, 1, 1, 0, 0, n, 0, time.UTC)
	}
}

func event(i int) Event {
	return Event{Type: "login", Actor: fmt.Sprintf("user-%d", i), Subject: "hub",
		Fields: map[string]string{"ip": fmt.Sprintf("10.0.0.%d", i%250)}}
}

func appendN(t *testing.T, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		idx, err := l.Append(t.Context(), event(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if idx != uint64(i) {
			t.Fatalf("Append %d returned index %d", i, idx)
		}
	}
}

func mustCheckpoint(t *testing.T, l *Log) []byte {
	t.Helper()
	cp, err := l.Checkpoint(t.Context())
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	return cp
}

func parseCP(t *testing.T, raw []byte, v note.Verifier) *f_log.Checkpoint {
	t.Helper()
	cp, _, _, err := f_log.ParseCheckpoint(raw, v.Name(), v)
	if err != nil {
		t.Fatalf("ParseCheckpoint: %v", err)
	}
	return cp
}

// rawEntries reads the stored bytes of the first n entries.
func rawEntries(t *testing.T, dir string, n uint64) [][]byte {
	t.Helper()
	var out [][]byte
	for b := uint64(0); b*256 < n; b++ {
		es, _, err := readBundle(dir, b, n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, es...)
	}
	return out[:n]
}

func TestKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "audit.key")
	s1, v1, err := LoadOrCreateKey(path, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	s2, v2, err := LoadOrCreateKey(path, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	if s1.KeyHash() != s2.KeyHash() || v1.KeyHash() != v2.KeyHash() || v1.Name() != "node-a" {
		t.Error("reloading the key gave another key")
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, s1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v2)); err != nil {
		t.Errorf("signature by the loaded key does not verify: %v", err)
	}
	vkey, err := ReadVerifierKey(path)
	if err != nil {
		t.Fatal(err)
	}
	v3, err := note.NewVerifier(vkey)
	if err != nil || v3.KeyHash() != v1.KeyHash() {
		t.Errorf("ReadVerifierKey gave %q (%v)", vkey, err)
	}
	if _, _, err := LoadOrCreateKey(path, "node-b"); err == nil {
		t.Error("loading node-a's key as node-b succeeded")
	}
	if _, _, err := GenerateKey("bad name"); err == nil {
		t.Error("GenerateKey accepted a name with a space")
	}
}

func TestAppendReopenContinues(t *testing.T) {
	dir := t.TempDir()
	s, v := testKey(t, "node-a")
	l := openLog(t, dir, s, v)
	appendN(t, l, 0, 5)
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), event(99)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}

	l = openLog(t, dir, s, v)
	if got := l.Size(); got != 5 {
		t.Fatalf("reopened log has size %d, want 5", got)
	}
	appendN(t, l, 5, 5)
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	es, err := l.Entries(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 10 {
		t.Fatalf("Entries returned %d entries, want 10", len(es))
	}
	raws := rawEntries(t, dir, 10)
	for i, e := range es {
		if e.Index != uint64(i) || e.Actor != fmt.Sprintf("user-%d", i) || e.Fields["ip"] == "" || e.Time.IsZero() {
			t.Errorf("entry %d = %+v", i, e)
		}
		var want []byte
		if i > 0 {
			want = leafHash(raws[i-1])
		}
		if !bytes.Equal(e.Prev, want) {
			t.Errorf("entry %d: prev %x, want %x", i, e.Prev, want)
		}
	}
	if es, err := l.Entries(t.Context(), 8, 5); err != nil || len(es) != 2 || es[0].Index != 8 {
		t.Errorf("Entries(8, 5) = %d entries, %v", len(es), err)
	}
	if es, err := l.Entries(t.Context(), 10, 5); err != nil || len(es) != 0 {
		t.Errorf("Entries(10, 5) = %d entries, %v", len(es), err)
	}

	rep, err := Verify(t.Context(), VerifyOptions{Dir: dir, LogVerifier: v})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Size != 10 || rep.FirstBad != -1 || rep.Checkpoints != 1 {
		t.Errorf("Verify report %+v", rep)
	}
}

func TestOpenRefusesOtherKey(t *testing.T) {
	dir := t.TempDir()
	s, v := testKey(t, "node-a")
	l := openLog(t, dir, s, v)
	appendN(t, l, 0, 1)
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	s2, v2 := testKey(t, "node-a")
	_, err := Open(t.Context(), Options{Dir: dir, Signer: s2, Verifier: v2})
	if !errors.Is(err, ErrBadSignature) {
		t.Errorf("Open with another key: %v, want ErrBadSignature", err)
	}
	if _, err := Open(t.Context(), Options{Dir: t.TempDir(), Signer: s, Verifier: v2}); err == nil {
		t.Error("Open accepted a verifier that is not the signer's")
	}
}

func TestCheckpointCoversAppends(t *testing.T) {
	dir := t.TempDir()
	s, v := testKey(t, "node-a")
	l := openLog(t, dir, s, v)
	for round := 1; round <= 3; round++ {
		appendN(t, l, (round-1)*4, 4)
		// No Flush: Checkpoint itself must wait for a covering checkpoint.
		cp := parseCP(t, mustCheckpoint(t, l), v)
		if cp.Size != uint64(round*4) {
			t.Fatalf("checkpoint size %d, want %d", cp.Size, round*4)
		}
		var hashes [][]byte
		for _, r := range rawEntries(t, dir, cp.Size) {
			hashes = append(hashes, rfc6962.DefaultHasher.HashLeaf(r))
		}
		if root := rootsAt(hashes, []uint64{cp.Size})[cp.Size]; !bytes.Equal(root, cp.Hash) {
			t.Fatalf("checkpoint root %x, recomputed %x", cp.Hash, root)
		}
	}
	p, err := l.ConsistencyProof(t.Context(), 4, 12)
	if err != nil {
		t.Fatal(err)
	}
	var h [][]byte
	for _, r := range rawEntries(t, dir, 12) {
		h = append(h, leafHash(r))
	}
	roots := rootsAt(h, []uint64{4, 12})
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 4, 12, p, roots[4], roots[12]); err != nil {
		t.Errorf("consistency proof does not verify: %v", err)
	}
	if _, err := l.ConsistencyProof(t.Context(), 4, 13); err == nil {
		t.Error("consistency proof beyond the log's size succeeded")
	}
}

func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	s, v := testKey(t, "hub")
	l := openLog(t, dir, s, v)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				if _, err := l.Append(t.Context(), event(g*10+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(t.Context(), VerifyOptions{Dir: dir, LogVerifier: v})
	if err != nil || rep.Size != 40 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestEmptyLog(t *testing.T) {
	dir := t.TempDir()
	s, v := testKey(t, "node-a")
	l := openLog(t, dir, s, v)
	if cp := parseCP(t, mustCheckpoint(t, l), v); cp.Size != 0 {
		t.Errorf("empty log checkpoint size %d", cp.Size)
	}
	if es, err := l.Entries(t.Context(), 0, 10); err != nil || len(es) != 0 {
		t.Errorf("Entries on an empty log = %v, %v", es, err)
	}
	if _, err := l.Append(t.Context(), Event{Type: "login"}); err == nil {
		t.Error("Append accepted an event without actor")
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(t.Context(), VerifyOptions{Dir: dir, LogVerifier: v}); err != nil || rep.Size != 0 || rep.FirstBad != -1 {
		t.Errorf("Verify of an empty log = %+v, %v", rep, err)
	}
}

// TestAppendBatch appends batches between single appends (one batch larger than a
// tessera flush) and checks the chain, the indices and Verify.
func TestAppendBatch(t *testing.T) {
	dir := t.TempDir()
	s, v := testKey(t, "node-b")
	l := openLog(t, dir, s, v)
	appendN(t, l, 0, 2)
	batch := func(from, n int) {
		t.Helper()
		var es []Event
		for i := from; i < from+n; i++ {
			es = append(es, event(i))
		}
		first, err := l.AppendBatch(t.Context(), es)
		if err != nil || first != uint64(from) {
			t.Fatalf("AppendBatch(%d..%d) = %d, %v", from, from+n-1, first, err)
		}
	}
	batch(2, 20)
	appendN(t, l, 22, 1)
	batch(23, maxBatch+10)
	if _, err := l.AppendBatch(t.Context(), nil); err == nil {
		t.Error("an empty batch was taken")
	}
	if _, err := l.AppendBatch(t.Context(), []Event{event(1), {Type: "x"}}); err == nil {
		t.Error("a batch with an event without actor was taken")
	}
	n := 23 + maxBatch + 10
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	es, err := l.Entries(t.Context(), 0, n+5)
	if err != nil || len(es) != n {
		t.Fatalf("%d entries, %v; want %d", len(es), err, n)
	}
	raws := rawEntries(t, dir, uint64(n))
	for i, e := range es {
		var want []byte
		if i > 0 {
			want = leafHash(raws[i-1])
		}
		if e.Index != uint64(i) || e.Actor != fmt.Sprintf("user-%d", i) || !bytes.Equal(e.Prev, want) {
			t.Fatalf("entry %d = %+v (prev want %x)", i, e, want)
		}
	}
	rep, err := Verify(t.Context(), VerifyOptions{Dir: dir, LogVerifier: v})
	if err != nil || rep.Size != uint64(n) || rep.FirstBad != -1 {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
}
