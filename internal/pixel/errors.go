package pixel

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnsupported means the pixel data is well formed but cannot be decoded by this
	// package (a transfer syntax, photometric interpretation or bit depth it does not
	// handle). The error message names the transfer syntax UID and its name.
	ErrUnsupported = errors.New("pixel: unsupported pixel data")
	// ErrMalformed means the pixel data or the attributes describing it are inconsistent
	// or corrupt.
	ErrMalformed = errors.New("pixel: malformed pixel data")
	// ErrNoPixelData means the data set has no Pixel Data (7FE0,0010).
	ErrNoPixelData = errors.New("pixel: no pixel data")
	// ErrFrameRange means a frame number outside 0..Count()-1 was asked for.
	ErrFrameRange = errors.New("pixel: frame out of range")
)

// malformed returns an error matching ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// unsupported returns an error matching ErrUnsupported that names the transfer syntax.
func unsupported(uid, format string, args ...any) error {
	return fmt.Errorf("%w: %s (transfer syntax %s, %s)", ErrUnsupported, fmt.Sprintf(format, args...), uid, TransferSyntaxName(uid))
}
