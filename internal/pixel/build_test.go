package pixel

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"sort"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// synth describes a data set for tests: elements by tag and pixel data, either native
// (pix) or encapsulated (frags, the first being the Basic Offset Table).
type synth struct {
	elems map[dicom.Tag]synthElem
	pix   []byte
	pixVR string
	frags [][]byte
	ts    string
}

type synthElem struct {
	vr  string
	val []byte
}

func us(v ...uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func text(s string) []byte {
	if len(s)%2 == 1 {
		s += " "
	}
	return []byte(s)
}

// newSynth returns an image of rows×cols, spp samples of bits bits, with frames frames.
func newSynth(ts string, rows, cols, spp, bits, frames int, photometric string) *synth {
	s := &synth{elems: map[dicom.Tag]synthElem{}, ts: ts, pixVR: "OB"}
	s.set(tags.Rows, "US", us(uint16(rows)))
	s.set(tags.Columns, "US", us(uint16(cols)))
	s.set(tags.SamplesPerPixel, "US", us(uint16(spp)))
	s.set(tags.BitsAllocated, "US", us(uint16(bits)))
	s.set(tags.BitsStored, "US", us(uint16(bits)))
	s.set(tags.HighBit, "US", us(uint16(bits-1)))
	s.set(tags.PixelRepresentation, "US", us(0))
	s.set(tags.PhotometricInterpretation, "CS", text(photometric))
	s.set(tags.NumberOfFrames, "IS", text(itoa(frames)))
	return s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

func (s *synth) set(t dicom.Tag, vr string, val []byte) { s.elems[t] = synthElem{vr, val} }

// bytes encodes the data set in explicit VR little endian, without a meta group.
func (s *synth) bytes() []byte {
	var buf bytes.Buffer
	hdr := func(t dicom.Tag, vr string, n uint32) {
		binary.Write(&buf, binary.LittleEndian, t.Group())
		binary.Write(&buf, binary.LittleEndian, t.Element())
		buf.WriteString(vr)
		switch vr {
		case "OB", "OW", "OV", "UN", "SQ", "UT", "OF", "OD", "OL":
			buf.Write([]byte{0, 0})
			binary.Write(&buf, binary.LittleEndian, n)
		default:
			binary.Write(&buf, binary.LittleEndian, uint16(n))
		}
	}
	keys := make([]dicom.Tag, 0, len(s.elems))
	for t := range s.elems {
		keys = append(keys, t)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, t := range keys {
		e := s.elems[t]
		hdr(t, e.vr, uint32(len(e.val)))
		buf.Write(e.val)
	}
	if s.frags != nil {
		hdr(tags.PixelData, "OB", 0xFFFFFFFF)
		for _, f := range s.frags {
			binary.Write(&buf, binary.LittleEndian, [2]uint16{0xFFFE, 0xE000})
			binary.Write(&buf, binary.LittleEndian, uint32(len(f)))
			buf.Write(f)
		}
		binary.Write(&buf, binary.LittleEndian, [2]uint16{0xFFFE, 0xE0DD})
		binary.Write(&buf, binary.LittleEndian, uint32(0))
	} else if s.pix != nil {
		hdr(tags.PixelData, s.pixVR, uint32(len(s.pix)))
		buf.Write(s.pix)
	}
	return buf.Bytes()
}

// open parses the synthetic data set and opens its frames.
func (s *synth) open(t testing.TB) (*Frames, error) {
	t.Helper()
	b := s.bytes()
	ts := dicom.TransferSyntaxFor(s.ts)
	ds, err := dicom.ParseDataset(bytes.NewReader(b), int64(len(b)), ts, dicom.ParseOptions{})
	if err != nil {
		t.Fatalf("parse synthetic data set: %v", err)
	}
	return OpenDataset(ds, ts)
}

// grayJPEG encodes a w×h grey gradient (varied by seed) as JPEG baseline.
func grayJPEG(t testing.TB, w, h, seed int) ([]byte, *image.Gray) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Pix[y*w+x] = uint8(x*7 + y*3 + seed*40)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), img
}

func le32(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func le64(v ...uint64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}
