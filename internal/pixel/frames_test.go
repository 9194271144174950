package pixel

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// TestEncapsulatedFrames locates JPEG frames by every rule: Basic Offset Table, Extended
// Offset Table, one fragment per frame, all fragments for one frame, and JPEG markers,
// with frames split over several fragments; Raw, Reader and Decode must agree with the
// JPEG streams put in.
func TestEncapsulatedFrames(t *testing.T) {
	const w, h = 16, 8
	var streams [][]byte
	var imgs [][]uint8
	for i := 0; i < 3; i++ {
		b, img := grayJPEG(t, w, h, i)
		streams = append(streams, b)
		imgs = append(imgs, img.Pix)
	}
	// split cuts a stream in two fragments of even length (fragments have even lengths).
	split := func(b []byte) [][]byte {
		if len(b)%2 == 1 {
			b = append(append([]byte{}, b...), 0)
		}
		m := len(b) / 4 * 2
		return [][]byte{b[:m], b[m:]}
	}
	pad := func(b []byte) []byte {
		if len(b)%2 == 1 {
			return append(append([]byte{}, b...), 0)
		}
		return b
	}
	item := func(fs ...[]byte) uint32 {
		var n uint32
		for _, f := range fs {
			n += 8 + uint32(len(f))
		}
		return n
	}
	f0, f1, f2 := pad(streams[0]), split(streams[1]), pad(streams[2])
	cases := []struct {
		name   string
		frames int
		frags  [][]byte
		eot    bool
	}{
		{"one fragment per frame", 3, [][]byte{nil, f0, pad(streams[1]), f2}, false},
		{"basic offset table", 3, [][]byte{le32(0, item(f0), item(f0, f1[0], f1[1])), f0, f1[0], f1[1], f2}, false},
		{"extended offset table", 3, [][]byte{nil, f0, f1[0], f1[1], f2}, true},
		{"JPEG markers", 3, [][]byte{nil, f0, f1[0], f1[1], f2}, false},
		{"single frame in fragments", 1, [][]byte{nil, f1[0], f1[1]}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSynth(JPEGBaselineUID, h, w, 1, 8, c.frames, "MONOCHROME2")
			s.frags = c.frags
			if c.eot {
				s.set(tags.ExtendedOffsetTable, "OV", le64(0, uint64(item(f0)), uint64(item(f0, f1[0], f1[1]))))
				s.set(tags.ExtendedOffsetTableLengths, "OV", le64(uint64(len(streams[0])), uint64(len(streams[1])), uint64(len(streams[2]))))
			}
			fr, err := s.open(t)
			if err != nil {
				t.Fatal(err)
			}
			if fr.Count() != c.frames {
				t.Fatalf("Count = %d, want %d", fr.Count(), c.frames)
			}
			for i := 0; i < c.frames; i++ {
				k := i
				if c.frames == 1 {
					k = 1
				}
				raw, err := fr.Raw(i)
				if err != nil {
					t.Fatalf("Raw(%d): %v", i, err)
				}
				want := streams[k]
				if !c.eot {
					want = pad(want) // without lengths, a frame is its whole fragments
				}
				if !bytes.Equal(raw, want) {
					t.Errorf("Raw(%d): %d bytes, want %d bytes of stream %d", i, len(raw), len(want), k)
				}
				r, n, err := fr.Reader(i)
				if err != nil {
					t.Fatal(err)
				}
				rb, _ := io.ReadAll(r)
				if int64(len(rb)) != n || !bytes.Equal(rb, raw) {
					t.Errorf("Reader(%d) gave %d bytes (size %d), Raw %d", i, len(rb), n, len(raw))
				}
				smp, err := fr.Decode(i)
				if err != nil {
					t.Fatalf("Decode(%d): %v", i, err)
				}
				for p, v := range smp.Data {
					if d := v - int64(imgs[k][p]); d > 6 || d < -6 {
						t.Fatalf("frame %d pixel %d = %d, encoded %d", i, p, v, imgs[k][p])
					}
				}
			}
			if _, err := fr.Raw(c.frames); !errors.Is(err, ErrFrameRange) {
				t.Errorf("Raw(%d) error %v, want ErrFrameRange", c.frames, err)
			}
			if _, err := fr.Decode(-1); !errors.Is(err, ErrFrameRange) {
				t.Errorf("Decode(-1) error %v, want ErrFrameRange", err)
			}
		})
	}
}

// TestNativeFrames checks native frame extraction: offsets of multi-frame data,
// bit-packed frames that do not start on a byte boundary, masking and sign extension,
// planar colour and 8-bit samples in a big endian OW value.
func TestNativeFrames(t *testing.T) {
	t.Run("bit-packed", func(t *testing.T) {
		// Three 3×3 frames of one bit: 27 bits in 4 bytes; frames 1 and 2 start at bits
		// 9 and 18.
		bits := []int{1, 0, 1, 0, 1, 0, 1, 0, 1 /**/, 1, 1, 0, 0, 1, 1, 0, 0, 1 /**/, 0, 0, 0, 1, 1, 1, 0, 0, 0}
		pix := make([]byte, 4)
		for k, b := range bits {
			pix[k/8] |= byte(b) << (k % 8)
		}
		s := newSynth(dicom.ExplicitVRLittleEndianUID, 3, 3, 1, 1, 3, "MONOCHROME2")
		s.pix = pix
		fr, err := s.open(t)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			raw, err := fr.Raw(i)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != 2 {
				t.Fatalf("Raw(%d) of %d bytes, want 2", i, len(raw))
			}
			smp, err := fr.Decode(i)
			if err != nil {
				t.Fatal(err)
			}
			for p := 0; p < 9; p++ {
				if got := int(raw[p/8]>>(p%8)) & 1; got != bits[9*i+p] {
					t.Errorf("Raw(%d) bit %d = %d, want %d", i, p, got, bits[9*i+p])
				}
				if smp.Data[p] != int64(bits[9*i+p]) {
					t.Errorf("Decode(%d) pixel %d = %d, want %d", i, p, smp.Data[p], bits[9*i+p])
				}
			}
		}
	})
	t.Run("masking and sign", func(t *testing.T) {
		// 12 bits stored at high bit 13 (shifted by 2), signed, with garbage above.
		s := newSynth(dicom.ExplicitVRLittleEndianUID, 1, 3, 1, 16, 1, "MONOCHROME2")
		s.set(tags.BitsStored, "US", us(12))
		s.set(tags.HighBit, "US", us(13))
		s.set(tags.PixelRepresentation, "US", us(1))
		s.pix = us(0xC000|0x7FF<<2|3, 0x800<<2, 0xFFF<<2|0x4001)
		fr, err := s.open(t)
		if err != nil {
			t.Fatal(err)
		}
		smp, err := fr.Decode(0)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{2047, -2048, -1}; smp.Data[0] != want[0] || smp.Data[1] != want[1] || smp.Data[2] != want[2] {
			t.Errorf("samples %v, want %v", smp.Data, want)
		}
	})
	t.Run("planar RGB", func(t *testing.T) {
		s := newSynth(dicom.ExplicitVRLittleEndianUID, 1, 2, 3, 8, 2, "RGB")
		s.set(tags.PlanarConfiguration, "US", us(1))
		s.pix = []byte{1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16}
		fr, err := s.open(t)
		if err != nil {
			t.Fatal(err)
		}
		smp, err := fr.Decode(1)
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{11, 13, 15, 12, 14, 16}
		for k := range want {
			if smp.Data[k] != want[k] {
				t.Fatalf("frame 1 samples %v, want %v", smp.Data, want)
			}
		}
		raw, _ := fr.Raw(1)
		if !bytes.Equal(raw, s.pix[6:]) {
			t.Errorf("Raw(1) = %v", raw)
		}
	})
	t.Run("big endian OW 8-bit", func(t *testing.T) {
		s := newSynth(dicom.ExplicitVRBigEndianUID, 1, 4, 1, 8, 1, "MONOCHROME2")
		for tag, e := range s.elems { // numbers in big endian
			if e.vr == "US" {
				s.elems[tag] = synthElem{e.vr, []byte{e.val[1], e.val[0]}}
			}
		}
		s.pix, s.pixVR = []byte{2, 1, 4, 3}, "OW"
		b := bigEndianBytes(s)
		ts := dicom.TransferSyntaxFor(dicom.ExplicitVRBigEndianUID)
		ds, err := dicom.ParseDataset(bytes.NewReader(b), int64(len(b)), ts, dicom.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fr, err := OpenDataset(ds, ts)
		if err != nil {
			t.Fatal(err)
		}
		smp, err := fr.Decode(0)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range []int64{1, 2, 3, 4} {
			if smp.Data[k] != v {
				t.Fatalf("samples %v, want 1 2 3 4", smp.Data)
			}
		}
	})
}

// bigEndianBytes encodes a synthetic data set in explicit VR big endian (the element
// values must already be in big endian).
func bigEndianBytes(s *synth) []byte {
	le := s.bytes()
	// Re-encode the headers: swap tag groups, elements and lengths.
	var out []byte
	for i := 0; i < len(le); {
		g, e := le[i:i+2], le[i+2:i+4]
		vr := string(le[i+4 : i+6])
		out = append(out, g[1], g[0], e[1], e[0], le[i+4], le[i+5])
		var n int
		switch vr {
		case "OB", "OW", "OV", "UN", "SQ", "UT":
			l := le[i+8 : i+12]
			out = append(out, 0, 0, l[3], l[2], l[1], l[0])
			n = int(uint32(l[0]) | uint32(l[1])<<8 | uint32(l[2])<<16 | uint32(l[3])<<24)
			i += 12
		default:
			l := le[i+6 : i+8]
			out = append(out, l[1], l[0])
			n = int(l[0]) | int(l[1])<<8
			i += 8
		}
		out = append(out, le[i:i+n]...)
		i += n
	}
	return out
}

// TestHostileHeaders gives headers that claim more than the data holds, or are
// inconsistent: each must be an error matching ErrMalformed (or ErrUnsupported),
// quickly and without large allocations.
func TestHostileHeaders(t *testing.T) {
	jp, _ := grayJPEG(t, 8, 8, 0)
	if len(jp)%2 == 1 {
		jp = append(jp, 0)
	}
	rleFrame := append(le32(1, 64), make([]byte, 56)...)
	rleFrame = append(rleFrame, 0x81, 7) // 128 sevens
	cases := []struct {
		name string
		make func() *synth
		open bool // the error comes from Open; else from Decode(0)
	}{
		{"native 65535×65535×1000 frames in 2 KB", func() *synth {
			s := newSynth(dicom.ExplicitVRLittleEndianUID, 65535, 65535, 1, 8, 1000, "MONOCHROME2")
			s.pix = make([]byte, 2048)
			return s
		}, true},
		{"native frames overflow", func() *synth {
			s := newSynth(dicom.ExplicitVRLittleEndianUID, 65535, 65535, 3, 32, 2147483647, "RGB")
			s.pix = make([]byte, 2048)
			return s
		}, true},
		{"bits stored above allocated", func() *synth {
			s := newSynth(dicom.ExplicitVRLittleEndianUID, 2, 2, 1, 8, 1, "MONOCHROME2")
			s.set(tags.BitsStored, "US", us(12))
			s.pix = make([]byte, 4)
			return s
		}, true},
		{"high bit outside", func() *synth {
			s := newSynth(dicom.ExplicitVRLittleEndianUID, 2, 2, 1, 16, 1, "MONOCHROME2")
			s.set(tags.BitsStored, "US", us(12))
			s.set(tags.HighBit, "US", us(16))
			s.pix = make([]byte, 8)
			return s
		}, true},
		{"zero rows", func() *synth {
			s := newSynth(dicom.ExplicitVRLittleEndianUID, 0, 2, 1, 8, 1, "MONOCHROME2")
			s.pix = make([]byte, 4)
			return s
		}, true},
		{"more frames than fragments", func() *synth {
			s := newSynth(JPEGBaselineUID, 8, 8, 1, 8, 1000000, "MONOCHROME2")
			s.frags = [][]byte{nil, jp}
			return s
		}, true},
		{"offset table into a fragment", func() *synth {
			s := newSynth(JPEGBaselineUID, 8, 8, 1, 8, 2, "MONOCHROME2")
			s.frags = [][]byte{le32(0, 10), jp, jp}
			return s
		}, true},
		{"offset table decreasing", func() *synth {
			s := newSynth(JPEGBaselineUID, 8, 8, 1, 8, 2, "MONOCHROME2")
			s.frags = [][]byte{le32(uint32(8+len(jp)), 0), jp, jp}
			return s
		}, true},
		{"extended offset table lengths past the fragments", func() *synth {
			s := newSynth(JPEGBaselineUID, 8, 8, 1, 8, 2, "MONOCHROME2")
			s.frags = [][]byte{nil, jp, jp}
			s.set(tags.ExtendedOffsetTable, "OV", le64(0, uint64(8+len(jp))))
			s.set(tags.ExtendedOffsetTableLengths, "OV", le64(1<<40, 4))
			return s
		}, true},
		{"JPEG frames not found", func() *synth {
			s := newSynth(JPEGBaselineUID, 8, 8, 1, 8, 2, "MONOCHROME2")
			s.frags = [][]byte{nil, jp, {1, 2}, {3, 4}}
			return s
		}, true},
		{"RLE 65535×65535 from 130 bytes", func() *synth {
			s := newSynth(RLELosslessUID, 65535, 65535, 1, 8, 1, "MONOCHROME2")
			s.frags = [][]byte{nil, rleFrame}
			return s
		}, false},
		{"RLE segment count", func() *synth {
			s := newSynth(RLELosslessUID, 2, 64, 1, 16, 1, "MONOCHROME2")
			s.frags = [][]byte{nil, rleFrame}
			return s
		}, false},
		{"RLE short segment", func() *synth {
			s := newSynth(RLELosslessUID, 2, 65, 1, 8, 1, "MONOCHROME2")
			s.frags = [][]byte{nil, rleFrame}
			return s
		}, false},
		{"JPEG size differs from header", func() *synth {
			s := newSynth(JPEGBaselineUID, 16, 8, 1, 8, 1, "MONOCHROME2")
			s.frags = [][]byte{nil, jp}
			return s
		}, false},
		{"JPEG claims 65535×65535", func() *synth {
			big := append([]byte{}, jp...)
			for i := 2; i+9 < len(big); i++ {
				if big[i] == 0xFF && big[i+1] == 0xC0 {
					copy(big[i+5:], []byte{0xFF, 0xFF, 0xFF, 0xFF})
				}
			}
			s := newSynth(JPEGBaselineUID, 65535, 65535, 1, 8, 1, "MONOCHROME2")
			s.frags = [][]byte{nil, big}
			return s
		}, false},
		{"palette data shorter than its descriptor", func() *synth {
			s := newSynth(dicom.ExplicitVRLittleEndianUID, 2, 2, 1, 8, 1, "PALETTE COLOR")
			for _, tg := range []dicom.Tag{tags.RedPaletteColorLookupTableDescriptor, tags.GreenPaletteColorLookupTableDescriptor, tags.BluePaletteColorLookupTableDescriptor} {
				s.set(tg, "US", us(0, 0, 16))
			}
			for _, tg := range []dicom.Tag{tags.RedPaletteColorLookupTableData, tags.GreenPaletteColorLookupTableData, tags.BluePaletteColorLookupTableData} {
				s.set(tg, "OW", make([]byte, 8))
			}
			s.pix = make([]byte, 4)
			return s
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fr, err := c.make().open(t)
			if !c.open && err == nil {
				_, err = fr.Decode(0)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v matches neither ErrMalformed nor ErrUnsupported", err)
			}
			t.Log(err)
		})
	}
}
