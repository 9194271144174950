package pixel

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"testing"
)

// TestVOIFunctions checks the VOI functions against PS3.3 C.11.2.1.2 and C.11.2.1.3 at
// their edges and centres.
func TestVOIFunctions(t *testing.T) {
	for _, c := range []struct {
		f    VOIFunction
		w    Window
		x, y float64
	}{
		// LINEAR, c=100 w=201: below c-0.5-(w-1)/2 = -0.5 → 0, above 199.5 → 255.
		{Linear, Window{100, 201}, -0.5, 0},
		{Linear, Window{100, 201}, 200, 255},
		{Linear, Window{100, 201}, 99.5, 127.5},
		{Linear, Window{100, 201}, 199.5, 255},
		// LINEAR_EXACT, c=100 w=200: edges at 0 and 200, linear in between.
		{LinearExact, Window{100, 200}, 0, 0},
		{LinearExact, Window{100, 200}, 50, 63.75},
		{LinearExact, Window{100, 200}, 100, 127.5},
		{LinearExact, Window{100, 200}, 200, 255},
		{LinearExact, Window{100, 200}, 201, 255},
		// SIGMOID: half at the centre, 255/(1+e^-4) at c+w.
		{Sigmoid, Window{100, 200}, 100, 127.5},
		{Sigmoid, Window{100, 200}, 300, 255 / (1 + math.Exp(-4))},
		{Sigmoid, Window{100, 200}, -100, 255 / (1 + math.Exp(4))},
	} {
		if got := voiFunc(c.w, c.f)(c.x); math.Abs(got-c.y) > 1e-9 {
			t.Errorf("%s %+v at %g = %g, want %g", c.f, c.w, c.x, got, c.y)
		}
	}
}

// TestRenderSamples renders synthetic samples: modality LUT, window, default range,
// MONOCHROME1 inversion, colour scaling.
func TestRenderSamples(t *testing.T) {
	s := &Samples{Width: 4, Height: 1, Channels: 1, Data: []int64{0, 100, 200, 300}, Bits: 16, Photometric: "MONOCHROME2"}
	// Slope 2, intercept -100: 0→-100, 100→100, 200→300, 300→500; window 200/400
	// (LINEAR_EXACT): 0..400 → 0..255.
	img := RenderSamples(s, Modality{Slope: 2, Intercept: -100}, RenderOptions{Window: &Window{200, 400}, Function: LinearExact}).(*image.Gray)
	if want := []uint8{0, 64, 191, 255}; !bytes.Equal(img.Pix, want) {
		t.Errorf("windowed: %v, want %v", img.Pix, want)
	}
	// No window: the frame's range.
	img = RenderSamples(s, Modality{Slope: 1}, RenderOptions{}).(*image.Gray)
	if want := []uint8{0, 85, 170, 255}; !bytes.Equal(img.Pix, want) {
		t.Errorf("range: %v, want %v", img.Pix, want)
	}
	s.Photometric = "MONOCHROME1"
	img = RenderSamples(s, Modality{Slope: 1}, RenderOptions{}).(*image.Gray)
	if want := []uint8{255, 170, 85, 0}; !bytes.Equal(img.Pix, want) {
		t.Errorf("MONOCHROME1: %v, want %v", img.Pix, want)
	}
	// A window of width 0.5 cannot be LINEAR: the range is used.
	s.Photometric = "MONOCHROME2"
	img = RenderSamples(s, Modality{Slope: 1}, RenderOptions{Window: &Window{0, 0.5}}).(*image.Gray)
	if want := []uint8{0, 85, 170, 255}; !bytes.Equal(img.Pix, want) {
		t.Errorf("unusable window: %v, want %v", img.Pix, want)
	}
	// Wide range: no lookup table.
	w := &Samples{Width: 2, Height: 1, Channels: 1, Data: []int64{-1 << 30, 1 << 30}, Bits: 32, Signed: true, Photometric: "MONOCHROME2"}
	img = RenderSamples(w, Modality{Slope: 1}, RenderOptions{}).(*image.Gray)
	if want := []uint8{0, 255}; !bytes.Equal(img.Pix, want) {
		t.Errorf("wide range: %v, want %v", img.Pix, want)
	}
	c := &Samples{Width: 1, Height: 1, Channels: 3, Data: []int64{65535, 32768, 0}, Bits: 16, Photometric: "RGB"}
	rgba := RenderSamples(c, Modality{Slope: 1}, RenderOptions{}).(*image.RGBA)
	if want := []uint8{255, 128, 0, 255}; !bytes.Equal(rgba.Pix, want) {
		t.Errorf("16-bit colour: %v, want %v", rgba.Pix, want)
	}
}

// TestRenderCorpus renders real files with a viewport and as thumbnails.
func TestRenderCorpus(t *testing.T) {
	fr := openFrames(t, "pydicom", "CT_small.dcm")
	img, err := fr.Render(0, RenderOptions{Width: 64, Height: 32})
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 32 || img.Bounds().Dy() != 32 {
		t.Errorf("viewport 64×32 of 128×128: %v", img.Bounds())
	}
	img, err = fr.Render(0, RenderOptions{Width: 256})
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 256 || img.Bounds().Dy() != 256 {
		t.Errorf("viewport 256×0 of 128×128: %v", img.Bounds())
	}
	pal := openFrames(t, "octave-dicom", "US-PAL-8-10x-echo.dcm")
	th, err := pal.Thumbnail(9, 100)
	if err != nil {
		t.Fatal(err)
	}
	if th.Bounds().Dx() != 100 || th.Bounds().Dy() != 72 {
		t.Errorf("thumbnail of 600×430 in 100: %v", th.Bounds())
	}
	// The thumbnail is the area average of the full rendering: compare block means.
	full, _ := pal.Render(9, RenderOptions{})
	small := Resize(full, 100, 72)
	if d, _ := compareImages(t, th, small); d != 0 {
		t.Errorf("thumbnail differs from Resize of the rendering by %d", d)
	}
	tiny := openFrames(t, "pydicom", "SC_rgb_small_odd.dcm")
	th, err = tiny.Thumbnail(0, 100)
	if err != nil || th.Bounds().Dx() != 3 {
		t.Errorf("thumbnail of 3×3 in 100: %v %v (must not enlarge)", th.Bounds(), err)
	}
	if _, err := fr.Render(1, RenderOptions{}); err == nil {
		t.Error("Render(1) of a single frame: no error")
	}
}

// TestFitSize checks the scaling arithmetic.
func TestFitSize(t *testing.T) {
	for _, c := range []struct {
		w, h, mw, mh, ww, wh int
		enlarge              bool
	}{
		{512, 512, 128, 128, 128, 128, false},
		{600, 430, 100, 100, 100, 72, false},
		{430, 600, 100, 100, 72, 100, false},
		{50, 40, 100, 100, 50, 40, false},
		{50, 40, 100, 100, 100, 80, true},
		{50, 40, 0, 20, 25, 20, true},
		{10000, 1, 100, 100, 100, 1, false},
		{10, 10, 0, 0, 10, 10, true},
	} {
		w, h := FitSize(c.w, c.h, c.mw, c.mh, c.enlarge)
		if w != c.ww || h != c.wh {
			t.Errorf("FitSize(%d, %d, %d, %d, %v) = %d×%d, want %d×%d", c.w, c.h, c.mw, c.mh, c.enlarge, w, h, c.ww, c.wh)
		}
	}
}

// TestResize checks area averaging: exact means for whole blocks, weighted means for
// fractional ones, constants kept, colour handled.
func TestResize(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 4, 2))
	copy(g.Pix, []uint8{0, 10, 100, 200, 20, 30, 0, 0})
	out := Resize(g, 2, 1).(*image.Gray)
	if want := []uint8{15, 75}; !bytes.Equal(out.Pix, want) {
		t.Errorf("4×2→2×1: %v, want %v", out.Pix, want)
	}
	// 3→2: output 0 covers pixel 0 and half of pixel 1: (0 + 0.5*90)/1.5 = 30.
	g = image.NewGray(image.Rect(0, 0, 3, 1))
	copy(g.Pix, []uint8{0, 90, 180})
	out = Resize(g, 2, 1).(*image.Gray)
	if want := []uint8{30, 150}; !bytes.Equal(out.Pix, want) {
		t.Errorf("3→2: %v, want %v", out.Pix, want)
	}
	// Constant colour stays constant, up and down, from any image type.
	n := image.NewNRGBA(image.Rect(0, 0, 7, 5))
	for i := 0; i < len(n.Pix); i += 4 {
		copy(n.Pix[i:], []uint8{10, 200, 77, 255})
	}
	for _, sz := range [][2]int{{3, 2}, {14, 11}, {1, 1}} {
		r := Resize(n, sz[0], sz[1]).(*image.RGBA)
		for i := 0; i < len(r.Pix); i += 4 {
			if !bytes.Equal(r.Pix[i:i+4], []uint8{10, 200, 77, 255}) {
				t.Fatalf("constant image resized to %v: pixel %v", sz, r.Pix[i:i+4])
			}
		}
	}
}

// TestEncode round-trips PNG exactly and JPEG approximately.
func TestEncode(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, g, PNG, 0); err != nil {
		t.Fatal(err)
	}
	back, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := compareImages(t, g, back); d != 0 {
		t.Errorf("PNG round trip differs by %d", d)
	}
	buf.Reset()
	if err := Encode(&buf, g, JPEG, 95); err != nil {
		t.Fatal(err)
	}
	jb, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := compareImages(t, g, jb); d > 8 {
		t.Errorf("JPEG round trip differs by %d", d)
	}
	if err := Encode(&buf, g, JPEG, 101); err == nil {
		t.Error("quality 101 accepted")
	}
	for mt, want := range map[string]Format{"image/png": PNG, "IMAGE/JPEG; q=0.9": JPEG, "image/jpg": JPEG} {
		if f, ok := FormatFor(mt); !ok || f != want {
			t.Errorf("FormatFor(%q) = %v %v", mt, f, ok)
		}
	}
	if _, ok := FormatFor("image/gif"); ok {
		t.Error("image/gif accepted")
	}
	if JPEG.MediaType() != "image/jpeg" || PNG.MediaType() != "image/png" {
		t.Error("MediaType")
	}
}
