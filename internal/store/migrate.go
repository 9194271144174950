package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// MigrationState is one migration as reported by [DB.MigrationStatus].
type MigrationState struct {
	// Version is the number the file name starts with (00001_init.sql → 1).
	Version int64
	// Source is the migration's file name.
	Source string
	// Applied reports whether the migration is recorded in the version table.
	Applied bool
	// AppliedAt is when it was applied (zero if pending).
	AppliedAt time.Time
}

// tableName is what goose may put, unquoted, into its SQL as the version table.
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// provider builds a goose provider for db with migrations at the root of fsys (use
// fs.Sub for a subdirectory of an embed.FS) and versions kept in table. Only SQL
// migrations in fsys are used; Go migrations registered globally with goose are ignored.
// On PostgreSQL a session advisory lock, keyed by the table name, serialises concurrent
// migrators.
func (db *DB) provider(migrations fs.FS, table string) (*goose.Provider, error) {
	if migrations == nil {
		return nil, errors.New("no migrations file system")
	}
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("invalid version table name %q (want letters, digits and _)", table)
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(table),
		goose.WithSlog(db.logger),
		goose.WithDisableGlobalRegistry(true),
	}
	var dialect goose.Dialect
	switch db.dialect {
	case Postgres:
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(crc32.ChecksumIEEE([]byte("cie-migrate:"+table)))),
			lock.WithLockTimeout(2, 150), // wait up to 5 minutes for another migrator
		)
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case SQLite:
		dialect = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("unknown dialect %q", db.dialect)
	}
	p, err := goose.NewProvider(dialect, db.sql, migrations, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration of migrations (SQL files such as 00001_init.sql
// with "-- +goose Up" and "-- +goose Down" sections, at the root of the file system) and
// records them in the version table named table. Running it again when nothing is
// pending does nothing. Each applied version is logged.
func (db *DB) Migrate(ctx context.Context, migrations fs.FS, table string) error {
	p, err := db.provider(migrations, table)
	if err != nil {
		return fmt.Errorf("store: migrate %q (table %s): %w", db.url, table, err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		db.logMigration(ctx, table, r)
	}
	if err != nil {
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			for _, r := range partial.Applied {
				db.logMigration(ctx, table, r)
			}
			if partial.Failed != nil && partial.Failed.Source != nil {
				return fmt.Errorf("store: migrate %q (table %s): version %d (%s): %w",
					db.url, table, partial.Failed.Source.Version, path.Base(partial.Failed.Source.Path), partial.Err)
			}
		}
		return fmt.Errorf("store: migrate %q (table %s): %w", db.url, table, err)
	}
	if len(results) == 0 {
		v, verr := p.GetDBVersion(ctx)
		if verr != nil {
			return fmt.Errorf("store: migrate %q (table %s): read version: %w", db.url, table, verr)
		}
		db.logger.DebugContext(ctx, "database schema up to date", "table", table, "version", v)
	}
	return nil
}

func (db *DB) logMigration(ctx context.Context, table string, r *goose.MigrationResult) {
	if r == nil || r.Source == nil {
		return
	}
	db.logger.InfoContext(ctx, "migration applied",
		"table", table,
		"version", r.Source.Version,
		"source", path.Base(r.Source.Path),
		"direction", r.Direction,
		"duration", r.Duration,
	)
}

// MigrationStatus lists every migration in migrations, in version order, and whether the
// version table named table records it as applied. It changes nothing (the version table
// is created if missing).
func (db *DB) MigrationStatus(ctx context.Context, migrations fs.FS, table string) ([]MigrationState, error) {
	p, err := db.provider(migrations, table)
	if err != nil {
		return nil, fmt.Errorf("store: migration status %q (table %s): %w", db.url, table, err)
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migration status %q (table %s): %w", db.url, table, err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, s := range st {
		m := MigrationState{Applied: s.State == goose.StateApplied, AppliedAt: s.AppliedAt}
		if s.Source != nil {
			m.Version = s.Source.Version
			m.Source = path.Base(s.Source.Path)
		}
		out = append(out, m)
	}
	return out, nil
}

// OpenMigrated opens the store at url and applies migrations (version table
// table) to it, closing it again if they fail.
func OpenMigrated(ctx context.Context, url string, logger *slog.Logger, migrations fs.FS, table string) (*DB, error) {
	db, err := Open(ctx, url, logger)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, migrations, table); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
