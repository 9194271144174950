package pixel

import (
	"bytes"
	"errors"
	"testing"
)

// rleEncode is a plain PackBits encoder for tests (literal runs only, and replicate
// runs for repeats of three or more).
func rleEncode(seg []byte) []byte {
	var out []byte
	for i := 0; i < len(seg); {
		j := i + 1
		for j < len(seg) && j-i < 128 && seg[j] == seg[i] {
			j++
		}
		if j-i >= 3 {
			out = append(out, byte(int8(1-(j-i))), seg[i])
			i = j
			continue
		}
		j = i
		for j < len(seg) && j-i < 128 && !(j+2 < len(seg) && seg[j] == seg[j+1] && seg[j] == seg[j+2]) {
			j++
		}
		out = append(out, byte(j-i-1))
		out = append(out, seg[i:j]...)
		i = j
	}
	return out
}

// rleFrame builds an RLE frame from native little endian interleaved samples.
func rleFrame(native []byte, pixels, samples, bps int) []byte {
	nseg := samples * bps
	hdr := make([]byte, 64)
	hdr[0] = byte(nseg)
	var body []byte
	for s := 0; s < samples; s++ {
		for k := 0; k < bps; k++ {
			seg := make([]byte, pixels)
			for p := range seg {
				seg[p] = native[(p*samples+s)*bps+bps-1-k]
			}
			off := 64 + len(body)
			i := 4 + 4*(s*bps+k)
			hdr[i], hdr[i+1], hdr[i+2], hdr[i+3] = byte(off), byte(off>>8), byte(off>>16), byte(off>>24)
			enc := rleEncode(seg)
			if len(enc)%2 == 1 {
				enc = append(enc, 0x80) // a no-op pads segments to even length
			}
			body = append(body, enc...)
		}
	}
	return append(hdr, body...)
}

// TestDecodeRLE round-trips samples through a test encoder, and checks runs by hand.
func TestDecodeRLE(t *testing.T) {
	// Hand-made segment: literal 3 bytes, replicate 4, no-op, literal 1.
	dst := make([]byte, 8)
	if err := unpackBits(dst, []byte{2, 1, 2, 3, 0xFD, 9, 0x80, 0, 7}); err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, 2, 3, 9, 9, 9, 9, 7}; !bytes.Equal(dst, want) {
		t.Errorf("unpackBits = %v, want %v", dst, want)
	}
	for _, bad := range [][]byte{{5, 1, 2}, {0xFD}, {}} {
		if err := unpackBits(make([]byte, 4), bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("unpackBits(%v) error %v, want ErrMalformed", bad, err)
		}
	}
	native := make([]byte, 5*3*2)
	for i := range native {
		native[i] = byte(i * 37 % 7)
	}
	got, err := DecodeRLE(rleFrame(native, 5, 3, 2), 5, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, native) {
		t.Errorf("DecodeRLE = %v, want %v", got, native)
	}
}
