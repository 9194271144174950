package synth

import (
	"errors"
	"fmt"
)

// ErrOptions is wrapped by the errors New returns for options it cannot use.
var ErrOptions = errors.New("synth: invalid options")

// Options configure a Generator. The zero value of a field means its default, except
// SEGFraction (zero: no segmentations).
type Options struct {
	// Seed makes the output: the same seed and options give byte-identical files.
	Seed uint64
	// Node is the node's name. Its country gives patient names, hospitals, addresses
	// and identifiers: "oslo" Norway, "valencia" Spain, "linkoping" Sweden, any other
	// name a neutral set. Patients of different nodes differ.
	Node string
	// Patients is the number of patients; 0 means a number from 50 to 200 chosen by
	// the seed and node.
	Patients int
	// Rows and Columns are the size of every image (default 128×128, at most 1024).
	Rows, Columns int
	// MinSlices and MaxSlices bound the number of instances of an image series
	// (default 24 and 40).
	MinSlices, MaxSlices int
	// MaxSeriesPerStudy caps the series of a study, segmentations included (0: no cap).
	MaxSeriesPerStudy int
	// SEGFraction is the probability, from 0 to 1, that a study whose CT or MR series
	// shows the lesion gets a DICOM Segmentation of it.
	SEGFraction float64
	// SourceAE is the Source Application Entity Title written into the file meta
	// group (default the hospital's station AE title).
	SourceAE string
}

// DemoOptions returns the options of `cie demo` for a node: 50 to 200 patients,
// 128×128 images, 24 to 40 slices per series, a segmentation in 40 % of the studies
// that can have one.
func DemoOptions(node string, seed uint64) Options {
	return Options{Seed: seed, Node: node, SEGFraction: 0.4}
}

// ScaleOptions returns options for scale tests of the index: the given number of
// patients (about 2.2 studies and 2.3 series per study each, so 5,000 patients give
// about 11,000 studies and 1,090,000 instances; Summary tells exactly), tiny 8×8
// images, 1 to 3 series per study, 30 to 56 slices per series, full headers, a
// segmentation in 10 % of the studies that can have one.
func ScaleOptions(node string, seed uint64, patients int) Options {
	return Options{
		Seed: seed, Node: node, Patients: patients,
		Rows: 8, Columns: 8, MinSlices: 30, MaxSlices: 56,
		MaxSeriesPerStudy: 3, SEGFraction: 0.1,
	}
}

// normalise fills defaults and checks the options.
func (o Options) normalise() (Options, error) {
	if o.Rows == 0 {
		o.Rows = 128
	}
	if o.Columns == 0 {
		o.Columns = 128
	}
	if o.MinSlices == 0 {
		o.MinSlices = 24
	}
	if o.MaxSlices == 0 {
		o.MaxSlices = max(40, o.MinSlices)
	}
	switch {
	case o.Patients < 0:
		return o, fmt.Errorf("%w: Patients %d is negative", ErrOptions, o.Patients)
	case o.Rows < 1 || o.Rows > 1024 || o.Columns < 1 || o.Columns > 1024:
		return o, fmt.Errorf("%w: image size %d×%d is not within 1×1 and 1024×1024", ErrOptions, o.Rows, o.Columns)
	case o.MinSlices < 1 || o.MaxSlices < o.MinSlices || o.MaxSlices > 2000:
		return o, fmt.Errorf("%w: slices %d to %d are not within 1 to 2000", ErrOptions, o.MinSlices, o.MaxSlices)
	case o.MaxSeriesPerStudy < 0:
		return o, fmt.Errorf("%w: MaxSeriesPerStudy %d is negative", ErrOptions, o.MaxSeriesPerStudy)
	case !(o.SEGFraction >= 0 && o.SEGFraction <= 1):
		return o, fmt.Errorf("%w: SEGFraction %v is not within 0 and 1", ErrOptions, o.SEGFraction)
	case len(o.SourceAE) > 16:
		return o, fmt.Errorf("%w: SourceAE %q is longer than 16 characters", ErrOptions, o.SourceAE)
	}
	return o, nil
}
