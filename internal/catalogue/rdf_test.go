package catalogue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testCatalog() Catalog {
	return Catalog{
		BaseURL:     "https://hub.example.org",
		ID:          "cie",
		Title:       "cie public catalogue",
		Description: "Datasets of the cie federation",
		Publisher:   Publisher{Name: "cie operators", URL: "https://hub.example.org/about", Email: "ops@example.org"},
		License:     "https://creativecommons.org/publicdomain/zero/1.0/",
		Homepage:    "https://hub.example.org/catalogue",
		Issued:      time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

var testHash = strings.Repeat("ab", 32)

// sampleDataset is a valid published dataset whose strings need escaping.
func sampleDataset(id string) Dataset {
	created := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	d := New(id, "oslo", created)
	d.Title = `Lung "LIDC-like" CT \ MR – Ñoño 肺癌 😀`
	d.Description = "Line one\nline two\twith tab\r\nand a NUL \x00 and DEL \x7f and U+2028 \u2028 end"
	d.Keywords = []string{"lung", "CT", "screening \"low dose\""}
	d.CancerTypes = []Code{{SystemSNOMED, "363358000", "Lung Cancer"}}
	d.BodyParts = []Code{{SystemSNOMED, "39607008", "Lung"}}
	d.Modalities = []Code{{SystemRadLex, "RID10321", "Computed Tomography"}, {SystemRadLex, "RID10312", "Magnetic Resonance Imaging"}}
	d.AccessRights = AccessRestricted
	d.License = "https://creativecommons.org/licenses/by-nc/4.0/"
	d.Contact = Contact{Name: "Data desk, Oslo University Hospital", Email: "data@ous.example.no", URL: "https://ous.example.no/data"}
	d.Publisher = Publisher{Name: "Oslo University Hospital", URL: "https://ous.example.no"}
	d.InteropLevel = Tier2
	d.ConformsTo = []string{"https://www.dicomstandard.org/current"}
	d.LandingPage = "https://hub.example.org/catalogue/" + id
	d.VersionNotes = "first release"
	if _, err := d.SetContent(testHash, 120, 240, created.Add(time.Hour)); err != nil {
		panic(err)
	}
	if err := d.Apply(ActionPublish, created.Add(2*time.Hour)); err != nil {
		panic(err)
	}
	return d
}

func str(t rterm) string { return t.Value }

// datasetFromGraph rebuilds a Dataset from the DCAT-AP triples of the
// dataset with the given IRI, failing the test on anything malformed. It
// reads only the RDF, never the model.
func datasetFromGraph(t *testing.T, g graph, c Catalog, iri string) Dataset {
	t.Helper()
	s := iriOf(iri)
	var d Dataset
	need := func(s rterm, pred string) rterm {
		t.Helper()
		o, ok := g.one(s, pred)
		if !ok {
			t.Fatalf("%s: want exactly one <%s>, have %v", s, pred, g.objs(s, pred))
		}
		return o
	}
	lit := func(o rterm, datatype, lang string) string {
		t.Helper()
		if o.Kind != 'L' || o.Lang != lang || (lang == "" && o.Datatype != datatype) {
			t.Fatalf("want a literal ^^%s @%s, have %v", datatype, lang, o)
		}
		return o.Value
	}
	iriVal := func(o rterm) string {
		t.Helper()
		if o.Kind != 'I' {
			t.Fatalf("want an IRI, have %v", o)
		}
		return o.Value
	}
	optIRI := func(s rterm, pred string) string {
		if os := g.objs(s, pred); len(os) == 1 {
			return iriVal(os[0])
		} else if len(os) > 1 {
			t.Fatalf("%s: more than one <%s>", s, pred)
		}
		return ""
	}
	if got := iriVal(need(s, nsRDF+"type")); got != nsDCAT+"Dataset" {
		t.Fatalf("type %s", got)
	}
	d.ID = lit(need(s, nsDCT+"identifier"), nsXSD+"string", "")
	d.Title = lit(need(s, nsDCT+"title"), "", "en")
	d.Description = lit(need(s, nsDCT+"description"), "", "en")
	for _, o := range g.objs(s, nsDCAT+"keyword") {
		d.Keywords = append(d.Keywords, lit(o, "", "en"))
	}
	if got := iriVal(need(s, nsDCAT+"theme")); got != themeHealth {
		t.Errorf("theme %s", got)
	}
	code := func(o rterm, kind Kind) Code {
		t.Helper()
		term, ok := LookupIRI(iriVal(o))
		if !ok || term.Kind != kind {
			t.Fatalf("%v is not a %s of the vocabulary", o, kind)
		}
		// The concept's label and notation come with the document.
		c := iriOf(term.Code.IRI())
		return Code{
			System:  iriVal(need(c, nsSKOS+"inScheme")),
			Code:    lit(need(c, nsSKOS+"notation"), nsXSD+"string", ""),
			Display: lit(need(c, nsSKOS+"prefLabel"), "", "en"),
		}
	}
	for _, o := range g.objs(s, nsEUCAIM+"hasCondition") {
		d.CancerTypes = append(d.CancerTypes, code(o, KindCancerType))
	}
	var subjects []Code
	for _, o := range g.objs(s, nsDCT+"subject") {
		subjects = append(subjects, code(o, KindCancerType))
	}
	if !reflect.DeepEqual(subjects, d.CancerTypes) {
		t.Errorf("dct:subject %v differs from eucaim:hasCondition %v", subjects, d.CancerTypes)
	}
	for _, o := range g.objs(s, nsEUCAIM+"hasImageBodyPart") {
		d.BodyParts = append(d.BodyParts, code(o, KindBodyPart))
	}
	for _, o := range g.objs(s, nsEUCAIM+"hasImageModality") {
		d.Modalities = append(d.Modalities, code(o, KindModality))
	}
	ar := iriVal(need(s, nsDCT+"accessRights"))
	d.AccessRights = AccessRights(strings.TrimPrefix(ar, "http://publications.europa.eu/resource/authority/access-right/"))
	if d.AccessRights.IRI() != ar {
		t.Errorf("access rights %s", ar)
	}
	atoi := func(s string) int {
		t.Helper()
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	d.Individuals = atoi(lit(need(s, nsHealth+"numberOfUniqueIndividuals"), nsXSD+"nonNegativeInteger", ""))
	d.Studies = atoi(lit(need(s, nsHealth+"numberOfRecords"), nsXSD+"nonNegativeInteger", ""))
	d.License = iriVal(need(s, nsDCT+"license"))
	cp := need(s, nsDCAT+"contactPoint")
	if iriVal(need(cp, nsRDF+"type")) != nsVCard+"Kind" {
		t.Error("contact point is not a vcard:Kind")
	}
	if os := g.objs(cp, nsVCard+"fn"); len(os) == 1 {
		d.Contact.Name = lit(os[0], nsXSD+"string", "")
	}
	d.Contact.Email = strings.TrimPrefix(optIRI(cp, nsVCard+"hasEmail"), "mailto:")
	d.Contact.URL = optIRI(cp, nsVCard+"hasURL")
	pub := need(s, nsDCT+"publisher")
	if iriVal(need(pub, nsRDF+"type")) != nsFOAF+"Agent" {
		t.Error("publisher is not a foaf:Agent")
	}
	d.Publisher.Name = lit(need(pub, nsFOAF+"name"), nsXSD+"string", "")
	d.Publisher.URL = optIRI(pub, nsFOAF+"homepage")
	d.Publisher.Email = strings.TrimPrefix(optIRI(pub, nsFOAF+"mbox"), "mailto:")
	for _, o := range g.objs(s, nsDCATAP+"applicableLegislation") {
		d.ApplicableLegislation = append(d.ApplicableLegislation, iriVal(o))
	}
	d.InteropLevel = InteropLevel(lit(need(s, nsEUCAIM+"interoperabilityLevel"), nsXSD+"string", ""))
	for _, o := range g.objs(s, nsDCT+"conformsTo") {
		d.ConformsTo = append(d.ConformsTo, iriVal(o))
	}
	d.LandingPage = optIRI(s, nsDCAT+"landingPage")
	v := lit(need(s, nsDCAT+"version"), nsXSD+"string", "")
	d.Version = atoi(strings.TrimSuffix(v, ".0.0"))
	if os := g.objs(s, nsADMS+"versionNotes"); len(os) == 1 {
		d.VersionNotes = lit(os[0], "", "en")
	}
	switch iriVal(need(s, nsADMS+"status")) {
	case datasetStatus + "DEVELOP":
		d.State = StateDraft
	case datasetStatus + "COMPLETED":
		d.State = StatePublished
	case datasetStatus + "WITHDRAWN":
		d.State = StateInvalidated
	default:
		t.Error("unknown adms:status")
	}
	tm := func(o rterm) time.Time {
		t.Helper()
		tt, err := time.Parse(time.RFC3339Nano, lit(o, nsXSD+"dateTime", ""))
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	if os := g.objs(s, nsDCT+"issued"); len(os) == 1 {
		d.Issued = tm(os[0])
	}
	d.Modified = tm(need(s, nsDCT+"modified"))

	dist := need(s, nsDCAT+"distribution")
	if dist.Value != c.DistributionIRI(d.ID) {
		t.Errorf("distribution %s", dist.Value)
	}
	if iriVal(need(dist, nsRDF+"type")) != nsDCAT+"Distribution" {
		t.Error("distribution type")
	}
	if got := iriVal(need(dist, nsDCAT+"mediaType")); got != mediaTypeDICOM {
		t.Errorf("distribution media type %s", got)
	}
	if iriVal(need(dist, nsDCAT+"accessURL")) == "" {
		t.Error("no access URL")
	}
	if os := g.objs(dist, nsSPDX+"checksum"); len(os) == 1 {
		if iriVal(need(os[0], nsSPDX+"algorithm")) != sha3_256 {
			t.Error("checksum algorithm")
		}
		d.ContentHash = lit(need(os[0], nsSPDX+"checksumValue"), nsXSD+"hexBinary", "")
	}
	svc := need(dist, nsDCAT+"accessService")
	d.Node = lit(need(svc, nsDCT+"identifier"), nsXSD+"string", "")
	if got, want := iriVal(need(svc, nsDCAT+"endpointURL")), c.BaseURL+"/nodes/"+d.Node+"/dicomweb"; got != want {
		t.Errorf("endpoint %s, want %s", got, want)
	}
	return d
}

// comparable returns d as datasetFromGraph can rebuild it: Created is not
// part of the DCAT-AP description, strings are valid UTF-8.
func comparable(d Dataset) Dataset {
	d.Created = time.Time{}
	d.Title = strings.ToValidUTF8(d.Title, "\uFFFD")
	d.Description = strings.ToValidUTF8(d.Description, "\uFFFD")
	d.VersionNotes = strings.ToValidUTF8(d.VersionNotes, "\uFFFD")
	for i := range d.Keywords {
		d.Keywords[i] = strings.ToValidUTF8(d.Keywords[i], "\uFFFD")
	}
	return d
}

func turtleOf(t testing.TB, write func(*bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDatasetTurtleRoundTrip(t *testing.T) {
	c := testCatalog()
	d := sampleDataset("lidc-1")
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	ttl := turtleOf(t, func(b *bytes.Buffer) error { return c.WriteDataset(b, FormatTurtle, d) })
	ts, err := parseTurtle(ttl, "")
	if err != nil {
		t.Fatalf("%v\n%s", err, ttl)
	}
	got := datasetFromGraph(t, newGraph(ts), c, c.DatasetIRI(d.ID))
	if want := comparable(d); !reflect.DeepEqual(got, want) {
		t.Errorf("Turtle round trip:\n got %+v\nwant %+v\n%s", got, want, ttl)
	}
	// The escapes are really there: the raw newline of the description must
	// not appear inside a short string.
	if !strings.Contains(ttl, `Line one\nline two\twith tab\r\nand a NUL \u0000 and DEL \u007F`) {
		t.Errorf("description not escaped as expected:\n%s", ttl)
	}
	if !strings.Contains(ttl, `"Lung \"LIDC-like\" CT \\ MR – Ñoño 肺癌 😀"@en`) {
		t.Errorf("title not escaped as expected:\n%s", ttl)
	}
}

func TestTurtleParserAgainstHandWrittenTurtle(t *testing.T) {
	// Forms the writer does not use, to show the parser is not just the
	// writer's mirror.
	src := `@base <https://x.example/base/> .
PREFIX ex: <https://x.example/ns#>
# a comment
<a> ex:p "short", 'single', """long "quoted" ""text
here""", '''x''', "\u00E9\U0001F600"@EN-gb, 42, -1.5, 3e2, true ;
    ex:q _:b1 ; .
_:b1 ex:r [ ex:s ex:t\.u ] .
[ ex:v ex:w ] .
ex:a\-b ex:p ex:x.`
	ts, err := parseTurtle(src, "")
	if err != nil {
		t.Fatal(err)
	}
	got := canonical(ts)
	have := strings.Join(got, "\n")
	for _, w := range []string{
		`<https://x.example/base/a> <https://x.example/ns#p> "short"^^<` + nsXSD + `string>`,
		`<https://x.example/base/a> <https://x.example/ns#p> "single"^^<` + nsXSD + `string>`,
		`<https://x.example/base/a> <https://x.example/ns#p> "long \"quoted\" \"\"text\nhere"^^<` + nsXSD + `string>`,
		`<https://x.example/base/a> <https://x.example/ns#p> "x"^^<` + nsXSD + `string>`,
		`<https://x.example/base/a> <https://x.example/ns#p> "é😀"@en-gb`,
		`<https://x.example/base/a> <https://x.example/ns#p> "42"^^<` + nsXSD + `integer>`,
		`<https://x.example/base/a> <https://x.example/ns#p> "-1.5"^^<` + nsXSD + `decimal>`,
		`<https://x.example/base/a> <https://x.example/ns#p> "3e2"^^<` + nsXSD + `double>`,
		`<https://x.example/base/a> <https://x.example/ns#p> "true"^^<` + nsXSD + `boolean>`,
		`<https://x.example/base/a> <https://x.example/ns#q> [<https://x.example/ns#r> [<https://x.example/ns#s> <https://x.example/ns#t.u>]]`,
		`<https://x.example/ns#a-b> <https://x.example/ns#p> <https://x.example/ns#x>`,
	} {
		if !strings.Contains(have, w) {
			t.Errorf("missing %s\nhave:\n%s", w, have)
		}
	}
	if len(ts) != 14 {
		t.Errorf("%d triples, want 14:\n%s", len(ts), have)
	}
	for _, bad := range []string{
		`<a> <b> "unterminated .`,
		`<https://a> <https://b> "x"`,
		`ex:a <https://b> <https://c> .`,
		`<https://a> <https://b> "\q" .`,
		`<https://a> <https://b> "\uD800" .`,
		`<https://a> <https://b> ( <https://c> ) .`,
		`<https://a b> <https://b> <https://c> .`,
		`<https://a> <https://b> "line
break" .`,
	} {
		if _, err := parseTurtle(bad, ""); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestCatalogTurtle(t *testing.T) {
	c := testCatalog()
	ds := []Dataset{sampleDataset("a1"), sampleDataset("b2"), sampleDataset("c3")}
	ds[1].Modalities = []Code{{SystemRadLex, "RID10337", "Positron Emission Tomography"}}
	ds[1].Modified = ds[1].Modified.Add(48 * time.Hour)
	ds[2].CancerTypes = []Code{{SystemSNOMED, "399068003", "Prostate Cancer"}, {SystemSNOMED, "363484005", "Pelvis Cancer"}}
	ds[2].ContentHash = ""
	ds[2].Issued = time.Time{}
	ds[2].State = StateDraft
	ttl := turtleOf(t, func(b *bytes.Buffer) error { return c.WriteCatalog(b, FormatTurtle, ds) })
	ts, err := parseTurtle(ttl, "")
	if err != nil {
		t.Fatalf("%v\n%s", err, ttl)
	}
	g := newGraph(ts)
	cats := g.subjectsOfType(nsDCAT + "Catalog")
	if len(cats) != 1 || cats[0].Value != c.CatalogIRI() {
		t.Fatalf("catalogs %v", cats)
	}
	var linked []string
	for _, o := range g.objs(cats[0], nsDCAT+"dataset") {
		linked = append(linked, o.Value)
	}
	want := []string{c.DatasetIRI("a1"), c.DatasetIRI("b2"), c.DatasetIRI("c3")}
	if !reflect.DeepEqual(linked, want) {
		t.Errorf("dcat:dataset %v, want %v", linked, want)
	}
	if m, _ := g.one(cats[0], nsDCT+"modified"); m.Value != ds[1].Modified.Format(time.RFC3339Nano) {
		t.Errorf("catalog modified %v, want the latest dataset's %v", m, ds[1].Modified)
	}
	if len(g.subjectsOfType(nsDCAT+"Dataset")) != 3 {
		t.Errorf("datasets %v", g.subjectsOfType(nsDCAT+"Dataset"))
	}
	for _, d := range ds {
		got := datasetFromGraph(t, g, c, c.DatasetIRI(d.ID))
		if want := comparable(d); !reflect.DeepEqual(got, want) {
			t.Errorf("dataset %s:\n got %+v\nwant %+v", d.ID, got, want)
		}
	}
	// Concepts are described once each, even when several datasets use them.
	if n := len(g.subjectsOfType(nsSKOS + "Concept")); n != 7 {
		t.Errorf("%d concepts, want 7", n)
	}
}

// jsonldTriples turns the compacted JSON-LD this package writes into
// triples: prefixes of the @context expanded, node objects, value objects,
// @graph. It refuses shapes it does not know, so a change of form shows.
func jsonldTriples(doc map[string]any) ([]triple, error) {
	ctx, ok := doc["@context"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no @context object")
	}
	expand := func(s string) (string, error) {
		if pfx, local, ok := strings.Cut(s, ":"); ok {
			if ns, ok := ctx[pfx].(string); ok {
				return ns + local, nil
			}
			if strings.HasPrefix(local, "//") || pfx == "mailto" {
				return s, nil
			}
		}
		return "", fmt.Errorf("cannot expand %q", s)
	}
	var ts []triple
	blanks := 0
	var node func(n map[string]any) (rterm, error)
	value := func(v any) (rterm, error) {
		switch v := v.(type) {
		case string:
			return rterm{Kind: 'L', Value: v, Datatype: nsXSD + "string"}, nil
		case map[string]any:
			if val, ok := v["@value"]; ok {
				s, ok := val.(string)
				if !ok {
					return rterm{}, fmt.Errorf("@value %v is not a string", val)
				}
				if lang, ok := v["@language"].(string); ok {
					return rterm{Kind: 'L', Value: s, Lang: strings.ToLower(lang), Datatype: nsRDF + "langString"}, nil
				}
				dt, ok := v["@type"].(string)
				if !ok {
					return rterm{}, fmt.Errorf("value object without @type or @language")
				}
				full, err := expand(dt)
				return rterm{Kind: 'L', Value: s, Datatype: full}, err
			}
			if id, ok := v["@id"].(string); ok && len(v) == 1 {
				return rterm{Kind: 'I', Value: id}, nil
			}
			return node(v)
		}
		return rterm{}, fmt.Errorf("unexpected value %v", v)
	}
	node = func(n map[string]any) (rterm, error) {
		var s rterm
		if id, ok := n["@id"].(string); ok {
			s = rterm{Kind: 'I', Value: id}
		} else {
			blanks++
			s = rterm{Kind: 'B', Value: "j" + strconv.Itoa(blanks)}
		}
		for k, v := range n {
			switch k {
			case "@id", "@context":
				continue
			case "@type":
				types := []any{v}
				if arr, ok := v.([]any); ok {
					types = arr
				}
				for _, ty := range types {
					str, _ := ty.(string)
					full, err := expand(str)
					if err != nil {
						return s, err
					}
					ts = append(ts, triple{s, iriOf(nsRDF + "type"), iriOf(full)})
				}
				continue
			}
			pred, err := expand(k)
			if err != nil {
				return s, err
			}
			vals := []any{v}
			if arr, ok := v.([]any); ok {
				vals = arr
			}
			for _, v := range vals {
				o, err := value(v)
				if err != nil {
					return s, fmt.Errorf("%s: %w", k, err)
				}
				ts = append(ts, triple{s, iriOf(pred), o})
			}
		}
		return s, nil
	}
	if g, ok := doc["@graph"].([]any); ok {
		for _, n := range g {
			m, ok := n.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("@graph member %v", n)
			}
			if _, err := node(m); err != nil {
				return nil, err
			}
		}
		return ts, nil
	}
	_, err := node(doc)
	return ts, err
}

func TestJSONLDEqualsTurtle(t *testing.T) {
	c := testCatalog()
	ds := []Dataset{sampleDataset("a1"), sampleDataset("b2")}
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, Format) error
	}{
		{"dataset", func(b *bytes.Buffer, f Format) error { return c.WriteDataset(b, f, ds[0]) }},
		{"catalog", func(b *bytes.Buffer, f Format) error { return c.WriteCatalog(b, f, ds) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ttl := turtleOf(t, func(b *bytes.Buffer) error { return tc.write(b, FormatTurtle) })
			tts, err := parseTurtle(ttl, "")
			if err != nil {
				t.Fatal(err)
			}
			js := turtleOf(t, func(b *bytes.Buffer) error { return tc.write(b, FormatJSONLD) })
			var doc map[string]any
			if err := json.Unmarshal([]byte(js), &doc); err != nil {
				t.Fatalf("JSON-LD is not JSON: %v\n%s", err, js)
			}
			jts, err := jsonldTriples(doc)
			if err != nil {
				t.Fatalf("%v\n%s", err, js)
			}
			a, b := canonical(tts), canonical(jts)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("JSON-LD and Turtle differ:\nTurtle:\n%s\nJSON-LD:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
			if len(a) < 40 {
				t.Errorf("only %d triples", len(a))
			}
		})
	}
}

func TestJSONLDShape(t *testing.T) {
	c := testCatalog()
	d := sampleDataset("a1")
	js := turtleOf(t, func(b *bytes.Buffer) error { return c.WriteDataset(b, FormatJSONLD, d) })
	var doc struct {
		Context map[string]string `json:"@context"`
		Graph   []map[string]any  `json:"@graph"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	for pfx, ns := range map[string]string{
		"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
		"foaf": "http://xmlns.com/foaf/0.1/", "vcard": "http://www.w3.org/2006/vcard/ns#",
		"adms": "http://www.w3.org/ns/adms#", "dcatap": "http://data.europa.eu/r5r/",
		"healthdcatap": "https://w3id.org/healthdcat-ap#", "xsd": "http://www.w3.org/2001/XMLSchema#",
	} {
		if doc.Context[pfx] != ns {
			t.Errorf("@context %s = %q, want %q", pfx, doc.Context[pfx], ns)
		}
	}
	var ds map[string]any
	for _, n := range doc.Graph {
		if n["@id"] == c.DatasetIRI("a1") {
			ds = n
		}
	}
	if ds == nil {
		t.Fatalf("no dataset node in %s", js)
	}
	check := func(key string, want any) {
		t.Helper()
		if !reflect.DeepEqual(ds[key], want) {
			t.Errorf("%s = %#v, want %#v", key, ds[key], want)
		}
	}
	check("@type", "dcat:Dataset")
	check("dct:identifier", "a1")
	check("dct:title", map[string]any{"@value": d.Title, "@language": "en"})
	check("dct:accessRights", map[string]any{"@id": "http://publications.europa.eu/resource/authority/access-right/RESTRICTED"})
	check("healthdcatap:numberOfUniqueIndividuals", map[string]any{"@value": "120", "@type": "xsd:nonNegativeInteger"})
	check("healthdcatap:numberOfRecords", map[string]any{"@value": "240", "@type": "xsd:nonNegativeInteger"})
	check("dcatap:applicableLegislation", map[string]any{"@id": LegislationEHDS})
	check("dct:subject", map[string]any{"@id": "http://snomed.info/id/363358000"})
	check("eucaim:hasImageModality", []any{map[string]any{"@id": "http://radlex.org/RID/RID10321"}, map[string]any{"@id": "http://radlex.org/RID/RID10312"}})
	check("dcat:version", "1.0.0")
	check("dct:issued", map[string]any{"@value": "2025-03-01T10:00:00Z", "@type": "xsd:dateTime"})
	cp, _ := ds["dcat:contactPoint"].(map[string]any)
	if cp["@type"] != "vcard:Kind" || !reflect.DeepEqual(cp["vcard:hasEmail"], map[string]any{"@id": "mailto:data@ous.example.no"}) {
		t.Errorf("contact point %#v", cp)
	}
	pub, _ := ds["dct:publisher"].(map[string]any)
	if pub["@type"] != "foaf:Agent" || pub["foaf:name"] != "Oslo University Hospital" {
		t.Errorf("publisher %#v", pub)
	}
}

// FuzzRDFStrings writes datasets with arbitrary text and checks that both
// Turtle and JSON-LD give the text back exactly (invalid UTF-8 as U+FFFD).
func FuzzRDFStrings(f *testing.F) {
	f.Add("title", "desc", "kw", "notes")
	f.Add(`"quoted" \ back`, "multi\nline\r\n\ttab", "\x00\x01\x1f\x7f", "\u2028\u2029\ufeff")
	f.Add("'''", `"""`, "a@en", "x^^<y>")
	f.Add("\xff\xfe broken", "é\u0301 combining", "😀", "\\u0041")
	f.Add("# not a comment", "<not-an-iri>", "_:b0", "[ ] ; , .")
	c := testCatalog()
	f.Fuzz(func(t *testing.T, title, desc, kw, notes string) {
		d := sampleDataset("fz")
		d.Title, d.Description, d.Keywords, d.VersionNotes = title, desc, []string{kw}, notes
		ttl := turtleOf(t, func(b *bytes.Buffer) error { return c.WriteDataset(b, FormatTurtle, d) })
		ts, err := parseTurtle(ttl, "")
		if err != nil {
			t.Fatalf("%v\n%s", err, ttl)
		}
		g := newGraph(ts)
		s := iriOf(c.DatasetIRI("fz"))
		get := func(pred string) []string {
			var out []string
			for _, o := range g.objs(s, pred) {
				out = append(out, o.Value)
			}
			return out
		}
		want := comparable(d)
		opt := func(s string) []string {
			if s == "" {
				return nil
			}
			return []string{s}
		}
		for _, c := range []struct {
			pred string
			want []string
		}{
			{nsDCT + "title", opt(want.Title)},
			{nsDCT + "description", opt(want.Description)},
			{nsDCAT + "keyword", opt(want.Keywords[0])},
			{nsADMS + "versionNotes", opt(want.VersionNotes)},
		} {
			if got := get(c.pred); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Turtle %s: got %q, want %q", c.pred, got, c.want)
			}
		}
		js := turtleOf(t, func(b *bytes.Buffer) error { return c.WriteDataset(b, FormatJSONLD, d) })
		var doc map[string]any
		if err := json.Unmarshal([]byte(js), &doc); err != nil {
			t.Fatal(err)
		}
		jts, err := jsonldTriples(doc)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := canonical(ts), canonical(jts); !reflect.DeepEqual(a, b) {
			t.Errorf("JSON-LD and Turtle differ:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
	})
}

func TestTurtleIRIEscaping(t *testing.T) {
	// IRIs that Validate refuses still produce parseable Turtle.
	for _, iri := range []string{"https://x.example/a b", "https://x.example/<>\"{}|^`\\", "https://x.example/\x00"} {
		ttl := turtleOf(t, func(b *bytes.Buffer) error {
			return writeTurtle(b, []*resource{{iri: "https://s.example/", props: []property{{pred: nsDCT + "license", objs: []term{iriTerm(iri)}}}}})
		})
		if _, err := parseTurtle(ttl, ""); err != nil {
			t.Errorf("%q: %v\n%s", iri, err, ttl)
		}
	}
	if got := turtleIRI(nsDCT + "title"); got != "dct:title" {
		t.Errorf("compact %s", got)
	}
	if got := turtleIRI("http://snomed.info/id/363358000"); got != "<http://snomed.info/id/363358000>" {
		t.Errorf("unknown namespace %s", got)
	}
	if got := turtleIRI(nsDCT + "a.b."); got != "<"+nsDCT+"a.b.>" {
		t.Errorf("trailing dot %s", got)
	}
}
