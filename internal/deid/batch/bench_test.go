package batch

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/dicom"
)

// BenchmarkApply measures parse, de-identification and write of one CT
// file in memory (no file system), the inner loop of cie deid.
func BenchmarkApply(b *testing.B) {
	src, err := os.ReadFile("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm")
	if err != nil {
		b.Skip("pydicom's CT_small.dcm not installed")
	}
	en, err := deid.New(testKey, deid.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		f, err := dicom.Parse(bytes.NewReader(src), int64(len(src)), dicom.ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := en.Apply(f); err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyBytes is BenchmarkApply as cie deid now runs it: the file is
// parsed where it was read (dicom.ParseBytes), without a copy.
func BenchmarkApplyBytes(b *testing.B) {
	src, err := os.ReadFile("/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm")
	if err != nil {
		b.Skip("pydicom's CT_small.dcm not installed")
	}
	en, err := deid.New(testKey, deid.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		f, err := dicom.ParseBytes(src, dicom.ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := en.Apply(f); err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
