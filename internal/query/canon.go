package query

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The normal form of a query, which Parse gives and Canonical writes:
//
//   - An IN of one code is an EQUALS of it.
//   - A child with its parent's operand is merged into the parent (AND and OR
//     are associative).
//   - An inner node without children constrains nothing: an AND drops such
//     children; an OR with one becomes one.
//   - Children are distinct (AND and OR are idempotent) and sorted by their
//     canonical JSON (commutative).
//   - An inner node with one child is that child; the root is always an inner
//     node, so a lone condition is an AND of one.
//
// So two queries that differ only in the order of children, in whitespace or
// the order of members, in wrappers of one child, in repeated conditions, or
// in "id" and "system", have one canonical form and one hash.

func normalizeRoot(n Node) Node {
	n, _ = normalize(n)
	if n.Leaf != nil {
		return Node{Operand: And, Children: []Node{n}}
	}
	if len(n.Children) == 0 {
		return Node{Operand: And, Children: []Node{}}
	}
	return n
}

// normalize returns the normal form of n and its canonical JSON.
func normalize(n Node) (Node, []byte) {
	if n.Leaf != nil {
		l := *n.Leaf
		if l.Type == In && len(l.Codes) == 1 {
			l.Type, l.Code, l.Codes = Equals, l.Codes[0], nil
		}
		n = Node{Leaf: &l}
		return n, encode(n)
	}
	type child struct {
		n   Node
		enc []byte
	}
	var kids []child
	for _, c := range n.Children {
		c, enc := normalize(c)
		switch {
		case c.Leaf == nil && len(c.Children) == 0:
			if n.Operand == Or {
				empty := Node{Operand: And, Children: []Node{}}
				return empty, encode(empty)
			}
			continue // AND: nothing to add
		case c.Leaf == nil && c.Operand == n.Operand:
			for _, gc := range c.Children {
				kids = append(kids, child{gc, encode(gc)})
			}
		default:
			kids = append(kids, child{c, enc})
		}
	}
	slices.SortFunc(kids, func(a, b child) int { return bytes.Compare(a.enc, b.enc) })
	kids = slices.CompactFunc(kids, func(a, b child) bool { return bytes.Equal(a.enc, b.enc) })
	switch len(kids) {
	case 0:
		empty := Node{Operand: And, Children: []Node{}}
		return empty, encode(empty)
	case 1:
		return kids[0].n, kids[0].enc
	}
	out := Node{Operand: n.Operand, Children: make([]Node, len(kids))}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"operand":%q,"children":[`, n.Operand)
	for i, k := range kids {
		out.Children[i] = k.n
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(k.enc)
	}
	b.WriteString("]}")
	return out, b.Bytes()
}

// encode writes a normalised node's canonical JSON: members in a fixed
// order, no white space, numbers in their shortest form.
func encode(n Node) []byte {
	var b bytes.Buffer
	writeNode(&b, n)
	return b.Bytes()
}

func writeNode(b *bytes.Buffer, n Node) {
	if n.Leaf == nil {
		fmt.Fprintf(b, `{"operand":%s,"children":[`, quote(string(n.Operand)))
		for i, c := range n.Children {
			if i > 0 {
				b.WriteByte(',')
			}
			writeNode(b, c)
		}
		b.WriteString("]}")
		return
	}
	l := n.Leaf
	fmt.Fprintf(b, `{"key":%s,"type":%s,"value":`, quote(l.Key), quote(string(l.Type)))
	switch {
	case l.Type == In:
		b.WriteByte('[')
		for i, c := range l.Codes {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quote(c))
		}
		b.WriteByte(']')
	case l.Type == Contains:
		b.WriteString(quote(l.Text))
	case l.Type == Between:
		b.WriteByte('{')
		if l.Min != nil {
			b.WriteString(`"min":` + num(*l.Min))
		}
		if l.Max != nil {
			if l.Min != nil {
				b.WriteByte(',')
			}
			b.WriteString(`"max":` + num(*l.Max))
		}
		b.WriteByte('}')
	case l.Code != "":
		b.WriteString(quote(l.Code))
	default:
		b.WriteString(num(l.Number))
	}
	b.WriteByte('}')
}

func quote(s string) string {
	q, _ := json.Marshal(s) // a string always marshals
	return string(q)
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Canonical returns the query's canonical JSON, {"ast":{…}} in the normal
// form: what [Query.Hash] hashes, and what Parse reads back to the same query.
func (q *Query) Canonical() []byte {
	var b bytes.Buffer
	b.WriteString(`{"ast":`)
	writeNode(&b, q.Root)
	b.WriteByte('}')
	return b.Bytes()
}

// Hash identifies a query by its canonical form: SHA-256 of [Query.Canonical].
type Hash [sha256.Size]byte

// Hash returns the query's hash, for audit logs and for answering the same
// question with the same noise.
func (q *Query) Hash() Hash { return sha256.Sum256(q.Canonical()) }

const hashPrefix = "sha256:"

// String writes the hash as "sha256:" and 64 lower-case hex digits.
func (h Hash) String() string { return hashPrefix + hex.EncodeToString(h[:]) }

// ParseHash reads what String writes.
func ParseHash(s string) (Hash, error) {
	var h Hash
	hx, ok := strings.CutPrefix(s, hashPrefix)
	if !ok || len(hx) != 2*len(h) || strings.ToLower(hx) != hx {
		return h, fmt.Errorf("query: hash %q: want sha256: and 64 lower-case hex digits", clip(s))
	}
	if _, err := hex.Decode(h[:], []byte(hx)); err != nil {
		return h, fmt.Errorf("query: hash %q: %w", clip(s), err)
	}
	return h, nil
}

// MarshalText writes String.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads String.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}
