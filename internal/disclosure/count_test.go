package disclosure

import (
	"encoding/json"
	"testing"
)

func TestRelease(t *testing.T) {
	for _, tc := range []struct {
		n         int
		noise     float64
		threshold int
		want      string
	}{
		{42, 0.4, 10, "42"},
		{42, 0.5, 10, "43"}, // half away from zero
		{42, -0.6, 10, "41"},
		{42, -3.2, 10, "39"},
		{9, 0, 10, "< 10"},     // true count below
		{9, 5, 10, "< 10"},     // even when the noise lifts it
		{11, -1.6, 10, "< 10"}, // noisy count below
		{10, -0.4, 10, "10"},
		{0, 0, 10, "< 10"},
		{3, -20, 1, "< 1"}, // floored at 0, below 1
		{3, -20, 0, "0"},   // no threshold: floored at 0, never negative
		{5, 0, 5, "5"},
	} {
		if got := Release(tc.n, tc.noise, tc.threshold).String(); got != tc.want {
			t.Errorf("Release(%d, %v, %d) = %s, want %s", tc.n, tc.noise, tc.threshold, got, tc.want)
		}
	}
	if got := Suppress(9, 10).String(); got != "< 10" {
		t.Errorf("Suppress(9, 10) = %s", got)
	}
	if got := Suppress(12, 10).String(); got != "12" {
		t.Errorf("Suppress(12, 10) = %s", got)
	}
}

func TestCountJSON(t *testing.T) {
	s := Suppressed(10)
	if _, ok := s.Value(); ok {
		t.Error("a suppressed count has a value")
	}
	if th, ok := s.Suppressed(); !ok || th != 10 {
		t.Errorf("Suppressed() = %d, %v", th, ok)
	}
	exact := Release(25, 0, 10)
	if v, ok := exact.Value(); !ok || v != 25 {
		t.Errorf("Value() = %d, %v", v, ok)
	}
	b, err := json.Marshal(map[string]Count{"a": s, "b": exact, "c": {}})
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal escapes '<' as \u003c: the same JSON string.
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if generic["a"] != "< 10" || generic["b"] != 25.0 || generic["c"] != 0.0 {
		t.Errorf("marshalled %s", b)
	}
	var back map[string]Count
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["a"] != s || back["b"] != exact || back["c"] != (Count{}) {
		t.Errorf("round trip %v", back)
	}
	for _, bad := range []string{`"<10"`, `"< 0"`, `"< -1"`, `"< 1x"`, `"< 01"`, `"10"`, `-1`, `1.5`, `true`, `null`, `{}`, `1e12`} {
		var c Count
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", bad, c)
		}
	}
}
