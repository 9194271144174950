package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits bound what Parse accepts. Zero fields take the defaults.
type Limits struct {
	MaxBytes  int // size of the input
	MaxDepth  int // nesting of nodes; the root is at depth 1, its children at 2
	MaxNodes  int // inner nodes and leaves
	MaxLeaves int // leaves
	MaxIn     int // codes of one IN
	MaxText   int // characters of a CONTAINS text
}

// DefaultLimits are generous for any query the explorer builds.
var DefaultLimits = Limits{MaxBytes: 64 << 10, MaxDepth: 12, MaxNodes: 1024, MaxLeaves: 256, MaxIn: 128, MaxText: 64}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	for _, f := range []struct{ v, def *int }{
		{&l.MaxBytes, &d.MaxBytes}, {&l.MaxDepth, &d.MaxDepth}, {&l.MaxNodes, &d.MaxNodes},
		{&l.MaxLeaves, &d.MaxLeaves}, {&l.MaxIn, &d.MaxIn}, {&l.MaxText, &d.MaxText},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// Parse parses, validates and normalises a query with [DefaultLimits].
func Parse(data []byte) (*Query, error) { return DefaultLimits.Parse(data) }

// Parse parses a query in the EUCAIM explorer's shape,
//
//	{"ast": {"operand": "AND"|"OR", "children": [ … ]}, "id": "…"}
//
// with leaves {"key": K, "type": T, "value": V, "system": S}, validates it
// against the vocabulary and normalises it (see [Query.Canonical]). Inner
// nodes may carry a "key" (the explorer puts the category's there); "id" and
// "system" are accepted and dropped. Errors are *Error, naming the offending
// part of the input. The size, nesting and number of objects are checked on
// the raw bytes before anything is decoded.
func (l Limits) Parse(data []byte) (*Query, error) {
	l = l.withDefaults()
	if len(data) > l.MaxBytes {
		return nil, errorf(ErrTooLarge, "", "%d bytes, at most %d", len(data), l.MaxBytes)
	}
	// Slack over the exact limits, so that a tree just over them is refused
	// by the walk, which names where.
	if err := prescan(data, 2*l.MaxDepth+3, 2*l.MaxNodes+4); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, errorf(ErrSyntax, "", "%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errorf(ErrSyntax, "", "data after the query object")
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return nil, errorf(ErrMalformed, "", "want an object with \"ast\", got %s", jsonKind(top))
	}
	for _, f := range sortedFields(obj) {
		switch f {
		case "ast":
		case "id":
			if _, ok := obj[f].(string); !ok {
				return nil, errorf(ErrMalformed, "/id", "want a string, got %s", jsonKind(obj[f]))
			}
		default:
			return nil, errorf(ErrMalformed, pointer("", f), "unknown field %q", f)
		}
	}
	ast, ok := obj["ast"]
	if !ok {
		return nil, errorf(ErrMalformed, "", "no \"ast\"")
	}
	p := &parser{l: l, paths: map[string]string{}}
	root, err := p.node(ast, "/ast", 1)
	if err != nil {
		return nil, err
	}
	if root.Leaf != nil {
		return nil, errorf(ErrMalformed, "/ast", "the root must be an operand node, not a leaf")
	}
	return &Query{Root: normalizeRoot(root), paths: p.paths}, nil
}

type parser struct {
	l             Limits
	nodes, leaves int
	paths         map[string]string
}

func (p *parser) node(v any, path string, depth int) (Node, error) {
	if depth > p.l.MaxDepth {
		return Node{}, errorf(ErrTooDeep, path, "deeper than %d levels", p.l.MaxDepth)
	}
	if p.nodes++; p.nodes > p.l.MaxNodes {
		return Node{}, errorf(ErrTooLarge, path, "more than %d nodes", p.l.MaxNodes)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Node{}, errorf(ErrMalformed, path, "want an object (an operand node or a leaf), got %s", jsonKind(v))
	}
	if _, inner := obj["operand"]; inner {
		return p.inner(obj, path, depth)
	}
	if _, leaf := obj["type"]; leaf {
		l, err := p.leaf(obj, path)
		return Node{Leaf: l}, err
	}
	if _, leaf := obj["value"]; leaf {
		l, err := p.leaf(obj, path)
		return Node{Leaf: l}, err
	}
	return Node{}, errorf(ErrMalformed, path, "neither an operand node (\"operand\", \"children\") nor a leaf (\"key\", \"type\", \"value\")")
}

func (p *parser) inner(obj map[string]any, path string, depth int) (Node, error) {
	for _, f := range sortedFields(obj) {
		switch f {
		case "operand", "children":
		case "key":
			// The explorer names the category a group of leaves is about.
			s, ok := obj[f].(string)
			if !ok {
				return Node{}, errorf(ErrMalformed, pointer(path, f), "want a string, got %s", jsonKind(obj[f]))
			}
			if _, known := LookupKey(s); !known {
				return Node{}, errorf(ErrUnknownKey, pointer(path, f), "unknown key %q", s)
			}
		default:
			return Node{}, errorf(ErrMalformed, pointer(path, f), "unknown field %q of an operand node", f)
		}
	}
	var n Node
	switch op := obj["operand"].(type) {
	case string:
		switch Operand(op) {
		case And, Or:
			n.Operand = Operand(op)
		default:
			return Node{}, errorf(ErrMalformed, path+"/operand", "operand %q: want AND or OR", op)
		}
	default:
		return Node{}, errorf(ErrMalformed, path+"/operand", "want a string, got %s", jsonKind(op))
	}
	raw, ok := obj["children"]
	if !ok {
		return Node{}, errorf(ErrMalformed, path, "operand node without \"children\"")
	}
	children, ok := raw.([]any)
	if !ok {
		return Node{}, errorf(ErrMalformed, path+"/children", "want an array, got %s", jsonKind(raw))
	}
	n.Children = make([]Node, 0, len(children))
	for i, c := range children {
		child, err := p.node(c, path+"/children/"+strconv.Itoa(i), depth+1)
		if err != nil {
			return Node{}, err
		}
		n.Children = append(n.Children, child)
	}
	return n, nil
}

func (p *parser) leaf(obj map[string]any, path string) (*Leaf, error) {
	if p.leaves++; p.leaves > p.l.MaxLeaves {
		return nil, errorf(ErrTooManyLeaves, path, "more than %d conditions", p.l.MaxLeaves)
	}
	for _, f := range sortedFields(obj) {
		switch f {
		case "key", "type", "value":
		case "system":
			if _, ok := obj[f].(string); !ok {
				return nil, errorf(ErrMalformed, pointer(path, f), "want a string, got %s", jsonKind(obj[f]))
			}
		default:
			return nil, errorf(ErrMalformed, pointer(path, f), "unknown field %q of a condition", f)
		}
	}
	for _, f := range []string{"key", "type", "value"} {
		if _, ok := obj[f]; !ok {
			return nil, errorf(ErrMalformed, path, "condition without %q", f)
		}
	}
	keyName, ok := obj["key"].(string)
	if !ok {
		return nil, errorf(ErrMalformed, path+"/key", "want a string, got %s", jsonKind(obj["key"]))
	}
	k, ok := LookupKey(keyName)
	if !ok {
		return nil, errorf(ErrUnknownKey, path+"/key", "unknown key %q", keyName)
	}
	if _, seen := p.paths[keyName]; !seen {
		p.paths[keyName] = path + "/key"
	}
	typ, ok := obj["type"].(string)
	if !ok {
		return nil, errorf(ErrMalformed, path+"/type", "want a string, got %s", jsonKind(obj["type"]))
	}
	if !types[Type(typ)] {
		return nil, errorf(ErrUnknownType, path+"/type", "unknown operator %q", typ)
	}
	if !k.Takes(Type(typ)) {
		return nil, errorf(ErrOperator, path+"/type", "key %s (%s) takes %s, not %s", k.Key, k.Name, opList(k.Ops), typ)
	}
	l := &Leaf{Key: keyName, Type: Type(typ)}
	vpath := path + "/value"
	v := obj["value"]
	var err error
	switch {
	case k.Field == FieldCoded && (l.Type == Equals || l.Type == NotEquals):
		l.Code, err = p.code(k, v, vpath)
	case k.Field == FieldCoded && l.Type == In:
		l.Codes, err = p.codes(k, v, vpath)
	case k.Field == FieldCoded && l.Type == Contains:
		l.Text, err = p.text(v, vpath)
	case k.Field == FieldNumber && l.Type == Between:
		l.Min, l.Max, err = p.between(k, v, vpath)
	case k.Field == FieldNumber:
		l.Number, err = number(k, v, vpath)
	default:
		err = errorf(ErrOperator, path+"/type", "key %s takes no %s", k.Key, typ)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (p *parser) code(k *Key, v any, path string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errorf(ErrValue, path, "key %s (%s) takes a code, got %s", k.Key, k.Name, jsonKind(v))
	}
	if _, ok := k.Term(s); !ok {
		return "", errorf(ErrUnknownCode, path, "%q is not a code of key %s (%s)", clip(s), k.Key, k.Name)
	}
	return s, nil
}

func (p *parser) codes(k *Key, v any, path string) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errorf(ErrValue, path, "IN takes an array of codes, got %s", jsonKind(v))
	}
	if len(arr) == 0 {
		return nil, errorf(ErrValue, path, "IN takes at least one code")
	}
	if len(arr) > p.l.MaxIn {
		return nil, errorf(ErrValue, path, "IN takes at most %d codes, got %d", p.l.MaxIn, len(arr))
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, err := p.code(k, e, path+"/"+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

func (p *parser) text(v any, path string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errorf(ErrValue, path, "CONTAINS takes a text, got %s", jsonKind(v))
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errorf(ErrValue, path, "CONTAINS takes a text that is not blank")
	case utf8.RuneCountInString(s) > p.l.MaxText:
		return "", errorf(ErrValue, path, "CONTAINS takes at most %d characters", p.l.MaxText)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }):
		return "", errorf(ErrValue, path, "CONTAINS takes printable text")
	}
	return s, nil
}

func (p *parser) between(k *Key, v any, path string) (min, max *float64, err error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, nil, errorf(ErrValue, path, "BETWEEN takes {\"min\": …, \"max\": …}, got %s", jsonKind(v))
	}
	for _, f := range sortedFields(obj) {
		if f != "min" && f != "max" {
			return nil, nil, errorf(ErrValue, pointer(path, f), "BETWEEN takes min and max, not %q", f)
		}
		if obj[f] == nil { // null: that side open
			continue
		}
		n, err := number(k, obj[f], pointer(path, f))
		if err != nil {
			return nil, nil, err
		}
		if f == "min" {
			min = &n
		} else {
			max = &n
		}
	}
	switch {
	case min == nil && max == nil:
		return nil, nil, errorf(ErrValue, path, "BETWEEN takes min, max or both")
	case min != nil && max != nil && *min > *max:
		return nil, nil, errorf(ErrValue, path, "min %v is above max %v", *min, *max)
	}
	return min, max, nil
}

func number(k *Key, v any, path string) (float64, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, errorf(ErrValue, path, "key %s (%s) takes a number, got %s", k.Key, k.Name, jsonKind(v))
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errorf(ErrValue, path, "%s is not a finite number", clip(string(num)))
	}
	if k.HasMin && f < k.Min {
		return 0, errorf(ErrValue, path, "%v is below %v, the least value of key %s (%s)", f, k.Min, k.Key, k.Name)
	}
	if f == 0 {
		f = 0 // no negative zero
	}
	return f, nil
}

// prescan walks the raw bytes once, without allocating, and refuses input
// nested deeper than maxDepth or holding more than maxObjects objects.
func prescan(data []byte, maxDepth, maxObjects int) error {
	depth, objects := 0, 0
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > maxDepth {
				return errorf(ErrTooDeep, "", "JSON nested deeper than %d at byte %d", maxDepth, i)
			}
			if c == '{' {
				if objects++; objects > maxObjects {
					return errorf(ErrTooLarge, "", "more than %d objects", maxObjects)
				}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// pointer appends a member name to a JSON Pointer, escaped by RFC 6901.
func pointer(path, name string) string {
	name = strings.ReplaceAll(name, "~", "~0")
	name = strings.ReplaceAll(name, "/", "~1")
	return path + "/" + clip(name)
}

func sortedFields(obj map[string]any) []string {
	fs := make([]string, 0, len(obj))
	for f := range obj {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return fs
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "something else"
}

func opList(ops []Type) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// clip shortens what the input said for an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
