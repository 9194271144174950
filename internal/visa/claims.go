package visa

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"
	"unicode/utf8"
)

// Claim names and values from GA4GH Passport 1.2 ("Visa Format", "Visa
// Object Claims", "ControlledAccessGrants", "by") and the GA4GH AAI profile
// ("Passport Format").
const (
	ClaimVisa     = "ga4gh_visa_v1"
	ClaimPassport = "ga4gh_passport_v1"
	// TypeControlledAccessGrants is the standard visa type of a dataset grant;
	// its "value" is the dataset's URL and it MUST carry "by".
	TypeControlledAccessGrants = "ControlledAccessGrants"
	// ByDAC is the "by" value of a Data Access Committee's decision.
	ByDAC = "dac"
)

// Private claims (RFC 7519 section 4.3) of visas issued by a cie hub. They sit
// beside ga4gh_visa_v1, not inside it, because names inside the visa object
// are reserved for GA4GH (Passport 1.2, "Visa Object Claims"). Other
// clearinghouses ignore them.
//
// The access model is not written as "conditions": in GA4GH Passport 1.2 a
// condition makes a visa depend on OTHER visas in the passport (clauses of
// visa type and claim patterns, in disjunctive normal form), not on how the
// data is used, and a clearinghouse must drop a visa whose conditions it cannot
// match. A visa without the access-model claim grants nothing at a node.
const (
	// ClaimAccess holds the access model: "download", "view" or "process".
	ClaimAccess = "cie_access"
	// ClaimRequest holds the id of the access request whose approval made the
	// visa, so that a node's audit entries name it.
	ClaimRequest = "cie_request"
)

// maxURLClaim is the longest URL claim (Passport 1.2, "URL Claims" 3).
const maxURLClaim = 255

// Access is the access model a visa grants, after the data access models of
// the EUCAIM negotiation (download, in-situ virtual research environment,
// remote-only batch processing).
type Access string

// Access models.
const (
	// AccessDownload permits downloading the data; it also permits viewing
	// and processing, which a downloader could do on the copy anyway.
	AccessDownload Access = "download"
	// AccessView permits viewing in situ (DICOMweb for a viewer) only.
	AccessView Access = "view"
	// AccessProcess permits federated processing (jobs run at the node) only.
	AccessProcess Access = "process"
)

// Action is what a caller wants to do with a dataset at a node.
type Action string

// Actions a node checks a visa for.
const (
	ActionView     Action = "view"     // DICOMweb reads for viewing
	ActionDownload Action = "download" // downloading studies, series, files
	ActionProcess  Action = "process"  // running a job on the dataset
)

// Valid returns an error wrapping ErrInvalid unless a is an access model.
func (a Access) Valid() error {
	switch a {
	case AccessDownload, AccessView, AccessProcess:
		return nil
	}
	return fmt.Errorf("%w: access model %q (download, view or process)", ErrInvalid, string(a))
}

// Valid returns an error wrapping ErrInvalid unless a is an action.
func (a Action) Valid() error {
	switch a {
	case ActionView, ActionDownload, ActionProcess:
		return nil
	}
	return fmt.Errorf("%w: action %q (view, download or process)", ErrInvalid, string(a))
}

// Permits reports whether access model a allows action act.
func (a Access) Permits(act Action) bool {
	switch a {
	case AccessDownload:
		return act == ActionDownload || act == ActionView || act == ActionProcess
	case AccessView:
		return act == ActionView
	case AccessProcess:
		return act == ActionProcess
	}
	return false
}

// Visa is a verified visa's content.
type Visa struct {
	Issuer    string    // "iss"
	Subject   string    // "sub": the researcher
	JTI       string    // "jti": the visa's id, used for revocation
	KeyID     string    // the "kid" that signed it
	IssuedAt  time.Time // "iat"
	NotBefore time.Time // "nbf", zero if absent
	Expires   time.Time // "exp"

	Type     string    // ga4gh_visa_v1 "type"
	Asserted time.Time // ga4gh_visa_v1 "asserted"
	Value    string    // ga4gh_visa_v1 "value": the dataset's URL or URN
	Source   string    // ga4gh_visa_v1 "source"
	By       string    // ga4gh_visa_v1 "by"
	// Conditions is true if ga4gh_visa_v1 carries a non-empty "conditions".
	Conditions bool

	Access  Access // cie_access
	Request string // cie_request
}

// visaObject is the ga4gh_visa_v1 claim as the hub writes it.
type visaObject struct {
	Type     string `json:"type"`
	Asserted int64  `json:"asserted"`
	Value    string `json:"value"`
	Source   string `json:"source"`
	By       string `json:"by"`
}

// visaPayload is the payload of a visa as the hub writes it.
type visaPayload struct {
	Iss     string     `json:"iss"`
	Sub     string     `json:"sub"`
	Iat     int64      `json:"iat"`
	Exp     int64      `json:"exp"`
	Jti     string     `json:"jti"`
	Visa    visaObject `json:"ga4gh_visa_v1"`
	Access  Access     `json:"cie_access"`
	Request string     `json:"cie_request,omitempty"`
}

// passportPayload is the payload of a passport as the hub writes it.
type passportPayload struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Iat   int64    `json:"iat"`
	Exp   int64    `json:"exp"`
	Jti   string   `json:"jti"`
	Visas []string `json:"ga4gh_passport_v1"`
}

// checkURLClaim checks a URL claim (Passport 1.2, "URL Claims"): an absolute
// URI (a URL with a host, or a URN), at most 255 characters, printable ASCII.
func checkURLClaim(name, s string) error {
	if s == "" || len(s) > maxURLClaim {
		return fmt.Errorf("%w: %s %q: want 1 to %d characters", ErrInvalid, name, s, maxURLClaim)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return fmt.Errorf("%w: %s %q: only printable ASCII without spaces", ErrInvalid, name, s)
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
		return fmt.Errorf("%w: %s %q is not an absolute URL or URN", ErrInvalid, name, s)
	}
	return nil
}

// checkDatasetClaim checks the dataset a visa grants (its "value"): an
// absolute URL or URN as Passport 1.2 "URL Claims" describes, or a hub's
// catalogue identifier such as "oslo-1a2b3c4d5e6f" (letters, digits and
// - . _ :), which is what cie nodes compare it with. Either way at most 255
// characters of printable ASCII; nodes match it exactly.
func checkDatasetClaim(s string) error {
	if checkURLClaim("dataset", s) == nil {
		return nil
	}
	if s == "" || len(s) > maxURLClaim {
		return fmt.Errorf("%w: dataset %q: want 1 to %d characters", ErrInvalid, s, maxURLClaim)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':') {
			return fmt.Errorf("%w: dataset %q is neither an absolute URL nor an identifier of letters, digits and - . _ :", ErrInvalid, s)
		}
	}
	return nil
}

// checkText checks a short free text claim (subject, request id, jti).
func checkText(name, s string, required bool) error {
	if s == "" && !required {
		return nil
	}
	if s == "" || len(s) > 255 || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q: want 1 to 255 bytes of UTF-8", ErrInvalid, name, s)
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("%w: %s %q holds a control character", ErrInvalid, name, s)
		}
	}
	return nil
}

// visaFromClaims reads a visa's claims. It checks their form, not their
// validity (time, revocation, issuer), which the verifier does.
func visaFromClaims(c map[string]json.RawMessage, kid string) (*Visa, error) {
	v := &Visa{KeyID: kid}
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{{"iss", &v.Issuer}, {"sub", &v.Subject}, {"jti", &v.JTI}} {
		if *f.dst, err = stringMember(c, f.name, true); err != nil {
			return nil, err
		}
	}
	if v.IssuedAt, err = timeMember(c, "iat", true); err != nil {
		return nil, err
	}
	if v.Expires, err = timeMember(c, "exp", true); err != nil {
		return nil, err
	}
	if v.NotBefore, err = timeMember(c, "nbf", false); err != nil {
		return nil, err
	}
	raw, ok := c[ClaimVisa]
	if !ok {
		return nil, fmt.Errorf("%w: no %s claim", ErrMalformed, ClaimVisa)
	}
	obj, err := jsonObject(raw, ClaimVisa)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{{"type", &v.Type, true}, {"value", &v.Value, true}, {"source", &v.Source, true}, {"by", &v.By, false}} {
		if *f.dst, err = stringMember(obj, f.name, f.required); err != nil {
			return nil, fmt.Errorf("%s: %w", ClaimVisa, err)
		}
	}
	if v.Asserted, err = timeMember(obj, "asserted", true); err != nil {
		return nil, fmt.Errorf("%s: %w", ClaimVisa, err)
	}
	if cond, ok := obj["conditions"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(cond, &list); err != nil {
			return nil, fmt.Errorf("%w: %s: conditions is not a list", ErrMalformed, ClaimVisa)
		}
		v.Conditions = len(list) > 0
	}
	a, err := stringMember(c, ClaimAccess, false)
	if err != nil {
		return nil, err
	}
	v.Access = Access(a)
	if v.Request, err = stringMember(c, ClaimRequest, false); err != nil {
		return nil, err
	}
	return v, nil
}
