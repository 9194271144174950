package catalogue

import (
	"fmt"
	"strings"
)

// Code systems of the vocabulary.
const (
	// SystemSNOMED is SNOMED CT, by its URI as given in the SNOMED CT URI
	// Standard and used by HL7 FHIR.
	SystemSNOMED = "http://snomed.info/sct"
	// SystemRadLex is RadLex (RSNA), by the URI HL7 FHIR uses for it
	// (OID 2.16.840.1.113883.6.256, as the EUCAIM explorer names it).
	SystemRadLex = "http://radlex.org"
)

// Kind is what a vocabulary term describes.
type Kind int

// The kinds of terms a dataset is described with.
const (
	KindCancerType Kind = iota + 1 // a diagnosis (SNOMED CT)
	KindBodyPart                   // an imaged body structure (SNOMED CT)
	KindModality                   // an imaging modality (RadLex)
)

// String names the kind as the JSON and the search facets do.
func (k Kind) String() string {
	switch k {
	case KindCancerType:
		return "cancer_type"
	case KindBodyPart:
		return "body_part"
	case KindModality:
		return "modality"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Term is one entry of the vocabulary: a code of a kind and the key the
// EUCAIM explorer uses for it in search queries (e.g. "SNOMEDCT363406005").
type Term struct {
	Kind        Kind
	Code        Code
	ExplorerKey string
}

// Terms returns the vocabulary terms of kind k, in source order; all terms
// when k is zero. The slice is a copy.
func Terms(k Kind) []Term {
	var out []Term
	for _, t := range vocabulary {
		if k == 0 || t.Kind == k {
			out = append(out, t)
		}
	}
	return out
}

// LookupCode finds the term of kind k with the given system and code.
func LookupCode(k Kind, system, code string) (Term, bool) {
	for _, t := range vocabulary {
		if t.Kind == k && t.Code.System == system && t.Code.Code == code {
			return t, true
		}
	}
	return Term{}, false
}

// LookupDisplay finds the term of kind k whose display name equals display,
// ignoring case and surrounding space ("lung cancer" finds "Lung Cancer").
func LookupDisplay(k Kind, display string) (Term, bool) {
	display = strings.TrimSpace(display)
	for _, t := range vocabulary {
		if t.Kind == k && strings.EqualFold(t.Code.Display, display) {
			return t, true
		}
	}
	return Term{}, false
}

// LookupIRI finds the term whose code has the given IRI (see Code.IRI).
func LookupIRI(iri string) (Term, bool) {
	for _, t := range vocabulary {
		if t.Code.IRI() == iri {
			return t, true
		}
	}
	return Term{}, false
}

// LookupExplorerKey finds the term of kind k with the given EUCAIM explorer
// key ("SNOMEDCT254837009", "RID10321").
func LookupExplorerKey(k Kind, key string) (Term, bool) {
	for _, t := range vocabulary {
		if t.Kind == k && t.ExplorerKey == key {
			return t, true
		}
	}
	return Term{}, false
}

// ModalityFromDICOM returns the vocabulary term for a DICOM Modality
// (0008,0060) defined term (PS3.3 C.7.3.1.1.1: "CT", "MR", "PT"), if the
// vocabulary has one. NM is not mapped: it covers planar scintigraphy as well
// as SPECT; ST is the retired term for SPECT.
func ModalityFromDICOM(modality string) (Term, bool) {
	var rid string
	switch strings.ToUpper(strings.TrimSpace(modality)) {
	case "CT":
		rid = "RID10321" // Computed Tomography
	case "MR":
		rid = "RID10312" // Magnetic Resonance Imaging
	case "PT":
		rid = "RID10337" // Positron Emission Tomography
	case "ST":
		rid = "RID10334" // Single Photon Emission Computed Tomography
	default:
		return Term{}, false
	}
	return LookupCode(KindModality, SystemRadLex, rid)
}
