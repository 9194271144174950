package pixel

import (
	"encoding/binary"
	"fmt"

	"github.com/cancerimage/cie/internal/dicom"
)

// Samples is one decoded frame: integer samples, row by row, the samples of a pixel
// next to each other.
type Samples struct {
	// Width and Height are the frame's size in pixels.
	Width, Height int
	// Channels is 1 for grey (MONOCHROME1/2) and 3 for colour (RGB).
	Channels int
	// Data holds Width*Height*Channels samples. Grey samples are stored values (before
	// the modality LUT), masked to Bits and sign extended when Signed.
	Data []int64
	// Bits is the number of significant bits of a sample (Bits Stored; for a palette
	// image, the palette's bits per entry; 8 for JPEG).
	Bits int
	// Signed is true when grey samples are two's complement (Pixel Representation 1).
	Signed bool
	// Photometric is MONOCHROME1, MONOCHROME2 or RGB: colour images are converted to RGB.
	Photometric string
}

// Decode decodes frame i (0-based) into samples. It reads only that frame. Transfer
// syntaxes, photometric interpretations and bit depths it cannot decode yield an error
// matching ErrUnsupported.
func (fr *Frames) Decode(i int) (*Samples, error) {
	if err := fr.check(i); err != nil {
		return nil, err
	}
	in := fr.info
	uid := in.TS.UID
	switch {
	case !in.TS.Encapsulated, uid == dicom.EncapsulatedUncompressedUID:
	case uid == RLELosslessUID:
		if in.BitsAllocated == 1 {
			return nil, unsupported(uid, "bit-packed RLE data")
		}
	case uid == JPEGBaselineUID || uid == JPEGExtendedUID:
	default:
		return nil, unsupported(uid, "cannot decode pixel data")
	}
	if err := checkPhotometric(in); err != nil {
		return nil, err
	}
	b, err := fr.Raw(i)
	if err != nil {
		return nil, err
	}
	var s *Samples
	switch {
	case uid == RLELosslessUID:
		raw, err := DecodeRLE(b, in.Rows*in.Columns, in.SamplesPerPixel, in.BitsAllocated/8)
		if err != nil {
			return nil, fmt.Errorf("pixel: frame %d: %w", i, err)
		}
		rin := in
		rin.Planar = false // segments are decoded to interleaved samples
		s, err = decodeNative(raw, rin, binary.LittleEndian, false)
		if err != nil {
			return nil, fmt.Errorf("pixel: frame %d: %w", i, err)
		}
	case uid == JPEGBaselineUID || uid == JPEGExtendedUID:
		s, err = decodeJPEG(b, in)
		if err != nil {
			return nil, fmt.Errorf("pixel: frame %d: %w", i, err)
		}
	default:
		order := in.ByteOrder
		if uid == dicom.EncapsulatedUncompressedUID {
			order = binary.LittleEndian
		}
		// 8-bit samples in an OW value of a big endian data set are swapped in pairs.
		swap := in.BitsAllocated == 8 && fr.pix.VR == dicom.OW && order == binary.BigEndian
		s, err = decodeNative(b, in, order, swap)
		if err != nil {
			return nil, fmt.Errorf("pixel: frame %d: %w", i, err)
		}
	}
	return fr.toColour(s)
}

// checkPhotometric refuses photometric interpretations that cannot be decoded.
func checkPhotometric(in Info) error {
	switch in.Photometric {
	case "MONOCHROME1", "MONOCHROME2", "PALETTE COLOR":
		if in.SamplesPerPixel != 1 {
			return malformed("%s with %d samples per pixel", in.Photometric, in.SamplesPerPixel)
		}
	case "RGB", "YBR_FULL", "YBR_FULL_422":
		if in.SamplesPerPixel != 3 {
			return malformed("%s with %d samples per pixel", in.Photometric, in.SamplesPerPixel)
		}
		if in.Photometric == "YBR_FULL_422" && !in.TS.Encapsulated && in.BitsAllocated != 8 {
			return unsupported(in.TS.UID, "native YBR_FULL_422 of %d bits", in.BitsAllocated)
		}
	case "YBR_PARTIAL_422", "YBR_PARTIAL_420":
		if in.TS.UID != JPEGBaselineUID && in.TS.UID != JPEGExtendedUID {
			return unsupported(in.TS.UID, "photometric interpretation %s", in.Photometric)
		}
	default:
		return unsupported(in.TS.UID, "photometric interpretation %q", in.Photometric)
	}
	return nil
}

// decodeNative decodes native samples in byte order order. swap8 swaps the bytes of
// each pair (8-bit samples in a big endian OW value).
func decodeNative(b []byte, in Info, order binary.ByteOrder, swap8 bool) (*Samples, error) {
	npix := in.Rows * in.Columns
	if in.Photometric == "YBR_FULL_422" && !in.TS.Encapsulated {
		return decodeYBR422(b, in)
	}
	spp := in.SamplesPerPixel
	n := npix * spp
	if int64(len(b))*8 < int64(n)*int64(in.BitsAllocated) {
		return nil, malformed("frame of %d bytes, %d samples of %d bits need more", len(b), n, in.BitsAllocated)
	}
	s := &Samples{Width: in.Columns, Height: in.Rows, Channels: spp, Data: make([]int64, n),
		Bits: in.BitsStored, Signed: in.Signed, Photometric: in.Photometric}
	shift := uint(in.HighBit + 1 - in.BitsStored)
	mask := uint64(1)<<uint(in.BitsStored) - 1
	sign := uint64(1) << uint(in.BitsStored-1)
	get := func(k int) uint64 {
		switch in.BitsAllocated {
		case 1:
			return uint64(b[k>>3]>>(k&7)) & 1
		case 8:
			if swap8 {
				return uint64(b[k^1])
			}
			return uint64(b[k])
		case 16:
			return uint64(order.Uint16(b[2*k:]))
		default:
			return uint64(order.Uint32(b[4*k:]))
		}
	}
	if swap8 && len(b)%2 != 0 {
		return nil, malformed("odd-length OW pixel data")
	}
	// Fast paths without per-sample dispatch for the common layouts.
	if !(spp > 1 && in.Planar) && !swap8 {
		ext := func(v uint64) int64 {
			v = (v >> shift) & mask
			if in.Signed && v&sign != 0 {
				return int64(v) - int64(mask) - 1
			}
			return int64(v)
		}
		switch {
		case in.BitsAllocated == 8:
			for k, v := range b[:n] {
				s.Data[k] = ext(uint64(v))
			}
			return s, nil
		case in.BitsAllocated == 16 && order == binary.LittleEndian:
			for k := range s.Data {
				s.Data[k] = ext(uint64(b[2*k]) | uint64(b[2*k+1])<<8)
			}
			return s, nil
		}
	}
	for k := 0; k < n; k++ {
		// Interleaved position of sample k of the stored order.
		dst := k
		if spp > 1 && in.Planar {
			dst = (k%npix)*spp + k/npix
		}
		v := (get(k) >> shift) & mask
		if in.Signed && v&sign != 0 {
			s.Data[dst] = int64(v) - int64(mask) - 1
		} else {
			s.Data[dst] = int64(v)
		}
	}
	return s, nil
}

// decodeYBR422 decodes native 8-bit YBR_FULL_422: per two pixels Y1 Y2 Cb Cr (PS3.3
// C.7.6.3.1.2), into full-resolution Y Cb Cr samples.
func decodeYBR422(b []byte, in Info) (*Samples, error) {
	npix := in.Rows * in.Columns
	if len(b) < 2*npix {
		return nil, malformed("YBR_FULL_422 frame of %d bytes, %d pixels need %d", len(b), npix, 2*npix)
	}
	s := &Samples{Width: in.Columns, Height: in.Rows, Channels: 3, Data: make([]int64, 3*npix),
		Bits: 8, Photometric: in.Photometric}
	for p := 0; p < npix; p += 2 {
		q := 2 * p
		y1, y2, cb, cr := b[q], b[q+1], b[q+2], b[q+3]
		d := s.Data[3*p:]
		d[0], d[1], d[2] = int64(y1), int64(cb), int64(cr)
		if p+1 < npix {
			d[3], d[4], d[5] = int64(y2), int64(cb), int64(cr)
		}
	}
	return s, nil
}

// toColour converts YBR and PALETTE COLOR samples to RGB.
func (fr *Frames) toColour(s *Samples) (*Samples, error) {
	switch s.Photometric {
	case "YBR_FULL", "YBR_FULL_422":
		ybrFullToRGB(s)
	case "YBR_PARTIAL_422", "YBR_PARTIAL_420":
		ybrPartialToRGB(s)
	case "PALETTE COLOR":
		p, err := readPalette(fr.ds, fr.info.TS.UID)
		if err != nil {
			return nil, err
		}
		return p.apply(s), nil
	}
	return s, nil
}

// ybrFullToRGB converts YBR_FULL samples to RGB (PS3.3 C.7.6.3.1.2, the JFIF equations),
// in place.
func ybrFullToRGB(s *Samples) {
	maxv := float64(int64(1)<<uint(s.Bits) - 1)
	half := float64(int64(1) << uint(s.Bits-1))
	d := s.Data
	for k := 0; k+2 < len(d); k += 3 {
		y, cb, cr := float64(d[k]), float64(d[k+1])-half, float64(d[k+2])-half
		d[k] = clampRound(y+1.402*cr, maxv)
		d[k+1] = clampRound(y-0.344136*cb-0.714136*cr, maxv)
		d[k+2] = clampRound(y+1.772*cb, maxv)
	}
	s.Photometric = "RGB"
}

// ybrPartialToRGB converts YBR_PARTIAL samples (luminance 16..235, chrominance 16..240,
// PS3.3 C.7.6.3.1.2) of 8 bits to RGB, in place.
func ybrPartialToRGB(s *Samples) {
	d := s.Data
	for k := 0; k+2 < len(d); k += 3 {
		y, cb, cr := 1.1644*(float64(d[k])-16), float64(d[k+1])-128, float64(d[k+2])-128
		d[k] = clampRound(y+1.5960*cr, 255)
		d[k+1] = clampRound(y-0.3918*cb-0.8130*cr, 255)
		d[k+2] = clampRound(y+2.0172*cb, 255)
	}
	s.Photometric = "RGB"
}

// clampRound rounds v to the nearest integer in [0, maxv].
func clampRound(v, maxv float64) int64 {
	switch {
	case v <= 0:
		return 0
	case v >= maxv:
		return int64(maxv)
	}
	return int64(v + 0.5)
}
