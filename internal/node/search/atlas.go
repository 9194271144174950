package search

import (
	"context"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/query"
)

// Totals are a node's public totals over its published datasets (before suppression).
type Totals struct {
	Subjects, Studies int
	// Modality and BodyPart count studies with a series of each DICOM value;
	// CancerType counts subjects with a condition of each diagnosis, named as the
	// explorer's vocabulary names it ("Breast Cancer"), or "SNOMED CT <code>".
	Modality, BodyPart, CancerType map[string]int
}

// Totals counts the node's published subjects and studies.
func (e *Evaluator) Totals(ctx context.Context) (Totals, error) {
	t := Totals{Modality: map[string]int{}, BodyPart: map[string]int{}, CancerType: map[string]int{}}
	s, err := e.snapshot(ctx)
	if err != nil {
		return t, err
	}
	names := map[string]string{}
	if k, ok := query.LookupKey("SNOMEDCT439401001"); ok {
		for _, tm := range k.Terms {
			names[tm.Code] = tm.Name
		}
	}
	t.Studies = len(s.studies)
	subjects := make([]bool, len(s.patients))
	for i := range s.studies {
		st := &s.studies[i]
		subjects[st.patient] = true
		mods, parts := map[int32]bool{}, map[int32]bool{}
		for _, se := range s.seriesOf(st) {
			if se.modality != 0 && !mods[se.modality] {
				mods[se.modality] = true
				t.Modality[s.strs[se.modality]]++
			}
			if se.bodyPart != 0 && !parts[se.bodyPart] {
				parts[se.bodyPart] = true
				t.BodyPart[s.strs[se.bodyPart]]++
			}
		}
	}
	snomed := s.id(cdm.SystemSNOMED)
	for i, in := range subjects {
		if !in {
			continue
		}
		t.Subjects++
		codes := map[int32]bool{}
		for _, cn := range s.patients[i].conditions {
			if cn.system != snomed || codes[cn.code] {
				continue
			}
			codes[cn.code] = true
			code := s.strs[cn.code]
			name, ok := names[code]
			if !ok {
				name = "SNOMED CT " + code
			}
			t.CancerType[name]++
		}
	}
	return t, nil
}
