package audit

import "testing"

func BenchmarkAppend(b *testing.B) {
	s, v := testKeyB(b, "bench")
	l, err := Open(b.Context(), Options{Dir: b.TempDir(), Signer: s, Verifier: v, CheckpointInterval: 100e6})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(b.Context())
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Append(b.Context(), event(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBatch20 appends 20 events a call (ns/op is per event).
func BenchmarkAppendBatch20(b *testing.B) {
	s, v := testKeyB(b, "bench")
	l, err := Open(b.Context(), Options{Dir: b.TempDir(), Signer: s, Verifier: v, CheckpointInterval: 100e6})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(b.Context())
	es := make([]Event, 20)
	for i := range es {
		es[i] = event(i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += len(es) {
		if _, err := l.AppendBatch(b.Context(), es); err != nil {
			b.Fatal(err)
		}
	}
}
