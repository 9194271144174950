package catalogue

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestTokenize(t *testing.T) {
	for in, want := range map[string][]string{
		"Lung CT, low-dose":        {"lung", "ct", "low", "dose"},
		"Ñoño Ærø Straße Łódź":     {"nono", "aero", "strasse", "lodz"},
		"CÁNCER de PULMÓN":         {"cancer", "de", "pulmon"},
		"e\u0301te\u0301 (NFD)":    {"ete", "nfd"},
		"肺癌 screening2024":         {"肺癌", "screening2024"},
		"  ":                       nil,
		"\xff broken \xfe utf8":    {"broken", "utf8"},
		"ﬁbrosis":                  {"fibrosis"},
		"Gleason 3+4=7":            {"gleason", "3", "4", "7"},
		"oslo-university.hospital": {"oslo", "university", "hospital"},
	} {
		if got := Tokenize(in); !reflect.DeepEqual(got, want) {
			t.Errorf("Tokenize(%q) = %q, want %q", in, got, want)
		}
	}
}

func searchDatasets() []Dataset {
	mk := func(id, node, title, desc string, access AccessRights, cancer, body string, mods ...string) Dataset {
		d := New(id, node, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		d.Title, d.Description, d.AccessRights = title, desc, access
		d.Keywords = []string{"imaging"}
		ct, _ := LookupDisplay(KindCancerType, cancer)
		bp, _ := LookupDisplay(KindBodyPart, body)
		d.CancerTypes, d.BodyParts = []Code{ct.Code}, []Code{bp.Code}
		for _, m := range mods {
			mt, _ := ModalityFromDICOM(m)
			d.Modalities = append(d.Modalities, mt.Code)
		}
		return d
	}
	return []Dataset{
		mk("lung-oslo", "oslo", "Lung screening cohort", "Low-dose CT from the Norwegian screening programme", AccessRestricted, "Lung Cancer", "Lung", "CT"),
		mk("breast-val", "valencia", "Cáncer de mama", "Resonancia magnética de mama, pacientes de València", AccessPublic, "Breast Cancer", "Breast", "MR"),
		mk("prostate-lin", "linkoping", "Prostate mpMRI", "Multiparametric MR with PET staging", AccessNonPublic, "Prostate Cancer", "Prostate", "MR", "PT"),
		mk("lung-val", "valencia", "Pulmón PET/CT", "Lung cancer staging with PET and CT", AccessPublic, "Lung Cancer", "Lung", "PT", "CT"),
	}
}

func ids(ds []Dataset) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func TestSearchText(t *testing.T) {
	ix := NewIndex(searchDatasets())
	if ix.Len() != 4 {
		t.Fatalf("Len %d", ix.Len())
	}
	for _, tc := range []struct {
		text string
		want []string
	}{
		// No text: everything, by title without accents (Cáncer, Lung, Prostate, Pulmón).
		{"", []string{"breast-val", "lung-oslo", "prostate-lin", "lung-val"}},
		// A title word (4) beats a code display or description word (2, 1).
		{"lung", []string{"lung-oslo", "lung-val"}},
		{"LUNG cancer", []string{"lung-oslo", "lung-val"}},
		// Accent-insensitive, in the text and in the query.
		{"pulmon", []string{"lung-val"}},
		{"PULMÓN", []string{"lung-val"}},
		{"linköping", []string{"prostate-lin"}},
		// Every word must match somewhere.
		{"mama valencia", []string{"breast-val"}},
		{"lung mama", nil},
		// Both match through the node "valencia" (1.5); a tie goes by title.
		{"valencia", []string{"breast-val", "lung-val"}},
		// A prefix of "magnética" / "Magnetic Resonance Imaging".
		{"magnet", []string{"breast-val", "prostate-lin"}},
		// A code's display.
		{"positron", []string{"prostate-lin", "lung-val"}},
		{"prostate-lin", []string{"prostate-lin"}},
		{"nothing-like-this", nil},
	} {
		got := ids(ix.Search(Query{Text: tc.text}).Datasets)
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Search(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func facetMap(fs []FacetValue) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.Value] = fmt.Sprintf("%s=%d%s", f.Label, f.Count, map[bool]string{true: "*"}[f.Selected])
	}
	return m
}

func TestSearchFacets(t *testing.T) {
	ix := NewIndex(searchDatasets())
	r := ix.Search(Query{})
	if got, want := facetMap(r.Facets.Modality), map[string]string{
		"RID10321": "Computed Tomography=2", "RID10312": "Magnetic Resonance Imaging=2", "RID10337": "Positron Emission Tomography=2",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("modality facet %v, want %v", got, want)
	}
	if got, want := facetMap(r.Facets.Node), map[string]string{"oslo": "oslo=1", "valencia": "valencia=2", "linkoping": "linkoping=1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("node facet %v", got)
	}
	if r.Facets.Node[0].Value != "valencia" {
		t.Errorf("facets not sorted by count: %v", r.Facets.Node)
	}

	// Selecting CT: the results are the CT datasets; the modality facet still
	// counts the other modalities (as if CT were not selected); the other
	// facets count within the CT datasets.
	r = ix.Search(Query{Modalities: []string{"RID10321"}})
	if got := ids(r.Datasets); !reflect.DeepEqual(got, []string{"lung-oslo", "lung-val"}) {
		t.Errorf("CT datasets %v", got)
	}
	if got, want := facetMap(r.Facets.Modality), map[string]string{
		"RID10321": "Computed Tomography=2*", "RID10312": "Magnetic Resonance Imaging=2", "RID10337": "Positron Emission Tomography=2",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("modality facet with CT selected %v", got)
	}
	if got, want := facetMap(r.Facets.AccessRights), map[string]string{"RESTRICTED": "RESTRICTED=1", "PUBLIC": "PUBLIC=1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("access facet with CT selected %v", got)
	}

	// Two values of one facet are alternatives; two facets combine.
	r = ix.Search(Query{Modalities: []string{"RID10321", "RID10312"}, Nodes: []string{"valencia"}})
	if got := ids(r.Datasets); !reflect.DeepEqual(got, []string{"breast-val", "lung-val"}) {
		t.Errorf("(CT or MR) and valencia: %v", got)
	}
	r = ix.Search(Query{Text: "lung", AccessRights: []AccessRights{AccessPublic}, CancerTypes: []string{"363358000"}, BodyParts: []string{"39607008"}})
	if got := ids(r.Datasets); !reflect.DeepEqual(got, []string{"lung-val"}) {
		t.Errorf("lung, public: %v", got)
	}
	// A selected value no dataset has is still listed, selected, with 0.
	r = ix.Search(Query{Nodes: []string{"nowhere"}})
	if len(r.Datasets) != 0 || facetMap(r.Facets.Node)["nowhere"] != "nowhere=0*" {
		t.Errorf("unknown node: %v %v", ids(r.Datasets), r.Facets.Node)
	}
	// Text narrows the facet counts.
	r = ix.Search(Query{Text: "mama"})
	if got := facetMap(r.Facets.CancerType); !reflect.DeepEqual(got, map[string]string{"254837009": "Breast Cancer=1"}) {
		t.Errorf("cancer facet for 'mama': %v", got)
	}
}

func BenchmarkSearch(b *testing.B) {
	base := searchDatasets()
	var ds []Dataset
	for i := range 2500 {
		d := base[i%len(base)]
		d.ID = fmt.Sprintf("%s-%d", d.ID, i)
		ds = append(ds, d)
	}
	ix := NewIndex(ds)
	b.ResetTimer()
	for b.Loop() {
		ix.Search(Query{Text: "lung pet", Modalities: []string{"RID10321"}})
	}
}
