package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testConfig struct {
	Name string `yaml:"name"`
	HTTP struct {
		Listen string        `yaml:"listen"`
		Wait   time.Duration `yaml:"wait"`
	} `yaml:"http"`
	Debug bool     `yaml:"debug"`
	Tags  []string `yaml:"tags"`
	Count int      `yaml:"count"`
}

func (c *testConfig) Validate() error {
	if c.Name == "" {
		return Errorf("name", "must be set")
	}
	return CheckHostPort("http.listen", c.HTTP.Listen)
}

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) (string, bool) { return "", false }

func TestFieldsNames(t *testing.T) {
	var c testConfig
	got := map[string]string{}
	for _, f := range Fields(&c) {
		got[f.Key] = f.Env
	}
	want := map[string]string{"name": "CIE_NAME", "http.listen": "CIE_HTTP_LISTEN", "http.wait": "CIE_HTTP_WAIT", "debug": "CIE_DEBUG", "tags": "CIE_TAGS", "count": "CIE_COUNT"}
	if len(got) != len(want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s: env %q, want %q", k, got[k], v)
		}
	}
}

func TestPrecedence(t *testing.T) {
	path := write(t, "name: file\nhttp:\n  listen: 127.0.0.1:1\n  wait: 2s\ncount: 3\n")
	env := map[string]string{"CIE_HTTP_LISTEN": "127.0.0.1:2", "CIE_DEBUG": "true", "CIE_TAGS": "a, b"}
	c := testConfig{Name: "default"}
	err := Load(path, &c, Source{
		Env:   func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Flags: map[string]string{"count": "7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "file" || c.HTTP.Listen != "127.0.0.1:2" || c.HTTP.Wait != 2*time.Second || !c.Debug || c.Count != 7 ||
		strings.Join(c.Tags, "|") != "a|b" {
		t.Fatalf("loaded %+v", c)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		flags      map[string]string
		want       string
	}{
		{"unknown key", "name: x\nhttp:\n  listn: 1\n", nil, nil, "listn"},
		{"bad type", "name: x\ncount: many\n", nil, nil, "count"},
		{"bad env", "name: x\nhttp:\n  listen: 127.0.0.1:1\n", map[string]string{"CIE_HTTP_WAIT": "soon"}, nil, "http.wait (from environment variable CIE_HTTP_WAIT)"},
		{"bad flag", "name: x\nhttp:\n  listen: 127.0.0.1:1\n", nil, map[string]string{"debug": "maybe"}, "debug (from flag --debug)"},
		{"unknown flag", "name: x\n", nil, map[string]string{"nope": "1"}, "nope"},
		{"validation", "name: x\nhttp:\n  listen: nonsense\n", nil, nil, "config field http.listen"},
		{"missing", "http:\n  listen: 127.0.0.1:1\n", nil, nil, "config field name: must be set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg testConfig
			env := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
			err := Load(write(t, c.yaml), &cfg, Source{Env: env, Flags: c.flags})
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}
}

func TestMissingFileAndEmptyFile(t *testing.T) {
	var c testConfig
	if err := Load(filepath.Join(t.TempDir(), "none.yaml"), &c, Source{Env: noEnv}); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("missing file: %v", err)
	}
	c = testConfig{Name: "kept"}
	c.HTTP.Listen = "127.0.0.1:9"
	if err := Load(write(t, ""), &c, Source{Env: noEnv}); err != nil || c.Name != "kept" {
		t.Fatalf("empty file: %v %+v", err, c)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	c := testConfig{Name: "x", Count: 4}
	c.HTTP.Listen = "127.0.0.1:5"
	c.HTTP.Wait = time.Minute
	p := filepath.Join(t.TempDir(), "out.yaml")
	if err := Write(p, &c); err != nil {
		t.Fatal(err)
	}
	var back testConfig
	if err := Load(p, &back, Source{Env: noEnv}); err != nil {
		t.Fatal(err)
	}
	if back.Name != "x" || back.Count != 4 || back.HTTP.Wait != time.Minute {
		t.Fatalf("round trip %+v", back)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}
