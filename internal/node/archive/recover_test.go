package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/node/pack"
	"github.com/cancerimage/cie/internal/synth"
)

// synthFiles returns n generated CT/MR instances as Part 10 bytes.
func synthFiles(t testing.TB, n int) [][]byte {
	g, err := synth.New(synth.Options{Seed: 7, Node: "t", Patients: 2, MinSlices: 4, MaxSlices: 4, Rows: 32, Columns: 32})
	if err != nil {
		t.Fatal(err)
	}
	var files [][]byte
	g.Walk(func(in *synth.Instance) error {
		if len(files) < n {
			var buf bytes.Buffer
			if _, err := in.File.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			files = append(files, buf.Bytes())
		}
		return nil
	})
	if len(files) < n {
		t.Fatalf("synth made %d files, want %d", len(files), n)
	}
	return files
}

// TestRecover simulates a power loss: instances indexed after the last mark whose files
// did not survive are removed from the index at the next start; those indexed before the
// mark are not even looked at; a clean stop needs no check at all.
func TestRecover(t *testing.T) {
	files := synthFiles(t, 8)
	backends(t, withFiles, func(t *testing.T, a *Archive) {
		ctx := context.Background()
		a.stateDir = t.TempDir()
		clock := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
		a.now = func() time.Time { return clock }
		if rep, err := a.Recover(ctx); err != nil || rep.Unclean {
			t.Fatalf("first start: %+v, %v", rep, err)
		}
		ingest := func(data []byte) Outcome {
			out, err := a.Ingest(ctx, bytes.NewReader(data), int64(len(data)), Source{Kind: "test"})
			if err != nil || out.Status != Stored {
				t.Fatalf("ingest: %+v, %v", out, err)
			}
			return out
		}
		var before, after []Outcome
		for _, f := range files[:4] {
			before = append(before, ingest(f))
		}
		clock = clock.Add(time.Minute)
		if err := a.mark(ctx, false); err != nil { // what keepMarking does every second
			t.Fatal(err)
		}
		clock = clock.Add(time.Minute)
		for _, f := range files[4:] {
			after = append(after, ingest(f))
		}
		// The power goes: marking stops without a clean state, and two files written
		// after the mark are lost or torn. A file before the mark is damaged too (by
		// something else): the check must not reach it.
		a.stopMarks()
		<-a.marksDone
		a.stopMarks = nil
		key := func(o Outcome) string { return InstanceKey(o.StudyUID, o.SeriesUID, o.SOPUID) }
		if err := a.blobs.Delete(ctx, key(after[0])); err != nil {
			t.Fatal(err)
		}
		if _, err := a.blobs.Put(ctx, key(after[1]), bytes.NewReader(make([]byte, 100))); err != nil {
			t.Fatal(err)
		}
		if _, err := a.blobs.Put(ctx, key(before[0]), bytes.NewReader(make([]byte, 100))); err != nil {
			t.Fatal(err)
		}
		c0, _ := a.ix.Counts(ctx)

		rep, err := a.Recover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Unclean || rep.Checked != len(after) || rep.Removed != 2 {
			t.Fatalf("recovery %+v, want unclean, %d checked, 2 removed", rep, len(after))
		}
		for i, o := range after {
			_, err := a.ix.Get(ctx, o.SOPUID)
			if gone := errors.Is(err, index.ErrNotFound); gone != (i < 2) || (err != nil && !gone) {
				t.Errorf("instance %d after the mark: Get error %v", i, err)
			}
		}
		if _, err := a.ix.Get(ctx, before[0].SOPUID); err != nil {
			t.Errorf("instance before the mark was removed: %v", err)
		}
		c1, _ := a.ix.Counts(ctx)
		if c1.Instances != c0.Instances-2 {
			t.Errorf("index holds %d instances, want %d", c1.Instances, c0.Instances-2)
		}
		// The lost instances can be sent again.
		for _, f := range files[4:6] {
			ingest(f)
		}
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if rep, err := a.Recover(ctx); err != nil || rep.Unclean || rep.Checked != 0 {
			t.Fatalf("after a clean stop: %+v, %v", rep, err)
		}
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRecoverPacks simulates a power loss with packs: the database lost the rows of
// instances whose pack records were flushed (and so acknowledged); Recover indexes them
// again from the records. A row whose record was torn is removed, and a record of a
// segment before the last mark is not read at all.
func TestRecoverPacks(t *testing.T) {
	files := synthFiles(t, 8)
	dir := t.TempDir()
	a := openTB(t, filepath.Join(dir, "node.db"), "file://"+filepath.Join(dir, "blobs"), false)
	// One record per segment, so that each can be damaged alone.
	ps, err := pack.Open(filepath.Join(dir, "packs"), pack.Options{SegmentSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	a.packs = ps
	ctx := context.Background()
	a.stateDir = t.TempDir()
	clock := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return clock }
	if rep, err := a.Recover(ctx); err != nil || rep.Unclean {
		t.Fatalf("first start: %+v, %v", rep, err)
	}
	ingest := func(data []byte) (Outcome, index.Instance) {
		out, err := a.Ingest(ctx, bytes.NewReader(data), int64(len(data)), Source{Kind: "dimse", Peer: "PACS"})
		if err != nil || out.Status != Stored {
			t.Fatalf("ingest: %+v, %v", out, err)
		}
		in, err := a.ix.Get(ctx, out.SOPUID)
		if err != nil || !pack.IsLoc(in.BlobKey) {
			t.Fatalf("stored instance: %+v, %v", in, err)
		}
		return out, in
	}
	var before, after []index.Instance
	for _, f := range files[:4] {
		_, in := ingest(f)
		before = append(before, in)
	}
	clock = clock.Add(time.Minute)
	if err := a.mark(ctx, false); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	for _, f := range files[4:] {
		_, in := ingest(f)
		after = append(after, in)
	}
	a.stopMarks()
	<-a.marksDone
	a.stopMarks = nil
	// The power goes. The database loses its last commits: the rows of after[1] and
	// after[2] (whose records were flushed), and, to show that old segments are not
	// read again, that of before[0]. The record of after[0] is torn: its row survived.
	// The row of after[3] is lost too, and its record damaged in place: it cannot be
	// indexed again.
	for _, in := range []index.Instance{after[1], after[2], after[3], before[0]} {
		if err := a.ix.Delete(ctx, in.SOPUID, clock); err != nil {
			t.Fatal(err)
		}
	}
	loc, _ := pack.ParseLoc(after[0].BlobKey)
	if err := os.Truncate(filepath.Join(dir, "packs", fmt.Sprintf("%08d.pack", loc.Segment)), loc.Offset+loc.Length/2); err != nil {
		t.Fatal(err)
	}
	loc3, _ := pack.ParseLoc(after[3].BlobKey)
	seg3, err := os.OpenFile(filepath.Join(dir, "packs", fmt.Sprintf("%08d.pack", loc3.Segment)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := make([]byte, 1)
	if _, err := seg3.ReadAt(last, loc3.Offset+loc3.Length-1); err != nil {
		t.Fatal(err)
	}
	if _, err := seg3.WriteAt([]byte{last[0] ^ 0xff}, loc3.Offset+loc3.Length-1); err != nil {
		t.Fatal(err)
	}
	seg3.Close()
	ps.Close() // the process ends
	ps, err = pack.Open(filepath.Join(dir, "packs"), pack.Options{SegmentSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	a.packs = ps

	rep, err := a.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Recovery{Unclean: true, Checked: 1, Removed: 1, Packs: Replayed{Records: 3, Indexed: 2, Damaged: 1}}
	if rep != want {
		t.Fatalf("recovery %+v, want %+v", rep, want)
	}
	if _, err := a.ix.Get(ctx, after[0].SOPUID); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("instance with a torn record: %v, want it removed", err)
	}
	if _, err := a.ix.Get(ctx, after[3].SOPUID); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("instance with a damaged record indexed again: %v", err)
	}
	if _, err := a.ix.Get(ctx, before[0].SOPUID); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("a segment before the mark was read again: %v", err)
	}
	for _, want := range after[1:3] {
		got, err := a.ix.Get(ctx, want.SOPUID)
		if err != nil {
			t.Fatalf("instance %s not indexed again: %v", want.SOPUID, err)
		}
		if got.BlobKey != want.BlobKey || got.SHA256 != want.SHA256 || got.Size != want.Size || got.Source != want.Source ||
			got.StudyUID != want.StudyUID || got.SeriesUID != want.SeriesUID || got.Rows != want.Rows || got.TransferSyntax != want.TransferSyntax {
			t.Errorf("indexed again as %+v, was %+v", got, want)
		}
		if a.check(ctx, got) != "" {
			t.Errorf("instance %s: %s", got.SOPUID, a.check(ctx, got))
		}
	}
	// The removed instance can be sent again; a re-indexed one is a duplicate.
	if out, _ := ingest(files[4]); out.SOPUID != after[0].SOPUID {
		t.Fatalf("sent again: %+v", out)
	}
	if out, err := a.Ingest(ctx, bytes.NewReader(files[5]), int64(len(files[5])), Source{Kind: "test"}); err != nil || out.Status != Duplicate {
		t.Fatalf("re-indexed instance sent again: %+v, %v", out, err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := a.Recover(ctx); err != nil || rep != (Recovery{}) {
		t.Fatalf("after a clean stop: %+v, %v", rep, err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
