package catalogue

// A Turtle (W3C RDF 1.1 Turtle) parser for the tests: enough of the grammar
// to read back any document a Turtle writer could reasonably produce —
// @prefix/PREFIX, @base/BASE, IRIs (relative ones resolved), prefixed names
// with escapes, blank node labels and [ … ] property lists, literals in all
// four quote styles with escapes, language tags and datatypes, numbers and
// booleans, ';' and ',' lists and comments. Collections ( … ) are refused:
// the writer never produces them.

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// rterm is a parsed RDF term.
type rterm struct {
	Kind     byte // 'I' IRI, 'B' blank node, 'L' literal
	Value    string
	Datatype string // literals: full IRI; rdf:langString with a language
	Lang     string
}

func (t rterm) String() string {
	switch t.Kind {
	case 'I':
		return "<" + t.Value + ">"
	case 'B':
		return "_:" + t.Value
	}
	s := strconv.Quote(t.Value)
	if t.Lang != "" {
		return s + "@" + t.Lang
	}
	return s + "^^<" + t.Datatype + ">"
}

type triple struct{ S, P, O rterm }

func (t triple) String() string { return t.S.String() + " " + t.P.String() + " " + t.O.String() }

type turtleParser struct {
	src      string
	pos      int
	base     *url.URL
	prefixes map[string]string
	triples  []triple
	blanks   int
	labels   map[string]string
}

// parseTurtle parses a Turtle document; base resolves relative IRIs (it may
// be "" when the document has none).
func parseTurtle(src, base string) (ts []triple, err error) {
	p := &turtleParser{src: src, prefixes: map[string]string{}, labels: map[string]string{}}
	if base != "" {
		if p.base, err = url.Parse(base); err != nil {
			return nil, err
		}
	}
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("turtle: document is not UTF-8")
	}
	for {
		p.skipWS()
		if p.pos >= len(p.src) {
			return p.triples, nil
		}
		if err := p.statement(); err != nil {
			line := strings.Count(p.src[:min(p.pos, len(p.src))], "\n") + 1
			return nil, fmt.Errorf("turtle: line %d: %w", line, err)
		}
	}
}

func (p *turtleParser) peek() rune {
	if p.pos >= len(p.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *turtleParser) next() rune {
	if p.pos >= len(p.src) {
		return -1
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return r
}

func (p *turtleParser) skipWS() {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; c {
		case ' ', '\t', '\n', '\r':
			p.pos++
		case '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' && p.src[p.pos] != '\r' {
				p.pos++
			}
		default:
			return
		}
	}
}

func (p *turtleParser) expect(c byte) error {
	p.skipWS()
	if p.pos >= len(p.src) || p.src[p.pos] != c {
		return fmt.Errorf("expected %q at %q", c, p.context())
	}
	p.pos++
	return nil
}

func (p *turtleParser) context() string {
	end := min(p.pos+30, len(p.src))
	return p.src[p.pos:end]
}

func (p *turtleParser) hasKeyword(kw string, caseFold bool) bool {
	if len(p.src)-p.pos < len(kw) {
		return false
	}
	s := p.src[p.pos : p.pos+len(kw)]
	if !(s == kw || caseFold && strings.EqualFold(s, kw)) {
		return false
	}
	if p.pos+len(kw) < len(p.src) {
		r, _ := utf8.DecodeRuneInString(p.src[p.pos+len(kw):])
		if isPNChar(r) || r == ':' {
			return false
		}
	}
	return true
}

func (p *turtleParser) statement() error {
	switch {
	case strings.HasPrefix(p.src[p.pos:], "@prefix"):
		p.pos += len("@prefix")
		if err := p.prefixDecl(); err != nil {
			return err
		}
		return p.expect('.')
	case strings.HasPrefix(p.src[p.pos:], "@base"):
		p.pos += len("@base")
		if err := p.baseDecl(); err != nil {
			return err
		}
		return p.expect('.')
	case p.hasKeyword("PREFIX", true):
		p.pos += len("PREFIX")
		return p.prefixDecl()
	case p.hasKeyword("BASE", true):
		p.pos += len("BASE")
		return p.baseDecl()
	}
	if p.peek() == '[' {
		s, err := p.blankNodePropertyList()
		if err != nil {
			return err
		}
		p.skipWS()
		if p.peek() != '.' {
			if err := p.predicateObjectList(s); err != nil {
				return err
			}
		}
		return p.expect('.')
	}
	s, err := p.subject()
	if err != nil {
		return err
	}
	if err := p.predicateObjectList(s); err != nil {
		return err
	}
	return p.expect('.')
}

func (p *turtleParser) prefixDecl() error {
	p.skipWS()
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != ':' {
		r := p.next()
		if !isPNChar(r) && r != '.' {
			return fmt.Errorf("bad prefix name at %q", p.src[start:])
		}
	}
	name := p.src[start:p.pos]
	if err := p.expect(':'); err != nil {
		return err
	}
	p.skipWS()
	iri, err := p.iriRef()
	if err != nil {
		return err
	}
	p.prefixes[name] = iri
	return nil
}

func (p *turtleParser) baseDecl() error {
	p.skipWS()
	iri, err := p.iriRef()
	if err != nil {
		return err
	}
	u, err := url.Parse(iri)
	if err != nil {
		return err
	}
	p.base = u
	return nil
}

func (p *turtleParser) subject() (rterm, error) {
	p.skipWS()
	switch p.peek() {
	case '<', -1:
		return p.iri()
	case '_':
		return p.blankLabel()
	case '(':
		return rterm{}, fmt.Errorf("collections are not supported")
	}
	return p.iri()
}

func (p *turtleParser) predicateObjectList(s rterm) error {
	for {
		p.skipWS()
		var pred rterm
		if p.hasKeyword("a", false) {
			p.pos++
			pred = rterm{Kind: 'I', Value: nsRDF + "type"}
		} else {
			var err error
			if pred, err = p.iri(); err != nil {
				return err
			}
		}
		for {
			o, err := p.object()
			if err != nil {
				return err
			}
			p.triples = append(p.triples, triple{s, pred, o})
			p.skipWS()
			if p.peek() != ',' {
				break
			}
			p.pos++
		}
		p.skipWS()
		if p.peek() != ';' {
			return nil
		}
		for p.peek() == ';' {
			p.pos++
			p.skipWS()
		}
		if c := p.peek(); c == '.' || c == ']' || c == -1 {
			return nil
		}
	}
}

func (p *turtleParser) newBlank() rterm {
	p.blanks++
	return rterm{Kind: 'B', Value: "b" + strconv.Itoa(p.blanks)}
}

func (p *turtleParser) blankNodePropertyList() (rterm, error) {
	if err := p.expect('['); err != nil {
		return rterm{}, err
	}
	b := p.newBlank()
	p.skipWS()
	if p.peek() == ']' {
		p.pos++
		return b, nil
	}
	if err := p.predicateObjectList(b); err != nil {
		return rterm{}, err
	}
	return b, p.expect(']')
}

func (p *turtleParser) blankLabel() (rterm, error) {
	if !strings.HasPrefix(p.src[p.pos:], "_:") {
		return rterm{}, fmt.Errorf("expected a blank node label at %q", p.context())
	}
	p.pos += 2
	start := p.pos
	for p.pos < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if !isPNChar(r) && r != '.' {
			break
		}
		p.pos += n
	}
	for p.pos > start && p.src[p.pos-1] == '.' {
		p.pos--
	}
	if p.pos == start {
		return rterm{}, fmt.Errorf("empty blank node label")
	}
	label := p.src[start:p.pos]
	id, ok := p.labels[label]
	if !ok {
		id = p.newBlank().Value
		p.labels[label] = id
	}
	return rterm{Kind: 'B', Value: id}, nil
}

func (p *turtleParser) object() (rterm, error) {
	p.skipWS()
	switch c := p.peek(); {
	case c == '<':
		return p.iri()
	case c == '_':
		return p.blankLabel()
	case c == '[':
		return p.blankNodePropertyList()
	case c == '(':
		return rterm{}, fmt.Errorf("collections are not supported")
	case c == '"' || c == '\'':
		return p.literal()
	case c == '+' || c == '-' || c == '.' || c >= '0' && c <= '9':
		return p.number()
	case p.hasKeyword("true", false):
		p.pos += 4
		return rterm{Kind: 'L', Value: "true", Datatype: nsXSD + "boolean"}, nil
	case p.hasKeyword("false", false):
		p.pos += 5
		return rterm{Kind: 'L', Value: "false", Datatype: nsXSD + "boolean"}, nil
	}
	return p.iri()
}

func (p *turtleParser) number() (rterm, error) {
	start := p.pos
	if c := p.peek(); c == '+' || c == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	intDigits := digits()
	dt := "integer"
	if p.peek() == '.' && p.pos+1 < len(p.src) && p.src[p.pos+1] >= '0' && p.src[p.pos+1] <= '9' {
		p.pos++
		digits()
		dt = "decimal"
	} else if intDigits == 0 && !(p.peek() == 'e' || p.peek() == 'E') {
		return rterm{}, fmt.Errorf("bad number at %q", p.src[start:])
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.pos++
		if c := p.peek(); c == '+' || c == '-' {
			p.pos++
		}
		if digits() == 0 {
			return rterm{}, fmt.Errorf("bad exponent at %q", p.src[start:])
		}
		dt = "double"
	}
	return rterm{Kind: 'L', Value: p.src[start:p.pos], Datatype: nsXSD + dt}, nil
}

func (p *turtleParser) literal() (rterm, error) {
	q := p.next()
	long := strings.HasPrefix(p.src[p.pos:], string([]rune{q, q}))
	if long {
		p.pos += 2
	}
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			return rterm{}, fmt.Errorf("unterminated string")
		}
		r := p.next()
		switch {
		case r == q && !long:
			goto done
		case r == q && long && strings.HasPrefix(p.src[p.pos:], string([]rune{q, q})):
			p.pos += 2
			// A long string may end with up to two more quotes: """a""""" is a"".
			for strings.HasPrefix(p.src[p.pos:], string(q)) {
				b.WriteRune(q)
				p.pos++
			}
			goto done
		case r == '\\':
			if err := p.escape(&b, true); err != nil {
				return rterm{}, err
			}
		case (r == '\n' || r == '\r') && !long:
			return rterm{}, fmt.Errorf("newline in a short string")
		default:
			b.WriteRune(r)
		}
	}
done:
	t := rterm{Kind: 'L', Value: b.String(), Datatype: nsXSD + "string"}
	switch {
	case p.peek() == '@':
		p.pos++
		start := p.pos
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (p.pos > start && (c == '-' || c >= '0' && c <= '9')) {
				p.pos++
				continue
			}
			break
		}
		if p.pos == start {
			return rterm{}, fmt.Errorf("empty language tag")
		}
		t.Lang = strings.ToLower(p.src[start:p.pos])
		t.Datatype = nsRDF + "langString"
	case strings.HasPrefix(p.src[p.pos:], "^^"):
		p.pos += 2
		dt, err := p.iri()
		if err != nil {
			return rterm{}, err
		}
		t.Datatype = dt.Value
	}
	return t, nil
}

// escape reads the escape after a backslash: ECHAR (in strings) or UCHAR.
func (p *turtleParser) escape(b *strings.Builder, echar bool) error {
	c := p.next()
	switch c {
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		if p.pos+n > len(p.src) {
			return fmt.Errorf("short \\%c escape", c)
		}
		v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
		if err != nil {
			return fmt.Errorf("bad \\%c escape %q", c, p.src[p.pos:p.pos+n])
		}
		p.pos += n
		r := rune(v)
		if !utf8.ValidRune(r) {
			return fmt.Errorf("escape \\%c%0*X is not a character", c, n, v)
		}
		b.WriteRune(r)
		return nil
	}
	if !echar {
		return fmt.Errorf("bad escape \\%c in an IRI", c)
	}
	switch c {
	case 't':
		b.WriteByte('\t')
	case 'b':
		b.WriteByte('\b')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 'f':
		b.WriteByte('\f')
	case '"', '\'', '\\':
		b.WriteRune(c)
	default:
		return fmt.Errorf("bad escape \\%c", c)
	}
	return nil
}

func (p *turtleParser) iriRef() (string, error) {
	if p.next() != '<' {
		return "", fmt.Errorf("expected '<' at %q", p.context())
	}
	var b strings.Builder
	for {
		r := p.next()
		switch {
		case r == -1:
			return "", fmt.Errorf("unterminated IRI")
		case r == '>':
			return p.resolve(b.String())
		case r == '\\':
			if err := p.escape(&b, false); err != nil {
				return "", err
			}
		case r <= 0x20 || strings.ContainsRune("<\"{}|^`", r):
			return "", fmt.Errorf("character %q not allowed in an IRI", r)
		default:
			b.WriteRune(r)
		}
	}
}

func (p *turtleParser) resolve(iri string) (string, error) {
	u, err := url.Parse(iri)
	if err != nil {
		return "", fmt.Errorf("bad IRI %q: %v", iri, err)
	}
	if u.IsAbs() {
		return iri, nil
	}
	if p.base == nil {
		return "", fmt.Errorf("relative IRI %q without a base", iri)
	}
	return p.base.ResolveReference(u).String(), nil
}

// iri reads an IRIREF or a prefixed name.
func (p *turtleParser) iri() (rterm, error) {
	p.skipWS()
	if p.peek() == '<' {
		s, err := p.iriRef()
		return rterm{Kind: 'I', Value: s}, err
	}
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != ':' {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if !isPNChar(r) && r != '.' {
			break
		}
		p.pos += n
	}
	if p.pos >= len(p.src) || p.src[p.pos] != ':' {
		p.pos = start
		return rterm{}, fmt.Errorf("expected an IRI at %q", p.context())
	}
	prefix := p.src[start:p.pos]
	ns, ok := p.prefixes[prefix]
	if !ok {
		return rterm{}, fmt.Errorf("undeclared prefix %q", prefix)
	}
	p.pos++
	var local strings.Builder
	for p.pos < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		switch {
		case r == '\\' && p.pos+1 < len(p.src) && strings.IndexByte("_~.-!$&'()*+,;=/?#@%", p.src[p.pos+1]) >= 0:
			local.WriteByte(p.src[p.pos+1])
			p.pos += 2
			continue
		case r == '%' && p.pos+2 < len(p.src) && isHex(p.src[p.pos+1]) && isHex(p.src[p.pos+2]):
			local.WriteString(p.src[p.pos : p.pos+3])
			p.pos += 3
			continue
		case isPNChar(r) || r == ':' || r == '.':
			local.WriteRune(r)
			p.pos += n
			continue
		}
		break
	}
	// A name does not end with '.': that is the statement's end.
	s := local.String()
	for strings.HasSuffix(s, ".") {
		s = s[:len(s)-1]
		p.pos--
	}
	return rterm{Kind: 'I', Value: ns + s}, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isPNChar approximates PN_CHARS of the Turtle grammar.
func isPNChar(r rune) bool {
	return r == '_' || r == '-' || r == 0xB7 || unicode.IsLetter(r) || unicode.IsDigit(r) ||
		unicode.Is(unicode.Mn, r) || (r >= 0x203F && r <= 0x2040)
}

// graph indexes triples by subject and predicate.
type graph map[rterm]map[string][]rterm

func newGraph(ts []triple) graph {
	g := graph{}
	for _, t := range ts {
		if g[t.S] == nil {
			g[t.S] = map[string][]rterm{}
		}
		g[t.S][t.P.Value] = append(g[t.S][t.P.Value], t.O)
	}
	return g
}

func (g graph) objs(s rterm, pred string) []rterm { return g[s][pred] }

func (g graph) one(s rterm, pred string) (rterm, bool) {
	os := g[s][pred]
	if len(os) != 1 {
		return rterm{}, false
	}
	return os[0], true
}

func (g graph) subjectsOfType(typ string) []rterm {
	var out []rterm
	for s, props := range g {
		for _, t := range props[nsRDF+"type"] {
			if t.Kind == 'I' && t.Value == typ {
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

func iriOf(s string) rterm { return rterm{Kind: 'I', Value: s} }

// canonical renders a set of triples in a form that does not depend on blank
// node labels, for tree-shaped blank nodes (each the object of one triple):
// a blank node is replaced by the sorted rendering of its own properties.
func canonical(ts []triple) []string {
	g := newGraph(ts)
	var render func(t rterm, depth int) string
	render = func(t rterm, depth int) string {
		if t.Kind != 'B' {
			return t.String()
		}
		if depth > 20 {
			return "[…]"
		}
		var parts []string
		for p, os := range g[t] {
			for _, o := range os {
				parts = append(parts, "<"+p+"> "+render(o, depth+1))
			}
		}
		sort.Strings(parts)
		return "[" + strings.Join(parts, " ; ") + "]"
	}
	var out []string
	for _, t := range ts {
		if t.S.Kind == 'B' {
			continue
		}
		out = append(out, t.S.String()+" "+t.P.String()+" "+render(t.O, 0))
	}
	sort.Strings(out)
	return out
}
