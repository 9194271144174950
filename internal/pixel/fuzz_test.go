package pixel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/testenv"
)

// FuzzDecodeRLE feeds arbitrary frames to the RLE decoder: it must return an error or
// exactly pixels*samples*bytesPerSample bytes, and never panic. Seeds: testdata/fuzz.
func FuzzDecodeRLE(f *testing.F) {
	native := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	f.Add(rleFrame(native, 6, 1, 2), uint16(6), uint8(1), uint8(2))
	f.Add(rleFrame(native, 4, 3, 1), uint16(4), uint8(3), uint8(1))
	f.Fuzz(func(t *testing.T, frame []byte, pixels uint16, samples, bps uint8) {
		s, b := int(samples%4), int(bps%5)
		out, err := DecodeRLE(frame, int(pixels), s, b)
		if err != nil {
			return
		}
		if len(out) != int(pixels)*s*b {
			t.Fatalf("%d bytes out for %d pixels of %d samples of %d bytes", len(out), pixels, s, b)
		}
		// What decoded re-encodes and decodes to the same bytes.
		again, err := DecodeRLE(rleFrame(out, int(pixels), s, b), int(pixels), s, b)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzFrames parses arbitrary data sets and reads, decodes and renders their first
// frames: errors are fine, panics and huge allocations are not. Seeds: testdata/fuzz
// (synthetic data sets, see seedDatasets) and the small files of the public corpora.
func FuzzFrames(f *testing.F) {
	for _, s := range seedDatasets(f) {
		f.Add(s)
	}
	if files, _, err := testenv.FindCorpus(); err == nil {
		for _, cf := range files {
			if st, err := os.Stat(cf.Path); err == nil && st.Size() < 64<<10 {
				if b, err := os.ReadFile(cf.Path); err == nil {
					f.Add(b)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{MaxElements: 10000, MaxInflated: 1 << 20})
		if err != nil {
			return
		}
		fr, err := Open(file)
		if err != nil {
			return
		}
		for i := 0; i < fr.Count() && i < 3; i++ {
			raw, err := fr.Raw(i)
			if err == nil {
				if n, _ := fr.Size(i); int64(len(raw)) != n {
					t.Fatalf("Raw(%d) of %d bytes, Size %d", i, len(raw), n)
				}
				r, n, err := fr.Reader(i)
				if err != nil {
					t.Fatalf("Raw works, Reader(%d): %v", i, err)
				}
				got, err := io.ReadAll(r)
				if err != nil || int64(len(got)) != n || !bytes.Equal(got, raw) {
					t.Fatalf("Reader(%d) differs from Raw: %v", i, err)
				}
			}
			if _, err := fr.Render(i, RenderOptions{Width: 7}); err == nil {
				if _, err := fr.Thumbnail(i, 5); err != nil {
					t.Fatalf("Render works, Thumbnail(%d): %v", i, err)
				}
			}
		}
	})
}

// seedDatasets returns small synthetic data sets, one per kind of pixel data, as Part 10
// files without preamble (a meta group with the transfer syntax, then the data set).
func seedDatasets(t testing.TB) [][]byte {
	var out [][]byte
	add := func(s *synth) {
		var b bytes.Buffer
		ts := text(s.ts)
		if len(s.ts)%2 == 1 {
			ts[len(ts)-1] = 0
		}
		el := func(tag dicom.Tag, vr string, v []byte) {
			binary.Write(&b, binary.LittleEndian, [2]uint16{tag.Group(), tag.Element()})
			b.WriteString(vr)
			binary.Write(&b, binary.LittleEndian, uint16(len(v)))
			b.Write(v)
		}
		el(tags.FileMetaInformationGroupLength, "UL", le32(uint32(8+len(ts))))
		el(tags.TransferSyntaxUID, "UI", ts)
		b.Write(s.bytes())
		out = append(out, b.Bytes())
	}
	s := newSynth(dicom.ExplicitVRLittleEndianUID, 4, 4, 1, 16, 2, "MONOCHROME2")
	s.pix = make([]byte, 64)
	for i := range s.pix {
		s.pix[i] = byte(i * 13)
	}
	s.set(tags.WindowCenter, "DS", text("100"))
	s.set(tags.WindowWidth, "DS", text("200"))
	add(s)
	s = newSynth(dicom.ExplicitVRLittleEndianUID, 3, 3, 1, 1, 3, "MONOCHROME1")
	s.pix = []byte{0x55, 0xAA, 0x0F, 0x03}
	add(s)
	s = newSynth(dicom.ExplicitVRLittleEndianUID, 2, 2, 3, 8, 1, "YBR_FULL")
	s.set(tags.PlanarConfiguration, "US", us(1))
	s.pix = []byte{10, 20, 30, 40, 128, 100, 50, 200, 128, 128, 60, 90}
	add(s)
	s = newSynth(dicom.ExplicitVRLittleEndianUID, 2, 2, 1, 8, 1, "PALETTE COLOR")
	for _, tg := range []dicom.Tag{tags.RedPaletteColorLookupTableDescriptor, tags.GreenPaletteColorLookupTableDescriptor, tags.BluePaletteColorLookupTableDescriptor} {
		s.set(tg, "US", us(4, 0, 16))
	}
	for _, tg := range []dicom.Tag{tags.RedPaletteColorLookupTableData, tags.GreenPaletteColorLookupTableData, tags.BluePaletteColorLookupTableData} {
		s.set(tg, "OW", us(0, 1000, 40000, 65535))
	}
	s.pix = []byte{0, 1, 2, 3}
	add(s)
	native := make([]byte, 4*4*2)
	for i := range native {
		native[i] = byte(i / 3)
	}
	s = newSynth(RLELosslessUID, 4, 4, 1, 16, 2, "MONOCHROME2")
	fr := rleFrame(native, 16, 1, 2)
	s.frags = [][]byte{le32(0, uint32(8+len(fr))), fr, fr}
	add(s)
	jp, _ := grayJPEG(t, 8, 8, 1)
	if len(jp)%2 == 1 {
		jp = append(jp, 0)
	}
	s = newSynth(JPEGBaselineUID, 8, 8, 1, 8, 2, "MONOCHROME2")
	s.frags = [][]byte{nil, jp[:len(jp)/2], jp[len(jp)/2:], jp}
	add(s)
	return out
}

// TestWriteFuzzSeeds writes the synthetic seeds to testdata/fuzz when
// PIXEL_WRITE_SEEDS=1, and otherwise checks that they are there, so that
// `go test -fuzz` starts from them even without the code above.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzFrames")
	seeds := seedDatasets(t)
	if os.Getenv("PIXEL_WRITE_SEEDS") == "1" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("synthetic-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	rdir := filepath.Join("testdata", "fuzz", "FuzzDecodeRLE")
	if os.Getenv("PIXEL_WRITE_SEEDS") == "1" {
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			t.Fatal(err)
		}
		native := make([]byte, 64*3)
		for i := range native {
			native[i] = byte(i / 5 * 7)
		}
		for i, c := range [][3]int{{64, 3, 1}, {32, 1, 2}, {16, 3, 4}} {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(%d)\nuint8(%d)\nuint8(%d)\n", rleFrame(native, c[0], c[1], c[2]), c[0], c[1], c[2])
			if err := os.WriteFile(filepath.Join(rdir, fmt.Sprintf("synthetic-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if e, err := os.ReadDir(rdir); err != nil || len(e) == 0 {
		t.Fatalf("%s: no seeds: %v", rdir, err)
	}
	// Every synthetic seed is a valid image, so that fuzzing starts from deep paths.
	for i, b := range seeds {
		file, err := dicom.Parse(bytes.NewReader(b), int64(len(b)), dicom.ParseOptions{})
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		fr, err := Open(file)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		for k := 0; k < fr.Count(); k++ {
			if _, err := fr.Render(k, RenderOptions{}); err != nil {
				t.Fatalf("seed %d frame %d: %v", i, k, err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < len(seeds) {
		t.Fatalf("%s: %d seeds, want at least %d (write them with PIXEL_WRITE_SEEDS=1): %v", dir, len(entries), len(seeds), err)
	}
}
