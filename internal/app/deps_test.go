package app

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/cancerimage/cie/"

// deps lists the packages pkg imports, transitively (go list -deps).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestHubAndNodeDoNotImportEachOther enforces the rule of ARCHITECTURE.md:
// the hub and node roles share only the wire contract in internal/fed.
func TestHubAndNodeDoNotImportEachOther(t *testing.T) {
	for _, c := range []struct{ pkg, forbidden string }{
		{mod + "internal/hub/...", mod + "internal/node"},
		{mod + "internal/node/...", mod + "internal/hub"},
	} {
		for _, d := range deps(t, c.pkg) {
			if d == c.forbidden || strings.HasPrefix(d, c.forbidden+"/") {
				t.Errorf("%s imports %s: hub and node may only share internal/fed", c.pkg, d)
			}
		}
	}
	// And both do use the contract.
	for _, p := range []string{mod + "internal/hub", mod + "internal/node"} {
		found := false
		for _, d := range deps(t, p) {
			found = found || d == mod+"internal/fed"
		}
		if !found {
			t.Errorf("%s does not import internal/fed", p)
		}
	}
}

// TestBinaryDeps checks what the cie binary links: no test packages, no cgo
// database drivers (the binary is pure Go, CGO_ENABLED=0).
func TestBinaryDeps(t *testing.T) {
	ds := deps(t, mod+"cmd/cie")
	have := map[string]bool{}
	for _, d := range ds {
		have[d] = true
	}
	for _, bad := range []string{"testing", "net/http/httptest", "github.com/mattn/go-sqlite3", mod + "internal/testenv"} {
		if have[bad] {
			t.Errorf("the cie binary links %s", bad)
		}
	}
	for _, want := range []string{mod + "internal/hub", mod + "internal/node", "modernc.org/sqlite", "github.com/jackc/pgx/v5/stdlib",
		"github.com/nats-io/nats-server/v2/server", "github.com/transparency-dev/tessera/storage/posix", "gocloud.dev/blob/s3blob"} {
		if !have[want] {
			t.Errorf("the cie binary does not link %s", want)
		}
	}
}
