// Package archivetest opens a whole archive (SQL store, blob store, audit log,
// de-identification engine) in a test's temporary folders, for the tests of the packages
// built on package archive.
package archivetest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/node/pack"
	"github.com/cancerimage/cie/internal/store"
)

// Key is the pseudonym key of the archives Open makes.
var Key = []byte("archivetest-key-0123456789abcdef0123")

// Open returns an archive over SQLite and a folder (instances in packs) in t's temporary folders, with the
// default de-identification profile; everything is closed when t ends.
func Open(t testing.TB) *archive.Archive {
	t.Helper()
	return OpenDB(t, filepath.Join(t.TempDir(), "node.db"))
}

// OpenDB is Open with the SQL store at dbURL (a SQLite path or a postgres:// URL, such
// as testenv.Postgres gives).
func OpenDB(t testing.TB, dbURL string) *archive.Archive {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.OpenMigrated(ctx, dbURL, log, migrations.FS, migrations.Table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bs, err := blob.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	skey, vkey, err := audit.GenerateKey("cie-node-test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.Open(ctx, audit.Options{Dir: t.TempDir(), Signer: s, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close(context.Background()) })
	en, err := deid.New(Key, deid.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Instances in packs beside the blobs, as a node on a local disk keeps them.
	ps, err := pack.Open(filepath.Join(bs.LocalDir(), "packs"), pack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	return archive.New(archive.Options{DB: db, Blobs: bs, Packs: ps, Engine: en, Audit: al, Logger: log})
}
