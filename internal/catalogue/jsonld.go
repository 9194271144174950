package catalogue

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// jsonldContext is the @context of every JSON-LD document: the prefixes, so
// that keys are compact IRIs ("dct:title").
func jsonldContext() map[string]any {
	ctx := make(map[string]any, len(prefixes))
	for _, p := range prefixes {
		ctx[p.name] = p.ns
	}
	return ctx
}

// writeJSONLD writes the resources as one JSON-LD 1.1 document in compacted
// form: a single node object, or an @graph of them. Nested blank nodes are
// embedded node objects without @id; IRIs are {"@id": …}; literals are
// strings, or value objects with @language or @type.
func writeJSONLD(w io.Writer, rs []*resource) error {
	var doc map[string]any
	if len(rs) == 1 {
		doc = jsonldNode(rs[0])
	} else {
		graph := make([]any, len(rs))
		for i, r := range rs {
			graph[i] = jsonldNode(r)
		}
		doc = map[string]any{"@graph": graph}
	}
	doc["@context"] = jsonldContext()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("catalogue: writing JSON-LD: %w", err)
	}
	return nil
}

func jsonldKey(iri string) string {
	if c := compact(iri); c != "" {
		return c
	}
	return iri
}

func jsonldNode(r *resource) map[string]any {
	n := make(map[string]any, len(r.props)+2)
	if r.iri != "" {
		n["@id"] = r.iri
	}
	if len(r.types) == 1 {
		n["@type"] = jsonldKey(r.types[0])
	} else if len(r.types) > 1 {
		ts := make([]any, len(r.types))
		for i, t := range r.types {
			ts[i] = jsonldKey(t)
		}
		n["@type"] = ts
	}
	for _, p := range r.props {
		vals := make([]any, len(p.objs))
		for i, o := range p.objs {
			vals[i] = jsonldValue(o)
		}
		if len(vals) == 1 {
			n[jsonldKey(p.pred)] = vals[0]
		} else {
			n[jsonldKey(p.pred)] = vals
		}
	}
	return n
}

func jsonldValue(o term) any {
	switch o.kind {
	case termIRI:
		return map[string]any{"@id": strings.ToValidUTF8(o.value, "\uFFFD")}
	case termNode:
		return jsonldNode(o.node)
	}
	v := strings.ToValidUTF8(o.value, "\uFFFD")
	switch {
	case o.lang != "":
		return map[string]any{"@value": v, "@language": o.lang}
	case o.datatype != "" && o.datatype != nsXSD+"string":
		return map[string]any{"@value": v, "@type": jsonldKey(o.datatype)}
	}
	return v
}
