package dicom

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every *ParseError matches ErrMalformed with errors.Is, and also the
// more specific sentinel it wraps, if any.
var (
	// ErrMalformed is matched by every error about the content of the input.
	ErrMalformed = errors.New("dicom: malformed input")
	// ErrTruncated means a length runs past the end of its enclosing item, sequence or file.
	ErrTruncated = errors.New("dicom: truncated")
	// ErrTooDeep means sequences are nested deeper than ParseOptions.MaxDepth.
	ErrTooDeep = errors.New("dicom: sequences nested too deeply")
	// ErrTooLarge means inflated data exceeds ParseOptions.MaxInflated.
	ErrTooLarge = errors.New("dicom: inflated data too large")
	// ErrNotDICOM means the input is neither a Part 10 file nor a recognisable data set.
	ErrNotDICOM = errors.New("dicom: not DICOM")
	// ErrNoValue is returned by Element.Value for sequences and encapsulated values,
	// which have items or fragments instead of one value.
	ErrNoValue = errors.New("dicom: element has items or fragments, not a value")
	// ErrInvalidValue is returned by Dataset.Set for a value that cannot be encoded.
	ErrInvalidValue = errors.New("dicom: invalid value")
)

// ParseError reports malformed input: where parsing stopped and why.
type ParseError struct {
	// Offset is the byte offset of the element (or item) header where the problem was
	// found: in the file, or in the inflated data set when Inflated is true.
	Offset int64
	// Tag is the tag of the element concerned (0 when none was read yet).
	Tag Tag
	// Inflated is true when Offset counts from the start of the inflated data set of a
	// deflated file.
	Inflated bool
	// Msg says what is wrong.
	Msg string
	// Err is a more specific sentinel (ErrTruncated, ErrTooDeep, ...), or nil.
	Err error
}

// Error formats the error as "offset 1234, tag (7FE0,0010): msg" ("inflated offset" for
// offsets in the inflated data set of a deflated file).
func (e *ParseError) Error() string {
	where := "offset"
	if e.Inflated {
		where = "inflated offset"
	}
	return fmt.Sprintf("%s %d, tag %s: %s", where, e.Offset, e.Tag, e.Msg)
}

// Unwrap returns the specific sentinel, if any.
func (e *ParseError) Unwrap() error { return e.Err }

// Is reports whether target is ErrMalformed.
func (e *ParseError) Is(target error) bool { return target == ErrMalformed }
