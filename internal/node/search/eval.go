package search

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/query"
	"github.com/cancerimage/cie/internal/store"
)

// DefaultMaxAge is how old a snapshot may grow before the Evaluator re-reads it in the
// background (see Evaluator.MaxAge).
const DefaultMaxAge = time.Minute

// Evaluator evaluates searches on a node's store: its index, datasets and CDM. It
// keeps a snapshot of the published data in memory and evaluates on it; see the
// package documentation for when the snapshot is read again.
type Evaluator struct {
	db *store.DB
	// MaxAge bounds how long a snapshot is used without reading the store again, for
	// changes the store's Changes does not count (another process writing to it).
	// Past it the snapshot is re-read in the background while searches go on with the
	// old one. Set before the first search; 0 means DefaultMaxAge.
	MaxAge time.Duration
	now    func() time.Time

	mu         sync.Mutex // guards now, cur, taken, background
	cur        *snapshot
	taken      time.Time     // when cur was read
	background chan struct{} // a background re-read under way (closed when done), or nil
	reading    sync.Mutex    // one read of the store at a time
}

// NewEvaluator returns the evaluator of the node's store db.
func NewEvaluator(db *store.DB) *Evaluator { return &Evaluator{db: db, now: time.Now} }

// Result is what a query matches in one published dataset, before disclosure control.
type Result struct {
	Dataset     string
	Name        string
	Description string
	// Subjects counts distinct patient pseudonyms, Studies distinct studies.
	Subjects, Studies int
	// AgeMin and AgeMax bound the ages at diagnosis of the matching subjects, in
	// whole years, rounded outward to multiples of 5; HasAge is false when none is known.
	AgeMin, AgeMax int
	HasAge         bool
	// Genders are the sexes of the matching subjects ("female", "male", "other",
	// "unknown"), Modalities and BodyParts the DICOM values of the matching series;
	// each sorted.
	Genders, Modalities, BodyParts []string
}

// ErrUnsupported is wrapped by Evaluate's error for a query with a key the node does
// not evaluate (see Supported).
var ErrUnsupported = errors.New("key not evaluated by this node")

// snapshot returns a current snapshot: the one kept if no change was marked since it
// was read (re-read in the background when older than MaxAge), else a new one.
func (e *Evaluator) snapshot(ctx context.Context) (*snapshot, error) {
	maxAge := e.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	for {
		e.mu.Lock()
		s := e.cur
		if s != nil && s.version == e.db.Changes() {
			if e.now().Sub(e.taken) > maxAge && e.background == nil {
				done := make(chan struct{})
				e.background = done
				go func() {
					defer close(done)
					// Detached from the search that noticed: it must not cut the read short.
					if _, err := e.reload(context.WithoutCancel(ctx), s); err != nil {
						e.mu.Lock()
						e.taken = e.now() // try again after another MaxAge, not at every search
						e.mu.Unlock()
					}
					e.mu.Lock()
					e.background = nil
					e.mu.Unlock()
				}()
			}
			e.mu.Unlock()
			return s, nil
		}
		e.mu.Unlock()
		s, err := e.reload(ctx, s)
		if err != nil || s != nil {
			return s, err
		}
	}
}

// reload reads a new snapshot in place of stale (nil at first), unless another reload
// replaced stale meanwhile, in which case it returns nil and the caller looks again.
func (e *Evaluator) reload(ctx context.Context, stale *snapshot) (*snapshot, error) {
	e.reading.Lock()
	defer e.reading.Unlock()
	e.mu.Lock()
	replaced := e.cur != stale
	taken := e.now()
	e.mu.Unlock()
	if replaced {
		return nil, nil
	}
	s, err := load(ctx, e.db)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.cur, e.taken = s, taken
	e.mu.Unlock()
	return s, nil
}

// Warm reads the snapshot now, so the first search does not wait for it.
func (e *Evaluator) Warm(ctx context.Context) error {
	_, err := e.snapshot(ctx)
	return err
}

// Evaluate evaluates q on every published dataset: one Result per published dataset,
// in the order of their IDs, with zero counts where nothing matches.
func (e *Evaluator) Evaluate(ctx context.Context, q *query.Query) ([]Result, error) {
	if u := q.Unsupported(Supported); len(u) > 0 {
		return nil, fmt.Errorf("search: %w: %s", ErrUnsupported, strings.Join(u, ", "))
	}
	s, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	c := compiler{s: s}
	match, err := c.node(&q.Root)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(s.datasets))
	seenPatient := make([]int32, len(s.patients)) // dataset index + 1 where last counted
	modalities := make([]int32, len(s.strs))      // likewise, per interned value
	parts := make([]int32, len(s.strs))
	for di := range s.datasets {
		d := &s.datasets[di]
		r := &results[di]
		r.Dataset, r.Name, r.Description = d.id, d.name, d.description
		stamp := int32(di + 1)
		genders := map[string]bool{}
		for _, sti := range d.studies {
			st := &s.studies[sti]
			if match.study != nil && !match.study(st) {
				continue
			}
			matched := false
			for i := range s.seriesOf(st) {
				se := &s.series[st.first+int32(i)]
				if match.series != nil && !match.series(st, se) {
					continue
				}
				matched = true
				if se.modality != 0 && modalities[se.modality] != stamp {
					modalities[se.modality] = stamp
					r.Modalities = append(r.Modalities, s.strs[se.modality])
				}
				if se.bodyPart != 0 && parts[se.bodyPart] != stamp {
					parts[se.bodyPart] = stamp
					r.BodyParts = append(r.BodyParts, s.strs[se.bodyPart])
				}
			}
			if !matched {
				continue
			}
			r.Studies++
			if seenPatient[st.patient] == stamp {
				continue
			}
			seenPatient[st.patient] = stamp
			r.Subjects++
			p := &s.patients[st.patient]
			cdmSex := ""
			if len(p.sexes) > 0 {
				cdmSex = s.strs[p.sexes[0]]
			}
			genders[gender(cdmSex, s.strs[st.dicomSex])] = true
			for _, cn := range p.conditions {
				if !cn.hasAge {
					continue
				}
				age := int(cn.age)
				if !r.HasAge || age < r.AgeMin {
					r.AgeMin = age
				}
				if !r.HasAge || age > r.AgeMax {
					r.AgeMax = age
				}
				r.HasAge = true
			}
		}
		if r.HasAge {
			r.AgeMin, r.AgeMax = r.AgeMin/5*5, (r.AgeMax+4)/5*5
		}
		r.Genders = sortedKeys(genders)
		r.Modalities, r.BodyParts = sortedStrings(r.Modalities), sortedStrings(r.BodyParts)
	}
	return results, nil
}

// sexKey is the vocabulary's key of sexes (SNOMED CT 263495000, Gender).
var sexKey, _ = query.LookupKey("SNOMEDCT263495000")

// gender names a subject's sex by the CDM's birth sex, or else DICOM Patient's Sex.
func gender(cdmSex, dicomSex string) string {
	for _, t := range sexKey.Terms {
		if cdmSex != "" && t.Code == cdmSex || cdmSex == "" && dicomSex != "" && t.DICOM == dicomSex {
			return t.Name
		}
	}
	return "unknown"
}

// studyPred tells whether a study, with its patient, meets (part of) a query; pred
// whether a series, with its study and patient, does.
type (
	studyPred func(st *studyRec) bool
	pred      func(st *studyRec, se *seriesRec) bool
)

// cond is a compiled (part of a) query: it holds for a series when study holds for its
// study and series for the series (a nil part holds always). Leaves on the study or
// patient have only a study part, so a search tests them once per study, not once per
// series; an AND keeps the two apart, an OR of series leaves needs the whole of each
// child per series.
type cond struct {
	study  studyPred
	series pred
}

func (c cond) whole() pred {
	switch {
	case c.study == nil && c.series == nil:
		return func(*studyRec, *seriesRec) bool { return true }
	case c.series == nil:
		return func(st *studyRec, _ *seriesRec) bool { return c.study(st) }
	case c.study == nil:
		return c.series
	}
	return func(st *studyRec, se *seriesRec) bool { return c.study(st) && c.series(st, se) }
}

// compiler turns a query into a cond over one snapshot. Leaves on a patient's clinical
// data are decided once per patient; leaves on values once per distinct value.
type compiler struct {
	s *snapshot
}

func (c *compiler) node(n *query.Node) (cond, error) {
	if n.Leaf != nil {
		return c.leaf(n.Leaf)
	}
	var kids []cond
	var condTests []func(*conditionRec) bool // an AND's condition leaves, held on one condition
	for i := range n.Children {
		ch := &n.Children[i]
		if n.Operand != query.Or && conditionNode(ch) {
			t, err := c.conditionNodeTest(ch)
			if err != nil {
				return cond{}, err
			}
			condTests = append(condTests, t)
			continue
		}
		k, err := c.node(ch)
		if err != nil {
			return cond{}, err
		}
		kids = append(kids, k)
	}
	if len(condTests) > 0 {
		kids = append(kids, c.anyCondition(condTests))
	}
	onlyStudy := true
	for _, k := range kids {
		onlyStudy = onlyStudy && k.series == nil
	}
	if n.Operand == query.Or && len(kids) > 0 {
		if onlyStudy {
			var ss []studyPred
			for _, k := range kids {
				if k.study == nil {
					return cond{}, nil // a child that always holds
				}
				ss = append(ss, k.study)
			}
			return cond{study: func(st *studyRec) bool {
				for _, p := range ss {
					if p(st) {
						return true
					}
				}
				return false
			}}, nil
		}
		ps := make([]pred, len(kids))
		for i, k := range kids {
			ps[i] = k.whole()
		}
		return cond{series: func(st *studyRec, se *seriesRec) bool {
			for _, p := range ps {
				if p(st, se) {
					return true
				}
			}
			return false
		}}, nil
	}
	// AND (or no children: always true).
	var ss []studyPred
	var ps []pred
	for _, k := range kids {
		if k.study != nil {
			ss = append(ss, k.study)
		}
		if k.series != nil {
			ps = append(ps, k.series)
		}
	}
	var out cond
	switch len(ss) {
	case 0:
	case 1:
		out.study = ss[0]
	default:
		out.study = func(st *studyRec) bool {
			for _, p := range ss {
				if !p(st) {
					return false
				}
			}
			return true
		}
	}
	switch len(ps) {
	case 0:
	case 1:
		out.series = ps[0]
	default:
		out.series = func(st *studyRec, se *seriesRec) bool {
			for _, p := range ps {
				if !p(st, se) {
					return false
				}
			}
			return true
		}
	}
	return out, nil
}

// patients decides f for every patient of the snapshot, once.
func (c *compiler) patients(f func(p *patientRec) bool) cond {
	t := make([]bool, len(c.s.patients))
	for i := range c.s.patients {
		t[i] = f(&c.s.patients[i])
	}
	return cond{study: func(st *studyRec) bool { return t[st.patient] }}
}

// conditionLeaf reports whether l tests a cancer condition (diagnosis, age or year of
// diagnosis): the leaves an AND holds on one and the same condition.
func conditionLeaf(l *query.Leaf) bool {
	k, ok := query.LookupKey(l.Key)
	if !ok {
		return false
	}
	switch k.Concept {
	case query.ConceptDiagnosis, query.ConceptAgeAtDiagnosis, query.ConceptYearOfDiagnosis:
		return true
	}
	return false
}

// conditionNode reports whether n tests one cancer condition: a condition leaf, or an
// OR of condition leaves ("breast or lung cancer").
func conditionNode(n *query.Node) bool {
	if n.Leaf != nil {
		return conditionLeaf(n.Leaf)
	}
	if n.Operand != query.Or || len(n.Children) == 0 {
		return false
	}
	for i := range n.Children {
		if l := n.Children[i].Leaf; l == nil || !conditionLeaf(l) {
			return false
		}
	}
	return true
}

// conditionNodeTest compiles a conditionNode to a test of one condition row.
func (c *compiler) conditionNodeTest(n *query.Node) (func(*conditionRec) bool, error) {
	if n.Leaf != nil {
		return c.conditionTest(n.Leaf)
	}
	var ts []func(*conditionRec) bool
	for i := range n.Children {
		t, err := c.conditionTest(n.Children[i].Leaf)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return func(cn *conditionRec) bool {
		for _, t := range ts {
			if t(cn) {
				return true
			}
		}
		return false
	}, nil
}

// conditionTest compiles a condition leaf to a test of one condition row.
func (c *compiler) conditionTest(l *query.Leaf) (func(*conditionRec) bool, error) {
	k, _ := query.LookupKey(l.Key)
	if k.Concept == query.ConceptDiagnosis {
		terms, not, err := codes(k, l)
		if err != nil {
			return nil, err
		}
		vals := map[string]bool{}
		for _, t := range terms {
			vals[t.Code] = true
		}
		t := c.s.setWhere(func(v string) bool { return vals[v] })
		snomed := c.s.id(cdm.SystemSNOMED)
		return func(cn *conditionRec) bool { return (cn.system == snomed && t[cn.code]) != not }, nil
	}
	test, err := numberTest(l)
	if err != nil {
		return nil, err
	}
	if k.Concept == query.ConceptYearOfDiagnosis {
		return func(cn *conditionRec) bool { return cn.hasYear && test(cn.year) }, nil
	}
	return func(cn *conditionRec) bool { return cn.hasAge && test(cn.age) }, nil
}

// anyCondition holds for a patient with a condition that passes every test.
func (c *compiler) anyCondition(tests []func(*conditionRec) bool) cond {
	return c.patients(func(p *patientRec) bool {
		for i := range p.conditions {
			all := true
			for _, t := range tests {
				all = all && t(&p.conditions[i])
			}
			if all {
				return true
			}
		}
		return false
	})
}

// numberTest returns the comparison a numeric leaf makes.
func numberTest(l *query.Leaf) (func(float64) bool, error) {
	n := l.Number
	switch l.Type {
	case query.Between:
		lo, hi := l.Min, l.Max
		return func(v float64) bool { return (lo == nil || v >= *lo) && (hi == nil || v <= *hi) }, nil
	case query.Equals:
		return func(v float64) bool { return v == n }, nil
	case query.NotEquals:
		return func(v float64) bool { return v != n }, nil
	case query.LowerThan:
		return func(v float64) bool { return v < n }, nil
	case query.LowerThanOrEqual:
		return func(v float64) bool { return v <= n }, nil
	case query.GreaterThan:
		return func(v float64) bool { return v > n }, nil
	case query.GreaterThanOrEqual:
		return func(v float64) bool { return v >= n }, nil
	}
	return nil, fmt.Errorf("search: key %s: operator %s on numbers", l.Key, l.Type)
}

// leaf compiles one condition. Series keys test the series; the others its patient's
// clinical data (sex also the study's DICOM Patient's Sex). NOT_EQUALS needs a known
// value that differs.
func (c *compiler) leaf(l *query.Leaf) (cond, error) {
	s := c.s
	k, ok := query.LookupKey(l.Key)
	if !ok {
		return cond{}, fmt.Errorf("search: unknown key %s", l.Key)
	}
	switch k.Concept {
	case query.ConceptModality, query.ConceptBodyPart:
		terms, not, err := codes(k, l)
		if err != nil {
			return cond{}, err
		}
		vals := map[string]bool{}
		for _, t := range terms {
			vals[t.DICOM] = true
		}
		t := s.setWhere(func(v string) bool { return vals[v] != not && (v != "" || !not) })
		if k.Concept == query.ConceptBodyPart {
			return cond{series: func(_ *studyRec, se *seriesRec) bool { return t[se.bodyPart] }}, nil
		}
		return cond{series: func(_ *studyRec, se *seriesRec) bool { return t[se.modality] }}, nil

	case query.ConceptManufacturer:
		pats, not, err := manufacturerPatterns(k, l)
		if err != nil {
			return cond{}, err
		}
		t := s.setWhere(func(v string) bool { // v: the Manufacturer, upper case
			m := false
			for _, p := range pats {
				m = m || strings.Contains(v, p)
			}
			if not {
				return v != "" && !m
			}
			return m
		})
		return cond{series: func(_ *studyRec, se *seriesRec) bool { return t[se.manufacturer] }}, nil

	case query.ConceptSex:
		terms, not, err := codes(k, l)
		if err != nil {
			return cond{}, err
		}
		// The CDM's birth sex; for a patient without one, the DICOM Patient's Sex the
		// index keeps (if the de-identification retained it).
		cdmCodes, dicomVals := map[string]bool{}, map[string]bool{}
		for _, t := range terms {
			cdmCodes[t.Code] = true
			if t.DICOM != "" {
				dicomVals[t.DICOM] = true
			}
		}
		cdmT := s.setWhere(func(v string) bool { return cdmCodes[v] != not })
		dicomT := s.setWhere(func(v string) bool { return v != "" && dicomVals[v] != not })
		byCDM := c.patients(func(p *patientRec) bool {
			for _, x := range p.sexes {
				if cdmT[x] {
					return true
				}
			}
			return false
		})
		return cond{study: func(st *studyRec) bool {
			return byCDM.study(st) || len(s.patients[st.patient].sexes) == 0 && dicomT[st.dicomSex]
		}}, nil

	case query.ConceptAgeAtDiagnosis, query.ConceptYearOfDiagnosis, query.ConceptDiagnosis:
		test, err := c.conditionTest(l)
		if err != nil {
			return cond{}, err
		}
		return c.anyCondition([]func(*conditionRec) bool{test}), nil

	case query.ConceptTumorMarker:
		tests := map[string]bool{k.Key: true, k.Code: true}
		for _, x := range markerTests[k.Code] {
			tests[x] = true
		}
		testT := s.setWhere(func(v string) bool { return tests[v] })
		if k.Field == query.FieldNumber {
			test, err := numberTest(l)
			if err != nil {
				return cond{}, err
			}
			return c.patients(func(p *patientRec) bool {
				for _, m := range p.markers {
					if testT[m.code] && m.hasNum && test(m.num) {
						return true
					}
				}
				return false
			}), nil
		}
		terms, not, err := codes(k, l)
		if err != nil {
			return cond{}, err
		}
		vcodes, texts := map[string]bool{}, map[string]bool{}
		for _, t := range terms {
			vcodes[t.Key], vcodes[t.Code] = true, true
			if x, ok := markerValues[t.Code]; ok {
				vcodes[x] = true
			}
			texts[strings.ToLower(t.Name)] = true
		}
		vcodeT := s.setWhere(func(v string) bool { return vcodes[v] })
		textT := s.setWhere(func(v string) bool { return texts[v] })
		return c.patients(func(p *patientRec) bool {
			for _, m := range p.markers {
				if !testT[m.code] {
					continue
				}
				hit := vcodeT[m.valueCode] || m.valueCode == 0 && textT[m.valueText]
				if not && (m.valueCode != 0 || m.valueText != 0) && !hit || !not && hit {
					return true
				}
			}
			return false
		}), nil

	case query.ConceptHistologicGrade, query.ConceptCancerStage:
		terms, not, err := codes(k, l)
		if err != nil {
			return cond{}, err
		}
		vcodes, all := map[string]bool{}, map[string]bool{}
		for _, t := range terms {
			vcodes[t.Key], vcodes[t.Code] = true, true
		}
		for _, t := range k.Terms { // NOT_EQUALS: another value of the same scale
			all[t.Key], all[t.Code] = true, true
		}
		t := s.setWhere(func(v string) bool {
			if not {
				return all[v] && !vcodes[v]
			}
			return vcodes[v]
		})
		stage := k.Concept == query.ConceptCancerStage
		return c.patients(func(p *patientRec) bool {
			vals := p.grades
			if stage {
				vals = p.stages
			}
			for _, v := range vals {
				if t[v] {
					return true
				}
			}
			return false
		}), nil
	}
	return cond{}, fmt.Errorf("search: key %s (%s) is not evaluated here", l.Key, k.Name)
}
