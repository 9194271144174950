package dimse

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
)

// BenchmarkStore measures C-STORE throughput from our SCU to our SCP over loopback: a
// 1 MiB data set per request, spooled to disk by the SCP and read back by a handler
// that discards it (no fsync).
func BenchmarkStore(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			store := StoreFunc(func(ctx context.Context, req *StoreRequest) (Status, error) {
				if _, err := io.Copy(io.Discard, io.NewSectionReader(req.Data, 0, req.Size)); err != nil {
					return StatusProcessingFailure, err
				}
				return StatusSuccess, nil
			})
			addr, _ := startServer(b, Config{MaxPDULength: 1 << 20}, store, nil)
			ts := dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID)
			ds := dicom.NewDataset(ts)
			if err := ds.Set(dicom.NewTag(0x7FE0, 0x0010), dicom.OB, make([]byte, size)); err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := ds.WriteTo(&buf); err != nil {
				b.Fatal(err)
			}
			data := buf.Bytes()
			ctx := context.Background()
			as, err := Dial(ctx, addr, "BENCH", "CIE", []PresentationContext{{"1.2.840.10008.5.1.4.1.1.7", []string{ts.UID}}}, &DialOptions{MaxPDULength: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer as.Release(ctx)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := as.Store(ctx, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4", ts.UID, bytes.NewReader(data))
				if err != nil || st != StatusSuccess {
					b.Fatalf("store: %v %v", st, err)
				}
			}
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<20 {
		return "1MiB"
	}
	return "64KiB"
}
