package query

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics; what it takes has a canonical form that
// parses again to itself (same bytes, same hash), and uses only vocabulary
// keys; what it refuses is an *Error.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		leafQ(mr, ct, breast), leafQ(`{"key":"RID10311","type":"IN","value":["RID10312","RID10312"]}`),
		`{"ast":{"operand":"OR","children":[{"operand":"OR","children":[]}]}}`, `{"ast":[]}`, `"x"`, `{"ast":{"operand":"AND","children":[` + age4060 + `]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := Parse(data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			return
		}
		c := q.Canonical()
		again, err := Parse(c)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", c, err)
		}
		if !bytes.Equal(again.Canonical(), c) || again.Hash() != q.Hash() {
			t.Fatalf("canonical form not stable:\n%s\n%s", c, again.Canonical())
		}
		if msg := validTree(q.Root, true); msg != "" {
			t.Fatalf("%s: %s", msg, c)
		}
		for _, k := range q.Keys() {
			if _, ok := LookupKey(k); !ok {
				t.Fatalf("key %s not in the vocabulary", k)
			}
		}
	})
}
