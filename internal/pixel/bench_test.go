package pixel

import (
	"io"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// benchCT returns a 512×512 16-bit signed CT-like frame (a smooth pattern with noise)
// with a window and rescale.
func benchCT(b *testing.B) *Frames {
	b.Helper()
	s := newSynth(dicom.ExplicitVRLittleEndianUID, 512, 512, 1, 16, 1, "MONOCHROME2")
	s.set(tags.BitsStored, "US", us(12))
	s.set(tags.HighBit, "US", us(11))
	s.set(tags.PixelRepresentation, "US", us(1))
	s.set(tags.RescaleIntercept, "DS", text("-1024"))
	s.set(tags.RescaleSlope, "DS", text("1"))
	s.set(tags.WindowCenter, "DS", text("40"))
	s.set(tags.WindowWidth, "DS", text("400"))
	s.pix = make([]byte, 512*512*2)
	seed := uint32(1)
	for y := 0; y < 512; y++ {
		for x := 0; x < 512; x++ {
			seed = seed*1664525 + 1013904223
			v := uint16((x*x+y*y)/128+int(seed>>28)) & 0x7FF
			s.pix[2*(y*512+x)], s.pix[2*(y*512+x)+1] = byte(v), byte(v>>8)
		}
	}
	fr, err := s.open(b)
	if err != nil {
		b.Fatal(err)
	}
	return fr
}

// BenchmarkRenderPNG renders a 512×512 16-bit frame with its window and encodes it as PNG.
func BenchmarkRenderPNG(b *testing.B) {
	fr := benchCT(b)
	b.ReportAllocs()
	for b.Loop() {
		img, err := fr.Render(0, RenderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := Encode(io.Discard, img, PNG, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderJPEG is BenchmarkRenderPNG with JPEG output.
func BenchmarkRenderJPEG(b *testing.B) {
	fr := benchCT(b)
	b.ReportAllocs()
	for b.Loop() {
		img, err := fr.Render(0, RenderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := Encode(io.Discard, img, JPEG, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThumbnail renders a 512×512 16-bit frame as a 128×128 JPEG thumbnail.
func BenchmarkThumbnail(b *testing.B) {
	fr := benchCT(b)
	b.ReportAllocs()
	for b.Loop() {
		img, err := fr.Thumbnail(0, 128)
		if err != nil {
			b.Fatal(err)
		}
		if err := Encode(io.Discard, img, JPEG, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawFrame copies a 512×512 16-bit frame as stored (WADO-RS frames).
func BenchmarkRawFrame(b *testing.B) {
	fr := benchCT(b)
	b.SetBytes(512 * 512 * 2)
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := fr.Reader(0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRLE decodes a 512×512 16-bit RLE frame.
func BenchmarkDecodeRLE(b *testing.B) {
	fr := benchCT(b)
	raw, err := fr.Raw(0)
	if err != nil {
		b.Fatal(err)
	}
	enc := rleFrame(raw, 512*512, 1, 2)
	b.SetBytes(512 * 512 * 2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRLE(enc, 512*512, 1, 2); err != nil {
			b.Fatal(err)
		}
	}
}
