package query

import (
	"encoding/json"
	"iter"
	"sort"
)

// Operand joins the children of an inner node.
type Operand string

// The operands of the EUCAIM AST that cie takes. The explorer's NOT and XOR
// are refused.
const (
	And Operand = "AND"
	Or  Operand = "OR"
)

// Type is a leaf's operator, by the names of the EUCAIM explorer (samply
// lens) and of samply focus, which answers for EUCAIM providers: EQUALS,
// NOT_EQUALS, IN, CONTAINS, BETWEEN, LOWER_THAN, GREATER_THAN. The or-equal
// variants are cie's, named in the same style.
type Type string

// The operators.
const (
	Equals             Type = "EQUALS"
	NotEquals          Type = "NOT_EQUALS"
	In                 Type = "IN"
	Contains           Type = "CONTAINS"
	Between            Type = "BETWEEN"
	LowerThan          Type = "LOWER_THAN"
	LowerThanOrEqual   Type = "LOWER_THAN_OR_EQUAL"
	GreaterThan        Type = "GREATER_THAN"
	GreaterThanOrEqual Type = "GREATER_THAN_OR_EQUAL"
)

var types = map[Type]bool{Equals: true, NotEquals: true, In: true, Contains: true, Between: true,
	LowerThan: true, LowerThanOrEqual: true, GreaterThan: true, GreaterThanOrEqual: true}

// Node is an inner node (Operand set, Children) or a leaf (Leaf set). An
// inner node without children constrains nothing: the explorer sends
// {"operand":"OR","children":[]} for "everything".
type Node struct {
	Operand  Operand
	Children []Node
	Leaf     *Leaf
}

// Leaf is one condition on a key. Which value field is set depends on the
// key's field and the operator:
//
//	coded key,  EQUALS / NOT_EQUALS           Code (an explorer code of the key)
//	coded key,  IN                            Codes (distinct, sorted, at least two)
//	coded key,  CONTAINS                      Text (free text, trimmed)
//	number key, BETWEEN                       Min and/or Max (inclusive)
//	number key, EQUALS … GREATER_THAN_OR_EQUAL Number
type Leaf struct {
	Key      string
	Type     Type
	Code     string
	Codes    []string
	Text     string
	Number   float64
	Min, Max *float64
}

// Query is a parsed, validated and normalised search. Its root is an inner
// node; see [Query.Canonical] for the normal form.
type Query struct {
	Root Node
	// paths holds, for every key, where in the input it first appeared.
	paths map[string]string
}

// Leaves yields every leaf of the query, depth first.
func (q *Query) Leaves() iter.Seq[*Leaf] {
	return func(yield func(*Leaf) bool) {
		var walk func(n *Node) bool
		walk = func(n *Node) bool {
			if n.Leaf != nil {
				return yield(n.Leaf)
			}
			for i := range n.Children {
				if !walk(&n.Children[i]) {
					return false
				}
			}
			return true
		}
		walk(&q.Root)
	}
}

// Keys lists the distinct keys the query uses, sorted: what a node checks
// against the keys it supports.
func (q *Query) Keys() []string {
	seen := map[string]bool{}
	var out []string
	for l := range q.Leaves() {
		if !seen[l.Key] {
			seen[l.Key] = true
			out = append(out, l.Key)
		}
	}
	sort.Strings(out)
	return out
}

// Unsupported lists the keys of the query that supported does not take, sorted.
func (q *Query) Unsupported(supported func(key string) bool) []string {
	var out []string
	for _, k := range q.Keys() {
		if !supported(k) {
			out = append(out, k)
		}
	}
	return out
}

// Check returns nil if every key of the query is in allowed, otherwise an
// error joining one *Error (ErrUnsupportedKey) per other key, each naming
// where the key first appeared in the input.
func (q *Query) Check(allowed []string) error {
	ok := map[string]bool{}
	for _, k := range allowed {
		ok[k] = true
	}
	var errs []error
	for _, k := range q.Unsupported(func(k string) bool { return ok[k] }) {
		name := k
		if kk, found := LookupKey(k); found {
			name = k + " (" + kk.Name + ")"
		}
		errs = append(errs, &Error{Err: ErrUnsupportedKey, Path: q.paths[k], Detail: "key " + name + " is not supported here"})
	}
	return joinErrors(errs)
}

// MarshalJSON writes the canonical form.
func (q *Query) MarshalJSON() ([]byte, error) { return q.Canonical(), nil }

// UnmarshalJSON parses and validates with [DefaultLimits].
func (q *Query) UnmarshalJSON(b []byte) error {
	p, err := DefaultLimits.Parse(b)
	if err != nil {
		return err
	}
	*q = *p
	return nil
}

var (
	_ json.Marshaler   = (*Query)(nil)
	_ json.Unmarshaler = (*Query)(nil)
)
