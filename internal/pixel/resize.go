package pixel

import (
	"image"
	"image/draw"
)

// Resize scales img to w×h by area averaging: each output pixel is the mean of the input
// area it covers, pixels cut by its edges weighted by the part covered. Scaling down,
// this is a box filter without aliasing; scaling up, it repeats pixels, blending only at
// their borders. The result is *image.Gray for a *image.Gray input and *image.RGBA
// otherwise.
func Resize(img image.Image, w, h int) image.Image {
	w, h = max(w, 1), max(h, 1)
	var pix []uint8
	var stride, ch int
	sb := img.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	var out image.Image
	var opix []uint8
	var ostride int
	switch m := img.(type) {
	case *image.Gray:
		pix, stride, ch = m.Pix[m.PixOffset(sb.Min.X, sb.Min.Y):], m.Stride, 1
		o := image.NewGray(image.Rect(0, 0, w, h))
		out, opix, ostride = o, o.Pix, o.Stride
	default:
		rgba, ok := img.(*image.RGBA)
		if !ok {
			rgba = image.NewRGBA(image.Rect(0, 0, sw, sh))
			draw.Draw(rgba, rgba.Rect, img, sb.Min, draw.Src)
			sb = rgba.Rect
		}
		pix, stride, ch = rgba.Pix[rgba.PixOffset(sb.Min.X, sb.Min.Y):], rgba.Stride, 4
		o := image.NewRGBA(image.Rect(0, 0, w, h))
		out, opix, ostride = o, o.Pix, o.Stride
	}
	if sw == 0 || sh == 0 {
		return out
	}
	xs, ys := areaWeights(sw, w), areaWeights(sh, h)
	// Horizontal pass: every input row to w output columns.
	tmp := make([]float32, sh*w*ch)
	for y := 0; y < sh; y++ {
		row := pix[y*stride:]
		t := tmp[y*w*ch:]
		for x, c := range xs {
			for k := 0; k < ch; k++ {
				var sum float32
				for j, wt := range c.w {
					sum += wt * float32(row[(c.first+j)*ch+k])
				}
				t[x*ch+k] = sum
			}
		}
	}
	// Vertical pass.
	acc := make([]float32, w*ch)
	for y, c := range ys {
		clear(acc)
		for j, wt := range c.w {
			t := tmp[(c.first+j)*w*ch : (c.first+j+1)*w*ch]
			for k, v := range t {
				acc[k] += wt * v
			}
		}
		o := opix[y*ostride : y*ostride+w*ch]
		for k, v := range acc {
			o[k] = uint8(min(max(v+0.5, 0), 255))
		}
	}
	return out
}

// contrib is the input pixels that make one output pixel: from first, with weights w
// summing to 1.
type contrib struct {
	first int
	w     []float32
}

// areaWeights returns, for each of dst output pixels, the weights of the src input
// pixels its area covers.
func areaWeights(src, dst int) []contrib {
	out := make([]contrib, dst)
	scale := float64(src) / float64(dst)
	for i := range out {
		x0, x1 := float64(i)*scale, float64(i+1)*scale
		first := int(x0)
		last := min(int(x1+0.999999), src) // exclusive
		if last <= first {
			last = first + 1
		}
		ws := make([]float32, 0, last-first)
		for j := first; j < last; j++ {
			lo, hi := max(float64(j), x0), min(float64(j+1), x1)
			ws = append(ws, float32((hi-lo)/scale))
		}
		out[i] = contrib{first: first, w: ws}
	}
	return out
}
