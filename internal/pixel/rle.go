package pixel

import (
	"encoding/binary"
	"fmt"
)

// rleHeaderSize is the size of the RLE header: the number of segments and 15 segment
// offsets, each a 32-bit little endian integer (PS3.5 G.5).
const rleHeaderSize = 64

// maxRLEExpansion is the most a PackBits segment can expand: a two-byte replicate run
// yields 128 bytes.
const maxRLEExpansion = 64

// DecodeRLE decodes one frame of RLE Lossless data (PS3.5 Annex G) with pixels pixels of
// samples samples of bytesPerSample bytes each. The result is native pixel data: samples
// interleaved pixel by pixel (planar configuration 0), each in little endian byte order,
// of pixels*samples*bytesPerSample bytes.
//
// The frame holds a 64-byte header (the number of segments, then up to 15 segment
// offsets) and one PackBits-encoded segment per byte of each sample: for each sample in
// turn, its most significant byte first (PS3.5 G.2). A segment that decodes to more than
// pixels bytes is cut (some encoders pad); one that decodes to fewer is an error.
func DecodeRLE(src []byte, pixels, samples, bytesPerSample int) ([]byte, error) {
	if pixels <= 0 || samples <= 0 || bytesPerSample <= 0 {
		return nil, malformed("RLE frame of %d pixels, %d samples of %d bytes", pixels, samples, bytesPerSample)
	}
	nseg := samples * bytesPerSample
	if len(src) < rleHeaderSize {
		return nil, malformed("RLE frame of %d bytes is shorter than its header", len(src))
	}
	got := binary.LittleEndian.Uint32(src)
	if got != uint32(nseg) {
		return nil, malformed("RLE frame has %d segments, %d samples of %d bytes need %d", got, samples, bytesPerSample, nseg)
	}
	if nseg > 15 {
		return nil, malformed("RLE frame needs %d segments, at most 15 are possible", nseg)
	}
	offs := make([]int, nseg+1)
	for i := 0; i < nseg; i++ {
		offs[i] = int(binary.LittleEndian.Uint32(src[4+4*i:]))
		if offs[i] < rleHeaderSize || offs[i] > len(src) || (i > 0 && offs[i] < offs[i-1]) {
			return nil, malformed("RLE segment %d at offset %d (frame of %d bytes)", i, offs[i], len(src))
		}
	}
	offs[nseg] = len(src)
	// The output size is justified by the input: no segment can expand more than 64 times.
	for i := 0; i < nseg; i++ {
		if int64(offs[i+1]-offs[i])*maxRLEExpansion < int64(pixels) {
			return nil, malformed("RLE segment %d of %d bytes cannot hold %d pixels", i, offs[i+1]-offs[i], pixels)
		}
	}
	out := make([]byte, pixels*nseg)
	seg := make([]byte, pixels)
	for s := 0; s < samples; s++ {
		for k := 0; k < bytesPerSample; k++ {
			i := s*bytesPerSample + k
			if err := unpackBits(seg, src[offs[i]:offs[i+1]]); err != nil {
				return nil, fmt.Errorf("RLE segment %d: %w", i, err)
			}
			// Byte k counts from the most significant; little endian puts it last.
			pos := s*bytesPerSample + (bytesPerSample - 1 - k)
			stride := nseg
			for p, b := range seg {
				out[p*stride+pos] = b
			}
		}
	}
	return out, nil
}

// unpackBits decodes a PackBits segment (PS3.5 G.3.1) into dst, which it must fill
// exactly; input left over once dst is full is ignored.
func unpackBits(dst, src []byte) error {
	o, i := 0, 0
	for o < len(dst) {
		if i >= len(src) {
			return malformed("segment decodes to %d bytes, %d expected", o, len(dst))
		}
		n := int(int8(src[i]))
		i++
		switch {
		case n >= 0: // literal run of n+1 bytes
			n++
			if i+n > len(src) {
				return malformed("literal run of %d bytes at %d runs past the segment's end", n, i-1)
			}
			if o+n > len(dst) {
				n = len(dst) - o
			}
			copy(dst[o:], src[i:i+n])
			i += n
			o += n
		case n == -128: // no operation
		default: // replicate the next byte 1-n times
			if i >= len(src) {
				return malformed("replicate run at %d without its byte", i-1)
			}
			n = 1 - n
			if o+n > len(dst) {
				n = len(dst) - o
			}
			b := src[i]
			i++
			for end := o + n; o < end; o++ {
				dst[o] = b
			}
		}
	}
	return nil
}
