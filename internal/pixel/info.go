package pixel

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// Info describes pixel data: the attributes of the Image Pixel module (PS3.3 C.7.6.3)
// and the transfer syntax, as read and checked by ReadInfo.
type Info struct {
	// Rows and Columns are the frame's height and width in pixels.
	Rows, Columns int
	// SamplesPerPixel is 1 (grey or palette) or 3 (colour).
	SamplesPerPixel int
	// BitsAllocated is 1, 8, 16 or 32.
	BitsAllocated int
	// BitsStored is the number of bits used of each sample, at most BitsAllocated.
	BitsStored int
	// HighBit is the most significant bit of the stored bits (usually BitsStored-1).
	HighBit int
	// Signed is true for Pixel Representation 1 (two's complement samples).
	Signed bool
	// Planar is true for Planar Configuration 1 (colour by plane, RRR...GGG...BBB...).
	Planar bool
	// Photometric is the Photometric Interpretation, e.g. MONOCHROME2, RGB, YBR_FULL.
	Photometric string
	// Frames is the Number of Frames (1 when absent).
	Frames int
	// TS is the transfer syntax of the data set.
	TS dicom.TransferSyntax
	// ByteOrder is the byte order of native pixel data (that of the data set).
	ByteOrder binary.ByteOrder
}

// frameBits returns the size of one native frame in bits. Native YBR_FULL_422 keeps two
// luminance samples and one pair of chrominance samples per two pixels (PS3.3
// C.7.6.3.1.2), so two samples per pixel.
func (in Info) frameBits() int64 {
	spp := int64(in.SamplesPerPixel)
	if in.Photometric == "YBR_FULL_422" && !in.TS.Encapsulated {
		spp = 2
	}
	return int64(in.Rows) * int64(in.Columns) * spp * int64(in.BitsAllocated)
}

// FrameSize returns the size in bytes of one native (uncompressed) frame, rounded up to
// whole bytes for bit-packed data.
func (in Info) FrameSize() int64 { return (in.frameBits() + 7) / 8 }

// ReadInfo reads and checks the Image Pixel module of ds, whose transfer syntax is ts.
// It does not look at the pixel data.
func ReadInfo(ds *dicom.Dataset, ts dicom.TransferSyntax) (Info, error) {
	in := Info{TS: ts, ByteOrder: ds.ByteOrder()}
	var err error
	get := func(tag dicom.Tag, name string, def int, required bool) int {
		if err != nil {
			return 0
		}
		v, ok, e := readUS(ds, tag)
		switch {
		case e != nil:
			err = fmt.Errorf("pixel: %s %s: %w", name, tag, e)
		case !ok && required:
			err = malformed("%s %s is missing", name, tag)
		case !ok:
			return def
		}
		return v
	}
	in.Rows = get(tags.Rows, "Rows", 0, true)
	in.Columns = get(tags.Columns, "Columns", 0, true)
	in.SamplesPerPixel = get(tags.SamplesPerPixel, "Samples per Pixel", 1, false)
	in.BitsAllocated = get(tags.BitsAllocated, "Bits Allocated", 0, true)
	in.BitsStored = get(tags.BitsStored, "Bits Stored", in.BitsAllocated, false)
	in.HighBit = get(tags.HighBit, "High Bit", in.BitsStored-1, false)
	pr := get(tags.PixelRepresentation, "Pixel Representation", 0, false)
	pc := get(tags.PlanarConfiguration, "Planar Configuration", 0, false)
	if err != nil {
		return in, err
	}
	in.Signed = pr == 1
	in.Planar = pc == 1
	in.Photometric = strings.ToUpper(ds.Text(tags.PhotometricInterpretation))
	if in.Photometric == "" {
		if in.SamplesPerPixel == 1 {
			in.Photometric = "MONOCHROME2"
		} else {
			in.Photometric = "RGB"
		}
	}
	in.Frames = 1
	if s := ds.Text(tags.NumberOfFrames); s != "" {
		n, e := strconv.Atoi(strings.TrimSpace(s))
		if e != nil || n < 0 {
			return in, malformed("Number of Frames %q is not a non-negative integer", s)
		}
		if n > 0 { // 0 is seen in the wild for single frames
			in.Frames = n
		}
	}
	switch {
	case in.Rows == 0 || in.Columns == 0:
		return in, malformed("image of %d rows and %d columns", in.Rows, in.Columns)
	case in.SamplesPerPixel != 1 && in.SamplesPerPixel != 3:
		return in, unsupported(ts.UID, "%d samples per pixel", in.SamplesPerPixel)
	case in.BitsAllocated != 1 && in.BitsAllocated != 8 && in.BitsAllocated != 16 && in.BitsAllocated != 32:
		return in, unsupported(ts.UID, "%d bits allocated", in.BitsAllocated)
	case in.BitsStored < 1 || in.BitsStored > in.BitsAllocated:
		return in, malformed("%d bits stored of %d allocated", in.BitsStored, in.BitsAllocated)
	case in.HighBit < in.BitsStored-1 || in.HighBit >= in.BitsAllocated:
		return in, malformed("high bit %d with %d bits stored of %d allocated", in.HighBit, in.BitsStored, in.BitsAllocated)
	case pr > 1:
		return in, malformed("Pixel Representation %d", pr)
	case in.BitsAllocated == 1 && in.SamplesPerPixel != 1:
		return in, malformed("bit-packed data with %d samples per pixel", in.SamplesPerPixel)
	}
	return in, nil
}

// readUS reads the first value of an unsigned short element (US; some writers use SS or
// IS). ok is false when the element is absent or empty.
func readUS(ds *dicom.Dataset, tag dicom.Tag) (v int, ok bool, err error) {
	e := ds.Get(tag)
	if e == nil {
		return 0, false, nil
	}
	if e.VR == dicom.IS || e.VR == dicom.DS {
		s := ds.Text(tag)
		if s == "" {
			return 0, false, nil
		}
		if i := strings.IndexByte(s, '\\'); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > math.MaxUint16 {
			return 0, false, malformed("value %q is not an unsigned short", s)
		}
		return n, true, nil
	}
	b, err := e.Value()
	if err != nil {
		return 0, false, err
	}
	if len(b) == 0 {
		return 0, false, nil
	}
	if len(b) < 2 {
		return 0, false, malformed("%d-byte value for an unsigned short", len(b))
	}
	return int(ds.ByteOrder().Uint16(b)), true, nil
}

// readDS reads the values of a decimal string element (DS or IS); nil when absent,
// empty or not numbers.
func readDS(ds *dicom.Dataset, tag dicom.Tag) []float64 {
	s := ds.Text(tag)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, "\\")
	out := make([]float64, 0, len(parts))
	for _, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		out = append(out, f)
	}
	return out
}
