package catalogue

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Index answers full-text searches with facets over a list of datasets. It
// is built once (NewIndex) and never changes, so it can be shared by
// concurrent requests; the hub builds a new one when its catalogue changes.
type Index struct {
	docs []indexedDoc
}

type indexedDoc struct {
	d       Dataset
	tokens  []weightedToken // sorted by token, unique
	sortKey string          // the title's tokens, for ordering without accents
}

type weightedToken struct {
	tok    string
	weight float64
}

// Field weights of the full-text search: a word in the title counts more than
// one in the description.
const (
	weightTitle       = 4
	weightKeyword     = 3
	weightCode        = 2
	weightID          = 2
	weightPublisher   = 1.5
	weightDescription = 1
	// A query word that is only a prefix of a dataset word counts this much
	// of a whole-word match.
	prefixFactor = 0.5
)

// NewIndex indexes the datasets (a copy of the slice is kept).
func NewIndex(ds []Dataset) *Index {
	ix := &Index{docs: make([]indexedDoc, len(ds))}
	for i, d := range ds {
		w := map[string]float64{}
		add := func(s string, weight float64) {
			for _, t := range Tokenize(s) {
				w[t] = max(w[t], weight)
			}
		}
		add(d.Title, weightTitle)
		for _, k := range d.Keywords {
			add(k, weightKeyword)
		}
		for _, cs := range [][]Code{d.CancerTypes, d.BodyParts, d.Modalities} {
			for _, c := range cs {
				add(c.Display, weightCode)
			}
		}
		add(d.ID, weightID)
		add(d.Node, weightPublisher)
		add(d.Publisher.Name, weightPublisher)
		add(d.Description, weightDescription)
		toks := make([]weightedToken, 0, len(w))
		for t, x := range w {
			toks = append(toks, weightedToken{t, x})
		}
		sort.Slice(toks, func(a, b int) bool { return toks[a].tok < toks[b].tok })
		ix.docs[i] = indexedDoc{d: d, tokens: toks, sortKey: strings.Join(Tokenize(d.Title), " ")}
	}
	return ix
}

// Len is the number of datasets indexed.
func (ix *Index) Len() int { return len(ix.docs) }

// Tokenize splits text into the words the search compares: runs of letters
// and digits, lower-cased, with accents and other marks removed ("Ñoño" →
// "nono") and a few letters that do not decompose spelled out ("ø" → "o",
// "ß" → "ss", "æ" → "ae").
func Tokenize(s string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, r := range norm.NFKD.String(strings.ToValidUTF8(s, " ")) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// A combining mark: dropped, the word goes on.
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
			if f, ok := foldLetter(r); ok {
				b.WriteString(f)
			} else {
				b.WriteRune(r)
			}
		default:
			flush()
		}
	}
	flush()
	return out
}

// foldLetter spells out Latin letters that have no canonical decomposition.
func foldLetter(r rune) (string, bool) {
	switch r {
	case 'ø':
		return "o", true
	case 'æ':
		return "ae", true
	case 'œ':
		return "oe", true
	case 'ß':
		return "ss", true
	case 'đ', 'ð':
		return "d", true
	case 'ł':
		return "l", true
	case 'þ':
		return "th", true
	case 'ı':
		return "i", true
	}
	return "", false
}

// Query is a catalogue search. Every word of Text must match a word of the
// dataset (whole, or as its beginning) in its title, keywords, code names,
// ID, node, publisher or description. Within one facet the values are
// alternatives (OR); the facets combine with AND. Empty means no restriction.
type Query struct {
	Text         string
	CancerTypes  []string // codes, e.g. "363358000"
	BodyParts    []string // codes
	Modalities   []string // codes, e.g. "RID10321"
	Nodes        []string // node names
	AccessRights []AccessRights
}

// FacetValue is one value of a facet with the number of datasets that have
// it among those the query would give with this facet's own selection left
// out (so that the counts show what choosing another value would give).
type FacetValue struct {
	Value    string // the code, node name or access right
	Label    string // what to show: the code's display, or Value
	Count    int
	Selected bool // the query selects this value
}

// Facets are the facets of a search result, each sorted by count (most
// first), then label.
type Facets struct {
	CancerType   []FacetValue
	BodyPart     []FacetValue
	Modality     []FacetValue
	Node         []FacetValue
	AccessRights []FacetValue
}

// Result is the answer to a Query.
type Result struct {
	// Datasets match the query, best first: by text score, then most
	// recently modified, then title (without case or accents) and ID.
	Datasets []Dataset
	Facets   Facets
}

// facet identifies one facet dimension.
type facet int

const (
	facetCancerType facet = iota
	facetBodyPart
	facetModality
	facetNode
	facetAccess
	numFacets
)

// values returns the values of facet f of a dataset, with their labels.
func (f facet) values(d *Dataset) []FacetValue {
	codes := func(cs []Code) []FacetValue {
		out := make([]FacetValue, len(cs))
		for i, c := range cs {
			out[i] = FacetValue{Value: c.Code, Label: cmp.Or(c.Display, c.Code)}
		}
		return out
	}
	switch f {
	case facetCancerType:
		return codes(d.CancerTypes)
	case facetBodyPart:
		return codes(d.BodyParts)
	case facetModality:
		return codes(d.Modalities)
	case facetNode:
		return []FacetValue{{Value: d.Node, Label: d.Node}}
	case facetAccess:
		return []FacetValue{{Value: string(d.AccessRights), Label: string(d.AccessRights)}}
	}
	return nil
}

func (q *Query) selection(f facet) []string {
	switch f {
	case facetCancerType:
		return q.CancerTypes
	case facetBodyPart:
		return q.BodyParts
	case facetModality:
		return q.Modalities
	case facetNode:
		return q.Nodes
	case facetAccess:
		out := make([]string, len(q.AccessRights))
		for i, a := range q.AccessRights {
			out[i] = string(a)
		}
		return out
	}
	return nil
}

// Search runs a query.
func (ix *Index) Search(q Query) Result {
	terms := slices.Compact(slices.Sorted(slices.Values(Tokenize(q.Text))))
	type hit struct {
		doc   *indexedDoc
		score float64
		in    [numFacets]bool // passes the filter of each facet
	}
	var hits []hit
	for i := range ix.docs {
		doc := &ix.docs[i]
		score, ok := doc.score(terms)
		if !ok {
			continue
		}
		h := hit{doc: doc, score: score}
		for f := range numFacets {
			h.in[f] = passes(f.values(&doc.d), q.selection(f))
		}
		hits = append(hits, h)
	}
	var res Result
	counts := [numFacets]map[string]*FacetValue{}
	for f := range numFacets {
		counts[f] = map[string]*FacetValue{}
		for _, v := range q.selection(f) {
			counts[f][v] = &FacetValue{Value: v, Label: v, Selected: true}
		}
	}
	var matched []hit
	for _, h := range hits {
		all := true
		for f := range numFacets {
			all = all && h.in[f]
		}
		if all {
			matched = append(matched, h)
		}
		// Count this dataset in facet f if it passes every other facet.
		for f := range numFacets {
			others := true
			for g := range numFacets {
				if g != f {
					others = others && h.in[g]
				}
			}
			if !others {
				continue
			}
			vs := f.values(&h.doc.d)
			for k, v := range vs {
				if slices.ContainsFunc(vs[:k], func(w FacetValue) bool { return w.Value == v.Value }) {
					continue // counted once per dataset
				}
				fv := counts[f][v.Value]
				if fv == nil {
					fv = &FacetValue{Value: v.Value}
					counts[f][v.Value] = fv
				}
				fv.Label = v.Label
				fv.Count++
			}
		}
	}
	sort.SliceStable(matched, func(i, j int) bool {
		a, b := matched[i], matched[j]
		if a.score != b.score {
			return a.score > b.score
		}
		if !a.doc.d.Modified.Equal(b.doc.d.Modified) {
			return a.doc.d.Modified.After(b.doc.d.Modified)
		}
		if a.doc.sortKey != b.doc.sortKey {
			return a.doc.sortKey < b.doc.sortKey
		}
		return a.doc.d.ID < b.doc.d.ID
	})
	res.Datasets = make([]Dataset, len(matched))
	for i, h := range matched {
		res.Datasets[i] = h.doc.d
	}
	lists := [numFacets][]FacetValue{}
	for f := range numFacets {
		for _, v := range counts[f] {
			lists[f] = append(lists[f], *v)
		}
		sort.Slice(lists[f], func(i, j int) bool {
			a, b := lists[f][i], lists[f][j]
			if a.Count != b.Count {
				return a.Count > b.Count
			}
			if a.Label != b.Label {
				return a.Label < b.Label
			}
			return a.Value < b.Value
		})
	}
	res.Facets = Facets{
		CancerType:   lists[facetCancerType],
		BodyPart:     lists[facetBodyPart],
		Modality:     lists[facetModality],
		Node:         lists[facetNode],
		AccessRights: lists[facetAccess],
	}
	return res
}

// passes reports whether a dataset with values vs passes a facet selection.
func passes(vs []FacetValue, sel []string) bool {
	if len(sel) == 0 {
		return true
	}
	for _, v := range vs {
		if slices.Contains(sel, v.Value) {
			return true
		}
	}
	return false
}

// score sums, over the query terms, the weight of the best field the term
// occurs in; false if a term occurs nowhere.
func (doc *indexedDoc) score(terms []string) (float64, bool) {
	total := 0.0
	for _, t := range terms {
		i := sort.Search(len(doc.tokens), func(i int) bool { return doc.tokens[i].tok >= t })
		best := 0.0
		for j := i; j < len(doc.tokens) && strings.HasPrefix(doc.tokens[j].tok, t); j++ {
			w := doc.tokens[j].weight
			if doc.tokens[j].tok != t {
				w *= prefixFactor
			}
			best = max(best, w)
		}
		if best == 0 {
			return 0, false
		}
		total += best
	}
	return total, true
}
