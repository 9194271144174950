package catalogue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Source gives the FAIR Data Point (and the hub's pages) the datasets the hub
// holds. The hub implements it over its store.
type Source interface {
	// Datasets returns every dataset the hub holds, in any state.
	Datasets(ctx context.Context) ([]Dataset, error)
	// Dataset returns one dataset by ID, or an error wrapping ErrNotFound.
	Dataset(ctx context.Context, id string) (Dataset, error)
}

// ErrNotFound is wrapped by a Source that has no dataset of the ID asked.
var ErrNotFound = errors.New("catalogue: dataset not found")

// FDP is a FAIR Data Point (FDP specification v1.2, https://specs.fairdatapoint.org)
// over a Source, as an http.Handler for <BaseURL>/fdp and everything under it:
//
//	/fdp                     the FDP itself (fdp-o:FAIRDataPoint, r3d:Repository), linking its catalogue
//	/fdp/catalog/<ID>        the catalogue (dcat:Catalog), linking its published datasets
//	/fdp/dataset/<id>        a dataset (dcat:Dataset), linking its distribution
//	/fdp/distribution/<id>   the dataset's distribution (dcat:Distribution)
//
// Each record is Turtle, or JSON-LD when the Accept header prefers
// application/ld+json; it names its children with the FDP relation
// (fdp-o:metadataCatalog, dcat:dataset, dcat:distribution) and with an LDP
// direct container (ldp:contains) so that a harvester can walk it from /fdp.
// Only published datasets are listed; an invalidated one still resolves,
// marked withdrawn (adms:status), so that links to it keep working; drafts do
// not exist here. Mount it at both "/fdp" and "/fdp/".
type FDP struct {
	cat  Catalog
	src  Source
	log  *slog.Logger
	path string // the URL path of the FDP: BaseURL's path + "/fdp"
}

// NewFDP returns the FAIR Data Point of the catalogue c over src. A nil log
// discards the log.
func NewFDP(c Catalog, src Source, log *slog.Logger) (*FDP, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("catalogue: FAIR Data Point: %w", err)
	}
	if src == nil {
		return nil, errors.New("catalogue: FAIR Data Point: no source")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(c.FDPIRI())
	if err != nil {
		return nil, fmt.Errorf("catalogue: FAIR Data Point: %w", err)
	}
	return &FDP{cat: c, src: src, log: log, path: u.Path}, nil
}

// ServeHTTP answers GET and HEAD for the FDP's records.
func (f *FDP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Vary", "Accept")
	format, ok := Negotiate(r.Header.Get("Accept"), FormatTurtle, FormatJSONLD)
	if !ok {
		http.Error(w, "not acceptable: this FAIR Data Point answers text/turtle or application/ld+json", http.StatusNotAcceptable)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, f.path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	rs, err := f.record(r.Context(), strings.TrimSuffix(rest, "/"))
	switch {
	case errors.Is(err, ErrNotFound):
		http.NotFound(w, r)
		return
	case err != nil:
		f.log.Error("FAIR Data Point", "path", r.URL.Path, "err", err)
		http.Error(w, "the catalogue is unavailable", http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := writeRDF(&b, format, rs); err != nil {
		f.log.Error("FAIR Data Point", "path", r.URL.Path, "err", err)
		http.Error(w, "the catalogue is unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", format.MediaType())
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b.Bytes())
}

// record returns the resources of the record at path rest (relative to the
// FDP), or an error wrapping ErrNotFound.
func (f *FDP) record(ctx context.Context, rest string) ([]*resource, error) {
	switch {
	case rest == "":
		return f.fdpRecord(ctx)
	case rest == "/catalog/"+f.cat.ID:
		return f.catalogRecord(ctx)
	}
	if id, ok := strings.CutPrefix(rest, "/dataset/"); ok && isName(id) {
		d, err := f.visible(ctx, id)
		if err != nil {
			return nil, err
		}
		rs := f.cat.datasetResources(d)
		ds, dist := rs[0], rs[1]
		ds.add(nsDCT+"isPartOf", iriTerm(f.cat.CatalogIRI()))
		f.recordMeta(ds, d.Created, d.Modified)
		rs = append(rs, container(ds.iri+"/distribution/", ds.iri, nsDCAT+"distribution", dist.iri))
		return append(rs, conceptResources([]Dataset{d})...), nil
	}
	if id, ok := strings.CutPrefix(rest, "/distribution/"); ok && isName(id) {
		d, err := f.visible(ctx, id)
		if err != nil {
			return nil, err
		}
		dist := f.cat.datasetResources(d)[1]
		dist.add(nsDCT+"isPartOf", iriTerm(f.cat.DatasetIRI(d.ID)))
		f.recordMeta(dist, d.Created, d.Modified)
		return []*resource{dist}, nil
	}
	return nil, ErrNotFound
}

// visible returns a dataset that the FDP shows: published or invalidated.
func (f *FDP) visible(ctx context.Context, id string) (Dataset, error) {
	d, err := f.src.Dataset(ctx, id)
	if err != nil {
		return Dataset{}, fmt.Errorf("dataset %q: %w", id, err)
	}
	if d.ID != id || d.State == StateDraft || !d.State.Valid() {
		return Dataset{}, fmt.Errorf("dataset %q: %w", id, ErrNotFound)
	}
	return d, nil
}

// published returns the published datasets of the source, sorted by ID.
func (f *FDP) published(ctx context.Context) ([]Dataset, error) {
	all, err := f.src.Datasets(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing datasets: %w", err)
	}
	var out []Dataset
	for _, d := range sortedCopy(all) {
		if d.State == StatePublished && isName(d.ID) {
			out = append(out, d)
		}
	}
	return out, nil
}

// recordMeta adds the FDP metadata-record properties.
func (f *FDP) recordMeta(r *resource, issued, modified time.Time) {
	r.add(nsFDPO+"metadataIdentifier", iriTerm(r.iri))
	r.add(nsFDPO+"metadataIssued", dateTime(issued))
	r.add(nsFDPO+"metadataModified", dateTime(modified))
}

// container is an LDP direct container: member relates to each of children
// by rel.
func container(iri, member, rel string, children ...string) *resource {
	r := &resource{iri: iri, types: []string{nsLDP + "DirectContainer"}}
	r.add(nsLDP+"membershipResource", iriTerm(member))
	r.add(nsLDP+"hasMemberRelation", iriTerm(rel))
	for _, c := range children {
		r.add(nsLDP+"contains", iriTerm(c))
	}
	return r
}

func (f *FDP) fdpRecord(ctx context.Context) ([]*resource, error) {
	ds, err := f.published(ctx)
	if err != nil {
		return nil, err
	}
	c := f.cat
	r := &resource{iri: c.FDPIRI(), types: []string{nsFDPO + "FAIRDataPoint", nsFDPO + "MetadataService", nsR3D + "Repository"}}
	r.add(nsDCT+"title", langTerm(c.Title+" — FAIR Data Point", "en"))
	r.add(nsDCT+"description", langTerm(c.Description, "en"))
	r.add(nsDCT+"publisher", nodeTerm(publisherNode(c.Publisher)))
	r.add(nsDCT+"license", iriTerm(c.License))
	r.add(nsDCAT+"endpointURL", iriTerm(c.FDPIRI()))
	r.add(nsFOAF+"homepage", iriTerm(c.Homepage))
	r.add(nsFDPO+"conformsToFdpSpec", iriTerm(fdpSpec))
	r.add(nsFDPO+"hasSoftwareVersion", strTerm(c.SoftwareVersion))
	f.recordMeta(r, c.Issued, latestModified(ds))
	r.add(nsFDPO+"metadataCatalog", iriTerm(c.CatalogIRI()))
	r.add(nsR3D+"dataCatalog", iriTerm(c.CatalogIRI()))
	return []*resource{r, container(c.FDPIRI()+"/catalog/", c.FDPIRI(), nsFDPO+"metadataCatalog", c.CatalogIRI())}, nil
}

func (f *FDP) catalogRecord(ctx context.Context) ([]*resource, error) {
	ds, err := f.published(ctx)
	if err != nil {
		return nil, err
	}
	c := f.cat
	r := c.catalogResource(ds)
	r.add(nsDCT+"isPartOf", iriTerm(c.FDPIRI()))
	f.recordMeta(r, c.Issued, latestModified(ds))
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = c.DatasetIRI(d.ID)
	}
	return []*resource{r, container(c.CatalogIRI()+"/dataset/", c.CatalogIRI(), nsDCAT+"dataset", ids...)}, nil
}
