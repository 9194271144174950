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
