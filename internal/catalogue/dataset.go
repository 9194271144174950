package catalogue

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// AccessRights says who may access a dataset's data, as the EU access-right
// authority table does.
type AccessRights string

// The access rights of the EU Vocabularies access-right authority table
// (http://publications.europa.eu/resource/authority/access-right).
const (
	AccessPublic     AccessRights = "PUBLIC"
	AccessRestricted AccessRights = "RESTRICTED"
	AccessNonPublic  AccessRights = "NON_PUBLIC"
)

// IRI is the authority table's IRI for a, or "" if a is not one of the
// constants.
func (a AccessRights) IRI() string {
	switch a {
	case AccessPublic, AccessRestricted, AccessNonPublic:
		return "http://publications.europa.eu/resource/authority/access-right/" + string(a)
	}
	return ""
}

// InteropLevel is the EUCAIM interoperability tier of a dataset (EUCAIM
// DCAT-AP v2, eucaim:interoperabilityLevel, subclasses of eucaim:SPEC1000008).
type InteropLevel string

// The tiers EUCAIM DCAT-AP lists ("One of Tier 1, Tier 2, Tier 3, Tier 1A+,
// Tier 1C+, Tier 2A+, Tier 2C+, Tier 3A+, Tier 3C+"): 1 metadata in the
// catalogue, 2 answers federated searches, 3 runs federated processing.
const (
	Tier1   InteropLevel = "Tier 1"
	Tier1Ap InteropLevel = "Tier 1A+"
	Tier1Cp InteropLevel = "Tier 1C+"
	Tier2   InteropLevel = "Tier 2"
	Tier2Ap InteropLevel = "Tier 2A+"
	Tier2Cp InteropLevel = "Tier 2C+"
	Tier3   InteropLevel = "Tier 3"
	Tier3Ap InteropLevel = "Tier 3A+"
	Tier3Cp InteropLevel = "Tier 3C+"
)

// Valid reports whether l is one of the tier constants.
func (l InteropLevel) Valid() bool {
	switch l {
	case Tier1, Tier1Ap, Tier1Cp, Tier2, Tier2Ap, Tier2Cp, Tier3, Tier3Ap, Tier3Cp:
		return true
	}
	return false
}

// LegislationEHDS is the ELI of the European Health Data Space Regulation
// (EU) 2025/327, the applicable legislation EUCAIM DCAT-AP v2 asks for.
const LegislationEHDS = "http://data.europa.eu/eli/reg/2025/327/oj"

// Code is a coded concept: a cancer type, body part or modality.
type Code struct {
	System  string `json:"system"`  // SystemSNOMED or SystemRadLex
	Code    string `json:"code"`    // "363406005", "RID10321"
	Display string `json:"display"` // "Colon Cancer"
}

// IRI is the concept's IRI: http://snomed.info/id/<sctid> for SNOMED CT (the
// SNOMED CT URI Standard), http://radlex.org/RID/<RID> for RadLex (the IRIs of
// the RadLex OWL release); "" for another system.
func (c Code) IRI() string {
	switch c.System {
	case SystemSNOMED:
		return "http://snomed.info/id/" + c.Code
	case SystemRadLex:
		return "http://radlex.org/RID/" + c.Code
	}
	return ""
}

// Contact is a dataset's contact point (a vCard): at least an email address
// or a web page.
type Contact struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Publisher is the organisation that makes a dataset available (a foaf:Agent).
type Publisher struct {
	Name  string `json:"name"`
	URL   string `json:"url,omitempty"`
	Email string `json:"email,omitempty"`
}

// Dataset is the catalogue metadata of one dataset, following EUCAIM DCAT-AP
// v2. The node that holds the data creates it and owns it; the hub keeps the
// published copy. Title, Description and Keywords are English text.
type Dataset struct {
	// ID identifies the dataset at the hub, across nodes and versions:
	// letters, digits, '.', '_' and '-', at most 128, starting with a letter
	// or digit.
	ID string `json:"id"`
	// Node is the name of the node that holds the data.
	Node string `json:"node"`
	// Version counts content versions from 1; see SetContent.
	Version int `json:"version"`
	// State is the life-cycle state; see Apply.
	State State `json:"state"`

	Title       string   `json:"title"`
	Description string   `json:"description"`
	Keywords    []string `json:"keywords"`

	CancerTypes []Code `json:"cancer_types"`
	BodyParts   []Code `json:"body_parts"`
	Modalities  []Code `json:"modalities"`

	AccessRights AccessRights `json:"access_rights"`
	// Individuals and Studies are the numbers of unique individuals and of
	// imaging studies, computed from the data.
	Individuals int `json:"individuals"`
	Studies     int `json:"studies"`
	// ContentHash is the SHA3-256 of the dataset content (the hash of its
	// study hashes), lower-case hex.
	ContentHash string `json:"content_hash,omitempty"`

	License               string       `json:"license"` // IRI of the licence
	Contact               Contact      `json:"contact"`
	Publisher             Publisher    `json:"publisher"`
	ApplicableLegislation []string     `json:"applicable_legislation"` // IRIs, e.g. LegislationEHDS
	InteropLevel          InteropLevel `json:"interoperability_level"`
	ConformsTo            []string     `json:"conforms_to,omitempty"`  // IRIs of standards the data conforms to
	LandingPage           string       `json:"landing_page,omitempty"` // the dataset's page at the hub
	VersionNotes          string       `json:"version_notes,omitempty"`

	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
	// Issued is when the dataset was first published; zero for a draft.
	Issued time.Time `json:"issued,omitzero"`
}

// New returns a draft dataset, version 1, created at now, with the EHDS as
// its applicable legislation.
func New(id, node string, now time.Time) Dataset {
	now = now.UTC()
	return Dataset{
		ID:                    id,
		Node:                  node,
		Version:               1,
		State:                 StateDraft,
		Created:               now,
		Modified:              now,
		ApplicableLegislation: []string{LegislationEHDS},
	}
}

// Apply moves the dataset through its life cycle (see Transition) at time
// now. Publishing and reactivating require the dataset to be valid; the first
// publication sets Issued. On error the dataset is unchanged.
func (d *Dataset) Apply(a Action, now time.Time) error {
	to, err := Transition(d.State, a)
	if err != nil {
		return fmt.Errorf("dataset %q: %w", d.ID, err)
	}
	next := *d
	next.State = to
	next.Modified = now.UTC()
	if next.Issued.IsZero() && to == StatePublished {
		next.Issued = next.Modified
	}
	if err := next.Validate(); err != nil {
		return fmt.Errorf("dataset %q: cannot %s: %w", d.ID, a, err)
	}
	*d = next
	return nil
}

// SetContent records what the data holds: its content hash and the numbers of
// individuals and studies. It reports whether anything changed. A changed
// hash of a dataset that has been published makes a new version.
func (d *Dataset) SetContent(hash string, individuals, studies int, now time.Time) (bool, error) {
	if !isHexHash(hash) {
		return false, fmt.Errorf("dataset %q: content hash %q is not 64 lower-case hex digits (SHA3-256)", d.ID, hash)
	}
	if individuals < 0 || studies < 0 {
		return false, fmt.Errorf("dataset %q: negative count (individuals %d, studies %d)", d.ID, individuals, studies)
	}
	if hash == d.ContentHash && individuals == d.Individuals && studies == d.Studies {
		return false, nil
	}
	if hash != d.ContentHash && d.ContentHash != "" && !d.Issued.IsZero() {
		d.Version++
	}
	d.ContentHash, d.Individuals, d.Studies = hash, individuals, studies
	d.Modified = now.UTC()
	return true, nil
}

// Normalize fills empty code displays from the vocabulary and removes
// duplicate codes and keywords, keeping the first. It changes nothing else.
func (d *Dataset) Normalize() {
	for _, k := range []struct {
		kind  Kind
		codes *[]Code
	}{{KindCancerType, &d.CancerTypes}, {KindBodyPart, &d.BodyParts}, {KindModality, &d.Modalities}} {
		seen := map[Code]bool{}
		out := (*k.codes)[:0]
		for _, c := range *k.codes {
			if t, ok := LookupCode(k.kind, c.System, c.Code); ok && c.Display == "" {
				c.Display = t.Code.Display
			}
			key := Code{System: c.System, Code: c.Code}
			if !seen[key] {
				seen[key] = true
				out = append(out, c)
			}
		}
		*k.codes = out
	}
	seen := map[string]bool{}
	kw := d.Keywords[:0]
	for _, k := range d.Keywords {
		k = strings.TrimSpace(k)
		if k != "" && !seen[strings.ToLower(k)] {
			seen[strings.ToLower(k)] = true
			kw = append(kw, k)
		}
	}
	d.Keywords = kw
}

// FieldError is one problem with one field of a dataset.
type FieldError struct {
	Field   string // the JSON name, with a path for nested fields: "contact.email", "modalities[1]"
	Problem string
}

// Error says "field: problem".
func (e FieldError) Error() string { return e.Field + ": " + e.Problem }

// ValidationError lists every problem Validate found.
type ValidationError struct {
	ID     string
	Fields []FieldError
}

// Error names the dataset and every problem.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "catalogue: dataset %q is invalid: ", e.ID)
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// Has reports whether field is among the problems.
func (e *ValidationError) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// ErrInvalid is matched (errors.Is) by every *ValidationError.
var ErrInvalid = errors.New("catalogue: invalid dataset")

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Validate checks the dataset against EUCAIM DCAT-AP v2 as this package
// models it, codes against the vocabulary, and the life-cycle invariants.
// It returns nil or a *ValidationError naming every bad field.
func (d Dataset) Validate() error {
	v := &ValidationError{ID: d.ID}
	bad := func(field, format string, args ...any) {
		v.Fields = append(v.Fields, FieldError{field, fmt.Sprintf(format, args...)})
	}
	if !isName(d.ID) {
		bad("id", "%q is not 1-128 letters, digits, '.', '_' or '-' starting with a letter or digit", d.ID)
	}
	if !isName(d.Node) {
		bad("node", "%q is not 1-128 letters, digits, '.', '_' or '-' starting with a letter or digit", d.Node)
	}
	if d.Version < 1 {
		bad("version", "%d is less than 1", d.Version)
	}
	if !d.State.Valid() {
		bad("state", "%q is not draft, published or invalidated", d.State)
	}
	text := func(field, s string, max int) {
		switch {
		case !utf8.ValidString(s):
			bad(field, "is not valid UTF-8")
		case strings.TrimSpace(s) == "":
			bad(field, "is empty")
		case utf8.RuneCountInString(s) > max:
			bad(field, "is longer than %d characters", max)
		}
	}
	text("title", d.Title, 300)
	text("description", d.Description, 20000)
	if len(d.Keywords) == 0 {
		bad("keywords", "none given (EUCAIM DCAT-AP asks for at least one)")
	}
	for i, k := range d.Keywords {
		text(fmt.Sprintf("keywords[%d]", i), k, 100)
	}
	codes := func(field string, kind Kind, cs []Code) {
		if len(cs) == 0 {
			bad(field, "none given")
		}
		seen := map[Code]bool{}
		for i, c := range cs {
			f := fmt.Sprintf("%s[%d]", field, i)
			t, ok := LookupCode(kind, c.System, c.Code)
			switch {
			case !ok:
				bad(f, "%s code %q of system %q is not in the EUCAIM vocabulary", kind, c.Code, c.System)
			case c.Display != "" && c.Display != t.Code.Display:
				bad(f, "display %q does not match the vocabulary's %q for %s", c.Display, t.Code.Display, c.Code)
			case seen[Code{System: c.System, Code: c.Code}]:
				bad(f, "code %s given twice", c.Code)
			}
			seen[Code{System: c.System, Code: c.Code}] = true
		}
	}
	codes("cancer_types", KindCancerType, d.CancerTypes)
	codes("body_parts", KindBodyPart, d.BodyParts)
	codes("modalities", KindModality, d.Modalities)
	if d.AccessRights.IRI() == "" {
		bad("access_rights", "%q is not PUBLIC, RESTRICTED or NON_PUBLIC", d.AccessRights)
	}
	if d.Individuals < 0 {
		bad("individuals", "%d is negative", d.Individuals)
	}
	if d.Studies < 0 {
		bad("studies", "%d is negative", d.Studies)
	}
	if d.ContentHash != "" && !isHexHash(d.ContentHash) {
		bad("content_hash", "%q is not 64 lower-case hex digits (SHA3-256)", d.ContentHash)
	}
	if d.ContentHash == "" && d.State != StateDraft {
		bad("content_hash", "is empty: a %s dataset has content", d.State)
	}
	iri := func(field, s string, required bool) {
		if s == "" {
			if required {
				bad(field, "is empty")
			}
			return
		}
		if err := checkIRI(s); err != nil {
			bad(field, "%v", err)
		}
	}
	iri("license", d.License, true)
	if d.Contact.Email == "" && d.Contact.URL == "" {
		bad("contact", "needs an email or a URL")
	}
	if d.Contact.Email != "" && !isEmail(d.Contact.Email) {
		bad("contact.email", "%q is not an email address", d.Contact.Email)
	}
	iri("contact.url", d.Contact.URL, false)
	if !utf8.ValidString(d.Contact.Name) {
		bad("contact.name", "is not valid UTF-8")
	}
	text("publisher.name", d.Publisher.Name, 300)
	iri("publisher.url", d.Publisher.URL, false)
	if d.Publisher.Email != "" && !isEmail(d.Publisher.Email) {
		bad("publisher.email", "%q is not an email address", d.Publisher.Email)
	}
	if len(d.ApplicableLegislation) == 0 {
		bad("applicable_legislation", "none given (EUCAIM DCAT-AP asks for the EHDS, %s)", LegislationEHDS)
	}
	for i, l := range d.ApplicableLegislation {
		iri(fmt.Sprintf("applicable_legislation[%d]", i), l, true)
	}
	if !d.InteropLevel.Valid() {
		bad("interoperability_level", "%q is not one of the EUCAIM tiers (Tier 1, Tier 1A+, … Tier 3C+)", d.InteropLevel)
	}
	for i, c := range d.ConformsTo {
		iri(fmt.Sprintf("conforms_to[%d]", i), c, true)
	}
	iri("landing_page", d.LandingPage, false)
	if !utf8.ValidString(d.VersionNotes) {
		bad("version_notes", "is not valid UTF-8")
	}
	if d.Created.IsZero() {
		bad("created", "is not set")
	}
	if d.Modified.Before(d.Created) {
		bad("modified", "%s is before created %s", d.Modified.Format(time.RFC3339), d.Created.Format(time.RFC3339))
	}
	switch {
	case d.State == StateDraft && !d.Issued.IsZero():
		// A draft that was published once cannot exist: there is no move back.
		bad("issued", "is set on a draft")
	case d.State != StateDraft && d.State.Valid() && d.Issued.IsZero():
		bad("issued", "is not set on a %s dataset", d.State)
	case !d.Issued.IsZero() && d.Issued.Before(d.Created):
		bad("issued", "%s is before created %s", d.Issued.Format(time.RFC3339), d.Created.Format(time.RFC3339))
	}
	if len(v.Fields) == 0 {
		return nil
	}
	return v
}

func isName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && checkIRI("mailto:"+s) == nil
}

// checkIRI accepts an absolute IRI that can be written in Turtle and JSON-LD
// as it is: a scheme, no spaces, controls or the characters <>"{}|^`\.
func checkIRI(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if r <= 0x20 || r == 0x7f || strings.ContainsRune("<>\"{}|^`\\", r) {
			return fmt.Errorf("%q contains %q, not allowed in an IRI", s, r)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not an IRI: %v", s, err)
	}
	if u.Scheme == "" {
		return fmt.Errorf("%q is not an absolute IRI (no scheme)", s)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}
