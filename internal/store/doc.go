// Package store is cie's SQL store: one query layer over two engines, chosen by URL.
//
//   - SQLite (the embedded default): modernc.org/sqlite, pure Go, one file, WAL mode.
//     URLs: "sqlite:///abs/path.db", "sqlite://rel/path.db" or a plain file path.
//   - PostgreSQL (scale-out): jackc/pgx/v5 through its database/sql driver.
//     URLs: "postgres://…" or "postgresql://…" (any libpq URL parameter pgx understands).
//
// [Open] returns a [DB]; its [DB.Exec], [DB.Query], [DB.QueryRow] and [DB.Tx] take queries
// written once with '?' placeholders. For PostgreSQL they are rebound to $1, $2, … (a '?'
// inside a string literal, quoted identifier, comment or dollar-quoted string is left alone).
// Errors from Exec and Query pass through [Classify], so callers test them with
// errors.Is(err, [ErrConflict]); QueryRow defers its error to Scan, so wrap that in [Classify]
// to get [ErrNotFound].
//
// Schema changes are goose migrations (github.com/pressly/goose/v3), embedded in the binary
// and applied by [DB.Migrate]; the same files run on both engines. Hub and node keep their
// versions in separate tables (the table argument), so both may share one database.
//
// # Portable SQL
//
// Migrations and queries must run unchanged on SQLite and PostgreSQL. Stay inside this subset:
//
//   - Types: TEXT, INTEGER (32-bit range), BIGINT (64-bit), DOUBLE PRECISION, BLOB is not
//     portable (PostgreSQL calls it BYTEA) — store binary data in the blob store or as base64
//     TEXT. No VARCHAR(n) length checks are enforced by SQLite; do not rely on them.
//   - Booleans: INTEGER holding 0 or 1 (write "flag INTEGER NOT NULL DEFAULT 0 CHECK (flag IN
//     (0,1))"), compare with "= 1"; do not use TRUE/FALSE literals or the BOOLEAN type.
//   - Times: BIGINT Unix milliseconds (UTC), converted in Go; no TIMESTAMP, no now(),
//     CURRENT_TIMESTAMP or date functions (they differ between engines).
//   - Keys: TEXT (UUIDs, content hashes, pseudonyms) or BIGINT ids assigned by the
//     application. "INTEGER PRIMARY KEY" (SQLite rowid) vs BIGSERIAL/IDENTITY is NOT portable,
//     and neither is AUTOINCREMENT or last-insert-id; if you need the id, generate it first.
//   - Upserts: "INSERT … ON CONFLICT (cols) DO NOTHING" and "… DO UPDATE SET c = excluded.c"
//     work on both. "INSERT OR REPLACE/IGNORE" is SQLite-only. "RETURNING" works on both
//     (SQLite ≥ 3.35).
//   - Text: compare case-sensitively ("=", LIKE is case-insensitive on SQLite for ASCII but
//     case-sensitive on PostgreSQL: use lower(x) = lower(?) when you mean it). Concatenate
//     with ||. Use COALESCE, not IFNULL.
//   - Placeholders: only '?'. Do not write $1 yourself, and do not use PostgreSQL's
//     JSON operators ?, ?| and ?& (they would be rebound).
//   - Foreign keys are enforced on both (SQLite runs with foreign_keys=ON). Declare
//     ON DELETE behaviour explicitly.
//   - DDL: CREATE TABLE / INDEX with IF NOT EXISTS where re-running must be safe; ALTER TABLE
//     … ADD COLUMN only (SQLite cannot alter or drop constraints: create a new table and
//     copy instead). Both engines run DDL inside the migration's transaction.
//   - Limit and paging: "LIMIT ? OFFSET ?" with integer arguments; ORDER BY every paged query.
//
// # Concurrency
//
// SQLite runs in WAL mode with busy_timeout=10000 and every transaction begins IMMEDIATE, so
// concurrent writers in one process (or several) wait for each other instead of failing with
// "database is locked". Because every [DB.Tx] takes the write lock on SQLite, read-only work
// should use [DB.Query] outside a transaction.
package store
