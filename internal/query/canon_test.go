package query

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) *Query {
	t.Helper()
	q, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return q
}

const (
	mr      = `{"key":"RID10311","type":"EQUALS","value":"RID10312"}`
	ct      = `{"key":"RID10311","type":"EQUALS","value":"RID10321"}`
	breast  = `{"key":"SNOMEDCT123037004","type":"EQUALS","value":"SNOMEDCT76752008"}`
	female  = `{"key":"SNOMEDCT263495000","type":"EQUALS","value":"SNOMEDCT248152002"}`
	age4060 = `{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40,"max":60}}`
)

func TestSameQuestionSameHash(t *testing.T) {
	base := leafQ(female, age4060, `{"operand":"OR","children":[`+mr+`,`+ct+`]}`, breast)
	for name, other := range map[string]string{
		"children reordered":  leafQ(breast, `{"operand":"OR","children":[`+ct+`,`+mr+`]}`, age4060, female),
		"white space":         strings.ReplaceAll(strings.ReplaceAll(base, ",", " ,\n\t"), ":", " : "),
		"members reordered":   leafQ(`{"value":"SNOMEDCT248152002","type":"EQUALS","key":"SNOMEDCT263495000"}`, `{"value":{"max":60,"min":40},"key":"SNOMEDCT423493009","type":"BETWEEN"}`, `{"children":[`+mr+`,`+ct+`],"operand":"OR"}`, breast),
		"explorer wrappers":   `{"id":"abc","ast":{"operand":"OR","children":[{"operand":"AND","children":[{"key":"SNOMEDCT263495000","operand":"OR","children":[` + female + `]},{"operand":"AND","children":[` + age4060 + `,` + breast + `]},{"key":"RID10311","operand":"OR","children":[` + mr + `,` + ct + `]}]}]}}`,
		"repeated condition":  leafQ(female, age4060, female, `{"operand":"OR","children":[`+mr+`,`+ct+`,`+mr+`]}`, breast),
		"system and id":       strings.Replace(strings.Replace(base, `"key":"RID10311",`, `"key":"RID10311","system":"urn:oid:2.16.840.1.113883.6.256",`, 1), `{"ast"`, `{"id":"q-1","ast"`, 1),
		"empty AND dropped":   leafQ(female, `{"operand":"AND","children":[]}`, age4060, `{"operand":"OR","children":[`+mr+`,`+ct+`]}`, breast),
		"number spelled 4e1":  strings.Replace(base, `"min":40`, `"min":4e1`, 1),
		"unicode escape code": strings.Replace(base, `"RID10312"`, `"RID\u0031\u0030312"`, 1),
	} {
		a, b := mustParse(t, base), mustParse(t, other)
		if a.Hash() != b.Hash() {
			t.Errorf("%s: hashes differ\n%s\n%s", name, a.Canonical(), b.Canonical())
		}
	}
	// An IN of two codes is its own form (not an OR of EQUALS), the same
	// whatever the order of its codes.
	in1 := mustParse(t, leafQ(female, age4060, breast, `{"key":"RID10311","type":"IN","value":["RID10321","RID10312"]}`))
	in2 := mustParse(t, leafQ(breast, `{"key":"RID10311","type":"IN","value":["RID10312","RID10321","RID10312"]}`, age4060, female))
	if in1.Hash() != in2.Hash() {
		t.Errorf("IN in another order: hashes differ\n%s\n%s", in1.Canonical(), in2.Canonical())
	}
	one := mustParse(t, leafQ(`{"key":"RID10311","type":"IN","value":["RID10312"]}`))
	if one.Hash() != mustParse(t, leafQ(mr)).Hash() {
		t.Errorf("IN of one code is not EQUALS of it: %s", one.Canonical())
	}
	// Everything, as the explorer and others write it.
	all := mustParse(t, `{"ast":{"operand":"AND","children":[]}}`).Hash()
	for _, s := range []string{`{"ast":{"operand":"OR","children":[]}}`, `{"ast":{"operand":"OR","children":[{"operand":"AND","children":[]}]}}`,
		leafQ(`{"operand":"OR","children":[` + mr + `,{"operand":"AND","children":[]}]}`)} {
		if mustParse(t, s).Hash() != all {
			t.Errorf("%s does not hash as the empty query", s)
		}
	}
}

func TestDifferentQuestionDifferentHash(t *testing.T) {
	seen := map[Hash]string{}
	for _, s := range []string{
		leafQ(mr),
		leafQ(ct),
		leafQ(mr, ct),
		`{"ast":{"operand":"OR","children":[` + mr + `,` + ct + `]}}`,
		leafQ(`{"key":"RID10311","type":"NOT_EQUALS","value":"RID10312"}`),
		leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40}}`),
		leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"max":40}}`),
		leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40,"max":40}}`),
		leafQ(`{"key":"SNOMEDCT423493009","type":"EQUALS","value":40}`),
		leafQ(`{"key":"SNOMEDCT423493009","type":"EQUALS","value":40.5}`),
		leafQ(`{"key":"SNOMEDCT432213005","type":"EQUALS","value":40}`),
		leafQ(`{"key":"C25392","type":"CONTAINS","value":"GE"}`),
		leafQ(`{"key":"C25392","type":"CONTAINS","value":"ge"}`),
		leafQ(female, `{"operand":"OR","children":[`+mr+`,`+breast+`]}`),
		`{"ast":{"operand":"OR","children":[` + female + `,{"operand":"AND","children":[` + mr + `,` + breast + `]}]}}`,
		`{"ast":{"operand":"AND","children":[]}}`,
	} {
		h := mustParse(t, s).Hash()
		if prev, ok := seen[h]; ok {
			t.Errorf("same hash for\n%s\n%s", prev, s)
		}
		seen[h] = s
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	b, err := os.ReadFile("testdata/all-operators.json")
	if err != nil {
		t.Fatal(err)
	}
	q := mustParse(t, string(b))
	c := q.Canonical()
	if !json.Valid(c) || bytes.ContainsAny(c, " \n\t") {
		t.Errorf("canonical form not compact JSON: %s", c)
	}
	again := mustParse(t, string(c))
	if !bytes.Equal(again.Canonical(), c) {
		t.Errorf("canonical form is not a fixed point:\n%s\n%s", c, again.Canonical())
	}
	// Query marshals to and from its canonical form.
	m, err := json.Marshal(struct {
		Q *Query `json:"q"`
	}{q})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Q *Query `json:"q"`
	}
	if err := json.Unmarshal(m, &back); err != nil {
		t.Fatal(err)
	}
	if back.Q.Hash() != q.Hash() {
		t.Errorf("JSON round trip changed the query: %s", m)
	}
	if err := json.Unmarshal([]byte(`{"q":{"ast":{"operand":"XOR","children":[]}}}`), &back); err == nil {
		t.Error("Unmarshal took an XOR")
	}
	// The hash of a known query does not change between releases: audit
	// logs and cached answers refer to it.
	want := "sha256:7ead5f73617adc01a28e023cafd1cc9cf2e33bdd84ff8a85a6af5f1e15222f5f"
	if h := mustParse(t, leafQ(age4060, mr)).Hash().String(); h != want {
		t.Errorf("hash %s, want %s", h, want)
	}
}

func TestHashText(t *testing.T) {
	h := mustParse(t, leafQ(mr)).Hash()
	s := h.String()
	back, err := ParseHash(s)
	if err != nil || back != h {
		t.Fatalf("ParseHash(%s) = %v, %v", s, back, err)
	}
	var viaText Hash
	if err := viaText.UnmarshalText([]byte(s)); err != nil || viaText != h {
		t.Errorf("UnmarshalText: %v", err)
	}
	for _, bad := range []string{"", "sha256:", strings.TrimPrefix(s, "sha256:"), "sha256:" + strings.ToUpper(s[7:]), s[:len(s)-1], s + "0", "sha256:" + strings.Repeat("g", 64)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q): no error", bad)
		}
	}
}
