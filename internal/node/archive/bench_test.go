package archive

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/cancerimage/cie/internal/synth"
)

// BenchmarkIngest measures the ingest pipeline on generated 256×256 CT/MR/PET instances
// (parse, de-identify, store, index) on SQLite and a folder, one at a time as one DIMSE
// association sends them.
func BenchmarkIngest(b *testing.B) {
	a := openB(b)
	g, err := synth.New(synth.Options{Seed: 1, Node: "bench", Patients: 5, MinSlices: 16, MaxSlices: 16, Rows: 256, Columns: 256})
	if err != nil {
		b.Fatal(err)
	}
	var files [][]byte
	g.Walk(func(in *synth.Instance) error {
		var buf bytes.Buffer
		in.File.WriteTo(&buf)
		files = append(files, buf.Bytes())
		return nil
	})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := files[i%len(files)]
		if i > 0 && i%len(files) == 0 {
			b.StopTimer()
			a = openB(b)
			b.StartTimer()
		}
		if _, err := a.Ingest(ctx, bytes.NewReader(f), int64(len(f)), Source{Kind: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}

func openB(b *testing.B) *Archive {
	dir := b.TempDir()
	return openTB(b, filepath.Join(dir, "n.db"), "file://"+filepath.Join(dir, "blobs"), true)
}
