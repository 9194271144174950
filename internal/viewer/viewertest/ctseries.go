package viewertest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// Series is a generated series: its UIDs and its instances as Part 10 files,
// in a shuffled order (so a viewer must sort them itself).
type Series struct {
	Study, Series string
	// Files are the instances; Files[i] has InstanceNumber Numbers[i].
	Files   [][]byte
	Numbers []int
}

// uid derives a UID under the 2.25 root (PS3.5 B.2) from the seed and name,
// so the same inputs always give the same series.
func uid(seed, name string) string {
	h := sha256.Sum256([]byte("cie viewertest\x00" + seed + "\x00" + name))
	return "2.25." + new(big.Int).SetBytes(h[:16]).String()
}

// CTSeries makes an axial CT series of n slices from one uncompressed,
// 16-bit CT image (such as pydicom's CT_small.dcm): every slice keeps the
// source's attributes and anatomy, gets new study, series, frame of reference
// and SOP instance UIDs (derived from seed), an InstanceNumber, an
// ImagePositionPatient 2.5 mm apart along the slice normal, and a synthetic
// spherical lesion (+300 HU in soft tissue) whose cross-section grows and
// shrinks from slice to slice, so that slices differ.
func CTSeries(src string, n int, seed string) (*Series, error) {
	if n < 2 {
		return nil, fmt.Errorf("viewertest: CTSeries: n = %d, want at least 2", n)
	}
	f, closer, err := dicom.ParseFile(src, dicom.ParseOptions{})
	if err != nil {
		return nil, fmt.Errorf("viewertest: CTSeries: %w", err)
	}
	defer closer.Close()
	ds := f.Dataset
	if f.TS.Encapsulated || f.TS.BigEndian {
		return nil, fmt.Errorf("viewertest: CTSeries: %s: transfer syntax %s: want native little endian", src, f.TS.UID)
	}
	u16 := func(t dicom.Tag) (int, error) {
		e := ds.Get(t)
		if e == nil {
			return 0, fmt.Errorf("no %v", t)
		}
		v, err := e.Value()
		if err != nil || len(v) != 2 {
			return 0, fmt.Errorf("%v: bad US value (%v)", t, err)
		}
		return int(binary.LittleEndian.Uint16(v)), nil
	}
	var rows, cols, bits, signed int
	for _, x := range []struct {
		t dicom.Tag
		p *int
	}{{tags.Rows, &rows}, {tags.Columns, &cols}, {tags.BitsAllocated, &bits}, {tags.PixelRepresentation, &signed}} {
		if *x.p, err = u16(x.t); err != nil {
			return nil, fmt.Errorf("viewertest: CTSeries: %s: %w", src, err)
		}
	}
	if bits != 16 || signed != 1 || ds.Text(tags.Modality) != "CT" {
		return nil, fmt.Errorf("viewertest: CTSeries: %s: want a CT image with signed 16-bit pixels", src)
	}
	pe := ds.Get(tags.PixelData)
	if pe == nil {
		return nil, fmt.Errorf("viewertest: CTSeries: %s: no pixel data", src)
	}
	pixels, err := pe.Value()
	if err != nil || len(pixels) < rows*cols*2 {
		return nil, fmt.Errorf("viewertest: CTSeries: %s: pixel data: %d bytes for %dx%d (%v)", src, len(pixels), cols, rows, err)
	}
	slope, intercept := 1.0, 0.0
	if s := ds.Text(tags.RescaleSlope); s != "" {
		if slope, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil || slope == 0 {
			return nil, fmt.Errorf("viewertest: CTSeries: %s: rescale slope %q", src, s)
		}
	}
	if s := ds.Text(tags.RescaleIntercept); s != "" {
		if intercept, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return nil, fmt.Errorf("viewertest: CTSeries: %s: rescale intercept %q", src, s)
		}
	}
	ipp, err := floats(ds.Text(tags.ImagePositionPatient), 3)
	if err != nil {
		return nil, fmt.Errorf("viewertest: CTSeries: %s: image position: %w", src, err)
	}
	iop, err := floats(ds.Text(tags.ImageOrientationPatient), 6)
	if err != nil {
		return nil, fmt.Errorf("viewertest: CTSeries: %s: image orientation: %w", src, err)
	}
	normal := [3]float64{
		iop[1]*iop[5] - iop[2]*iop[4], iop[2]*iop[3] - iop[0]*iop[5], iop[0]*iop[4] - iop[1]*iop[3],
	}
	const spacing = 2.5
	s := &Series{Study: uid(seed, "study"), Series: uid(seed, "series")}
	set := func(t dicom.Tag, vr dicom.VR, v string) {
		if err == nil {
			err = ds.Set(t, vr, dicom.PadText(vr, v))
		}
	}
	set(tags.StudyInstanceUID, dicom.UI, s.Study)
	set(tags.SeriesInstanceUID, dicom.UI, s.Series)
	set(tags.FrameOfReferenceUID, dicom.UI, uid(seed, "frame of reference"))
	set(tags.SeriesDescription, dicom.LO, "CT_small x"+strconv.Itoa(n)+" with a synthetic lesion")
	set(tags.SeriesNumber, dicom.IS, "901")
	set(tags.SliceThickness, dicom.DS, "2.5")
	// Lesion: a sphere of radius R mm centred in the middle slice, placed in the image's soft tissue.
	const R, lesionHU, tissueHU = 12.0, 300.0, -300.0
	cx, cy := float64(cols)*0.72, float64(rows)*0.66
	px := 0.661468
	if sp, perr := floats(ds.Text(tags.PixelSpacing), 2); perr == nil && sp[0] > 0 {
		px = sp[0]
	}
	mid := float64(n-1) / 2
	// Shuffled upload order: a fixed permutation (stride coprime with n).
	stride := 7
	for gcd(stride, n) != 1 {
		stride++
	}
	for i := 0; i < n; i++ {
		k := (i * stride) % n
		num := k + 1
		dz := (float64(k) - mid) * spacing
		pos := [3]float64{ipp[0] + dz*normal[0], ipp[1] + dz*normal[1], ipp[2] + dz*normal[2]}
		sop := uid(seed, "instance "+strconv.Itoa(num))
		set(tags.SOPInstanceUID, dicom.UI, sop)
		set(tags.InstanceNumber, dicom.IS, strconv.Itoa(num))
		set(tags.ImagePositionPatient, dicom.DS, ds3(pos))
		set(tags.SliceLocation, dicom.DS, strconv.FormatFloat(ipp[2]+dz, 'f', 3, 64))
		px2 := make([]byte, rows*cols*2)
		copy(px2, pixels)
		if r2 := R*R - dz*dz; r2 > 0 {
			r := math.Sqrt(r2) / px
			for y := 0; y < rows; y++ {
				for x := 0; x < cols; x++ {
					if (float64(x)-cx)*(float64(x)-cx)+(float64(y)-cy)*(float64(y)-cy) > r*r {
						continue
					}
					o := 2 * (y*cols + x)
					v := int16(binary.LittleEndian.Uint16(px2[o:]))
					if float64(v)*slope+intercept < tissueHU {
						continue
					}
					nv := math.Min(float64(v)+lesionHU/slope, math.MaxInt16)
					binary.LittleEndian.PutUint16(px2[o:], uint16(int16(nv)))
				}
			}
		}
		if err == nil {
			err = ds.Set(tags.PixelData, pe.VR, px2)
		}
		if err != nil {
			return nil, fmt.Errorf("viewertest: CTSeries: slice %d: %w", num, err)
		}
		out, err := dicom.NewFile(ds, f.TS, ds.Text(tags.SOPClassUID), sop, "")
		if err != nil {
			return nil, fmt.Errorf("viewertest: CTSeries: slice %d: %w", num, err)
		}
		var b bytes.Buffer
		if _, err := out.WriteTo(&b); err != nil {
			return nil, fmt.Errorf("viewertest: CTSeries: writing slice %d: %w", num, err)
		}
		s.Files = append(s.Files, b.Bytes())
		s.Numbers = append(s.Numbers, num)
	}
	return s, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func floats(s string, n int) ([]float64, error) {
	parts := strings.Split(s, `\`)
	if len(parts) != n {
		return nil, fmt.Errorf("%q: want %d values", s, n)
	}
	out := make([]float64, n)
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out[i] = v
	}
	return out, nil
}

func ds3(v [3]float64) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	return f(v[0]) + `\` + f(v[1]) + `\` + f(v[2])
}
