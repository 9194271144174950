package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// PostgresEnv names the environment variable holding the admin URL of the PostgreSQL
// server used by tests, e.g. postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable.
const PostgresEnv = "CIE_TEST_POSTGRES"

// RequireAllEnv names the environment variable that, set to "1", turns every skip for a
// missing test server into a failure (as env CI=true does).
const RequireAllEnv = "CIE_TEST_REQUIRE_ALL"

// postgresHint tells a developer how to get a server.
const postgresHint = `start one with: eval "$(sudo scripts/test/postgres.sh)" (sets ` + PostgresEnv + `)`

// RequireAll reports whether tests must fail, not skip, when a server they need is not
// configured: in CI (env CI=true) or with CIE_TEST_REQUIRE_ALL=1.
func RequireAll() bool {
	return os.Getenv("CI") == "true" || os.Getenv(RequireAllEnv) == "1"
}

// Postgres returns the URL of a fresh, empty PostgreSQL database for this test (CREATE
// DATABASE with a unique name, dropped in t.Cleanup), using the server in env
// CIE_TEST_POSTGRES (a postgres:// URL to an admin database, e.g.
// postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable).
//
// If the variable is unset, Postgres calls t.Fatal when env CI is "true" or
// CIE_TEST_REQUIRE_ALL=1 (a missing server in CI is a failure, never a silent pass), and
// t.Skip otherwise, with a message saying how to run it (scripts/test/postgres.sh). A
// server that is set but unreachable always fails the test.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		if RequireAll() {
			t.Fatalf("testenv: %s is not set and CI=true or %s=1 requires PostgreSQL tests to run; %s",
				PostgresEnv, RequireAllEnv, postgresHint)
		}
		t.Skipf("testenv: %s is not set, skipping PostgreSQL test; %s", PostgresEnv, postgresHint)
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("testenv: %s must be a postgres:// URL, got %q", PostgresEnv, redact(admin))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", redact(admin), err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("testenv: PostgreSQL at %s (%s) is unreachable: %v; %s", redact(admin), PostgresEnv, err, postgresHint)
	}

	name := databaseName(t.Name())
	// The name is generated from [a-z0-9_], so quoting it is enough.
	if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("testenv: create database %s on %s: %v", name, redact(admin), err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })

	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// dropDatabase removes a test database, disconnecting any session a test left open.
func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Errorf("testenv: drop database %s: %v", name, err)
		return
	}
	defer db.Close()
	// WITH (FORCE) needs PostgreSQL 13; older servers get the plain form.
	if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		if _, err2 := db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`"`); err2 != nil {
			t.Errorf("testenv: drop database %s: %v (and without FORCE: %v)", name, err, err2)
		}
	}
}

// databaseName makes a unique, valid database name (at most 63 bytes of [a-z0-9_]) that
// shows which test created it.
func databaseName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "_") {
				b.WriteByte('_')
			}
		}
	}
	slug := strings.Trim(b.String(), "_")
	var rnd [6]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	suffix := hex.EncodeToString(rnd[:])
	const prefix = "cie_test_"
	if max := 63 - len(prefix) - 1 - len(suffix); len(slug) > max {
		slug = strings.TrimRight(slug[:max], "_")
	}
	if slug == "" {
		return prefix + suffix
	}
	return fmt.Sprintf("%s%s_%s", prefix, slug, suffix)
}

// redact hides the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}
