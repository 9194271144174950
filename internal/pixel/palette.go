package pixel

import (
	"fmt"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// palette is a PALETTE COLOR lookup table (PS3.3 C.7.6.3.1.5 and C.7.6.3.1.6).
type palette struct {
	first int64      // first stored value mapped
	bits  int        // bits per entry, 8 or 16
	lut   [3][]int64 // red, green, blue entries
}

// readPalette reads the red, green and blue palette descriptors and data of ds.
func readPalette(ds *dicom.Dataset, uid string) (*palette, error) {
	descTags := [3]dicom.Tag{tags.RedPaletteColorLookupTableDescriptor, tags.GreenPaletteColorLookupTableDescriptor, tags.BluePaletteColorLookupTableDescriptor}
	dataTags := [3]dicom.Tag{tags.RedPaletteColorLookupTableData, tags.GreenPaletteColorLookupTableData, tags.BluePaletteColorLookupTableData}
	names := [3]string{"red", "green", "blue"}
	p := &palette{}
	order := ds.ByteOrder()
	for c := 0; c < 3; c++ {
		de := ds.Get(descTags[c])
		if de == nil {
			return nil, malformed("PALETTE COLOR without a %s palette descriptor %s", names[c], descTags[c])
		}
		d, err := de.Value()
		if err != nil {
			return nil, fmt.Errorf("pixel: %s palette descriptor: %w", names[c], err)
		}
		if len(d) < 6 {
			return nil, malformed("%s palette descriptor of %d bytes", names[c], len(d))
		}
		entries := int(order.Uint16(d))
		if entries == 0 {
			entries = 1 << 16
		}
		first := int64(order.Uint16(d[2:]))
		if de.VR == dicom.SS {
			first = int64(int16(order.Uint16(d[2:])))
		}
		bits := int(order.Uint16(d[4:]))
		if bits != 8 && bits != 16 {
			return nil, malformed("%s palette of %d bits per entry", names[c], bits)
		}
		if c == 0 {
			p.first, p.bits = first, bits
		} else if first != p.first || bits != p.bits || entries != len(p.lut[0]) {
			return nil, unsupported(uid, "palettes with different descriptors")
		}
		dt := ds.Get(dataTags[c])
		if dt == nil {
			return nil, unsupported(uid, "PALETTE COLOR without %s palette data %s (segmented palettes are not supported)", names[c], dataTags[c])
		}
		b, err := dt.Value()
		if err != nil {
			return nil, fmt.Errorf("pixel: %s palette data: %w", names[c], err)
		}
		oneByte := bits == 8 && (len(b) == entries || len(b) == entries+1 && entries%2 == 1)
		if !oneByte && len(b) != 2*entries && !(len(b) == 2*entries+2 && entries%2 == 1) {
			return nil, malformed("%s palette data of %d bytes for %d entries of %d bits", names[c], len(b), entries, bits)
		}
		lut := make([]int64, entries)
		switch {
		case oneByte:
			// One byte per entry.
			for k := range lut {
				lut[k] = int64(b[k])
			}
		default:
			big := false
			for k := range lut {
				lut[k] = int64(order.Uint16(b[2*k:]))
				if lut[k] > 255 {
					big = true
				}
			}
			if bits == 8 && big {
				// 8-bit entries written in the high byte of each word.
				for k := range lut {
					lut[k] >>= 8
				}
			}
		}
		p.lut[c] = lut
	}
	return p, nil
}

// apply maps palette indices to RGB samples.
func (p *palette) apply(s *Samples) *Samples {
	out := &Samples{Width: s.Width, Height: s.Height, Channels: 3, Data: make([]int64, 3*len(s.Data)),
		Bits: p.bits, Photometric: "RGB"}
	last := int64(len(p.lut[0]) - 1)
	for k, v := range s.Data {
		i := v - p.first
		if i < 0 {
			i = 0
		} else if i > last {
			i = last
		}
		out.Data[3*k] = p.lut[0][i]
		out.Data[3*k+1] = p.lut[1][i]
		out.Data[3*k+2] = p.lut[2][i]
	}
	return out
}
