package deid

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cancerimage/cie/internal/deid/iod"
	"github.com/cancerimage/cie/internal/deid/profile"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/charset"
)

// Tags the engine treats specially.
var (
	tagSOPClassUID         = dicom.NewTag(0x0008, 0x0016)
	tagSOPInstanceUID      = dicom.NewTag(0x0008, 0x0018)
	tagAccessionNumber     = dicom.NewTag(0x0008, 0x0050)
	tagIssuerOfAccession   = dicom.NewTag(0x0008, 0x0051)
	tagPatientName         = dicom.NewTag(0x0010, 0x0010)
	tagPatientID           = dicom.NewTag(0x0010, 0x0020)
	tagIssuerOfPatientID   = dicom.NewTag(0x0010, 0x0021)
	tagStudyInstanceUID    = dicom.NewTag(0x0020, 0x000D)
	tagSeriesInstanceUID   = dicom.NewTag(0x0020, 0x000E)
	tagBurnedIn            = dicom.NewTag(0x0028, 0x0301)
	tagLongitudinal        = dicom.NewTag(0x0028, 0x0303)
	tagIdentityRemoved     = dicom.NewTag(0x0012, 0x0062)
	tagMethod              = dicom.NewTag(0x0012, 0x0063)
	tagMethodCodeSequence  = dicom.NewTag(0x0012, 0x0064)
	tagCodeValue           = dicom.NewTag(0x0008, 0x0100)
	tagCodingScheme        = dicom.NewTag(0x0008, 0x0102)
	tagCodeMeaning         = dicom.NewTag(0x0008, 0x0104)
	tagMediaStorageSOPInst = dicom.NewTag(0x0002, 0x0003)
)

// ErrQuarantine is wrapped by every QuarantineError.
var ErrQuarantine = errors.New("quarantined")

// Reasons a file is quarantined.
const (
	ReasonBurnedIn       = "burned-in-annotation"
	ReasonNoPixelRule    = "no-pixel-cleaning-rule"
	ReasonUnknownClass   = "unknown-sop-class"
	ReasonNoSOPClass     = "no-sop-class"
	ReasonUnreadable     = "unreadable"
	ReasonInvalidElement = "cannot-modify"
)

// QuarantineError says why a file cannot be made safe automatically.
type QuarantineError struct {
	Reason string // one of the Reason constants
	Detail string
}

func (e *QuarantineError) Error() string {
	return fmt.Sprintf("quarantined: %s: %s", e.Reason, e.Detail)
}

// Unwrap makes errors.Is(err, ErrQuarantine) true.
func (e *QuarantineError) Unwrap() error { return ErrQuarantine }

func quarantine(reason, format string, args ...any) error {
	return &QuarantineError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Result describes one de-identified file, for reports and the
// re-identification map.
type Result struct {
	SOPClassUID string
	// Pseudonymous identifiers written to the file.
	PatientPseudonym string
	StudyUID         string
	SeriesUID        string
	InstanceUID      string
	// Original identifiers, for the re-identification map only.
	OriginalPatientID string
	OriginalStudyUID  string
	// Removed, Emptied, Replaced, Kept count what the profile did.
	Removed, Emptied, Replaced, PrivateRemoved int
	// MovedToUTF8 is true when a value the engine wrote did not fit the file's character
	// set, so every text value was transcoded and the file declares ISO_IR 192.
	MovedToUTF8 bool
}

// Engine de-identifies files. It is safe for concurrent use.
type Engine struct {
	opts   Options
	ps     *Pseudonyms
	safe   map[SafePrivate]bool
	method string
	codes  []profile.Code
}

// New returns an engine applying opts with pseudonyms under key.
func New(key []byte, opts Options) (*Engine, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	ps, err := NewPseudonyms(key)
	if err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, ps: ps, safe: map[SafePrivate]bool{}, method: opts.Method(), codes: opts.Codes()}
	for _, sp := range append(append([]SafePrivate(nil), DefaultSafePrivate...), opts.SafePrivate...) {
		sp.Creator = strings.TrimSpace(sp.Creator)
		e.safe[sp] = true
	}
	return e, nil
}

// Pseudonyms returns the engine's pseudonym source.
func (en *Engine) Pseudonyms() *Pseudonyms { return en.ps }

// run is the state of one Apply.
type run struct {
	en      *Engine
	sop     string
	shift   int
	res     *Result
	secrets []string // identifying values of this file, scrubbed from cleaned text
	root    *dicom.Dataset
	cs      *charset.Set // character set in force; nil when the declared one is unknown
	// drop holds the elements removed (X) from the data sets being walked, in
	// their order, innermost data set last; each data set's are deleted in one
	// pass when its walk ends (one Delete each would move the elements after).
	drop []*dicom.Element
}

// Check returns a *QuarantineError if the file must not be de-identified
// automatically, nil if it may.
func (en *Engine) Check(f *dicom.File) error {
	ds := f.Dataset
	sop := ds.Text(tagSOPClassUID)
	if sop == "" {
		return quarantine(ReasonNoSOPClass, "the data set has no SOP Class UID (0008,0016)")
	}
	if strings.EqualFold(ds.Text(tagBurnedIn), "YES") {
		return quarantine(ReasonBurnedIn, "Burned In Annotation (0028,0301) is YES: the pixels show identifying text")
	}
	if isSecondaryCapture(sop) || isUltrasound(sop) {
		name, _ := iod.IODName(sop)
		return quarantine(ReasonNoPixelRule, "SOP class %s (%s) often carries burned-in text and no pixel-cleaning rule applies", sop, name)
	}
	if !iod.Known(sop) {
		return quarantine(ReasonUnknownClass, "SOP class %s is not a standard storage class whose attributes are known", sop)
	}
	return nil
}

func isSecondaryCapture(sop string) bool {
	return sop == "1.2.840.10008.5.1.4.1.1.7" || strings.HasPrefix(sop, "1.2.840.10008.5.1.4.1.1.7.")
}

func isUltrasound(sop string) bool {
	switch sop {
	case "1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.6.2", "1.2.840.10008.5.1.4.1.1.3.1",
		"1.2.840.10008.5.1.4.1.1.6", "1.2.840.10008.5.1.4.1.1.3": // the last two retired
		return true
	}
	return false
}

// Apply de-identifies f in place. It returns a *QuarantineError (and leaves
// f in an unspecified state) when the file must not be released.
func (en *Engine) Apply(f *dicom.File) (Result, error) {
	if err := en.Check(f); err != nil {
		return Result{}, err
	}
	return en.apply(f)
}

// ApplyReleased de-identifies f like Apply, but without the checks of Check
// beyond the presence of a SOP Class UID: for a quarantined file that a data
// holder looked at and released (no burned-in text, say). The profile is
// applied in full; attributes of an unknown SOP class are taken as Type 1.
func (en *Engine) ApplyReleased(f *dicom.File) (Result, error) {
	if f.Dataset.Text(tagSOPClassUID) == "" {
		return Result{}, quarantine(ReasonNoSOPClass, "the data set has no SOP Class UID (0008,0016)")
	}
	return en.apply(f)
}

func (en *Engine) apply(f *dicom.File) (Result, error) {
	ds := f.Dataset
	res := Result{SOPClassUID: ds.Text(tagSOPClassUID)}
	issuer, pid := ds.Text(tagIssuerOfPatientID), ds.Text(tagPatientID)
	res.OriginalPatientID = pid
	res.OriginalStudyUID = ds.Text(tagStudyInstanceUID)
	res.PatientPseudonym = en.ps.PatientID(issuer, pid)
	r := &run{en: en, sop: res.SOPClassUID, shift: en.ps.DateShift(issuer, pid), res: &res, root: ds}
	r.cs = charsetOf(ds, charset.Default())
	r.collectSecrets(ds)
	acc, accIssuer := ds.Text(tagAccessionNumber), ds.Text(tagIssuerOfAccession)

	if err := r.dataset(ds, true); err != nil {
		return res, err
	}
	// Pseudonyms in place of the identifiers the profile emptied.
	set := func(tag dicom.Tag, vr dicom.VR, v string) error { return r.setText(ds, tag, vr, v) }
	if err := set(tagPatientID, dicom.LO, res.PatientPseudonym); err != nil {
		return res, err
	}
	if err := set(tagPatientName, dicom.PN, res.PatientPseudonym); err != nil {
		return res, err
	}
	if acc != "" && !en.opts.Has(profile.RetainUIDs) {
		if err := set(tagAccessionNumber, dicom.SH, en.ps.Accession(accIssuer, acc)); err != nil {
			return res, err
		}
	}
	if err := r.mark(ds); err != nil {
		return res, err
	}
	// The meta group names the instance too.
	if f.Meta != nil {
		if err := r.dataset(f.Meta, false); err != nil {
			return res, err
		}
		if inst := ds.Text(tagSOPInstanceUID); inst != "" {
			if err := f.Meta.Set(tagMediaStorageSOPInst, dicom.UI, dicom.PadText(dicom.UI, inst)); err != nil {
				return res, quarantine(ReasonInvalidElement, "setting %s: %v", tagMediaStorageSOPInst, err)
			}
		}
	}
	res.StudyUID = ds.Text(tagStudyInstanceUID)
	res.SeriesUID = ds.Text(tagSeriesInstanceUID)
	res.InstanceUID = ds.Text(tagSOPInstanceUID)
	return res, nil
}

// collectSecrets gathers the identifying values of the file that cleaned
// text must not contain: names, IDs, birth date, addresses, phone numbers.
func (r *run) collectSecrets(ds *dicom.Dataset) {
	for _, t := range []dicom.Tag{
		tagPatientName, tagPatientID, dicom.NewTag(0x0010, 0x1000), dicom.NewTag(0x0010, 0x1001), // other IDs, other names
		dicom.NewTag(0x0010, 0x0030), dicom.NewTag(0x0010, 0x1040), dicom.NewTag(0x0010, 0x2154), // birth date, address, phone
		dicom.NewTag(0x0010, 0x1060), tagAccessionNumber, dicom.NewTag(0x0008, 0x0090), // mother's name, referring physician
	} {
		e := ds.Get(t)
		if e == nil || e.IsSequence() {
			continue
		}
		raw, err := e.Value()
		if err != nil {
			continue
		}
		cs := r.cs
		if cs == nil {
			cs = charset.Default()
		}
		v := cs.DecodeLossy(vrOf(e).String(), raw)
		for _, part := range strings.FieldsFunc(v, func(c rune) bool {
			return c == '^' || c == '=' || c == '\\' || c == ' ' || c == utf8.RuneError
		}) {
			// Three characters at least, or two for non-ASCII names (a Japanese or
			// Chinese family name is often two characters).
			if n := utf8.RuneCountInString(part); n >= 3 || (n == 2 && len(part) > 2) {
				r.secrets = append(r.secrets, part)
			}
		}
	}
}

// dataset applies the profile to every element of ds (top: the main data
// set, whose attributes' Types come from the IOD; else an item or the meta).
func (r *run) dataset(ds *dicom.Dataset, top bool) error {
	elems := append([]*dicom.Element(nil), ds.Elements()...)
	base := len(r.drop)
	for _, e := range elems {
		if e.Tag.IsPrivate() || e.Tag.IsGroupLength() {
			continue
		}
		row, ok := profile.Lookup(uint32(e.Tag))
		if !ok {
			if err := r.items(e); err != nil {
				return err
			}
			continue
		}
		act := row.Action(r.en.opts.Options...)
		if act.Combined() {
			act = act.Resolve(r.typeOf(e.Tag, top))
		}
		if err := r.apply(ds, e, act, row, top); err != nil {
			return err
		}
	}
	// Each element is visited once and only its own tag is set, so the
	// dropped ones are still in ds, in the order they were dropped.
	if drop := r.drop[base:]; len(drop) > 0 {
		i := 0
		ds.DeleteFunc(func(e *dicom.Element) bool {
			if i < len(drop) && e == drop[i] {
				i++
				return true
			}
			return false
		})
		clear(drop)
		r.drop = r.drop[:base]
	}
	return r.privates(ds)
}

// typeOf returns the attribute's Type in the file's IOD for top-level
// attributes, "" (taken as Type 1, the strictest) inside sequences.
func (r *run) typeOf(tag dicom.Tag, top bool) string {
	if !top {
		return ""
	}
	t, _ := iod.Type(r.sop, uint32(tag))
	return t
}

// cleansText reports whether a Clean option that keeps cleaned free text
// is chosen.
func (r *run) cleansText() bool {
	o := r.en.opts
	return o.Has(profile.CleanDescriptors) || o.Has(profile.CleanStructuredContent) || o.Has(profile.CleanGraphics)
}

// items applies the profile inside the items of a sequence, each in the character set
// it declares or inherits.
func (r *run) items(e *dicom.Element) error {
	outer := r.cs
	defer func() { r.cs = outer }()
	for _, it := range e.Items() {
		r.cs = charsetOf(it, outer)
		if err := r.dataset(it, false); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) set(ds *dicom.Dataset, e *dicom.Element, vr dicom.VR, v []byte) error {
	if err := ds.Set(e.Tag, vr, v); err != nil {
		return quarantine(ReasonInvalidElement, "replacing %s: %v", e.Tag, err)
	}
	return nil
}

func (r *run) apply(ds *dicom.Dataset, e *dicom.Element, act profile.Action, row profile.Row, top bool) error {
	vr := vrOf(e)
	switch act {
	case profile.X:
		r.drop = append(r.drop, e)
		r.res.Removed++
		return nil
	case profile.Z:
		r.res.Emptied++
		if e.IsSequence() {
			if err := ds.SetSequence(e.Tag, nil); err != nil {
				return quarantine(ReasonInvalidElement, "emptying %s: %v", e.Tag, err)
			}
			return nil
		}
		return r.set(ds, e, vr, nil)
	case profile.D:
		if e.IsSequence() {
			return r.items(e)
		}
		r.res.Replaced++
		return r.set(ds, e, vr, dummy(vr))
	case profile.U:
		if e.IsSequence() {
			return r.items(e)
		}
		return r.uids(ds, e, vr)
	case profile.K:
		return r.items(e)
	case profile.C:
		if vr.IsText() && vr != dicom.DA && vr != dicom.DT && vr != dicom.TM && !r.cleansText() {
			// C came from a date or device option, not from a Clean option:
			// free text is only kept, cleaned, under a Clean option.
			basic := row.Basic
			if basic.Combined() {
				basic = basic.Resolve(r.typeOf(e.Tag, top))
			}
			if basic == profile.C || basic == profile.K {
				basic = profile.X
			}
			return r.apply(ds, e, basic, row, top)
		}
		return r.clean(ds, e, vr)
	}
	return quarantine(ReasonInvalidElement, "%s: unexpected action %v", e.Tag, act)
}

// uids replaces every UID of a UI value by its pseudonym.
func (r *run) uids(ds *dicom.Dataset, e *dicom.Element, vr dicom.VR) error {
	v, err := e.Value()
	if err != nil {
		return quarantine(ReasonInvalidElement, "reading %s: %v", e.Tag, err)
	}
	vals := strings.Split(dicom.TrimText(v), `\`)
	for i, u := range vals {
		if u = strings.TrimSpace(u); u != "" {
			vals[i] = r.en.ps.UID(u)
		}
	}
	r.res.Replaced++
	return r.set(ds, e, dicom.UI, dicom.PadText(dicom.UI, strings.Join(vals, `\`)))
}

// clean carries out C: dates are shifted (Modified Dates), times kept,
// free text kept with this file's identifying values removed, sequences
// cleaned item by item.
func (r *run) clean(ds *dicom.Dataset, e *dicom.Element, vr dicom.VR) error {
	if e.IsSequence() {
		return r.items(e)
	}
	v, err := e.Value()
	if err != nil {
		return quarantine(ReasonInvalidElement, "reading %s: %v", e.Tag, err)
	}
	switch vr {
	case dicom.DA, dicom.DT:
		s := dicom.TrimText(v)
		if s == "" {
			return nil
		}
		shift := shiftDate
		if vr == dicom.DT {
			shift = shiftDateTime
		}
		out, ok := shift(s, r.shift)
		r.res.Replaced++
		if !ok { // not a date: cannot keep its meaning, so no value
			return r.set(ds, e, vr, nil)
		}
		return r.set(ds, e, vr, dicom.PadText(vr, out))
	case dicom.TM:
		return nil
	case dicom.LO, dicom.SH, dicom.ST, dicom.LT, dicom.UT, dicom.UC, dicom.PN, dicom.CS:
		text, ok := decodeText(r.cs, vr, v)
		if !ok {
			// Text that cannot be read in its character set cannot be checked: it goes.
			r.res.Replaced++
			return r.set(ds, e, vr, nil)
		}
		cleaned, changed := scrub(text, r.secrets)
		if !changed {
			return nil
		}
		r.res.Replaced++
		return r.setText(ds, e.Tag, vr, cleaned)
	}
	return nil
}

// privates removes the private elements of ds, keeping those on the
// safe-private list under Retain Safe Private, and the creators they need.
func (r *run) privates(ds *dicom.Dataset) error {
	creators := map[dicom.Tag]string{} // (gggg,00xx) → creator
	for _, e := range ds.Elements() {
		if e.Tag.IsPrivate() && e.Tag.Element() >= 0x10 && e.Tag.Element() <= 0xFF {
			if v, err := e.Value(); err == nil {
				creators[e.Tag] = strings.TrimSpace(dicom.TrimText(v))
			}
		}
	}
	keepCreator := map[dicom.Tag]bool{}
	retain := r.en.opts.Has(profile.RetainSafePrivate)
	// One pass each (DeleteFunc), not one Delete per element.
	var err error
	r.res.PrivateRemoved += ds.DeleteFunc(func(e *dicom.Element) bool {
		t := e.Tag
		if err != nil || !t.IsPrivate() || t.IsGroupLength() || (t.Element() >= 0x10 && t.Element() <= 0xFF) {
			return false
		}
		block := dicom.NewTag(t.Group(), t.Element()>>8)
		if retain {
			if c, ok := creators[block]; ok && t.Element()>>8 >= 0x10 && r.en.safe[SafePrivate{Creator: c, Group: t.Group(), Element: uint8(t.Element())}] {
				keepCreator[block] = true
				err = r.items(e)
				return false
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	r.res.PrivateRemoved += ds.DeleteFunc(func(e *dicom.Element) bool {
		t := e.Tag
		return t.IsPrivate() && !keepCreator[t] && (t.IsGroupLength() || t.Element() <= 0xFF)
	})
	return nil
}

// mark records the de-identification in the data set (PS3.15 E.1.1).
func (r *run) mark(ds *dicom.Dataset) error {
	en := r.en
	if err := ds.Set(tagIdentityRemoved, dicom.CS, dicom.PadText(dicom.CS, "YES")); err != nil {
		return quarantine(ReasonInvalidElement, "marking: %v", err)
	}
	if err := ds.Set(tagMethod, dicom.LO, dicom.PadText(dicom.LO, splitLO(en.method))); err != nil {
		return quarantine(ReasonInvalidElement, "marking: %v", err)
	}
	items := make([]*dicom.Dataset, 0, len(en.codes))
	for _, c := range en.codes {
		it := ds.NewItem()
		for _, kv := range []struct {
			tag dicom.Tag
			vr  dicom.VR
			v   string
		}{{tagCodeValue, dicom.SH, c.Value}, {tagCodingScheme, dicom.SH, c.Scheme}, {tagCodeMeaning, dicom.LO, c.Meaning}} {
			if err := it.Set(kv.tag, kv.vr, dicom.PadText(kv.vr, kv.v)); err != nil {
				return quarantine(ReasonInvalidElement, "marking: %v", err)
			}
		}
		items = append(items, it)
	}
	if err := ds.SetSequence(tagMethodCodeSequence, items); err != nil {
		return quarantine(ReasonInvalidElement, "marking: %v", err)
	}
	long := "REMOVED"
	switch {
	case en.opts.Has(profile.RetainLongFullDates):
		long = "UNMODIFIED"
	case en.opts.Has(profile.RetainLongModifiedDates):
		long = "MODIFIED"
	}
	if err := ds.Set(tagLongitudinal, dicom.CS, dicom.PadText(dicom.CS, long)); err != nil {
		return quarantine(ReasonInvalidElement, "marking: %v", err)
	}
	return nil
}

// Method describes the de-identification the engine applies.
func (en *Engine) Method() string { return en.method }
