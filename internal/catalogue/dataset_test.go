package catalogue

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestTransition(t *testing.T) {
	allowed := map[[2]string]State{
		{"draft", "publish"}:          StatePublished,
		{"published", "invalidate"}:   StateInvalidated,
		{"invalidated", "reactivate"}: StatePublished,
	}
	for _, from := range []State{StateDraft, StatePublished, StateInvalidated, "deleted", ""} {
		for _, a := range []Action{ActionPublish, ActionInvalidate, ActionReactivate, "unpublish", ""} {
			to, err := Transition(from, a)
			want, ok := allowed[[2]string{string(from), string(a)}]
			switch {
			case ok && (err != nil || to != want):
				t.Errorf("%s --%s--> %s, %v; want %s", from, a, to, err, want)
			case !ok && !errors.Is(err, ErrTransition):
				t.Errorf("%s --%s--> %s, %v; want ErrTransition", from, a, to, err)
			case !ok && to != from:
				t.Errorf("refused %s --%s--> changed the state to %s", from, a, to)
			}
		}
	}
}

func validDraft() Dataset {
	d := sampleDataset("x")
	d.State, d.Issued = StateDraft, time.Time{}
	return d
}

func TestApply(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	d := New("ds-1", "oslo", t0)
	before := d
	err := d.Apply(ActionPublish, t0.Add(time.Minute))
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("publishing an empty draft: %v", err)
	}
	for _, f := range []string{"title", "description", "keywords", "cancer_types", "body_parts", "modalities", "access_rights", "content_hash", "license", "contact", "publisher.name", "interoperability_level"} {
		if !ve.Has(f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
	if !strings.Contains(err.Error(), `dataset "ds-1"`) {
		t.Errorf("error does not name the dataset: %v", err)
	}
	if !reflect.DeepEqual(d, before) {
		t.Error("a refused publish changed the dataset")
	}

	d = validDraft()
	pub := t0.Add(time.Hour)
	if err := d.Apply(ActionPublish, pub); err != nil {
		t.Fatal(err)
	}
	if d.State != StatePublished || !d.Issued.Equal(pub) || !d.Modified.Equal(pub) {
		t.Errorf("after publish: %s issued %v modified %v", d.State, d.Issued, d.Modified)
	}
	if err := d.Apply(ActionPublish, pub); !errors.Is(err, ErrTransition) {
		t.Errorf("publishing twice: %v", err)
	}
	if err := d.Apply(ActionInvalidate, pub.Add(time.Hour)); err != nil || d.State != StateInvalidated {
		t.Fatalf("invalidate: %v %s", err, d.State)
	}
	if err := d.Apply(ActionReactivate, pub.Add(2*time.Hour)); err != nil || d.State != StatePublished {
		t.Fatalf("reactivate: %v %s", err, d.State)
	}
	if !d.Issued.Equal(pub) {
		t.Errorf("reactivation moved the first publication date to %v", d.Issued)
	}
}

func TestSetContentVersions(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	h1, h2, h3 := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)
	d := validDraft()
	d.ContentHash = ""
	for _, c := range []struct {
		hash          string
		n, s, version int
		changed       bool
	}{
		{h1, 10, 20, 1, true},
		{h2, 11, 22, 1, true}, // a draft's content changes without new versions
		{h2, 11, 22, 1, false},
	} {
		changed, err := d.SetContent(c.hash, c.n, c.s, t0)
		if err != nil || changed != c.changed || d.Version != c.version {
			t.Fatalf("SetContent(%s…): %v %v, version %d; want %v, version %d", c.hash[:4], changed, err, d.Version, c.changed, c.version)
		}
	}
	if err := d.Apply(ActionPublish, t0); err != nil {
		t.Fatal(err)
	}
	if changed, _ := d.SetContent(h2, 11, 23, t0.Add(time.Hour)); !changed || d.Version != 1 {
		t.Errorf("a recount of the same content made version %d", d.Version)
	}
	if changed, _ := d.SetContent(h3, 12, 24, t0.Add(2*time.Hour)); !changed || d.Version != 2 || d.State != StatePublished {
		t.Errorf("new content of a published dataset: version %d, %s", d.Version, d.State)
	}
	if !d.Modified.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("modified %v", d.Modified)
	}
	for _, bad := range []string{"", strings.Repeat("A", 64), strings.Repeat("1", 63), strings.Repeat("g", 64)} {
		if _, err := d.SetContent(bad, 1, 1, t0); err == nil {
			t.Errorf("hash %q accepted", bad)
		}
	}
	if _, err := d.SetContent(h1, -1, 1, t0); err == nil {
		t.Error("negative count accepted")
	}
	if d.ContentHash != h3 || d.Version != 2 {
		t.Error("refused content changed the dataset")
	}
}

func TestValidate(t *testing.T) {
	if err := sampleDataset("ok").Validate(); err != nil {
		t.Fatalf("sample: %v", err)
	}
	for _, tc := range []struct {
		field  string
		mutate func(*Dataset)
	}{
		{"id", func(d *Dataset) { d.ID = "" }},
		{"id", func(d *Dataset) { d.ID = "a/b" }},
		{"id", func(d *Dataset) { d.ID = "-a" }},
		{"id", func(d *Dataset) { d.ID = strings.Repeat("a", 129) }},
		{"node", func(d *Dataset) { d.Node = "oslo node" }},
		{"version", func(d *Dataset) { d.Version = 0 }},
		{"state", func(d *Dataset) { d.State = "gone" }},
		{"title", func(d *Dataset) { d.Title = "  \n" }},
		{"title", func(d *Dataset) { d.Title = "bad \xff utf-8" }},
		{"title", func(d *Dataset) { d.Title = strings.Repeat("é", 301) }},
		{"keywords", func(d *Dataset) { d.Keywords = nil }},
		{"keywords[1]", func(d *Dataset) { d.Keywords = []string{"a", ""} }},
		{"cancer_types[0]", func(d *Dataset) { d.CancerTypes = []Code{{SystemSNOMED, "93870000", "Liver Cancer"}} }},
		{"cancer_types[0]", func(d *Dataset) { d.CancerTypes = []Code{{SystemSNOMED, "39607008", "Lung"}} }}, // a body part, not a cancer type
		{"cancer_types[0]", func(d *Dataset) { d.CancerTypes = []Code{{SystemSNOMED, "363358000", "Lung cancer of the colon"}} }},
		{"body_parts[1]", func(d *Dataset) { d.BodyParts = append(d.BodyParts, d.BodyParts[0]) }},
		{"modalities[0]", func(d *Dataset) { d.Modalities = []Code{{SystemSNOMED, "RID10321", ""}} }},
		{"modalities", func(d *Dataset) { d.Modalities = nil }},
		{"access_rights", func(d *Dataset) { d.AccessRights = "public" }},
		{"individuals", func(d *Dataset) { d.Individuals = -1 }},
		{"content_hash", func(d *Dataset) { d.ContentHash = "abc" }},
		{"content_hash", func(d *Dataset) { d.ContentHash = "" }},
		{"license", func(d *Dataset) { d.License = "CC-BY-4.0" }},
		{"license", func(d *Dataset) { d.License = "https://x.example/a b" }},
		{"contact", func(d *Dataset) { d.Contact = Contact{Name: "x"} }},
		{"contact.email", func(d *Dataset) { d.Contact.Email = "not an email" }},
		{"contact.email", func(d *Dataset) { d.Contact.Email = "Name <a@b.example>" }},
		{"contact.url", func(d *Dataset) { d.Contact.URL = "https://" }},
		{"publisher.name", func(d *Dataset) { d.Publisher.Name = "" }},
		{"publisher.email", func(d *Dataset) { d.Publisher.Email = "x@" }},
		{"applicable_legislation", func(d *Dataset) { d.ApplicableLegislation = nil }},
		{"applicable_legislation[0]", func(d *Dataset) { d.ApplicableLegislation = []string{"EHDS"} }},
		{"interoperability_level", func(d *Dataset) { d.InteropLevel = "Tier 4" }},
		{"conforms_to[0]", func(d *Dataset) { d.ConformsTo = []string{"<x>"} }},
		{"landing_page", func(d *Dataset) { d.LandingPage = "/relative" }},
		{"created", func(d *Dataset) { d.Created = time.Time{} }},
		{"modified", func(d *Dataset) { d.Modified = d.Created.Add(-time.Second) }},
		{"issued", func(d *Dataset) { d.Issued = time.Time{} }},
		{"issued", func(d *Dataset) { d.State = StateDraft }},
	} {
		d := sampleDataset("ok")
		tc.mutate(&d)
		err := d.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || !ve.Has(tc.field) {
			t.Errorf("%s: want a problem with it, got %v", tc.field, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.field+": ") {
			t.Errorf("%s: message does not name it: %v", tc.field, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	d := sampleDataset("n")
	d.Keywords = []string{" lung ", "Lung", "", "CT"}
	d.Modalities = []Code{{SystemRadLex, "RID10321", ""}, {SystemRadLex, "RID10321", "Computed Tomography"}}
	d.Normalize()
	if !reflect.DeepEqual(d.Keywords, []string{"lung", "CT"}) {
		t.Errorf("keywords %q", d.Keywords)
	}
	if !reflect.DeepEqual(d.Modalities, []Code{{SystemRadLex, "RID10321", "Computed Tomography"}}) {
		t.Errorf("modalities %v", d.Modalities)
	}
	if err := d.Validate(); err != nil {
		t.Error(err)
	}
}

func TestDatasetJSON(t *testing.T) {
	d := sampleDataset("j")
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Dataset
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, d)
	}
	// The field names are the wire contract between node and hub.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"access_rights", "applicable_legislation", "body_parts", "cancer_types", "conforms_to", "contact",
		"content_hash", "created", "description", "id", "individuals", "interoperability_level", "issued", "keywords",
		"landing_page", "license", "modalities", "modified", "node", "publisher", "state", "studies", "title", "v",
		"version", "version_notes"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("JSON fields %q\nwant %q", keys, want)
	}
	if string(m["v"]) != "1" || string(m["state"]) != `"published"` || string(m["access_rights"]) != `"RESTRICTED"` {
		t.Errorf("v %s state %s access %s", m["v"], m["state"], m["access_rights"])
	}
	var code map[string]string
	if err := json.Unmarshal(m["modalities"], &[]any{&code}); err != nil || !reflect.DeepEqual(code, map[string]string{"system": SystemRadLex, "code": "RID10321", "display": "Computed Tomography"}) {
		t.Errorf("code JSON %s", m["modalities"])
	}

	// A draft has no "issued".
	draft := validDraft()
	b, _ = json.Marshal(draft)
	if strings.Contains(string(b), `"issued"`) {
		t.Errorf("draft JSON has issued: %s", b)
	}

	for _, bad := range []string{
		`{"id":"x"}`,
		`{"v":2,"id":"x"}`,
		`{"v":"1","id":"x"}`,
		`[1]`,
		`{"v":1,"version":"one"}`,
	} {
		var d Dataset
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("decoded %s", bad)
		} else if slices.Contains([]string{`{"id":"x"}`, `{"v":2,"id":"x"}`}, bad) && !errors.Is(err, ErrJSONVersion) {
			t.Errorf("%s: %v, want ErrJSONVersion", bad, err)
		}
	}
	// Unknown fields (a later, compatible writer) are ignored.
	if err := json.Unmarshal([]byte(`{"v":1,"id":"x","future_field":[1,2]}`), &back); err != nil || back.ID != "x" {
		t.Errorf("unknown field: %v", err)
	}
}

func TestVocabulary(t *testing.T) {
	if n := len(Terms(0)); n != len(vocabulary) || n < 14 {
		t.Fatalf("%d terms", n)
	}
	for k, want := range map[Kind]int{KindCancerType: 5, KindBodyPart: 5, KindModality: 4} {
		if n := len(Terms(k)); n != want {
			t.Errorf("%s: %d terms, want %d", k, n, want)
		}
	}
	seenIRI := map[string]bool{}
	for _, term := range Terms(0) {
		c := term.Code
		if c.IRI() == "" || seenIRI[c.IRI()] {
			t.Errorf("%v: IRI %q missing or repeated", c, c.IRI())
		}
		seenIRI[c.IRI()] = true
		if got, ok := LookupCode(term.Kind, c.System, c.Code); !ok || got != term {
			t.Errorf("LookupCode %v", c)
		}
		if got, ok := LookupDisplay(term.Kind, strings.ToUpper(c.Display)); !ok || got != term {
			t.Errorf("LookupDisplay %q", c.Display)
		}
		if got, ok := LookupIRI(c.IRI()); !ok || got != term {
			t.Errorf("LookupIRI %q", c.IRI())
		}
		if got, ok := LookupExplorerKey(term.Kind, term.ExplorerKey); !ok || got != term {
			t.Errorf("LookupExplorerKey %q", term.ExplorerKey)
		}
	}
	lung, ok := LookupDisplay(KindCancerType, " lung cancer ")
	if !ok || lung.Code != (Code{SystemSNOMED, "363358000", "Lung Cancer"}) || lung.ExplorerKey != "SNOMEDCT363358000" ||
		lung.Code.IRI() != "http://snomed.info/id/363358000" {
		t.Errorf("lung cancer: %+v", lung)
	}
	if _, ok := LookupCode(KindBodyPart, SystemSNOMED, "363358000"); ok {
		t.Error("a cancer type found as a body part")
	}
	ct, ok := ModalityFromDICOM("ct")
	if !ok || ct.Code.IRI() != "http://radlex.org/RID/RID10321" || ct.Code.Display != "Computed Tomography" {
		t.Errorf("CT: %+v", ct)
	}
	for _, m := range []string{"NM", "US", "", "SEG"} {
		if _, ok := ModalityFromDICOM(m); ok {
			t.Errorf("DICOM modality %q mapped", m)
		}
	}
	if AccessNonPublic.IRI() != "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC" || AccessRights("x").IRI() != "" {
		t.Error("access rights IRIs")
	}
}
