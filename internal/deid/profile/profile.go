package profile

import (
	"fmt"
	"slices"
)

// Action is what the profile does to an attribute. The zero Action is not a
// valid action: Lookup never returns a row with it.
type Action uint8

// Actions of PS3.15 Table E.1-1.
const (
	// X removes the attribute.
	X Action = iota + 1
	// Z replaces the value with a zero length value, or a non-zero length
	// dummy value consistent with the VR.
	Z
	// D replaces the value with a non-zero length value, which may be a dummy
	// consistent with the VR.
	D
	// U replaces the value with a non-zero length UID, internally
	// consistent within a set of instances.
	U
	// K keeps the attribute (unchanged for non-sequence attributes; the
	// profile is applied recursively to the items of a sequence).
	K
	// C cleans the value: replaces it with values of similar meaning known
	// not to contain identifying information.
	C
	// XZ is X/Z: X unless Z is required to keep the IOD valid (Type 2).
	XZ
	// XD is X/D: X unless D is required to keep the IOD valid (Type 1).
	XD
	// ZD is Z/D: Z unless D is required to keep the IOD valid (Type 1).
	ZD
	// XZD is X/Z/D: X unless Z or D is required to keep the IOD valid
	// (Type 2 or Type 1).
	XZD
	// XZUStar is X/Z/U*: X unless Z, or replacement of the instance UIDs
	// the sequence contains (U), is required to keep the IOD valid (Type 2,
	// or Type 1 sequences containing UID references).
	XZUStar
)

var actionNames = [...]string{"", "X", "Z", "D", "U", "K", "C", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"}

// String returns the action as Table E.1-1 writes it, e.g. "X/Z/D".
func (a Action) String() string {
	if int(a) < len(actionNames) && a != 0 {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// ParseAction reads an action as Table E.1-1 writes it.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if i > 0 && n == s {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("profile: unknown action %q", s)
}

// Combined reports whether a is one of the combined actions (X/Z, X/D, Z/D,
// X/Z/D, X/Z/U*), which depend on the attribute's Type in the IOD.
func (a Action) Combined() bool { return a >= XZ && a <= XZUStar }

// Resolve turns a combined action into the simple action that keeps an IOD
// valid in which the attribute has Type attrType ("1", "1C", "2", "2C" or
// "3", as package iod answers). Conditional Types count as their
// unconditional ones (1C as 1, 2C as 2), since the de-identifier cannot
// always tell whether the condition holds. An empty or unknown attrType is
// taken as Type 1, the strictest: the result then keeps any IOD valid and
// still protects the value. Simple actions are returned unchanged.
//
//	          Type 1   Type 2   Type 3
//	X/Z       Z        Z        X
//	X/D       D        D        X
//	Z/D       D        Z        Z
//	X/Z/D     D        Z        X
//	X/Z/U*    U        Z        X
//
// X/Z under Type 1 gives Z, the strictest action X/Z allows; X/D under
// Type 2 gives D, since removal would make the IOD invalid.
func (a Action) Resolve(attrType string) Action {
	if !a.Combined() {
		return a
	}
	level := 1
	switch attrType {
	case "2", "2C":
		level = 2
	case "3":
		level = 3
	}
	switch a {
	case XZ:
		if level == 3 {
			return X
		}
		return Z
	case XD:
		if level == 3 {
			return X
		}
		return D
	case ZD:
		if level == 1 {
			return D
		}
		return Z
	case XZD:
		return [...]Action{D, Z, X}[level-1]
	default: // XZUStar
		return [...]Action{U, Z, X}[level-1]
	}
}

// Option is one of the Options of PS3.15 E.3 to the basic profile.
type Option uint8

// Options with a column in Table E.1-1, in the table's column order, then
// the two that act on pixel data only.
const (
	// RetainSafePrivate is the Retain Safe Private Option (E.3.10).
	RetainSafePrivate Option = iota
	// RetainUIDs is the Retain UIDs Option (E.3.9).
	RetainUIDs
	// RetainDeviceIdentity is the Retain Device Identity Option (E.3.8).
	RetainDeviceIdentity
	// RetainInstitutionIdentity is the Retain Institution Identity Option
	// (E.3.11).
	RetainInstitutionIdentity
	// RetainPatientCharacteristics is the Retain Patient Characteristics
	// Option (E.3.7).
	RetainPatientCharacteristics
	// RetainLongFullDates is the Retain Longitudinal Temporal Information
	// With Full Dates Option (E.3.6).
	RetainLongFullDates
	// RetainLongModifiedDates is the Retain Longitudinal Temporal
	// Information With Modified Dates Option (E.3.6).
	RetainLongModifiedDates
	// CleanDescriptors is the Clean Descriptors Option (E.3.5).
	CleanDescriptors
	// CleanStructuredContent is the Clean Structured Content Option (E.3.4).
	CleanStructuredContent
	// CleanGraphics is the Clean Graphics Option (E.3.3).
	CleanGraphics

	// CleanPixelData is the Clean Pixel Data Option (E.3.1). It has no
	// column in Table E.1-1: it acts on burned-in text in the pixel data.
	CleanPixelData
	// CleanRecognizableVisualFeatures is the Clean Recognizable Visual
	// Features Option (E.3.2). It has no column in Table E.1-1: it acts on
	// the pixel data.
	CleanRecognizableVisualFeatures

	numOptions
)

// NumColumnOptions is the number of Options with a column in Table E.1-1:
// the Options below it index Row.Options.
const NumColumnOptions = int(CleanPixelData)

// Code is a coded entry, as in a Code Sequence item.
type Code struct {
	// Value is the Code Value (0008,0100).
	Value string
	// Scheme is the Coding Scheme Designator (0008,0102).
	Scheme string
	// Meaning is the Code Meaning (0008,0104).
	Meaning string
}

// BasicProfileCode is the CID 7050 code of the Basic Application
// Confidentiality Profile itself.
var BasicProfileCode = Code{"113100", "DCM", "Basic Application Confidentiality Profile"}

// options holds each Option's name and its code from DICOM PS3.16 CID 7050
// "De-identification Method" (Coding Scheme DCM, PS3.16 Annex D).
var options = [numOptions]struct {
	name string
	code Code
}{
	RetainSafePrivate:               {"RetainSafePrivate", Code{"113111", "DCM", "Retain Safe Private Option"}},
	RetainUIDs:                      {"RetainUIDs", Code{"113110", "DCM", "Retain UIDs Option"}},
	RetainDeviceIdentity:            {"RetainDeviceIdentity", Code{"113109", "DCM", "Retain Device Identity Option"}},
	RetainInstitutionIdentity:       {"RetainInstitutionIdentity", Code{"113112", "DCM", "Retain Institution Identity Option"}},
	RetainPatientCharacteristics:    {"RetainPatientCharacteristics", Code{"113108", "DCM", "Retain Patient Characteristics Option"}},
	RetainLongFullDates:             {"RetainLongFullDates", Code{"113106", "DCM", "Retain Longitudinal Temporal Information Full Dates Option"}},
	RetainLongModifiedDates:         {"RetainLongModifiedDates", Code{"113107", "DCM", "Retain Longitudinal Temporal Information Modified Dates Option"}},
	CleanDescriptors:                {"CleanDescriptors", Code{"113105", "DCM", "Clean Descriptors Option"}},
	CleanStructuredContent:          {"CleanStructuredContent", Code{"113104", "DCM", "Clean Structured Content Option"}},
	CleanGraphics:                   {"CleanGraphics", Code{"113103", "DCM", "Clean Graphics Option"}},
	CleanPixelData:                  {"CleanPixelData", Code{"113101", "DCM", "Clean Pixel Data Option"}},
	CleanRecognizableVisualFeatures: {"CleanRecognizableVisualFeatures", Code{"113102", "DCM", "Clean Recognizable Visual Features Option"}},
}

// AllOptions returns every Option, in the order of the constants.
func AllOptions() []Option {
	out := make([]Option, numOptions)
	for i := range out {
		out[i] = Option(i)
	}
	return out
}

// String returns the Option's Go name, e.g. "RetainUIDs", which ParseOption
// reads back (for configuration files).
func (o Option) String() string {
	if o < numOptions {
		return options[o].name
	}
	return fmt.Sprintf("Option(%d)", uint8(o))
}

// Code returns the Option's code from CID 7050, for the De-identification
// Method Code Sequence (0012,0064); ok is false for an unknown Option.
func (o Option) Code() (c Code, ok bool) {
	if o < numOptions {
		return options[o].code, true
	}
	return Code{}, false
}

// ParseOption reads an Option by its String name.
func ParseOption(s string) (Option, error) {
	for i, o := range options {
		if o.name == s {
			return Option(i), nil
		}
	}
	return 0, fmt.Errorf("profile: unknown option %q", s)
}

// CheckOptions reports an error for unknown Options and for Options that
// cannot be chosen together: the two Retain Longitudinal Temporal
// Information Options are alternatives (full dates are kept, or dates are
// modified), and Row.Action would otherwise silently prefer one.
func CheckOptions(opts ...Option) error {
	for _, o := range opts {
		if o >= numOptions {
			return fmt.Errorf("profile: unknown option %d", uint8(o))
		}
	}
	if slices.Contains(opts, RetainLongFullDates) && slices.Contains(opts, RetainLongModifiedDates) {
		return fmt.Errorf("profile: options %v and %v exclude each other", RetainLongFullDates, RetainLongModifiedDates)
	}
	return nil
}

// Row is one row of Table E.1-1.
type Row struct {
	// Tag is the attribute's tag; for a wildcard row the wildcard digits
	// are zero.
	Tag uint32
	// Mask has the fixed bits of Tag set: 0xFFFFFFFF for most rows,
	// 0xFF00FFFF for (60xx,3000), 0xFF000000 for (50xx,xxxx), 0x00010000
	// for the private attributes row ((gggg,eeee) where gggg is odd).
	Mask uint32
	// Name is the attribute's name as the table gives it.
	Name string
	// InStdIOD reports whether the attribute is used in a standard
	// composite IOD ("Std. Comp. IOD" column).
	InStdIOD bool
	// Basic is the action of the basic profile.
	Basic Action
	// Options holds, for each Option below NumColumnOptions, the action
	// that Option takes instead of Basic (K or C), or 0 when that Option
	// does not concern the attribute.
	Options [NumColumnOptions]Action
}

// Matches reports whether tag is covered by r. Rows of even groups never
// cover private (odd group) tags.
func (r Row) Matches(tag uint32) bool {
	if tag>>16&1 == 1 && r.Tag>>16&1 == 0 {
		return false
	}
	return tag&r.Mask == r.Tag&r.Mask
}

// Action returns the effective action for the attribute when opts are the
// chosen Options.
//
// Precedence follows PS3.15 E.1.1: "A requirement for an Option, when
// implemented, overrides any requirement for the underlying Profile" — so
// an Option's K or C replaces Basic (Retain UIDs' K wins over the basic U;
// Retain Longitudinal Temporal Information With Modified Dates' C wins over
// a date's basic Z). When several chosen Options concern the attribute and
// disagree, C wins over K, the more protective; in Table E.1-1 that happens
// only for dates and times under both Retain Longitudinal Temporal
// Information Options, which are alternatives (see CheckOptions). Options
// that do not concern the attribute, and the pixel data Options, change
// nothing. The result may be a combined action: see Action.Resolve.
func (r Row) Action(opts ...Option) Action {
	var got Action
	for _, o := range opts {
		if int(o) >= NumColumnOptions {
			continue
		}
		switch a := r.Options[o]; {
		case a == 0:
		case got == 0, a == C:
			got = a
		}
	}
	if got != 0 {
		return got
	}
	return r.Basic
}

// Rows returns a copy of all rows of Table E.1-1: exact tags in tag order,
// then the wildcard rows, most fixed bits first.
func Rows() []Row { return slices.Clone(rows[:]) }

// Lookup returns the row that covers tag: the row of that exact tag, else
// the most specific wildcard row that matches it — (50xx,xxxx), (60xx,3000),
// (60xx,4000), or the private attributes row for any odd group.
func Lookup(tag uint32) (Row, bool) {
	lo, hi := 0, numExactRows
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rows[m].Tag < tag {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < numExactRows && rows[lo].Tag == tag {
		return rows[lo], true
	}
	for i := numExactRows; i < len(rows); i++ {
		if rows[i].Matches(tag) {
			return rows[i], true
		}
	}
	return Row{}, false
}
