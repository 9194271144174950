package store_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/cancerimage/cie/internal/store"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "cie-example")
	defer os.RemoveAll(dir)

	// In the binary the migrations are an embed.FS, passed through fs.Sub.
	var migrations fs.FS = fstest.MapFS{
		"00001_init.sql": {Data: []byte(`-- +goose Up
CREATE TABLE nodes (id TEXT PRIMARY KEY, name TEXT NOT NULL, added_ms BIGINT NOT NULL);
-- +goose Down
DROP TABLE nodes;
`)},
	}

	db, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "hub.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if err := db.Migrate(ctx, migrations, "hub_schema_version"); err != nil {
		fmt.Println(err)
		return
	}

	err = db.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO nodes (id, name, added_ms) VALUES (?, ?, ?)", "n1", "Oslo", int64(1700000000000))
		return err
	})
	fmt.Println("insert:", err)

	_, err = db.Exec(ctx, "INSERT INTO nodes (id, name, added_ms) VALUES (?, ?, ?)", "n1", "again", int64(0))
	fmt.Println("duplicate is conflict:", errors.Is(err, store.ErrConflict))

	var name string
	err = store.Classify(db.QueryRow(ctx, "SELECT name FROM nodes WHERE id = ?", "n2").Scan(&name))
	fmt.Println("missing is not found:", errors.Is(err, store.ErrNotFound))

	fmt.Println(store.Redact("postgres://cie:secret@db.example:5432/cie"))
	// Output:
	// insert: <nil>
	// duplicate is conflict: true
	// missing is not found: true
	// postgres://cie:xxxxx@db.example:5432/cie
}
