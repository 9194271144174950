package catalogue

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDatasetJSON feeds the JSON decoder what a node (or an attacker on its
// behalf) could send to the hub. Whatever decodes must validate without
// panicking, encode back to the same dataset, and give Turtle that parses and
// JSON-LD that is JSON, valid or not.
func FuzzDatasetJSON(f *testing.F) {
	good, err := json.Marshal(sampleDataset("seed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"id":"a b","node":"<x>","modalities":[{"system":"http://radlex.org","code":"RID 1>"}],"license":"x\"y","contact":{"email":"a@b"},"landing_page":"\u0000"}`))
	f.Add([]byte(`{"v":2}`))
	c := testCatalog()
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Dataset
		if err := json.Unmarshal(data, &d); err != nil {
			return
		}
		_ = d.Validate()
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Dataset
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(normalJSON(t, back), normalJSON(t, d)) {
			t.Errorf("JSON round trip changed the dataset:\n%+v\n%+v", back, d)
		}
		var ttl, js bytes.Buffer
		if err := c.WriteCatalog(&ttl, FormatTurtle, []Dataset{d}); err != nil {
			t.Fatal(err)
		}
		// Relative IRIs (of invalid datasets) resolve against the document.
		if _, err := parseTurtle(ttl.String(), c.CatalogIRI()); err != nil {
			t.Fatalf("%v\n%s", err, ttl.String())
		}
		if err := c.WriteCatalog(&js, FormatJSONLD, []Dataset{d}); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(js.Bytes()) {
			t.Fatalf("JSON-LD is not JSON:\n%s", js.String())
		}
	})
}

// normalJSON is the dataset as JSON re-decoded into generic values, so that
// invalid UTF-8 (which encoding/json replaces) compares equal after one trip.
func normalJSON(t *testing.T, d Dataset) any {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// FuzzParseTurtle only checks that the test parser ends on any input.
func FuzzParseTurtle(f *testing.F) {
	var b bytes.Buffer
	if err := testCatalog().WriteDataset(&b, FormatTurtle, sampleDataset("seed")); err != nil {
		f.Fatal(err)
	}
	f.Add(b.String())
	f.Add(`@prefix a: <http://x/> . a:b a:c [ a:d "e"@en ; ] , """f""" .`)
	f.Fuzz(func(t *testing.T, src string) {
		_, _ = parseTurtle(src, "http://base.example/")
	})
}
