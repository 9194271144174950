package query

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// leafQ wraps leaves in an AND root.
func leafQ(leaves ...string) string {
	return `{"ast":{"operand":"AND","children":[` + strings.Join(leaves, ",") + `]}}`
}

func TestParseErrors(t *testing.T) {
	deep := `{"key":"RID10311","type":"EQUALS","value":"RID10312"}`
	for i := 0; i < 12; i++ { // 12 operand levels + the root: a leaf at depth 14
		deep = `{"operand":"AND","children":[` + deep + `]}`
	}
	deep = `{"ast":` + deep + `}`
	many := make([]string, 257)
	for i := range many {
		many[i] = `{"key":"SNOMEDCT423493009","type":"EQUALS","value":` + strings.Repeat("1", 1+i%3) + `}`
	}
	for _, tc := range []struct {
		name, in string
		err      error
		path     string
		detail   string
	}{
		{"empty", ``, ErrSyntax, "", "EOF"},
		{"not json", `{"ast":`, ErrSyntax, "", ""},
		{"trailing", `{"ast":{"operand":"AND","children":[]}} {}`, ErrSyntax, "", "after"},
		{"array", `[]`, ErrMalformed, "", "an array"},
		{"no ast", `{"id":"x"}`, ErrMalformed, "", `no "ast"`},
		{"unknown top field", `{"ast":{"operand":"AND","children":[]},"extra":1}`, ErrMalformed, "/extra", "unknown field"},
		{"id not string", `{"ast":{"operand":"AND","children":[]},"id":1}`, ErrMalformed, "/id", "string"},
		{"root leaf", `{"ast":{"key":"RID10311","type":"EQUALS","value":"RID10312"}}`, ErrMalformed, "/ast", "root"},
		{"neither", leafQ(`{"foo":1}`), ErrMalformed, "/ast/children/0", "neither"},
		{"child not object", leafQ(`"RID10312"`), ErrMalformed, "/ast/children/0", "a string"},
		{"operand NOT", `{"ast":{"operand":"NOT","children":[]}}`, ErrMalformed, "/ast/operand", "AND or OR"},
		{"operand number", `{"ast":{"operand":1,"children":[]}}`, ErrMalformed, "/ast/operand", "a number"},
		{"no children", `{"ast":{"operand":"AND"}}`, ErrMalformed, "/ast", "children"},
		{"children object", `{"ast":{"operand":"AND","children":{}}}`, ErrMalformed, "/ast/children", "an array"},
		{"inner unknown field", `{"ast":{"operand":"AND","children":[],"value":1}}`, ErrMalformed, "/ast/value", "unknown field"},
		{"inner unknown key", `{"ast":{"operand":"AND","key":"RID1","children":[]}}`, ErrUnknownKey, "/ast/key", `"RID1"`},
		{"leaf unknown field", leafQ(`{"key":"RID10311","type":"EQUALS","value":"RID10312","note":"x"}`), ErrMalformed, "/ast/children/0/note", "unknown field"},
		{"escaped field name", leafQ(`{"key":"RID10311","type":"EQUALS","value":"RID10312","a/b~c":"x"}`), ErrMalformed, "/ast/children/0/a~1b~0c", "unknown field"},
		{"leaf without key", leafQ(`{"type":"EQUALS","value":"RID10312"}`), ErrMalformed, "/ast/children/0", `"key"`},
		{"leaf without value", leafQ(`{"key":"RID10311","type":"EQUALS"}`), ErrMalformed, "/ast/children/0", `"value"`},
		{"key not string", leafQ(`{"key":5,"type":"EQUALS","value":"RID10312"}`), ErrMalformed, "/ast/children/0/key", "a number"},
		{"system not string", leafQ(`{"key":"RID10311","type":"EQUALS","value":"RID10312","system":null}`), ErrMalformed, "/ast/children/0/system", "null"},
		{"unknown key", leafQ(deep[:0] + `{"key":"RID10312","type":"EQUALS","value":"RID10312"}`), ErrUnknownKey, "/ast/children/0/key", `"RID10312"`},
		{"unknown code", leafQ(`{"key":"RID10311","type":"EQUALS","value":"RID10313"}`), ErrUnknownCode, "/ast/children/0/value", `"RID10313" is not a code of key RID10311 (Modality)`},
		{"code of another key", leafQ(`{"key":"RID10311","type":"EQUALS","value":"SNOMEDCT76752008"}`), ErrUnknownCode, "/ast/children/0/value", "Modality"},
		{"unknown operator", leafQ(`{"key":"RID10311","type":"LIKE","value":"RID10312"}`), ErrUnknownType, "/ast/children/0/type", `"LIKE"`},
		{"lower-case operator", leafQ(`{"key":"RID10311","type":"equals","value":"RID10312"}`), ErrUnknownType, "/ast/children/0/type", `"equals"`},
		{"BETWEEN on a code", leafQ(`{"key":"RID10311","type":"BETWEEN","value":{"min":1}}`), ErrOperator, "/ast/children/0/type", "takes EQUALS, NOT_EQUALS, IN, not BETWEEN"},
		{"CONTAINS on modality", leafQ(`{"key":"RID10311","type":"CONTAINS","value":"M"}`), ErrOperator, "/ast/children/0/type", "RID10311"},
		{"IN on a number", leafQ(`{"key":"SNOMEDCT423493009","type":"IN","value":[1]}`), ErrOperator, "/ast/children/0/type", "Age at Diagnosis"},
		{"code is a number", leafQ(`{"key":"RID10311","type":"EQUALS","value":1}`), ErrValue, "/ast/children/0/value", "takes a code, got a number"},
		{"IN not array", leafQ(`{"key":"RID10311","type":"IN","value":"RID10312"}`), ErrValue, "/ast/children/0/value", "array"},
		{"IN empty", leafQ(`{"key":"RID10311","type":"IN","value":[]}`), ErrValue, "/ast/children/0/value", "at least one"},
		{"IN bad element", leafQ(`{"key":"RID10311","type":"IN","value":["RID10312","RID1"]}`), ErrUnknownCode, "/ast/children/0/value/1", `"RID1"`},
		{"IN element type", leafQ(`{"key":"RID10311","type":"IN","value":["RID10312",true]}`), ErrValue, "/ast/children/0/value/1", "a boolean"},
		{"IN too many", leafQ(`{"key":"RID10311","type":"IN","value":[` + strings.TrimSuffix(strings.Repeat(`"RID10312",`, 129), ",") + `]}`), ErrValue, "/ast/children/0/value", "at most 128"},
		{"CONTAINS blank", leafQ(`{"key":"C25392","type":"CONTAINS","value":"  "}`), ErrValue, "/ast/children/0/value", "blank"},
		{"CONTAINS control", leafQ(`{"key":"C25392","type":"CONTAINS","value":"a\u0000b"}`), ErrValue, "/ast/children/0/value", "printable"},
		{"CONTAINS long", leafQ(`{"key":"C25392","type":"CONTAINS","value":"` + strings.Repeat("é", 65) + `"}`), ErrValue, "/ast/children/0/value", "64"},
		{"number is string", leafQ(`{"key":"SNOMEDCT432213005","type":"EQUALS","value":"2020"}`), ErrValue, "/ast/children/0/value", "takes a number, got a string"},
		{"number too big", leafQ(`{"key":"SNOMEDCT432213005","type":"EQUALS","value":1e999}`), ErrValue, "/ast/children/0/value", "finite"},
		{"below min", leafQ(`{"key":"EUCAIM_Hyper-Ontology_V1.0.CLIN1033410","type":"LOWER_THAN","value":-1}`), ErrValue, "/ast/children/0/value", "below 0"},
		{"BETWEEN not object", leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":[40,60]}`), ErrValue, "/ast/children/0/value", "min"},
		{"BETWEEN empty", leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{}}`), ErrValue, "/ast/children/0/value", "min, max or both"},
		{"BETWEEN nulls", leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":null,"max":null}}`), ErrValue, "/ast/children/0/value", "min, max or both"},
		{"BETWEEN reversed", leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":60,"max":40}}`), ErrValue, "/ast/children/0/value", "above max"},
		{"BETWEEN extra", leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":1,"step":2}}`), ErrValue, "/ast/children/0/value/step", "step"},
		{"BETWEEN max string", leafQ(`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":1,"max":"2"}}`), ErrValue, "/ast/children/0/value/max", "a string"},
		{"BETWEEN min below", leafQ(`{"key":"EUCAIM_Hyper-Ontology_V1.0.CLIN1045913","type":"BETWEEN","value":{"min":-5}}`), ErrValue, "/ast/children/0/value/min", "below"},
		{"second child", leafQ(`{"key":"RID10311","type":"EQUALS","value":"RID10312"}`, `{"operand":"OR","children":[{"key":"SNOMEDCT123037004","type":"EQUALS","value":"SNOMEDCT1"}]}`), ErrUnknownCode, "/ast/children/1/children/0/value", "Body Part"},
		{"too deep", deep, ErrTooDeep, "/ast" + strings.Repeat("/children/0", 12), "12 levels"},
		{"too many leaves", leafQ(many...), ErrTooManyLeaves, "/ast/children/256", "256"},
		{"too large", leafQ(`{"key":"C25392","type":"CONTAINS","value":"` + strings.Repeat(" ", 64<<10) + `"}`), ErrTooLarge, "", "bytes"},
		{"nested arrays", `{"ast":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, ErrTooDeep, "", "byte"},
		{"many empty nodes", leafQ(strings.TrimSuffix(strings.Repeat(`{"operand":"OR","children":[]},`, 2100), ",")), ErrTooLarge, "", "objects"},
		{"many nodes", leafQ(strings.TrimSuffix(strings.Repeat(`{"operand":"OR","children":[]},`, 1024), ",")), ErrTooLarge, "/ast/children/1023", "1024 nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("parsed: %s", q.Canonical())
			}
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("%T %v, want *Error", err, err)
			}
			if !errors.Is(err, tc.err) || qe.Path != tc.path || !strings.Contains(qe.Detail, tc.detail) {
				t.Errorf("got %v (kind %v, path %q, detail %q)\nwant kind %v, path %q, detail with %q", err, qe.Err, qe.Path, qe.Detail, tc.err, tc.path, tc.detail)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("message %q does not name the path %q", err, tc.path)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	for _, f := range []string{"testdata/explorer-breast-mr.json", "testdata/all-operators.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := validTree(q.Root, true); err != "" {
			t.Errorf("%s: %s in %s", f, err, q.Canonical())
		}
	}
	// Limits other than the defaults.
	in := leafQ(`{"key":"RID10311","type":"EQUALS","value":"RID10312"}`, `{"key":"RID10311","type":"EQUALS","value":"RID10321"}`)
	if _, err := (Limits{MaxLeaves: 1}).Parse([]byte(in)); !errors.Is(err, ErrTooManyLeaves) {
		t.Errorf("MaxLeaves 1: %v", err)
	}
	if _, err := (Limits{MaxBytes: 10}).Parse([]byte(in)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxBytes 10: %v", err)
	}
	if _, err := (Limits{MaxDepth: 1}).Parse([]byte(in)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("MaxDepth 1: %v", err)
	}
	if _, err := (Limits{MaxDepth: 2}).Parse([]byte(in)); err != nil {
		t.Errorf("MaxDepth 2: %v", err)
	}
}

// validTree checks the normal form's invariants; it returns what is wrong.
func validTree(n Node, root bool) string {
	if n.Leaf != nil {
		if root {
			return "leaf root"
		}
		l := n.Leaf
		k, ok := LookupKey(l.Key)
		if !ok || !k.Takes(l.Type) {
			return "leaf " + l.Key + " " + string(l.Type) + " not valid"
		}
		if l.Type == In && len(l.Codes) < 2 {
			return "IN of fewer than two codes"
		}
		return ""
	}
	if n.Operand != And && n.Operand != Or {
		return "operand " + string(n.Operand)
	}
	if !root && len(n.Children) < 2 {
		return "inner node of fewer than two children"
	}
	if root && len(n.Children) == 0 && n.Operand != And {
		return "empty root not AND"
	}
	for _, c := range n.Children {
		if c.Leaf == nil && c.Operand == n.Operand {
			return "child with its parent's operand"
		}
		if msg := validTree(c, false); msg != "" {
			return msg
		}
	}
	return ""
}

func TestParseValues(t *testing.T) {
	q, err := Parse([]byte(leafQ(
		`{"key":"RID10311","type":"IN","value":["RID10321","RID10312","RID10321"]}`,
		`{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"max":60,"min":null}}`,
		`{"key":"C25392","type":"CONTAINS","value":"  GE Medical "}`,
		`{"key":"SNOMEDCT432213005","type":"GREATER_THAN","value":-0}`,
	)))
	if err != nil {
		t.Fatal(err)
	}
	var got []Leaf
	for l := range q.Leaves() {
		got = append(got, *l)
	}
	if len(got) != 4 {
		t.Fatalf("%d leaves: %s", len(got), q.Canonical())
	}
	byType := map[Type]Leaf{}
	for _, l := range got {
		byType[l.Type] = l
	}
	if l := byType[In]; strings.Join(l.Codes, ",") != "RID10312,RID10321" {
		t.Errorf("IN codes %q, want sorted and distinct", l.Codes)
	}
	if l := byType[Between]; l.Min != nil || l.Max == nil || *l.Max != 60 {
		t.Errorf("BETWEEN %v %v, want open min, max 60", l.Min, l.Max)
	}
	if l := byType[Contains]; l.Text != "GE Medical" {
		t.Errorf("CONTAINS text %q", l.Text)
	}
	if !strings.Contains(string(q.Canonical()), `"type":"GREATER_THAN","value":0}`) {
		t.Errorf("negative zero kept: %s", q.Canonical())
	}
	if keys := strings.Join(q.Keys(), " "); keys != "C25392 RID10311 SNOMEDCT423493009 SNOMEDCT432213005" {
		t.Errorf("keys %s", keys)
	}
}

func TestCheckUnsupported(t *testing.T) {
	q, err := Parse([]byte(leafQ(
		`{"key":"RID10311","type":"EQUALS","value":"RID10312"}`,
		`{"operand":"OR","children":[{"key":"SNOMEDCT439401001","type":"EQUALS","value":"SNOMEDCT254837009"},{"key":"EUCAIM_Hyper-Ontology_V1.0.CLIN1033379","type":"EQUALS","value":"EUCAIM_Hyper-Ontology_V1.0.COM1000316"}]}`,
	)))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Check(q.Keys()); err != nil {
		t.Errorf("all keys allowed: %v", err)
	}
	err = q.Check([]string{"RID10311"})
	if !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("Check: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"at /ast/children/1/children/0/key: key SNOMEDCT439401001 (Diagnosis) is not supported",
		"at /ast/children/1/children/1/key: key EUCAIM_Hyper-Ontology_V1.0.CLIN1033379 (cT category)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Check error %q lacks %q", msg, want)
		}
	}
	un := q.Unsupported(func(k string) bool { return strings.HasPrefix(k, "SNOMEDCT") })
	if strings.Join(un, " ") != "EUCAIM_Hyper-Ontology_V1.0.CLIN1033379 RID10311" {
		t.Errorf("Unsupported %v", un)
	}
}
