package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// logWith makes a log of n deterministic entries, where entry i's actor is
// actors(i), signed with s.
func logWith(t *testing.T, s note.Signer, v note.Verifier, n int, actor func(int) string) (*Log, string) {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, dir, s, v)
	deterministic(l)
	for i := range n {
		e := event(i)
		e.Actor = actor(i)
		if _, err := l.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	return l, dir
}

func user(i int) string { return "user-" + string(rune('a'+i%26)) }

func witnessKeys(t *testing.T) (*Witness, note.Verifier) {
	hs, hv := testKey(t, "hub.example")
	return NewWitness(hs), hv
}

// grow appends n more deterministic entries to l.
func grow(t *testing.T, l *Log, n int, actor func(int) string) {
	t.Helper()
	for range n {
		i := int(l.Size())
		e := event(i)
		e.Actor = actor(i)
		if _, err := l.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWitnessCosign(t *testing.T) {
	w, hv := witnessKeys(t)
	s, v := testKey(t, "node-a")
	l, _ := logWith(t, s, v, 5, user)
	cp5 := mustCheckpoint(t, l)

	w5, err := w.Cosign(cp5, nil, nil, v)
	if err != nil {
		t.Fatalf("Cosign first checkpoint: %v", err)
	}
	n, err := note.Open(w5, note.VerifierList(v, hv))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("cosigned checkpoint: %v, %d verified signatures", err, len(n.Sigs))
	}

	grow(t, l, 5, user)
	cp10 := mustCheckpoint(t, l)
	p, err := l.ConsistencyProof(t.Context(), 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	w10, err := w.Cosign(cp10, w5, p, v)
	if err != nil {
		t.Fatalf("Cosign with a good proof: %v", err)
	}
	if _, err := w.Cosign(cp10, w10, nil, v); err != nil {
		t.Errorf("Cosign of the same checkpoint again: %v", err)
	}

	// Forks, signed with the same key: one that differs from entry 7 on
	// (so it extends the witnessed size 5 but not 10), one from entry 2 on.
	fork := func(from, size int) ([]byte, *Log) {
		f, _ := logWith(t, s, v, size, func(i int) string {
			if i >= from {
				return "mallory"
			}
			return user(i)
		})
		return mustCheckpoint(t, f), f
	}
	fcp12, f12 := fork(7, 12)
	fp, err := f12.ConsistencyProof(t.Context(), 10, 12)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Cosign(fcp12, w10, fp, v); !errors.Is(err, ErrInconsistent) {
		t.Errorf("Cosign of a fork after the witnessed size: %v, want ErrInconsistent", err)
	}
	fp, err = f12.ConsistencyProof(t.Context(), 5, 12)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Cosign(fcp12, w5, fp, v); err != nil {
		t.Errorf("the fork does extend the witnessed size 5: %v", err)
	}
	fcp10, f10 := fork(2, 10)
	fp, err = f10.ConsistencyProof(t.Context(), 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Cosign(fcp10, w5, fp, v); !errors.Is(err, ErrInconsistent) {
		t.Errorf("Cosign of a fork within the witnessed size: %v, want ErrInconsistent", err)
	}
	if _, err := w.Cosign(fcp10, w10, nil, v); !errors.Is(err, ErrInconsistent) {
		t.Errorf("Cosign of another root at the same size: %v, want ErrInconsistent", err)
	}
	if _, err := w.Cosign(cp10, w5, [][]byte{make([]byte, 32)}, v); !errors.Is(err, ErrInconsistent) {
		t.Errorf("Cosign with a garbage proof: %v, want ErrInconsistent", err)
	}
	if _, err := w.Cosign(cp5, w10, nil, v); !errors.Is(err, ErrRollback) {
		t.Errorf("Cosign of a smaller checkpoint: %v, want ErrRollback", err)
	}
	_, other := testKey(t, "node-a")
	if _, err := w.Cosign(cp10, w5, p, other); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Cosign with the wrong log key: %v, want ErrBadSignature", err)
	}
	_, otherName := testKey(t, "node-b")
	if _, err := w.Cosign(cp10, nil, nil, otherName); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Cosign with another log's key: %v, want ErrBadSignature", err)
	}
}

func TestVerifyWitnessed(t *testing.T) {
	w, hv := witnessKeys(t)
	s, v := testKey(t, "node-a")
	l, dir := logWith(t, s, v, 5, user)
	cp5 := mustCheckpoint(t, l)
	w5, err := w.Cosign(cp5, nil, nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SaveWitnessed(w5); err != nil {
		t.Fatal(err)
	}
	grow(t, l, 5, user)
	cp10 := mustCheckpoint(t, l)
	p, err := l.ConsistencyProof(t.Context(), 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	w10, err := w.Cosign(cp10, w5, p, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SaveWitnessed(w10); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveWitnessed(cp10); err == nil {
		t.Error("SaveWitnessed accepted a checkpoint without cosignature")
	}
	if got := l.LastWitnessedSize(); got != 10 {
		t.Errorf("LastWitnessedSize = %d, want 10", got)
	}
	grow(t, l, 2, user)
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "witnessed", "10")); err != nil {
		t.Errorf("witnessed checkpoint not stored: %v", err)
	}
	if l2 := openLog(t, dir, s, v); l2.LastWitnessedSize() != 10 {
		t.Errorf("reopened LastWitnessedSize = %d, want 10", l2.LastWitnessedSize())
	} else if err := l2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	rep, err := Verify(t.Context(), VerifyOptions{Dir: dir, LogVerifier: v, WitnessVerifier: hv, Witnessed: [][]byte{w10}})
	if err != nil {
		t.Fatalf("Verify of a witnessed log: %v", err)
	}
	if rep.Size != 12 || rep.Witnessed != 2 || rep.Checkpoints != 3 || rep.FirstBad != -1 {
		t.Errorf("report %+v", rep)
	}

	// A witness key that did not sign: the cosignatures do not verify.
	_, hv2 := testKey(t, "hub.example")
	if _, err := Verify(t.Context(), VerifyOptions{Dir: dir, LogVerifier: v, WitnessVerifier: hv2}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify with another witness key: %v, want ErrBadSignature", err)
	}

	// The node rebuilds its log from scratch with its own key: entry 7
	// differs, everything else is the same. Its checkpoint verifies, the
	// witnessed checkpoint of size 10 does not.
	rewrite := func(t *testing.T, at int) string {
		forged, fdir := logWith(t, s, v, 12, func(i int) string {
			if i == at {
				return "mallory"
			}
			return user(i)
		})
		if err := forged.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if rep, err := Verify(t.Context(), VerifyOptions{Dir: fdir, LogVerifier: v}); err != nil {
			t.Fatalf("the forged log alone should verify: %+v, %v", rep, err)
		}
		return fdir
	}
	t.Run("rewritten after the last good witness", func(t *testing.T) {
		fdir := rewrite(t, 7)
		for _, opts := range []VerifyOptions{
			{Dir: fdir, LogVerifier: v, WitnessVerifier: hv, Witnessed: [][]byte{w5, w10}}, // from the hub
			{Dir: fdir, LogVerifier: v, Witnessed: [][]byte{w10}},
		} {
			rep, err := Verify(t.Context(), opts)
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("Verify of a rewritten log: %v, want ErrTampered", err)
			}
			if rep.FirstBad != 5 && len(opts.Witnessed) == 2 {
				t.Errorf("FirstBad = %d, want 5 (after the good witnessed size 5): %s", rep.FirstBad, rep.Problem)
			}
			if rep.FirstBad != 0 && len(opts.Witnessed) == 1 {
				t.Errorf("FirstBad = %d, want 0 (no witnessed size before 10 given): %s", rep.FirstBad, rep.Problem)
			}
			if !strings.Contains(err.Error(), "to 9") {
				t.Errorf("error does not name the range up to 9: %v", err)
			}
			t.Log(err)
		}
		// The same, with the witnessed files left in the forged log's dir.
		if err := os.CopyFS(filepath.Join(fdir, "witnessed"), os.DirFS(filepath.Join(dir, "witnessed"))); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(t.Context(), VerifyOptions{Dir: fdir, LogVerifier: v, WitnessVerifier: hv})
		if !errors.Is(err, ErrTampered) || rep.FirstBad != 5 || rep.Witnessed != 2 {
			t.Errorf("Verify with witnessed files in the dir = %+v, %v", rep, err)
		}
	})
	t.Run("rewritten before the first witness", func(t *testing.T) {
		fdir := rewrite(t, 2)
		rep, err := Verify(t.Context(), VerifyOptions{Dir: fdir, LogVerifier: v, WitnessVerifier: hv, Witnessed: [][]byte{w5, w10}})
		if !errors.Is(err, ErrTampered) || rep.FirstBad != 0 {
			t.Errorf("Verify = %+v, %v; want FirstBad 0", rep, err)
		}
		if !strings.Contains(err.Error(), "entries 0 to 4") {
			t.Errorf("error does not name entries 0 to 4: %v", err)
		}
	})
	t.Run("rolled back below a witnessed size", func(t *testing.T) {
		short, sdir := logWith(t, s, v, 8, user)
		if err := short.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(t.Context(), VerifyOptions{Dir: sdir, LogVerifier: v, WitnessVerifier: hv, Witnessed: [][]byte{w5, w10}})
		if !errors.Is(err, ErrTampered) || rep.FirstBad != 8 {
			t.Errorf("Verify = %+v, %v; want FirstBad 8", rep, err)
		}
	})
}
