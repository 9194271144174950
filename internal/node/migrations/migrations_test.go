package migrations

import (
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/disclosure"
)

// TestDisclosureMigration keeps 00007_disclosure.sql what package disclosure says its
// tables are (its copy adds one comment line).
func TestDisclosureMigration(t *testing.T) {
	b, err := FS.ReadFile("00007_disclosure.sql")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasPrefix(l, "-- Copied from internal/disclosure/migration.sql") {
			kept = append(kept, l)
		}
	}
	if got := strings.Join(kept, ""); got != disclosure.MigrationSQL {
		t.Errorf("00007_disclosure.sql differs from disclosure.MigrationSQL:\n%s", got)
	}
}
