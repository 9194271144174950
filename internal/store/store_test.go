package store

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cancerimage/cie/internal/testenv"
)

//go:embed testdata/migrations/*.sql
var testdataFS embed.FS

const versionTable = "test_schema_version"

func migrations(t testing.TB) fs.FS {
	t.Helper()
	sub, err := fs.Sub(testdataFS, "testdata/migrations")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// engine is one database engine the suite runs against.
type engine struct {
	name string
	url  func(t testing.TB) string
}

var engines = []engine{
	{"sqlite", func(t testing.TB) string {
		// A subdirectory that does not exist yet: Open must create it.
		return "sqlite://" + filepath.Join(t.TempDir(), "nested", "dir", "cie.db")
	}},
	{"postgres", testenv.Postgres},
}

// logBuffer collects log output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// open opens a fresh database of engine e, closed at cleanup.
func open(t *testing.T, e engine) (*DB, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := Open(t.Context(), e.url(t), logger)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, logs
}

// openMigrated opens a fresh database of engine e with the test migrations applied.
func openMigrated(t *testing.T, e engine) *DB {
	t.Helper()
	db, _ := open(t, e)
	if err := db.Migrate(t.Context(), migrations(t), versionTable); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func forEachEngine(t *testing.T, fn func(t *testing.T, e engine)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

func count(t *testing.T, q Querier, table string) int {
	t.Helper()
	var n int
	if err := q.QueryRow(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func insertItem(ctx context.Context, q Querier, id, name string) error {
	_, err := q.Exec(ctx, "INSERT INTO items (id, name, n, created_ms) VALUES (?, ?, ?, ?)",
		id, name, int64(len(name)), time.Now().UnixMilli())
	return err
}

func TestOpenDialect(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		db, logs := open(t, e)
		if got := string(db.Dialect()); got != e.name {
			t.Errorf("Dialect() = %q, want %q", got, e.name)
		}
		if db.SQL() == nil {
			t.Error("SQL() = nil")
		}
		if !strings.Contains(logs.String(), "database opened") {
			t.Errorf("no open log line in %q", logs.String())
		}
	})
}

func TestMigrate(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		db, logs := open(t, e)
		migs := migrations(t)

		before, err := db.MigrationStatus(ctx, migs, versionTable)
		if err != nil {
			t.Fatalf("MigrationStatus before: %v", err)
		}
		if len(before) != 2 || before[0].Applied || before[1].Applied {
			t.Fatalf("status before Migrate = %+v, want 2 pending", before)
		}

		if err := db.Migrate(ctx, migs, versionTable); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		for _, want := range []string{"00001_items.sql", "00002_events.sql"} {
			if !strings.Contains(logs.String(), "migration applied") || !strings.Contains(logs.String(), want) {
				t.Errorf("log does not report %s applied:\n%s", want, logs.String())
			}
		}
		after, err := db.MigrationStatus(ctx, migs, versionTable)
		if err != nil {
			t.Fatalf("MigrationStatus after: %v", err)
		}
		if len(after) != 2 {
			t.Fatalf("status after = %+v", after)
		}
		for i, m := range after {
			if !m.Applied || m.AppliedAt.IsZero() || m.Version != int64(i+1) {
				t.Errorf("status[%d] = %+v, want version %d applied", i, m, i+1)
			}
		}
		if after[0].Source != "00001_items.sql" {
			t.Errorf("source = %q", after[0].Source)
		}

		// Re-running is a no-op: no error, nothing new applied, nothing logged as applied.
		applied := strings.Count(logs.String(), "migration applied")
		if err := db.Migrate(ctx, migs, versionTable); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if got := strings.Count(logs.String(), "migration applied"); got != applied {
			t.Errorf("second Migrate applied %d more migrations", got-applied)
		}
		again, err := db.MigrationStatus(ctx, migs, versionTable)
		if err != nil {
			t.Fatal(err)
		}
		for i := range again {
			if !again[i].AppliedAt.Equal(after[i].AppliedAt) {
				t.Errorf("version %d re-applied: %v then %v", again[i].Version, after[i].AppliedAt, again[i].AppliedAt)
			}
		}
		if n := count(t, db, versionTable); n < 2 {
			t.Errorf("version table %s has %d rows", versionTable, n)
		}
	})
}

func TestMigrateErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		db, _ := open(t, e)
		if err := db.Migrate(ctx, migrations(t), "bad name; DROP"); err == nil || !strings.Contains(err.Error(), "invalid version table name") {
			t.Errorf("bad table name: err = %v", err)
		}
		if err := db.Migrate(ctx, fstest.MapFS{}, versionTable); err == nil {
			t.Error("empty migrations: no error")
		}
		bad := fstest.MapFS{
			"00001_ok.sql":  {Data: []byte("-- +goose Up\nCREATE TABLE ok_t (id TEXT PRIMARY KEY);\n-- +goose Down\nDROP TABLE ok_t;\n")},
			"00002_bad.sql": {Data: []byte("-- +goose Up\nCREATE TABLEX nope (id TEXT);\n-- +goose Down\nSELECT 1;\n")},
		}
		err := db.Migrate(ctx, bad, versionTable)
		if err == nil || !strings.Contains(err.Error(), "00002_bad.sql") {
			t.Fatalf("broken migration: err = %v, want one naming 00002_bad.sql", err)
		}
		st, err := db.MigrationStatus(ctx, bad, versionTable)
		if err != nil {
			t.Fatal(err)
		}
		if !st[0].Applied || st[1].Applied {
			t.Errorf("after failure status = %+v, want 1 applied, 2 pending", st)
		}
	})
}

func TestPlaceholders(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		db := openMigrated(t, e)
		// A '?' inside a string literal is data, not a placeholder.
		_, err := db.Exec(ctx, `INSERT INTO items (id, name, n, note, created_ms) VALUES (?, ?, ?, 'what? really?', ?)`,
			"a", "alpha?", 42, int64(1700000000123))
		if err != nil {
			t.Fatalf("insert: %v", err)
		}
		var name, note string
		var n, created int64
		err = db.QueryRow(ctx, `SELECT name, note, n, created_ms FROM items WHERE id = ? AND note <> '?' AND name = ?`, "a", "alpha?").
			Scan(&name, &note, &n, &created)
		if err != nil {
			t.Fatalf("select: %v", err)
		}
		if name != "alpha?" || note != "what? really?" || n != 42 || created != 1700000000123 {
			t.Errorf("got %q %q %d %d", name, note, n, created)
		}

		rows, err := db.Query(ctx, `SELECT id FROM items WHERE note LIKE '%?%' AND n >= ? ORDER BY id`, 1)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if len(ids) != 1 || ids[0] != "a" {
			t.Errorf("ids = %v", ids)
		}

		// Upsert, portable form.
		if _, err := db.Exec(ctx, `INSERT INTO items (id, name, n, created_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET n = excluded.n`, "a", "ignored", 7, 0); err != nil {
			t.Fatalf("upsert: %v", err)
		}
		if err := db.QueryRow(ctx, "SELECT n FROM items WHERE id = ?", "a").Scan(&n); err != nil || n != 7 {
			t.Errorf("after upsert n = %d, err %v", n, err)
		}
	})
}

func TestTx(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		db := openMigrated(t, e)

		// Commit.
		err := db.Tx(ctx, func(tx *Tx) error {
			if err := insertItem(ctx, tx, "c1", "committed-1"); err != nil {
				return err
			}
			if got := count(t, tx, "items"); got != 1 {
				t.Errorf("inside tx: %d rows", got)
			}
			return insertItem(ctx, tx, "c2", "committed-2")
		})
		if err != nil {
			t.Fatalf("Tx commit: %v", err)
		}
		if got := count(t, db, "items"); got != 2 {
			t.Fatalf("after commit: %d rows, want 2", got)
		}

		// Rollback on error: the error comes back unchanged, nothing is left behind.
		errBoom := errors.New("boom")
		err = db.Tx(ctx, func(tx *Tx) error {
			if err := insertItem(ctx, tx, "r1", "rolled-back-1"); err != nil {
				return err
			}
			if err := insertItem(ctx, tx, "r2", "rolled-back-2"); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Tx error = %v, want boom", err)
		}
		if got := count(t, db, "items"); got != 2 {
			t.Errorf("after rollback: %d rows, want 2", got)
		}

		// Rollback on a failing statement (a conflict) inside the transaction.
		err = db.Tx(ctx, func(tx *Tx) error {
			if err := insertItem(ctx, tx, "r3", "rolled-back-3"); err != nil {
				return err
			}
			return insertItem(ctx, tx, "c1", "dup-id")
		})
		if !errors.Is(err, ErrConflict) {
			t.Errorf("Tx with duplicate: err = %v, want ErrConflict", err)
		}
		if got := count(t, db, "items"); got != 2 {
			t.Errorf("after failed statement: %d rows, want 2", got)
		}

		// Rollback on panic; the panic continues to the caller.
		func() {
			defer func() {
				if r := recover(); r != "kaboom" {
					t.Errorf("recovered %v, want kaboom", r)
				}
			}()
			_ = db.Tx(ctx, func(tx *Tx) error {
				if err := insertItem(ctx, tx, "p1", "panicked"); err != nil {
					return err
				}
				panic("kaboom")
			})
		}()
		if got := count(t, db, "items"); got != 2 {
			t.Errorf("after panic: %d rows, want 2", got)
		}

		// The pool is healthy after all that: a new transaction works.
		if err := db.Tx(ctx, func(tx *Tx) error { return insertItem(ctx, tx, "c3", "committed-3") }); err != nil {
			t.Fatalf("Tx after rollbacks: %v", err)
		}
	})
}

func TestClassify(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		db := openMigrated(t, e)
		if err := insertItem(ctx, db, "x", "x-name"); err != nil {
			t.Fatal(err)
		}
		// Primary key.
		err := insertItem(ctx, db, "x", "other-name")
		if !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate primary key: err = %v, want ErrConflict", err)
		}
		// Unique column.
		err = insertItem(ctx, db, "y", "x-name")
		if !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate unique name: err = %v, want ErrConflict", err)
		}
		// Composite primary key.
		if _, err := db.Exec(ctx, "INSERT INTO events (writer, seq, item_id, body) VALUES (?, ?, ?, ?)", 1, 1, "x", "b"); err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(ctx, "INSERT INTO events (writer, seq, item_id, body) VALUES (?, ?, ?, ?)", 1, 1, "x", "b")
		if !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate composite key: err = %v, want ErrConflict", err)
		}
		// Other constraint violations are not conflicts: foreign key, NOT NULL.
		_, err = db.Exec(ctx, "INSERT INTO events (writer, seq, item_id, body) VALUES (?, ?, ?, ?)", 2, 1, "no-such-item", "b")
		if err == nil || errors.Is(err, ErrConflict) {
			t.Errorf("foreign key violation: err = %v, want a non-conflict error (foreign_keys on)", err)
		}
		_, err = db.Exec(ctx, "INSERT INTO items (id, created_ms) VALUES (?, ?)", "z", 0)
		if err == nil || errors.Is(err, ErrConflict) {
			t.Errorf("NOT NULL violation: err = %v, want a non-conflict error", err)
		}

		// Missing row.
		var name string
		err = Classify(db.QueryRow(ctx, "SELECT name FROM items WHERE id = ?", "missing").Scan(&name))
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("missing row: err = %v, want ErrNotFound wrapping sql.ErrNoRows", err)
		}
		if Classify(err) != err {
			t.Error("Classify is not idempotent")
		}
	})
	if Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
	other := errors.New("other")
	if Classify(other) != other {
		t.Error("Classify changed an unrelated error")
	}
}

func TestConcurrentWriters(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		db := openMigrated(t, e)
		if err := insertItem(ctx, db, "shared", "shared"); err != nil {
			t.Fatal(err)
		}
		const writers, perWriter = 8, 50
		var wg sync.WaitGroup
		errs := make(chan error, writers*perWriter)
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					var err error
					switch i % 3 {
					case 0: // autocommit insert
						_, err = db.Exec(ctx, "INSERT INTO events (writer, seq, item_id, body) VALUES (?, ?, ?, ?)", w, i, "shared", "plain")
					case 1: // read-then-write transaction: the case that fails with deferred transactions
						err = db.Tx(ctx, func(tx *Tx) error {
							var n int
							if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM events WHERE writer = ?", w).Scan(&n); err != nil {
								return err
							}
							_, err := tx.Exec(ctx, "INSERT INTO events (writer, seq, item_id, body) VALUES (?, ?, ?, ?)", w, i, "shared", fmt.Sprint("tx after ", n))
							return err
						})
					default: // a read outside any transaction, then a write
						var n int
						if err = db.QueryRow(ctx, "SELECT COUNT(*) FROM events").Scan(&n); err == nil {
							_, err = db.Exec(ctx, "INSERT INTO events (writer, seq, item_id, body) VALUES (?, ?, ?, ?)", w, i, "shared", "after read")
						}
					}
					if err != nil {
						errs <- fmt.Errorf("writer %d insert %d: %w", w, i, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := count(t, db, "events"); got != writers*perWriter {
			t.Errorf("events = %d, want %d", got, writers*perWriter)
		}
	})
}

func TestSQLitePragmas(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wal.db")
	for _, url := range []string{"sqlite://" + path, path, "sqlite:" + path} {
		t.Run(url, func(t *testing.T) {
			db, err := Open(t.Context(), url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Dialect() != SQLite {
				t.Fatalf("dialect %q", db.Dialect())
			}
			// Check on several pooled connections at once, not just the first.
			conns := make([]*sql.Conn, 3)
			for i := range conns {
				c, err := db.SQL().Conn(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns[i] = c
			}
			for i, c := range conns {
				for pragma, want := range map[string]string{
					"journal_mode": "wal",
					"busy_timeout": "10000",
					"foreign_keys": "1",
					"synchronous":  "1", // NORMAL
				} {
					var got string
					if err := c.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
						t.Fatal(err)
					}
					if !strings.EqualFold(got, want) {
						t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, pragma, got, want)
					}
				}
			}
		})
	}
	// A relative sqlite:// URL is relative to the working directory.
	t.Run("relative", func(t *testing.T) {
		t.Chdir(t.TempDir())
		db, err := Open(t.Context(), "sqlite://rel/dir/x.db", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join("rel", "dir", "x.db")); err != nil {
			t.Errorf("relative database not created: %v", err)
		}
	})
	// File names with URI-special characters stay file names.
	t.Run("odd name", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "a b%20#c?d.db")
		db, err := Open(t.Context(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(t.Context(), "CREATE TABLE t (x TEXT)"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if _, err := os.Stat(p); err != nil {
			t.Errorf("database not at %q: %v", p, err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url      string
		want     []string // substrings of the error
		password string   // must not appear in the error
	}{
		{url: "", want: []string{"empty database URL"}},
		{url: "mysql://root:hunter22@db/x", want: []string{`unsupported URL scheme "mysql"`, "root:xxxxx@db"}, password: "hunter22"},
		{url: "sqlite://" + filepath.Join(notDir, "sub", "x.db"), want: []string{"create directory", "not a directory"}},
		{url: "sqlite:///tmp/x.db?_pragma=foo", want: []string{"no query parameters"}},
		{url: ":memory:", want: []string{"in-memory"}},
		{url: "postgres://cie:s3cretpw@127.0.0.1:1/cie?sslmode=disable&connect_timeout=5",
			want: []string{"store: open postgres", "cie:xxxxx@127.0.0.1:1", "ping"}, password: "s3cretpw"},
		{url: "postgres://cie:s3cretpw@127.0.0.1:notaport/cie",
			want: []string{"store: open postgres"}, password: "s3cretpw"},
		{url: "postgres://cie@127.0.0.1:1/cie?password=s3cretpw&connect_timeout=5",
			want: []string{"password=xxxxx"}, password: "s3cretpw"},
	} {
		t.Run(Redact(tc.url), func(t *testing.T) {
			db, err := Open(t.Context(), tc.url, nil)
			if err == nil {
				db.Close()
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

// TestSync checks that Sync after commits succeeds on both engines, shared by concurrent
// callers, and that on SQLite it flushed the write-ahead log the commits went to.
func TestSync(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		db := openMigrated(t, e)
		ctx := t.Context()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					if err := insertItem(ctx, db, fmt.Sprintf("sync-%d-%d", w, i), fmt.Sprintf("item %d of writer %d", i, w)); err != nil {
						t.Error(err)
						return
					}
					if err := db.Sync(ctx); err != nil {
						t.Errorf("Sync: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if n := count(t, db, "items"); n != 40 {
			t.Errorf("%d items, want 40", n)
		}
		if e.name == string(SQLite) {
			if fi, err := os.Stat(db.wal); err != nil || fi.Size() == 0 {
				t.Errorf("write-ahead log %s: %v (size %v)", db.wal, err, fi)
			}
			if db.walSync.Runs() == 0 || db.walSync.Runs() > 40 {
				t.Errorf("%d log flushes for 40 Sync calls", db.walSync.Runs())
			}
		}
	})
}
