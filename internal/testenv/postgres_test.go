package testenv

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestPostgres(t *testing.T) {
	var dbURL, name string
	var open *sql.DB // still connected when the subtest's cleanup drops its database
	defer func() {
		if open != nil {
			open.Close()
		}
	}()
	t.Run("fresh database", func(t *testing.T) {
		dbURL = Postgres(t)
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		db, err := sql.Open("pgx", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		open = db
		var current string
		if err := db.QueryRowContext(t.Context(), "SELECT current_database()").Scan(&current); err != nil {
			t.Fatal(err)
		}
		if current != name || !strings.HasPrefix(name, "cie_test_testpostgres_fresh_database_") {
			t.Errorf("connected to %q, URL names %q", current, name)
		}
		var tables int
		if err := db.QueryRowContext(t.Context(),
			"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("fresh database has %d tables", tables)
		}
		// Leave a table and an open connection behind: cleanup must still drop it.
		if _, err := db.ExecContext(t.Context(), "CREATE TABLE leftover (x TEXT)"); err != nil {
			t.Fatal(err)
		}
		// Two calls in one test give two databases.
		if other := Postgres(t); other == dbURL {
			t.Errorf("second call returned the same database %s", other)
		}
	})
	if name == "" {
		return // skipped or failed above
	}
	admin, err := sql.Open("pgx", os.Getenv(PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	if err := admin.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after the test's cleanup", name)
	}
}

func TestDatabaseName(t *testing.T) {
	valid := regexp.MustCompile(`^cie_test_[a-z0-9_]+$`)
	seen := map[string]bool{}
	for _, in := range []string{
		"TestX",
		"TestStore/postgres/sub test #01",
		strings.Repeat("VeryLongTestName/", 20),
		"///",
		"Ünïcode/名前",
	} {
		got := databaseName(in)
		if len(got) > 63 || !valid.MatchString(got) || strings.Contains(got, "__") {
			t.Errorf("databaseName(%q) = %q: not a clean identifier of at most 63 bytes", in, got)
		}
		if seen[got] {
			t.Errorf("duplicate name %q", got)
		}
		seen[got] = true
		if again := databaseName(in); again == got {
			t.Errorf("databaseName(%q) is not unique per call: %q twice", in, got)
		}
	}
}

// fakeTB records how Postgres ends a test without ending the real one.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	outcome string // "skip", "fatal" or ""
	msg     string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Name() string                      { return "TestFake" }
func (f *fakeTB) Cleanup(func())                    {}
func (f *fakeTB) Skipf(format string, args ...any)  { f.end("skip", format, args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.end("fatal", format, args...) }

func (f *fakeTB) end(outcome, format string, args ...any) {
	f.mu.Lock()
	f.outcome, f.msg = outcome, fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func runFake(t *testing.T) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Postgres(f)
	}()
	<-done
	return f
}

func TestPostgresNotConfigured(t *testing.T) {
	for _, tc := range []struct {
		name, pg, ci, requireAll string
		outcome, want            string
	}{
		{name: "unset skips", outcome: "skip", want: "scripts/test/postgres.sh"},
		{name: "unset in CI fails", ci: "true", outcome: "fatal", want: "scripts/test/postgres.sh"},
		{name: "unset with require-all fails", requireAll: "1", outcome: "fatal", want: "CIE_TEST_REQUIRE_ALL"},
		{name: "CI=false still skips", ci: "false", outcome: "skip", want: "CIE_TEST_POSTGRES"},
		{name: "not a postgres URL fails", pg: "mysql://root:pw@x/y", outcome: "fatal", want: "postgres:// URL"},
		{name: "unreachable fails", pg: "postgres://postgres:hunter22@127.0.0.1:1/postgres?connect_timeout=2",
			outcome: "fatal", want: "unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(PostgresEnv, tc.pg)
			t.Setenv("CI", tc.ci)
			t.Setenv(RequireAllEnv, tc.requireAll)
			f := runFake(t)
			if f.outcome != tc.outcome || !strings.Contains(f.msg, tc.want) {
				t.Errorf("outcome %s %q, want %s containing %q", f.outcome, f.msg, tc.outcome, tc.want)
			}
			if strings.Contains(f.msg, "hunter22") {
				t.Errorf("message leaks the password: %q", f.msg)
			}
		})
	}
}
