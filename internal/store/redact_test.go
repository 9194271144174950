package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:secret@host:5432/db?sslmode=disable", "postgres://u:xxxxx@host:5432/db?sslmode=disable"},
		{"postgresql://u@host/db", "postgresql://u@host/db"},
		{"postgres://host/db?user=u&password=secret&sslmode=disable", "postgres://host/db?user=u&password=xxxxx&sslmode=disable"},
		{"postgres://u:p%40ss@host/db", "postgres://u:xxxxx@host/db"},
		{"postgres://u:p@ss@host/db", "postgres://u:xxxxx@host/db"},
		{"postgres://u:pa/ss@host/db", "postgres://u:xxxxx@host/db"},
		{"postgres://u:secret@host/db?sslpassword=keypw", "postgres://u:xxxxx@host/db?sslpassword=xxxxx"},
		{"host=h user=u password=secret dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"host=h password='se cret' dbname=d", "host=h password=xxxxx dbname=d"},
		{"sqlite:///var/lib/cie/hub.db", "sqlite:///var/lib/cie/hub.db"},
		{"/var/lib/cie/node.db", "/var/lib/cie/node.db"},
		{"postgres://host:5432/db", "postgres://host:5432/db"},
		{"", ""},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScrubError(t *testing.T) {
	base := errors.New("inner")
	err := fmt.Errorf("dial postgres://u:longsecret@h/db: %w", base)
	got := scrubError(err, "postgres://u:longsecret@h/db")
	if strings.Contains(got.Error(), "longsecret") {
		t.Errorf("scrubbed error still has the password: %v", got)
	}
	if !errors.Is(got, base) {
		t.Error("scrubbing broke the error chain")
	}
	if scrubError(base, "postgres://u:longsecret@h/db") != base {
		t.Error("an error without the password was rewrapped")
	}
}
