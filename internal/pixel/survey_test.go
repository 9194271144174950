package pixel

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/testenv"
)

// knownBad are corpus files whose image attributes are wrong on purpose (or that carry
// pixel data without an Image Pixel module): Open must say they are malformed.
var knownBad = map[string]bool{
	"badVR.dcm":                true, // Number of Frames "1A"
	"meta_missing_tsyntax.dcm": true, // pixel data without Rows
	"nested_priv_SQ.dcm":       true, // pixel data without Rows
}

// TestCorpusSurvey opens, decodes and renders every frame of every image in the public
// corpora: each either renders, or fails with ErrUnsupported for a syntax this package
// does not decode. A syntax it claims to decode must decode.
func TestCorpusSurvey(t *testing.T) {
	n := 0
	for _, cf := range testenv.Corpus(t) {
		f, c, err := dicom.ParseFile(cf.Path, dicom.ParseOptions{})
		if err != nil {
			continue // not DICOM, or the codec's business
		}
		func() {
			defer c.Close()
			fr, err := Open(f)
			if errors.Is(err, ErrNoPixelData) {
				return
			}
			if knownBad[filepath.Base(cf.Path)] {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%s: Open = %v, want ErrMalformed", cf.Path, err)
				}
				return
			}
			if err != nil {
				if errors.Is(err, ErrUnsupported) {
					t.Logf("%s: %v", cf.Path, err)
					return
				}
				t.Errorf("%s: Open: %v", cf.Path, err)
				return
			}
			for i := 0; i < fr.Count(); i++ {
				img, err := fr.Render(i, RenderOptions{})
				switch {
				case err == nil:
					n++
					if i == 0 {
						t.Logf("%s: %s %s %d frame(s): %T %v", cf.Path, f.TS.UID, fr.Info().Photometric, fr.Count(), img, img.Bounds())
					}
				case errors.Is(err, ErrUnsupported) && (!Decodable(f.TS.UID) || f.TS.UID == JPEGExtendedUID && fr.Info().BitsStored > 8):
					if i == 0 {
						t.Logf("%s: %v", cf.Path, err)
					}
				default:
					t.Errorf("%s frame %d: %v", cf.Path, i, err)
				}
			}
		}()
	}
	if n == 0 {
		t.Fatal("no frame rendered")
	}
}
