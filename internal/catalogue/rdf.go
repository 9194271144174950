package catalogue

import (
	"strings"
)

// Namespaces of the vocabularies the RDF forms use. Sources: W3C DCAT 3,
// DCMI Terms, FOAF, vCard, ADMS and LDP recommendations; DCAT-AP 3
// (http://data.europa.eu/r5r/); the HealthDCAT-AP and EUCAIM hyper-ontology
// namespaces as EUCAIM DCAT-AP v2 declares them (EUCAIM/eucaim_dcat_ap,
// releases/v2.0/examples); FDP-O as the FAIR Data Point specification
// declares it (fdp-specs, example-metadataservice.ttl); re3data schema 3.0;
// SPDX 2.3 RDF terms.
const (
	nsRDF    = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	nsRDFS   = "http://www.w3.org/2000/01/rdf-schema#"
	nsXSD    = "http://www.w3.org/2001/XMLSchema#"
	nsDCAT   = "http://www.w3.org/ns/dcat#"
	nsDCT    = "http://purl.org/dc/terms/"
	nsFOAF   = "http://xmlns.com/foaf/0.1/"
	nsVCard  = "http://www.w3.org/2006/vcard/ns#"
	nsADMS   = "http://www.w3.org/ns/adms#"
	nsDCATAP = "http://data.europa.eu/r5r/"
	nsHealth = "https://w3id.org/healthdcat-ap#"
	nsEUCAIM = "https://hyperontology.eucaim.cancerimage.eu/#"
	nsSKOS   = "http://www.w3.org/2004/02/skos/core#"
	nsSPDX   = "http://spdx.org/rdf/terms#"
	nsLDP    = "http://www.w3.org/ns/ldp#"
	nsFDPO   = "https://w3id.org/fdp/fdp-o#"
	nsR3D    = "http://www.re3data.org/schema/3-0#"
)

// prefixes are written, in this order, at the top of every Turtle document
// and in every JSON-LD @context.
var prefixes = [...]struct{ name, ns string }{
	{"rdf", nsRDF},
	{"rdfs", nsRDFS},
	{"xsd", nsXSD},
	{"dcat", nsDCAT},
	{"dct", nsDCT},
	{"foaf", nsFOAF},
	{"vcard", nsVCard},
	{"adms", nsADMS},
	{"dcatap", nsDCATAP},
	{"healthdcatap", nsHealth},
	{"eucaim", nsEUCAIM},
	{"skos", nsSKOS},
	{"spdx", nsSPDX},
	{"ldp", nsLDP},
	{"fdp-o", nsFDPO},
	{"r3d", nsR3D},
}

const rdfType = nsRDF + "type"

// termKind tells what an RDF object is.
type termKind int

const (
	termIRI termKind = iota
	termLiteral
	termNode // a blank node, written inline
)

// term is an RDF object: an IRI, a literal (with a datatype or a language)
// or a nested blank node.
type term struct {
	kind     termKind
	value    string // the IRI or the lexical form
	datatype string // full IRI; "" means xsd:string (or rdf:langString with lang)
	lang     string
	node     *resource
}

func iriTerm(s string) term             { return term{kind: termIRI, value: s} }
func strTerm(s string) term             { return term{kind: termLiteral, value: s} }
func langTerm(s, lang string) term      { return term{kind: termLiteral, value: s, lang: lang} }
func typedTerm(s, datatype string) term { return term{kind: termLiteral, value: s, datatype: datatype} }
func nodeTerm(r *resource) term         { return term{kind: termNode, node: r} }

// property is a predicate (full IRI) with its objects, in order.
type property struct {
	pred string
	objs []term
}

// resource is a subject with its properties: an IRI, or a blank node when iri
// is "" (then only as a nested object). Blank nodes form trees: each is the
// object of exactly one triple.
type resource struct {
	iri   string
	types []string
	props []property
}

// add appends objects to the property pred, skipping empty IRIs and literals
// with an empty lexical form (absent optional values).
func (r *resource) add(pred string, objs ...term) {
	var keep []term
	for _, o := range objs {
		if (o.kind == termIRI || o.kind == termLiteral) && o.value == "" && o.datatype == "" {
			continue
		}
		if o.kind == termNode && o.node == nil {
			continue
		}
		keep = append(keep, o)
	}
	if len(keep) == 0 {
		return
	}
	for i := range r.props {
		if r.props[i].pred == pred {
			r.props[i].objs = append(r.props[i].objs, keep...)
			return
		}
	}
	r.props = append(r.props, property{pred: pred, objs: keep})
}

// compact returns prefix:local for an IRI in a known namespace whose local
// part is a safe Turtle PN_LOCAL (letters, digits, '_', '-', inner '.'), or
// "" if there is none.
func compact(iri string) string {
	best := ""
	bestNS := 0
	for _, p := range prefixes {
		if strings.HasPrefix(iri, p.ns) && len(p.ns) > bestNS {
			local := iri[len(p.ns):]
			if safeLocal(local) {
				best, bestNS = p.name+":"+local, len(p.ns)
			}
		}
	}
	return best
}

func safeLocal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '-' && i > 0:
		case c == '.' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}
