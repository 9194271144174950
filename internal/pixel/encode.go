package pixel

import (
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
)

// Format is an output image format.
type Format int

// The output formats.
const (
	PNG Format = iota
	JPEG
)

// DefaultJPEGQuality is the JPEG quality used when Encode is given 0.
const DefaultJPEGQuality = 90

// MediaType returns the format's media type: image/png or image/jpeg.
func (f Format) MediaType() string {
	if f == JPEG {
		return "image/jpeg"
	}
	return "image/png"
}

// FormatFor returns the format of a media type (image/png, image/jpeg or image/jpg,
// parameters and case ignored), and false for any other.
func FormatFor(mediaType string) (Format, bool) {
	mt, _, _ := strings.Cut(mediaType, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "image/png":
		return PNG, true
	case "image/jpeg", "image/jpg":
		return JPEG, true
	}
	return 0, false
}

// pngEncoder favours speed: rendered images are made on request.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed}

// Encode writes img as PNG or JPEG; quality (1..100) applies to JPEG, 0 meaning
// DefaultJPEGQuality.
func Encode(w io.Writer, img image.Image, f Format, quality int) error {
	switch f {
	case PNG:
		if err := pngEncoder.Encode(w, img); err != nil {
			return fmt.Errorf("pixel: encode PNG: %w", err)
		}
	case JPEG:
		if quality == 0 {
			quality = DefaultJPEGQuality
		}
		if quality < 1 || quality > 100 {
			return fmt.Errorf("pixel: JPEG quality %d is not in 1..100", quality)
		}
		if err := jpeg.Encode(w, img, &jpeg.Options{Quality: quality}); err != nil {
			return fmt.Errorf("pixel: encode JPEG: %w", err)
		}
	default:
		return fmt.Errorf("pixel: unknown format %d", f)
	}
	return nil
}
