package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: any file content gives either a config or an error that wraps
// ErrInvalid; never a panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("name: x\nhttp:\n  listen: 127.0.0.1:1\n  wait: 2s\ntags: [a, b]\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("name: &a [*a]\n"))
	f.Add([]byte("http: {listen: {x: 1}}\n"))
	f.Add([]byte("count: 99999999999999999999999\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var c testConfig
		err := Load(p, &c, Source{Env: noEnv})
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
	})
}
