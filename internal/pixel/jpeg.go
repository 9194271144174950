package pixel

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
)

// MaxPixels bounds the pixels of one frame decoded from compressed data (JPEG), whose
// header alone claims a size: 2^28 pixels (16384×16384).
const MaxPixels = 1 << 28

// jpegHeader is what decodeJPEG needs of a JPEG stream's headers.
type jpegHeader struct {
	sof        byte // the start-of-frame marker (0xC0...)
	precision  int
	rows, cols int
	comps      int
	ids        []byte // component identifiers
	jfif       bool   // APP0 "JFIF"
	adobe      bool   // APP14 "Adobe"
	transform  byte   // the Adobe colour transform: 0 none (RGB), 1 YCbCr
}

// scanJPEG reads the marker segments of a JPEG stream up to its start of frame.
func scanJPEG(b []byte) (jpegHeader, error) {
	var h jpegHeader
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return h, malformed("JPEG frame does not start with SOI")
	}
	i := 2
	for {
		// Skip fill bytes before a marker.
		for i+1 < len(b) && b[i] == 0xFF && b[i+1] == 0xFF {
			i++
		}
		if i+4 > len(b) || b[i] != 0xFF {
			return h, malformed("JPEG marker expected at %d", i)
		}
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return h, malformed("JPEG marker %02X at %d with length %d", m, i, n)
		}
		seg := b[i+4 : i+2+n]
		switch {
		case m == 0xE0 && bytes.HasPrefix(seg, []byte("JFIF\x00")):
			h.jfif = true
		case m == 0xEE && bytes.HasPrefix(seg, []byte("Adobe")) && len(seg) >= 12:
			h.adobe, h.transform = true, seg[11]
		case m == 0xF7 || (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC):
			if len(seg) < 6 {
				return h, malformed("JPEG start of frame of %d bytes", len(seg))
			}
			h.sof = m
			h.precision = int(seg[0])
			h.rows = int(binary.BigEndian.Uint16(seg[1:]))
			h.cols = int(binary.BigEndian.Uint16(seg[3:]))
			h.comps = int(seg[5])
			if len(seg) < 6+3*h.comps {
				return h, malformed("JPEG start of frame of %d bytes for %d components", len(seg), h.comps)
			}
			for c := 0; c < h.comps; c++ {
				h.ids = append(h.ids, seg[6+3*c])
			}
			return h, nil
		case m == 0xDA:
			return h, malformed("JPEG start of scan before start of frame")
		}
		i += 2 + n
	}
}

// jpegProcess names the coding process of a start-of-frame marker.
func jpegProcess(m byte) string {
	switch m {
	case 0xC0:
		return "baseline"
	case 0xC1:
		return "extended sequential"
	case 0xC2:
		return "progressive"
	case 0xC3:
		return "lossless"
	case 0xF7:
		return "JPEG-LS"
	}
	if m >= 0xC9 {
		return "arithmetic-coded"
	}
	return "hierarchical"
}

// decodeJPEG decodes a JPEG baseline or extended (8-bit, Huffman) frame.
func decodeJPEG(b []byte, in Info) (*Samples, error) {
	uid := in.TS.UID
	h, err := scanJPEG(b)
	if err != nil {
		return nil, err
	}
	if h.sof != 0xC0 && h.sof != 0xC1 {
		return nil, unsupported(uid, "%s JPEG", jpegProcess(h.sof))
	}
	if h.precision != 8 {
		return nil, unsupported(uid, "%d-bit JPEG", h.precision)
	}
	if h.rows != in.Rows || h.cols != in.Columns || h.comps != in.SamplesPerPixel {
		return nil, malformed("JPEG of %d×%d×%d in an image of %d×%d×%d", h.cols, h.rows, h.comps, in.Columns, in.Rows, in.SamplesPerPixel)
	}
	// Huffman coding spends at least two bits on every 8×8 block of every component, so
	// a frame of n bytes cannot hold more than 256n pixels; refuse before decoding what
	// the data cannot justify.
	if px := int64(h.rows) * int64(h.cols); px > MaxPixels || px > 256*int64(len(b))+4096 {
		return nil, malformed("JPEG of %d×%d pixels in %d bytes", h.cols, h.rows, len(b))
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, malformed("JPEG: %v", err)
	}
	if img.Bounds().Dx() != in.Columns || img.Bounds().Dy() != in.Rows {
		return nil, malformed("JPEG decoded to %v, image is %d×%d", img.Bounds(), in.Columns, in.Rows)
	}
	s := &Samples{Width: in.Columns, Height: in.Rows, Channels: in.SamplesPerPixel, Bits: 8,
		Data: make([]int64, in.Rows*in.Columns*in.SamplesPerPixel), Photometric: in.Photometric}
	w := in.Columns
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < in.Rows; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				s.Data[y*w+x] = int64(v)
			}
		}
		return s, nil
	case *image.YCbCr:
		// Raw Y, Cb, Cr samples; converted below as the photometric interpretation says.
		r := m.Rect
		for y := 0; y < in.Rows; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(x+r.Min.X, y+r.Min.Y)
				ci := m.COffset(x+r.Min.X, y+r.Min.Y)
				d := s.Data[3*(y*w+x):]
				d[0], d[1], d[2] = int64(m.Y[yi]), int64(m.Cb[ci]), int64(m.Cr[ci])
			}
		}
		switch {
		case in.Photometric != "RGB":
			// YBR_FULL, YBR_FULL_422 (and YBR_PARTIAL): converted by toColour.
		case jpegIsRGB(h):
			// Labelled RGB and not transformed: the components are R, G, B.
		default:
			// Labelled RGB but coded as YCbCr (JFIF): what most encoders write.
			s.Photometric = "YBR_FULL"
		}
		return s, nil
	case *image.RGBA:
		for y := 0; y < in.Rows; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				d := s.Data[3*(y*w+x):]
				d[0], d[1], d[2] = int64(row[4*x]), int64(row[4*x+1]), int64(row[4*x+2])
			}
		}
		s.Photometric = "RGB"
		return s, nil
	}
	return nil, unsupported(uid, "JPEG decoded as %T", img)
}

// jpegIsRGB reports whether a three-component JPEG stream labelled RGB holds R, G, B
// rather than Y, Cb, Cr, by its markers, as libjpeg decides, except for the last rule:
// an Adobe marker says by its transform (0: RGB); component identifiers 'R', 'G', 'B'
// mean RGB; a JFIF marker, or identifiers 1, 2, 3 (the JFIF convention), mean YCbCr;
// otherwise the stream is taken as the data set says, RGB.
func jpegIsRGB(h jpegHeader) bool {
	switch {
	case h.adobe:
		return h.transform == 0
	case len(h.ids) == 3 && h.ids[0] == 'R' && h.ids[1] == 'G' && h.ids[2] == 'B':
		return true
	case h.jfif:
		return false
	case len(h.ids) == 3 && h.ids[0] == 1 && h.ids[1] == 2 && h.ids[2] == 3:
		return false
	}
	return true
}
