package dicom_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
)

// BenchmarkParseWrite parses a 525 KB CT file (octave-dicom's CT-MONO2-16-ankle.dcm) and
// writes it back unchanged; pixel data is copied raw.
func BenchmarkParseWrite(b *testing.B) {
	data := findCorpusFile(b, "octave-dicom:CT-MONO2-16-ankle.dcm")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse parses the same file without writing.
func BenchmarkParse(b *testing.B) {
	data := findCorpusFile(b, "octave-dicom:CT-MONO2-16-ankle.dcm")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
