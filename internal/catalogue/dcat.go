package catalogue

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// IRIs of controlled vocabularies the DCAT-AP forms use.
const (
	// themeHealth is the EU data theme "Health", the fixed dcat:theme of
	// EUCAIM DCAT-AP v2 datasets.
	themeHealth = "http://publications.europa.eu/resource/authority/data-theme/HEAL"
	// themeTaxonomy is the EU data theme authority table.
	themeTaxonomy = "http://publications.europa.eu/resource/authority/data-theme"
	// datasetStatus is the EU dataset-status authority table (adms:status in
	// DCAT-AP 3): COMPLETED, DEPRECATED, DEVELOP, WITHDRAWN.
	datasetStatus = "http://publications.europa.eu/resource/authority/dataset-status/"
	// mediaTypeDICOM is application/dicom in the IANA media type registry
	// (RFC 3240).
	mediaTypeDICOM = "https://www.iana.org/assignments/media-types/application/dicom"
	// sha3_256 is the SPDX 2.3 checksum algorithm SHA3-256.
	sha3_256 = nsSPDX + "checksumAlgorithm_sha3_256"
	// fdpSpec is the FAIR Data Point specification version this package follows.
	fdpSpec = "https://specs.fairdatapoint.org/fdp-specs-v1.2.html"
)

// Catalog describes the public catalogue that the hub serves, and where:
// every IRI of the RDF forms derives from BaseURL.
type Catalog struct {
	// BaseURL is the hub's public URL ("https://hub.example.org"). Datasets
	// are <BaseURL>/fdp/dataset/<id>, the FAIR Data Point is <BaseURL>/fdp.
	BaseURL string
	// ID names the catalogue in its IRI, <BaseURL>/fdp/catalog/<ID>.
	ID          string
	Title       string // English
	Description string // English
	Publisher   Publisher
	License     string // IRI of the licence of the metadata
	Homepage    string // the catalogue's HTML page
	// Issued is when the catalogue started; its modification time is the
	// latest of its datasets'.
	Issued time.Time
	// SoftwareVersion is the cie version, shown by the FAIR Data Point.
	SoftwareVersion string
}

// Validate checks the catalogue description, naming the bad field.
func (c Catalog) Validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("base_url: %q is not an http(s) URL", c.BaseURL))
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.BaseURL, "/"):
		errs = append(errs, fmt.Errorf("base_url: %q must not end in '/' or have a query or fragment", c.BaseURL))
	case checkIRI(c.BaseURL) != nil:
		errs = append(errs, fmt.Errorf("base_url: %w", checkIRI(c.BaseURL)))
	}
	if !isName(c.ID) {
		errs = append(errs, fmt.Errorf("id: %q is not 1-128 letters, digits, '.', '_' or '-'", c.ID))
	}
	if strings.TrimSpace(c.Title) == "" {
		errs = append(errs, errors.New("title: is empty"))
	}
	if strings.TrimSpace(c.Publisher.Name) == "" {
		errs = append(errs, errors.New("publisher.name: is empty"))
	}
	if err := checkIRI(c.License); err != nil {
		errs = append(errs, fmt.Errorf("license: %w", err))
	}
	for _, f := range []struct{ name, v string }{{"homepage", c.Homepage}, {"publisher.url", c.Publisher.URL}} {
		if f.v != "" {
			if err := checkIRI(f.v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("catalogue: invalid catalog description: %w", errors.Join(errs...))
	}
	return nil
}

// FDPIRI is the IRI of the FAIR Data Point, <BaseURL>/fdp.
func (c Catalog) FDPIRI() string { return c.BaseURL + "/fdp" }

// CatalogIRI is the IRI of the catalogue, <BaseURL>/fdp/catalog/<ID>.
func (c Catalog) CatalogIRI() string { return c.FDPIRI() + "/catalog/" + url.PathEscape(c.ID) }

// DatasetIRI is the IRI of a dataset, <BaseURL>/fdp/dataset/<id>.
func (c Catalog) DatasetIRI(id string) string { return c.FDPIRI() + "/dataset/" + url.PathEscape(id) }

// DistributionIRI is the IRI of a dataset's distribution (its DICOM data),
// <BaseURL>/fdp/distribution/<id>.
func (c Catalog) DistributionIRI(id string) string {
	return c.FDPIRI() + "/distribution/" + url.PathEscape(id)
}

// nodeEndpoint is the hub's DICOMweb relay for a node.
func (c Catalog) nodeEndpoint(node string) string {
	return c.BaseURL + "/nodes/" + url.PathEscape(node) + "/dicomweb"
}

// versionString is the dcat:version of a content version: EUCAIM DCAT-AP v2
// asks for Semantic Versioning, and every content change is a major one.
func versionString(v int) string { return strconv.Itoa(v) + ".0.0" }

func dateTime(t time.Time) term {
	if t.IsZero() {
		return term{}
	}
	return typedTerm(t.UTC().Format(time.RFC3339Nano), nsXSD+"dateTime")
}

func count(n int) term { return typedTerm(strconv.Itoa(n), nsXSD+"nonNegativeInteger") }

func mailto(email string) term {
	if email == "" {
		return term{}
	}
	return iriTerm("mailto:" + email)
}

func statusIRI(s State) string {
	switch s {
	case StateDraft:
		return datasetStatus + "DEVELOP"
	case StatePublished:
		return datasetStatus + "COMPLETED"
	case StateInvalidated:
		return datasetStatus + "WITHDRAWN"
	}
	return ""
}

func publisherNode(p Publisher) *resource {
	r := &resource{types: []string{nsFOAF + "Agent"}}
	r.add(nsFOAF+"name", strTerm(p.Name))
	r.add(nsFOAF+"homepage", iriTerm(p.URL))
	r.add(nsFOAF+"mbox", mailto(p.Email))
	return r
}

// datasetResources returns the dataset and its distribution.
func (c Catalog) datasetResources(d Dataset) []*resource {
	ds := &resource{iri: c.DatasetIRI(d.ID), types: []string{nsDCAT + "Dataset"}}
	ds.add(nsDCT+"identifier", strTerm(d.ID))
	ds.add(nsDCT+"title", langTerm(d.Title, "en"))
	ds.add(nsDCT+"description", langTerm(d.Description, "en"))
	for _, k := range d.Keywords {
		ds.add(nsDCAT+"keyword", langTerm(k, "en"))
	}
	ds.add(nsDCAT+"theme", iriTerm(themeHealth))
	for _, code := range d.CancerTypes {
		ds.add(nsDCT+"subject", iriTerm(code.IRI()))
	}
	for _, p := range []struct {
		pred  string
		codes []Code
	}{
		{nsEUCAIM + "hasCondition", d.CancerTypes},
		{nsEUCAIM + "hasImageBodyPart", d.BodyParts},
		{nsEUCAIM + "hasImageModality", d.Modalities},
	} {
		for _, code := range p.codes {
			ds.add(p.pred, iriTerm(code.IRI()))
		}
	}
	ds.add(nsDCT+"accessRights", iriTerm(d.AccessRights.IRI()))
	ds.add(nsHealth+"numberOfUniqueIndividuals", count(d.Individuals))
	ds.add(nsHealth+"numberOfRecords", count(d.Studies))
	ds.add(nsDCT+"license", iriTerm(d.License))
	cp := &resource{types: []string{nsVCard + "Kind"}}
	cp.add(nsVCard+"fn", strTerm(d.Contact.Name))
	cp.add(nsVCard+"hasEmail", mailto(d.Contact.Email))
	cp.add(nsVCard+"hasURL", iriTerm(d.Contact.URL))
	ds.add(nsDCAT+"contactPoint", nodeTerm(cp))
	ds.add(nsDCT+"publisher", nodeTerm(publisherNode(d.Publisher)))
	for _, l := range d.ApplicableLegislation {
		ds.add(nsDCATAP+"applicableLegislation", iriTerm(l))
	}
	// The EUCAIM hyper-ontology classes of the tiers (subclasses of
	// eucaim:SPEC1000008) are not in the vocabulary this package has, so the
	// tier goes out by its name.
	ds.add(nsEUCAIM+"interoperabilityLevel", strTerm(string(d.InteropLevel)))
	for _, s := range d.ConformsTo {
		ds.add(nsDCT+"conformsTo", iriTerm(s))
	}
	ds.add(nsDCAT+"landingPage", iriTerm(d.LandingPage))
	ds.add(nsDCAT+"version", strTerm(versionString(d.Version)))
	ds.add(nsADMS+"versionNotes", langTerm(d.VersionNotes, "en"))
	ds.add(nsADMS+"status", iriTerm(statusIRI(d.State)))
	ds.add(nsDCT+"issued", dateTime(d.Issued))
	ds.add(nsDCT+"modified", dateTime(d.Modified))
	ds.add(nsDCAT+"distribution", iriTerm(c.DistributionIRI(d.ID)))

	dist := &resource{iri: c.DistributionIRI(d.ID), types: []string{nsDCAT + "Distribution"}}
	dist.add(nsDCT+"title", langTerm(d.Title+" (DICOM)", "en"))
	access := d.LandingPage
	if access == "" {
		access = c.DatasetIRI(d.ID)
	}
	dist.add(nsDCAT+"accessURL", iriTerm(access))
	dist.add(nsDCAT+"mediaType", iriTerm(mediaTypeDICOM))
	dist.add(nsDCT+"license", iriTerm(d.License))
	dist.add(nsDCT+"accessRights", iriTerm(d.AccessRights.IRI()))
	if d.ContentHash != "" {
		sum := &resource{types: []string{nsSPDX + "Checksum"}}
		sum.add(nsSPDX+"algorithm", iriTerm(sha3_256))
		sum.add(nsSPDX+"checksumValue", typedTerm(d.ContentHash, nsXSD+"hexBinary"))
		dist.add(nsSPDX+"checksum", nodeTerm(sum))
	}
	svc := &resource{types: []string{nsDCAT + "DataService"}}
	svc.add(nsDCT+"identifier", strTerm(d.Node))
	svc.add(nsDCT+"title", langTerm("cie node "+d.Node+" (DICOMweb)", "en"))
	svc.add(nsDCAT+"endpointURL", iriTerm(c.nodeEndpoint(d.Node)))
	dist.add(nsDCAT+"accessService", nodeTerm(svc))
	return []*resource{ds, dist}
}

// conceptResources describes the codes the datasets use as SKOS concepts
// (label and notation), once each, in vocabulary order.
func conceptResources(ds []Dataset) []*resource {
	used := map[Code]bool{}
	for _, d := range ds {
		for _, cs := range [][]Code{d.CancerTypes, d.BodyParts, d.Modalities} {
			for _, c := range cs {
				used[Code{System: c.System, Code: c.Code}] = true
			}
		}
	}
	var out []*resource
	for _, t := range vocabulary {
		if !used[Code{System: t.Code.System, Code: t.Code.Code}] {
			continue
		}
		r := &resource{iri: t.Code.IRI(), types: []string{nsSKOS + "Concept"}}
		r.add(nsSKOS+"prefLabel", langTerm(t.Code.Display, "en"))
		r.add(nsSKOS+"notation", strTerm(t.Code.Code))
		r.add(nsSKOS+"inScheme", iriTerm(t.Code.System))
		out = append(out, r)
	}
	return out
}

func latestModified(ds []Dataset) time.Time {
	var t time.Time
	for _, d := range ds {
		if d.Modified.After(t) {
			t = d.Modified
		}
	}
	return t
}

// catalogResource describes the catalogue and links its datasets.
func (c Catalog) catalogResource(ds []Dataset) *resource {
	r := &resource{iri: c.CatalogIRI(), types: []string{nsDCAT + "Catalog"}}
	r.add(nsDCT+"title", langTerm(c.Title, "en"))
	r.add(nsDCT+"description", langTerm(c.Description, "en"))
	r.add(nsDCT+"publisher", nodeTerm(publisherNode(c.Publisher)))
	r.add(nsDCT+"license", iriTerm(c.License))
	r.add(nsFOAF+"homepage", iriTerm(c.Homepage))
	r.add(nsDCAT+"themeTaxonomy", iriTerm(themeTaxonomy))
	r.add(nsDCT+"issued", dateTime(c.Issued))
	r.add(nsDCT+"modified", dateTime(latestModified(ds)))
	for _, d := range ds {
		r.add(nsDCAT+"dataset", iriTerm(c.DatasetIRI(d.ID)))
	}
	return r
}

// Format is a machine-readable form of the catalogue.
type Format int

// The forms the catalogue is written in.
const (
	FormatJSON   Format = iota + 1 // the package's own JSON (Dataset.MarshalJSON)
	FormatJSONLD                   // DCAT-AP as JSON-LD
	FormatTurtle                   // DCAT-AP as Turtle
)

// MediaType is the Content-Type of the format, with its charset.
func (f Format) MediaType() string {
	switch f {
	case FormatJSON:
		return "application/json"
	case FormatJSONLD:
		return "application/ld+json"
	case FormatTurtle:
		return "text/turtle; charset=utf-8"
	}
	return ""
}

// String is the media type, for messages.
func (f Format) String() string {
	if m := f.MediaType(); m != "" {
		return m
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Negotiate picks the format an HTTP Accept header asks for among offers,
// honouring q-values; ties go to the earlier offer. An empty header, or one
// that accepts anything (*/*), gets the first offer. It reports false when
// nothing offered is acceptable (answer 406).
func Negotiate(accept string, offers ...Format) (Format, bool) {
	if len(offers) == 0 {
		return 0, false
	}
	if strings.TrimSpace(accept) == "" {
		return offers[0], true
	}
	best, bestQ := Format(0), 0.0
	for _, f := range offers {
		base, _, _ := mime.ParseMediaType(f.MediaType())
		q := acceptQ(accept, base)
		if q > bestQ {
			best, bestQ = f, q
		}
	}
	return best, bestQ > 0
}

// acceptQ is the quality an Accept header gives a media type: the most
// specific matching range wins (type/subtype over type/* over */*).
func acceptQ(accept, media string) float64 {
	typ, _, _ := strings.Cut(media, "/")
	q, spec := 0.0, -1
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		s := -1
		switch {
		case mt == media:
			s = 2
		case mt == typ+"/*":
			s = 1
		case mt == "*/*":
			s = 0
		}
		if s < 0 || s < spec {
			continue
		}
		pq := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			pq = f
		}
		if s > spec {
			q, spec = pq, s
		} else if pq > q {
			q = pq
		}
	}
	return q
}

// WriteDataset writes one dataset in format f: its JSON, or its DCAT-AP
// description (the dataset, its distribution and the concepts of its codes).
func (c Catalog) WriteDataset(w io.Writer, f Format, d Dataset) error {
	switch f {
	case FormatJSON:
		return writeJSON(w, d)
	case FormatJSONLD, FormatTurtle:
		rs := append(c.datasetResources(d), conceptResources([]Dataset{d})...)
		return writeRDF(w, f, rs)
	}
	return fmt.Errorf("catalogue: writing dataset %q: unknown format %v", d.ID, f)
}

// catalogJSON is the JSON form of a list of datasets.
type catalogJSON struct {
	V        int       `json:"v"`
	Datasets []Dataset `json:"datasets"`
}

// WriteCatalog writes the catalogue with the given datasets, in their order,
// in format f: as JSON {"v":1,"datasets":[…]}, or as a DCAT-AP dcat:Catalog
// linking every dataset with dcat:dataset, followed by the datasets, their
// distributions and the concepts of their codes.
func (c Catalog) WriteCatalog(w io.Writer, f Format, ds []Dataset) error {
	switch f {
	case FormatJSON:
		if ds == nil {
			ds = []Dataset{}
		}
		return writeJSON(w, catalogJSON{V: JSONVersion, Datasets: ds})
	case FormatJSONLD, FormatTurtle:
		rs := []*resource{c.catalogResource(ds)}
		for _, d := range ds {
			rs = append(rs, c.datasetResources(d)...)
		}
		rs = append(rs, conceptResources(ds)...)
		return writeRDF(w, f, rs)
	}
	return fmt.Errorf("catalogue: writing catalogue: unknown format %v", f)
}

func writeRDF(w io.Writer, f Format, rs []*resource) error {
	if f == FormatTurtle {
		return writeTurtle(w, rs)
	}
	return writeJSONLD(w, rs)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("catalogue: writing JSON: %w", err)
	}
	return nil
}

// sortedCopy returns the datasets sorted by ID.
func sortedCopy(ds []Dataset) []Dataset {
	out := append([]Dataset(nil), ds...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
