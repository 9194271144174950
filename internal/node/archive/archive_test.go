package archive

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/node/pack"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/testenv"
)

var testKey = []byte("archive-test-key-0123456789abcdef")

// Storage layouts of the instances, for backends.
const (
	withPacks = 1 << iota // instances in packs, on a local disk (the node's default there)
	withFiles             // a file or object per instance (S3, or a folder without packs)
)

// backends runs fn on an archive over SQLite and packs in a folder, over PostgreSQL and
// S3, and (if layouts has withFiles) over SQLite and a file per instance; layouts
// limits them to those with packs or without.
func backends(t *testing.T, layouts int, fn func(t *testing.T, a *Archive)) {
	sqlite := func(t testing.TB) string { return filepath.Join(t.TempDir(), "node.db") }
	folder := func(t testing.TB) string { return "file://" + t.TempDir() }
	for _, b := range []struct {
		name    string
		db, obj func(t testing.TB) string
		packs   bool
	}{
		{"sqlite+packs", sqlite, folder, true},
		{"postgres+s3", testenv.Postgres, testenv.S3, false},
		{"sqlite+files", sqlite, folder, false},
	} {
		if b.packs && layouts&withPacks == 0 || !b.packs && layouts&withFiles == 0 {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			fn(t, openTB(t, b.db(t), b.obj(t), b.packs))
		})
	}
}

// openTB opens an archive over dbURL and blobURL, with packs in the blob store's folder
// (which must be a local one) if packs is set.
func openTB(t testing.TB, dbURL, blobURL string, packs bool) *Archive {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.OpenMigrated(ctx, dbURL, log, migrations.FS, migrations.Table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bs, err := blob.Open(ctx, blobURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	skey, vkey, err := audit.GenerateKey("cie-node-test")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	al, err := audit.Open(ctx, audit.Options{Dir: t.TempDir(), Signer: s, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close(context.Background()) })
	en, err := deid.New(testKey, deid.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{DB: db, Blobs: bs, Engine: en, Audit: al, Logger: log}
	if packs {
		if o.Packs, err = pack.Open(filepath.Join(bs.LocalDir(), "packs"), pack.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Packs.Close() })
	}
	return New(o)
}

// pydicom returns the pydicom test files (not the charset files), plain (not gzipped).
func pydicom(t *testing.T) []string {
	var out []string
	for _, cf := range testenv.Corpus(t) {
		if cf.Source == "pydicom" && strings.Contains(cf.Path, "/test_files/") && !strings.HasSuffix(cf.Path, ".gz") {
			out = append(out, cf.Path)
		}
	}
	if len(out) < 100 {
		t.Fatalf("only %d pydicom test files", len(out))
	}
	return out
}

func TestIngestCorpus(t *testing.T) {
	files := pydicom(t)
	backends(t, withPacks|withFiles, func(t *testing.T, a *Archive) {
		ctx := context.Background()
		b, err := a.Begin(ctx, Source{Kind: "ingest", Peer: "test"})
		if err != nil {
			t.Fatal(err)
		}
		count := map[Status]int{}
		reasons := map[string]int{}
		stored := map[string]Outcome{}
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out, err := b.Ingest(ctx, bytes.NewReader(data), int64(len(data)), filepath.Base(p))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			count[out.Status]++
			if out.Status == Quarantined {
				reasons[out.Reason]++
				if out.QuarantineID == "" || out.Detail == "" {
					t.Errorf("%s: quarantined without id or detail: %+v", p, out)
				}
			}
			if out.Status == Stored {
				stored[p] = out
			}
		}
		if err := b.End(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d files: %v; quarantined by reason: %v", len(files), count, reasons)
		if count[Stored] < 50 || count[Quarantined] < 10 || reasons[ReasonUnreadable] == 0 || reasons[deid.ReasonBurnedIn]+reasons[deid.ReasonNoPixelRule] == 0 {
			t.Fatalf("unexpected outcomes %v %v", count, reasons)
		}
		c, err := a.Index().Counts(ctx)
		if err != nil || int(c.Instances) != count[Stored] {
			t.Fatalf("index holds %d instances, %d stored (%v)", c.Instances, count[Stored], err)
		}
		// Every stored instance is a readable, de-identified file at its key, with metadata.
		for p, out := range stored {
			in, err := a.Index().Get(ctx, out.SOPUID)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if pack.IsLoc(in.BlobKey) != (a.packs != nil) {
				t.Errorf("%s: stored at %s", p, in.BlobKey)
			}
			rc, err := a.Open(ctx, in)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
			if err != nil {
				t.Fatalf("%s: stored file unreadable: %v", p, err)
			}
			if f.Dataset.Text(tags.PatientIdentityRemoved) != "YES" || f.Dataset.Text(tags.SOPInstanceUID) != out.SOPUID || int64(len(data)) != in.Size {
				t.Errorf("%s: stored file is not the de-identified instance", p)
			}
			if meta, err := a.Metadata(ctx, in); err != nil || !bytes.Contains(meta, []byte(out.SOPUID)) {
				t.Errorf("%s: metadata: %v", p, err)
			}
		}
		// Ingesting everything again stores nothing new.
		for p := range stored {
			data, _ := os.ReadFile(p)
			out, err := a.Ingest(ctx, bytes.NewReader(data), int64(len(data)), Source{Kind: "ingest"})
			if err != nil || out.Status != Duplicate {
				t.Fatalf("%s again: %+v, %v", p, out, err)
			}
		}
		if c2, _ := a.Index().Counts(ctx); c2 != c {
			t.Fatalf("counts changed by duplicates: %+v → %+v", c, c2)
		}
		runs, err := a.Recent(ctx, 10)
		if err != nil || len(runs) != 1 || runs[0].Stored != count[Stored] || runs[0].Quarantined != count[Quarantined] || runs[0].Ended == nil {
			t.Fatalf("recent ingests %+v, %v", runs, err)
		}

		// Quarantine: list, release one the engine refused, delete one, refuse to release an unreadable one.
		q, total, err := a.Quarantine(ctx, 1000)
		if err != nil || total != count[Quarantined] || len(q) != total {
			t.Fatalf("quarantine list: %d of %d, %v", len(q), total, err)
		}
		var release, del, unreadable string
		for _, x := range q {
			switch {
			case x.Reason == deid.ReasonNoPixelRule && release == "":
				release = x.ID
			case x.Reason == ReasonUnreadable && unreadable == "":
				unreadable = x.ID
			case del == "":
				del = x.ID
			}
		}
		out, err := a.Release(ctx, release, "holder")
		if err != nil || out.Status != Stored {
			t.Fatalf("release: %+v, %v", out, err)
		}
		if err := a.Delete(ctx, del, "holder"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Release(ctx, unreadable, "holder"); err == nil {
			t.Error("an unreadable file released")
		}
		if _, err := a.Release(ctx, del, "holder"); err == nil {
			t.Error("a deleted file released")
		}
		if _, total2, _ := a.Quarantine(ctx, 1000); total2 != total-2 {
			t.Errorf("quarantine holds %d after release and delete, want %d", total2, total-2)
		}
		if c3, _ := a.Index().Counts(ctx); c3.Instances != c.Instances+1 {
			t.Errorf("released file not indexed")
		}
		entries, err := a.audit.Entries(ctx, 0, int(a.audit.Size()))
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range entries {
			types = append(types, e.Type)
		}
		if strings.Join(types, ",") != "quarantine.released,quarantine.deleted" {
			t.Errorf("audit log: %v", types)
		}
	})
}
