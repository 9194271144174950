package deid

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cancerimage/cie/internal/deid/profile"
)

// Options choose the profile options of PS3.15 E.3 and the lists a node can
// extend. The zero value is the basic profile with no options.
type Options struct {
	// Options are the chosen profile options (package profile).
	Options []profile.Option
	// SafePrivate lists the private elements kept under Retain Safe Private,
	// in addition to DefaultSafePrivate.
	SafePrivate []SafePrivate
}

// SafePrivate names one private data element considered safe: the private
// creator of its block, its group and its element number within the block
// (the low byte of the element, xx in (gggg,00xx) style).
type SafePrivate struct {
	Creator string
	Group   uint16
	Element uint8
}

// DefaultSafePrivate is the built-in safe-private list. It is empty: no
// vendor's private element is kept without a node saying so in its
// configuration.
var DefaultSafePrivate []SafePrivate

// ParseOptions reads option names (profile.Option String names, case
// insensitive, or the short forms of the cie deid flags) into Options.
func ParseOptions(names []string) (Options, error) {
	var o Options
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		opt, err := parseOptionName(n)
		if err != nil {
			return Options{}, err
		}
		if !slices.Contains(o.Options, opt) {
			o.Options = append(o.Options, opt)
		}
	}
	return o, o.Check()
}

var shortNames = map[string]profile.Option{
	"retain-safe-private":            profile.RetainSafePrivate,
	"retain-uids":                    profile.RetainUIDs,
	"retain-device-identity":         profile.RetainDeviceIdentity,
	"retain-institution":             profile.RetainInstitutionIdentity,
	"retain-institution-identity":    profile.RetainInstitutionIdentity,
	"retain-patient-characteristics": profile.RetainPatientCharacteristics,
	"full-dates":                     profile.RetainLongFullDates,
	"modified-dates":                 profile.RetainLongModifiedDates,
	"clean-descriptors":              profile.CleanDescriptors,
	"clean-structured-content":       profile.CleanStructuredContent,
	"clean-graphics":                 profile.CleanGraphics,
}

func parseOptionName(n string) (profile.Option, error) {
	if o, ok := shortNames[strings.ToLower(n)]; ok {
		return o, nil
	}
	for _, o := range profile.AllOptions() {
		if strings.EqualFold(o.String(), n) {
			return o, nil
		}
	}
	var names []string
	for k := range shortNames {
		names = append(names, k)
	}
	slices.Sort(names)
	return 0, fmt.Errorf("deid: unknown option %q (one of %s)", n, strings.Join(names, ", "))
}

// Check reports options that cannot be used: unknown ones, both date
// options, and the pixel options this version cannot carry out.
func (o Options) Check() error {
	if err := profile.CheckOptions(o.Options...); err != nil {
		return fmt.Errorf("deid: %w", err)
	}
	for _, opt := range o.Options {
		if opt == profile.CleanPixelData || opt == profile.CleanRecognizableVisualFeatures {
			return fmt.Errorf("deid: option %v acts on pixel data and is not available: such images are quarantined instead", opt)
		}
	}
	for _, sp := range o.SafePrivate {
		if sp.Group%2 == 0 || sp.Creator == "" {
			return fmt.Errorf("deid: safe private element %q (%04X,xx%02X): needs an odd group and a creator", sp.Creator, sp.Group, sp.Element)
		}
	}
	return nil
}

// Has reports whether opt is chosen.
func (o Options) Has(opt profile.Option) bool { return slices.Contains(o.Options, opt) }

// Codes returns the CID 7050 codes describing the de-identification: the
// basic profile and each chosen option.
func (o Options) Codes() []profile.Code {
	out := []profile.Code{profile.BasicProfileCode}
	for _, opt := range profile.AllOptions() { // in a stable order
		if o.Has(opt) {
			if c, ok := opt.Code(); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

// Method describes the de-identification in words, for De-identification
// Method (0012,0063).
func (o Options) Method() string {
	s := "cie deid: PS3.15 E.1-1 Basic Profile"
	for _, opt := range profile.AllOptions() {
		if o.Has(opt) {
			s += ", " + opt.String()
		}
	}
	return s
}
