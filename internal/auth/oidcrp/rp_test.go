package oidcrp

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/auth"
)

func TestParseRoleMap(t *testing.T) {
	m, err := ParseRoleMap([]string{"/cie/researcher=researcher", "a=b=platform_admin", " x = node_admin "})
	if err != nil {
		t.Fatal(err)
	}
	if m["/cie/researcher"] != auth.RoleResearcher || m["a=b"] != auth.RolePlatformAdmin || m["x"] != auth.RoleNodeAdmin {
		t.Fatalf("%v", m)
	}
	for _, bad := range []string{"noequals", "=researcher", "x=", "x=king"} {
		if _, err := ParseRoleMap([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRoleMapping(t *testing.T) {
	p, err := New(Config{Issuer: "https://idp.example/realms/cie", ClientID: "hub", RedirectURL: "https://hub.example/cb",
		RoleClaim: "realm_access.roles", RoleMap: map[string]string{"cie-user": auth.RoleResearcher, "cie-ops": auth.RolePlatformAdmin}},
		Options{Key: []byte(strings.Repeat("k", 32)), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"realm_access": map[string]any{"roles": []any{"offline_access", "cie-user", "cie-ops"}}}
	raw, found := lookup(claims, p.cfg.RoleClaim)
	role, err := p.mapRole(found, values(raw))
	if err != nil || role != auth.RolePlatformAdmin {
		t.Fatalf("nested claim, most privileged role: %q %v", role, err)
	}
	var e *Error
	raw, found = lookup(map[string]any{"realm_access": map[string]any{}}, p.cfg.RoleClaim)
	if _, err := p.mapRole(found, values(raw)); !errors.As(err, &e) || e.Kind != KindRole || !strings.Contains(e.Message, "realm_access.roles") {
		t.Fatalf("missing claim: %v", err)
	}
	if _, err := p.mapRole(true, []string{"other"}); !errors.As(err, &e) || e.Kind != KindRole {
		t.Fatalf("unmapped: %v", err)
	}
	p.cfg.DefaultRole = auth.RoleResearcher
	if role, err := p.mapRole(false, nil); err != nil || role != auth.RoleResearcher {
		t.Fatalf("default role: %q %v", role, err)
	}
	if v := values("one"); len(v) != 1 || v[0] != "one" {
		t.Fatalf("string claim: %v", v)
	}
}

func TestNewChecksConfig(t *testing.T) {
	ok := Config{Issuer: "https://idp.example", ClientID: "hub", RedirectURL: "https://hub.example/cb", RoleClaim: "roles"}
	o := Options{Key: []byte(strings.Repeat("k", 32)), Log: slog.New(slog.DiscardHandler)}
	if _, err := New(ok, o); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(c *Config, o *Options){
		"issuer":       func(c *Config, o *Options) { c.Issuer = "ftp://x" },
		"client":       func(c *Config, o *Options) { c.ClientID = "" },
		"redirect":     func(c *Config, o *Options) { c.RedirectURL = "/cb" },
		"claim":        func(c *Config, o *Options) { c.RoleClaim = "" },
		"map":          func(c *Config, o *Options) { c.RoleMap = map[string]string{"x": "king"} },
		"default role": func(c *Config, o *Options) { c.DefaultRole = "king" },
		"key":          func(c *Config, o *Options) { o.Key = []byte("short") },
	} {
		c, oo := ok, o
		mut(&c, &oo)
		if _, err := New(c, oo); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
