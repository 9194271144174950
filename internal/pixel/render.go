package pixel

import (
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// Window is a VOI window (PS3.3 C.11.2.1.2): its centre and width, in the units of the
// modality LUT's output (e.g. Hounsfield units).
type Window struct {
	Center, Width float64
}

// VOIFunction is a VOI LUT Function (0028,1056).
type VOIFunction string

// The VOI LUT functions of PS3.3 C.11.2.1.3.
const (
	Linear      VOIFunction = "LINEAR"
	LinearExact VOIFunction = "LINEAR_EXACT"
	Sigmoid     VOIFunction = "SIGMOID"
)

// RenderOptions say how to render a frame. The zero value renders at the frame's size
// with the file's window.
type RenderOptions struct {
	// Window is the VOI window; nil means the file's first Window Center/Width, or, if
	// it has none (or an unusable one), the range of the frame's values.
	Window *Window
	// Function is the VOI LUT function; "" means the file's VOI LUT Function, else LINEAR.
	Function VOIFunction
	// Width and Height, when not zero, are a viewport the image is scaled to fit (up or
	// down), its aspect ratio kept; one of them alone bounds that dimension. A result
	// larger than MaxViewport on a side is an error.
	Width, Height int
}

// MaxViewport is the largest width or height Render scales an image to.
const MaxViewport = 8192

// Modality holds the modality LUT of a data set: output = stored*Slope + Intercept.
type Modality struct {
	Slope, Intercept float64
}

// ReadModality reads Rescale Slope and Intercept (1 and 0 when absent or unusable).
func ReadModality(ds *dicom.Dataset) Modality {
	m := Modality{Slope: 1}
	if v := readDS(ds, tags.RescaleSlope); len(v) > 0 && v[0] != 0 {
		m.Slope = v[0]
	}
	if v := readDS(ds, tags.RescaleIntercept); len(v) > 0 {
		m.Intercept = v[0]
	}
	return m
}

// ReadWindow returns the first Window Center/Width of ds, and false if there is none or
// its width is not positive.
func ReadWindow(ds *dicom.Dataset) (Window, bool) {
	c, w := readDS(ds, tags.WindowCenter), readDS(ds, tags.WindowWidth)
	if len(c) == 0 || len(w) == 0 || w[0] <= 0 {
		return Window{}, false
	}
	return Window{Center: c[0], Width: w[0]}, true
}

// ReadVOIFunction returns the first VOI LUT Function of ds, LINEAR when absent or unknown.
func ReadVOIFunction(ds *dicom.Dataset) VOIFunction {
	s := strings.ToUpper(ds.Text(tags.VOILUTFunction))
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		s = s[:i]
	}
	switch f := VOIFunction(strings.TrimSpace(s)); f {
	case LinearExact, Sigmoid:
		return f
	}
	return Linear
}

// Render decodes frame i and renders it as an 8-bit image: *image.Gray for grey images,
// *image.RGBA (opaque) for colour ones. Grey values go through the modality LUT, the VOI
// window and function, and are inverted for MONOCHROME1; colour values are scaled to 8
// bits (windows do not apply to colour).
func (fr *Frames) Render(i int, opt RenderOptions) (image.Image, error) {
	s, err := fr.Decode(i)
	if err != nil {
		return nil, err
	}
	if opt.Width < 0 || opt.Height < 0 {
		return nil, fmt.Errorf("pixel: viewport %d×%d", opt.Width, opt.Height)
	}
	if opt.Window == nil {
		if w, ok := ReadWindow(fr.ds); ok {
			opt.Window = &w
		}
	}
	if opt.Function == "" {
		opt.Function = ReadVOIFunction(fr.ds)
	}
	var w, h int
	if opt.Width > 0 || opt.Height > 0 {
		w, h = FitSize(s.Width, s.Height, opt.Width, opt.Height, true)
		if w > MaxViewport || h > MaxViewport {
			return nil, fmt.Errorf("pixel: viewport %d×%d scales the %d×%d image to %d×%d, more than %d on a side",
				opt.Width, opt.Height, s.Width, s.Height, w, h, MaxViewport)
		}
	}
	img := RenderSamples(s, ReadModality(fr.ds), opt)
	if w > 0 && (w != s.Width || h != s.Height) {
		img = Resize(img, w, h)
	}
	return img, nil
}

// Thumbnail renders frame i with the file's window (see Render) and scales it down,
// keeping its aspect ratio, to fit a max×max square; smaller images are not enlarged.
func (fr *Frames) Thumbnail(i, max int) (image.Image, error) {
	if max <= 0 {
		return nil, fmt.Errorf("pixel: thumbnail size %d", max)
	}
	img, err := fr.Render(i, RenderOptions{})
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := FitSize(b.Dx(), b.Dy(), max, max, false)
	if w == b.Dx() && h == b.Dy() {
		return img, nil
	}
	return Resize(img, w, h), nil
}

// FitSize returns the size of a w×h image scaled, aspect ratio kept, to fit maxW×maxH (a
// zero bound does not constrain), at least 1×1. Unless enlarge is true, an image already
// within the bounds keeps its size.
func FitSize(w, h, maxW, maxH int, enlarge bool) (int, int) {
	if w <= 0 || h <= 0 {
		return 0, 0
	}
	scale := math.Inf(1)
	if maxW > 0 {
		scale = float64(maxW) / float64(w)
	}
	if maxH > 0 {
		scale = math.Min(scale, float64(maxH)/float64(h))
	}
	if math.IsInf(scale, 1) || (!enlarge && scale >= 1) {
		return w, h
	}
	nw, nh := int(math.Round(float64(w)*scale)), int(math.Round(float64(h)*scale))
	if maxW > 0 && nw > maxW {
		nw = maxW
	}
	if maxH > 0 && nh > maxH {
		nh = maxH
	}
	return max(nw, 1), max(nh, 1)
}

// RenderSamples renders decoded samples as an 8-bit image (see Frames.Render) with the
// modality LUT m; opt.Width and opt.Height are ignored.
func RenderSamples(s *Samples, m Modality, opt RenderOptions) image.Image {
	if s.Channels == 3 {
		return renderColour(s)
	}
	img := image.NewGray(image.Rect(0, 0, s.Width, s.Height))
	if len(s.Data) == 0 {
		return img
	}
	lo, hi := s.Data[0], s.Data[0]
	for _, v := range s.Data {
		lo, hi = min(lo, v), max(hi, v)
	}
	f := opt.Function
	if f == "" {
		f = Linear
	}
	var voi func(x float64) float64
	if opt.Window != nil && opt.Window.Width > 0 && !(f == Linear && opt.Window.Width < 1) {
		voi = voiFunc(*opt.Window, f)
	} else {
		// The frame's range, after the modality LUT.
		a, b := float64(lo)*m.Slope+m.Intercept, float64(hi)*m.Slope+m.Intercept
		if a > b {
			a, b = b, a
		}
		voi = func(x float64) float64 {
			if b == a {
				return 0
			}
			return (x - a) / (b - a) * 255
		}
	}
	invert := s.Photometric == "MONOCHROME1"
	out := func(v int64) uint8 {
		y := voi(float64(v)*m.Slope + m.Intercept)
		var g uint8
		switch {
		case y <= 0 || math.IsNaN(y):
			g = 0
		case y >= 255:
			g = 255
		default:
			g = uint8(y + 0.5)
		}
		if invert {
			g = 255 - g
		}
		return g
	}
	if hi-lo < 1<<20 {
		// A lookup table over the frame's range: one evaluation per distinct value.
		lut := make([]uint8, hi-lo+1)
		for k := range lut {
			lut[k] = out(lo + int64(k))
		}
		for k, v := range s.Data {
			img.Pix[k] = lut[v-lo]
		}
		return img
	}
	for k, v := range s.Data {
		img.Pix[k] = out(v)
	}
	return img
}

// voiFunc returns the VOI function of PS3.3 C.11.2.1.2 for the window, with output
// range 0..255.
func voiFunc(w Window, f VOIFunction) func(float64) float64 {
	c, wd := w.Center, w.Width
	const ymax = 255.0
	switch f {
	case LinearExact:
		return func(x float64) float64 {
			switch {
			case x <= c-wd/2:
				return 0
			case x > c+wd/2:
				return ymax
			}
			return ((x-c)/wd + 0.5) * ymax
		}
	case Sigmoid:
		return func(x float64) float64 {
			return ymax / (1 + math.Exp(-4*(x-c)/wd))
		}
	}
	return func(x float64) float64 {
		switch {
		case x <= c-0.5-(wd-1)/2:
			return 0
		case x > c-0.5+(wd-1)/2:
			return ymax
		}
		return ((x-(c-0.5))/(wd-1) + 0.5) * ymax
	}
}

// renderColour scales RGB samples to an opaque 8-bit RGBA image.
func renderColour(s *Samples) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, s.Width, s.Height))
	maxv := int64(1)<<uint(s.Bits) - 1
	n := s.Width * s.Height
	for p := 0; p < n; p++ {
		d := s.Data[3*p : 3*p+3]
		o := img.Pix[4*p : 4*p+4]
		for c := 0; c < 3; c++ {
			v := d[c]
			if v < 0 {
				v = 0
			} else if v > maxv {
				v = maxv
			}
			if s.Bits != 8 {
				v = (v*255 + maxv/2) / maxv
			}
			o[c] = uint8(v)
		}
		o[3] = 255
	}
	return img
}
