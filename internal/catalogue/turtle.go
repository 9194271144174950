package catalogue

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// writeTurtle writes the resources as one Turtle document (W3C RDF 1.1
// Turtle): the prefixes, then each subject with its properties, nested blank
// nodes as [ … ] property lists.
func writeTurtle(w io.Writer, rs []*resource) error {
	bw := bufio.NewWriter(w)
	for _, p := range prefixes {
		fmt.Fprintf(bw, "@prefix %s: <%s> .\n", p.name, p.ns)
	}
	for _, r := range rs {
		bw.WriteString("\n")
		bw.WriteString(turtleIRI(r.iri))
		writeTurtleProps(bw, r, 1)
		bw.WriteString(" .\n")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("catalogue: writing Turtle: %w", err)
	}
	return nil
}

func writeTurtleProps(bw *bufio.Writer, r *resource, depth int) {
	indent := strings.Repeat("    ", depth)
	first := true
	sep := func() {
		if first {
			bw.WriteString("\n")
			first = false
		} else {
			bw.WriteString(" ;\n")
		}
		bw.WriteString(indent)
	}
	if len(r.types) > 0 {
		sep()
		bw.WriteString("a ")
		for i, t := range r.types {
			if i > 0 {
				bw.WriteString(", ")
			}
			bw.WriteString(turtleIRI(t))
		}
	}
	for _, p := range r.props {
		sep()
		bw.WriteString(turtleIRI(p.pred))
		bw.WriteString(" ")
		for i, o := range p.objs {
			if i > 0 {
				bw.WriteString(", ")
			}
			switch o.kind {
			case termIRI:
				bw.WriteString(turtleIRI(o.value))
			case termLiteral:
				bw.WriteString(turtleLiteral(o))
			case termNode:
				bw.WriteString("[")
				writeTurtleProps(bw, o.node, depth+1)
				bw.WriteString("\n" + indent + "]")
			}
		}
	}
}

// turtleIRI writes an IRI as a prefixed name when it can, else as <…>.
// Characters an IRIREF cannot hold (which Validate keeps out of datasets) are
// percent-encoded so that the document always parses.
func turtleIRI(iri string) string {
	if c := compact(iri); c != "" {
		return c
	}
	var b strings.Builder
	b.WriteByte('<')
	for _, r := range strings.ToValidUTF8(iri, "\uFFFD") {
		if r <= 0x20 || r == 0x7f || strings.ContainsRune("<>\"{}|^`\\", r) {
			var buf [utf8.UTFMax]byte
			n := utf8.EncodeRune(buf[:], r)
			for _, c := range buf[:n] {
				fmt.Fprintf(&b, "%%%02X", c)
			}
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('>')
	return b.String()
}

// turtleLiteral writes a literal as "…" with its language or datatype.
// Quotes, backslashes and control characters are escaped; other characters,
// non-ASCII included, are written as UTF-8. Invalid UTF-8 becomes U+FFFD.
func turtleLiteral(t term) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(t.value, "\uFFFD") {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	switch {
	case t.lang != "":
		b.WriteString("@" + t.lang)
	case t.datatype != "" && t.datatype != nsXSD+"string":
		b.WriteString("^^" + turtleIRI(t.datatype))
	}
	return b.String()
}
