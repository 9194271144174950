package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/cancerimage/cie/internal/groupcommit"
)

// Dialect names the SQL engine behind a [DB].
type Dialect string

const (
	// SQLite is the embedded engine (modernc.org/sqlite).
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL through jackc/pgx/v5.
	Postgres Dialect = "postgres"
)

// sqlitePingTimeout and postgresPingTimeout bound the first connection made by [Open]
// when the caller's context has no deadline of its own.
const (
	sqlitePingTimeout   = 30 * time.Second
	postgresPingTimeout = 30 * time.Second
)

// DB is an open database: a *sql.DB plus the dialect that decides how '?' placeholders
// are rebound. It is safe for concurrent use by many goroutines.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	url     string // redacted, for logs and errors
	logger  *slog.Logger
	// wal is the SQLite write-ahead log's path, and walSync shares its flushes (Sync).
	wal     string
	walSync *groupcommit.Committer
	// changes counts MarkChanged calls.
	changes atomic.Uint64
}

// Querier is what [DB] and [Tx] have in common, so data-access code can run inside or
// outside a transaction.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// Open connects to the database named by rawURL and pings it.
//
// "postgres://…" and "postgresql://…" select PostgreSQL. "sqlite:///abs/path.db",
// "sqlite://rel/path.db" and a plain file path select SQLite; the parent directory is
// created if missing and the connection runs with journal_mode=WAL, busy_timeout=10000,
// foreign_keys=ON, synchronous=NORMAL and immediate transactions. Errors name the URL with
// its password removed. A nil logger discards log output.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	safe := Redact(rawURL)
	dialect, target, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", safe, err)
	}
	var db *DB
	switch dialect {
	case Postgres:
		db, err = openPostgres(ctx, target)
	default:
		db, err = openSQLite(ctx, target, logger)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s %q: %w", dialect, safe, scrubError(err, rawURL))
	}
	db.url = safe
	db.logger = logger
	logger.InfoContext(ctx, "database opened", "dialect", string(dialect), "url", safe)
	return db, nil
}

// parseURL decides the dialect and returns what the driver needs: the URL itself for
// PostgreSQL, a file path for SQLite.
func parseURL(raw string) (Dialect, string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", "", errors.New("empty database URL (want postgres://…, sqlite:///path.db or a file path)")
	}
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		if strings.HasPrefix(strings.ToLower(raw), "sqlite:") {
			return checkSQLitePath(raw[len("sqlite:"):])
		}
		return checkSQLitePath(raw)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return Postgres, raw, nil
	case "sqlite", "sqlite3":
		if strings.ContainsAny(rest, "?#") {
			return "", "", errors.New("sqlite URLs take no query parameters or fragment (the pragmas are fixed)")
		}
		p, err := url.PathUnescape(rest)
		if err != nil {
			return "", "", fmt.Errorf("bad sqlite path: %w", err)
		}
		return checkSQLitePath(p)
	default:
		return "", "", fmt.Errorf("unsupported URL scheme %q (want postgres://, postgresql:// or sqlite://)", scheme)
	}
}

func checkSQLitePath(p string) (Dialect, string, error) {
	switch {
	case p == "":
		return "", "", errors.New("sqlite URL has no file path")
	case p == ":memory:" || strings.HasPrefix(p, "file:"):
		return "", "", errors.New("in-memory and file: URI databases are not supported; give a file path (a temporary one in tests)")
	}
	return SQLite, p, nil
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, err // the caller scrubs passwords from the message
	}
	sqlDB := stdlib.OpenDB(*cfg)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	sqlDB.SetMaxIdleConns(8)
	if err := ping(ctx, sqlDB, postgresPingTimeout); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return &DB{sql: sqlDB, dialect: Postgres}, nil
}

func openSQLite(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve path: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	// A file: URI with the path percent-escaped, so names containing '?', '#' or '%'
	// stay file names; the underscore parameters are read by the driver.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), OmitHost: true}
	dsn := u.String() + "?" + url.Values{
		"_busy_timeout": {"10000"},
		"_journal_mode": {"WAL"},
		"_foreign_keys": {"1"},
		"_synchronous":  {"NORMAL"},
		"_txlock":       {"immediate"},
	}.Encode()
	sqlDB, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open driver: %w", err)
	}
	sqlDB.SetMaxIdleConns(8)
	if err := ping(ctx, sqlDB, sqlitePingTimeout); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	var mode string
	if err := sqlDB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		logger.WarnContext(ctx, "sqlite: WAL mode unavailable on this file system; concurrent access will be slower",
			"path", abs, "journal_mode", mode)
	}
	db := &DB{sql: sqlDB, dialect: SQLite, wal: abs + "-wal"}
	db.walSync = groupcommit.New(db.flushWAL)
	return db, nil
}

// Sync returns once every transaction committed before Sync was called is on disk. A
// SQLite database commits with synchronous=NORMAL (a commit survives the process being
// killed, not a power loss, until the log is flushed); writers that must not lose an
// acknowledged commit call Sync before acknowledging, and concurrent callers share one
// flush of the log. PostgreSQL commits durably: Sync returns at once.
func (db *DB) Sync(ctx context.Context) error {
	if db.walSync == nil {
		return nil
	}
	return db.walSync.Wait(ctx)
}

// flushWAL flushes SQLite's write-ahead log. Frames a checkpoint has already moved into
// the database file were flushed by that checkpoint.
func (db *DB) flushWAL(context.Context) error {
	f, err := os.Open(db.wal)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("syncing the database log: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the database log %s: %w", db.wal, err)
	}
	return nil
}

func ping(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Dialect reports which engine db talks to.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the underlying *sql.DB, for what this package does not wrap. Queries sent
// through it are not rebound and their errors are not classified.
func (db *DB) SQL() *sql.DB { return db.sql }

// String returns the database URL with its password removed.
func (db *DB) String() string { return db.url }

// Close closes the database and its connection pool.
func (db *DB) Close() error {
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("store: close %q: %w", db.url, err)
	}
	return nil
}

// Rebind returns query with its '?' placeholders in db's dialect.
func (db *DB) Rebind(query string) string { return rebind(db.dialect, query) }

// Exec runs a statement that returns no rows. query uses '?' placeholders; errors are
// passed through [Classify].
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := db.sql.ExecContext(ctx, rebind(db.dialect, query), args...)
	return res, Classify(err)
}

// Query runs a query that returns rows. query uses '?' placeholders; errors are passed
// through [Classify]. The caller must close the rows and check rows.Err.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := db.sql.QueryContext(ctx, rebind(db.dialect, query), args...)
	return rows, Classify(err)
}

// QueryRow runs a query expected to return at most one row. query uses '?' placeholders.
// Its error surfaces in Scan: pass that through [Classify] to turn "no rows" into
// [ErrNotFound].
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, rebind(db.dialect, query), args...)
}

// Tx is a database transaction handed to the function given to [DB.Tx]. Its methods take
// '?' placeholders like those of [DB]. It must not be used after that function returns.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// SQL returns the underlying *sql.Tx. Queries sent through it are not rebound.
func (tx *Tx) SQL() *sql.Tx { return tx.tx }

// Dialect reports which engine the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// Exec runs a statement that returns no rows inside the transaction; see [DB.Exec].
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := tx.tx.ExecContext(ctx, rebind(tx.dialect, query), args...)
	return res, Classify(err)
}

// Query runs a query that returns rows inside the transaction; see [DB.Query].
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := tx.tx.QueryContext(ctx, rebind(tx.dialect, query), args...)
	return rows, Classify(err)
}

// QueryRow runs a query returning at most one row inside the transaction; see [DB.QueryRow].
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, rebind(tx.dialect, query), args...)
}

// ReadTx runs fn in a read-only transaction that sees one snapshot of the database
// for all its statements (REPEATABLE READ on PostgreSQL; a deferred transaction on
// SQLite, which takes no write lock). The transaction is rolled back when fn returns.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	sqlTx, err := db.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin read transaction: %w", Classify(err))
	}
	defer sqlTx.Rollback() //nolint:errcheck // nothing to undo: it only read
	return fn(&Tx{tx: sqlTx, dialect: db.dialect})
}

// MarkChanged tells readers that keep a copy of some of the data (the node's search
// snapshot) that a committed change may concern them. Writers call it after the
// commit; Changes tells readers whether their copy may be stale.
func (db *DB) MarkChanged() { db.changes.Add(1) }

// Changes counts the MarkChanged calls so far: a reader whose copy was read after
// Changes returned n is current while Changes still returns n. Only changes made
// through this DB value are counted, not those of other processes.
func (db *DB) Changes() uint64 { return db.changes.Load() }

// Tx runs fn in a transaction. It commits if fn returns nil and rolls back if fn returns an
// error (which Tx returns unchanged, joined with any rollback error) or panics (the panic
// continues after the rollback). On SQLite the transaction begins IMMEDIATE, taking the
// write lock at once, so keep fn short and free of slow I/O.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqlTx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", Classify(err))
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// Runs on error and on panic alike; a panic keeps unwinding after this.
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && err != nil {
			err = errors.Join(err, fmt.Errorf("store: rollback: %w", rbErr))
		}
	}()
	if err := fn(&Tx{tx: sqlTx, dialect: db.dialect}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", Classify(err))
	}
	committed = true
	return nil
}
