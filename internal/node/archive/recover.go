package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/node/pack"
)

// The archive acknowledges an instance once its file and index row are on disk, flushed
// together with those of concurrent ingests (durable). A file is written under a
// temporary name and renamed, so a killed process never leaves a partial file under a
// real key. A power loss is another matter: an index row can reach the disk before the
// file it names (neither acknowledged). So the archive keeps a state file: "clean" after
// an orderly stop, and otherwise a time before which everything indexed is known to be on
// disk, advanced every markInterval. After a stop that was not clean, Recover checks each
// instance indexed since that time against its file (present, same SHA-256) and removes
// from the index those whose file did not survive.
//
// With packs (Options.Packs), an ingest waits for the flush of its pack record only, not
// for that of its index row: the state file also names the lowest pack segment that
// may hold records whose rows were not yet flushed, and after an unclean stop Recover
// reads those segments' records and indexes again any instance the index lost.

// stateFile is the archive's state file in Options.StateDir.
const stateFile = "ingest-state.json"

// markInterval is how often the state file's time advances while ingests go on, and
// recoverSlack how far before it Recover starts checking (clock steps, rounding).
const (
	markInterval = time.Second
	recoverSlack = 5 * time.Second
)

type ingestState struct {
	Clean bool `json:"clean"`
	// SyncedMS: every instance indexed before this time (Unix ms) is on disk.
	SyncedMS int64 `json:"synced_ms"`
	// PackSegment: every pack record in a lower segment has its index row on disk.
	PackSegment uint32 `json:"pack_segment,omitempty"`
}

// Recovery is what Recover found.
type Recovery struct {
	// Unclean is true if the node had not stopped in order.
	Unclean bool
	// Checked instances were indexed after the last mark; Removed of them had lost their file.
	Checked, Removed int
	// Packs is what was read back from the packs.
	Packs Replayed
}

// Recover runs at start, before any ingest: after an unclean stop it checks the recently
// indexed instances (see above). It then records that the archive is running and keeps
// the state file's time advancing until Close. Without Options.StateDir it does nothing.
func (a *Archive) Recover(ctx context.Context) (Recovery, error) {
	var rep Recovery
	if a.stateDir == "" {
		return rep, nil
	}
	st, err := a.readState()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, err
	}
	if err == nil && !st.Clean {
		rep.Unclean = true
		since := time.UnixMilli(st.SyncedMS).Add(-recoverSlack)
		recent, err := a.ix.Since(ctx, since)
		if err != nil {
			return rep, err
		}
		for _, in := range recent {
			rep.Checked++
			why := a.check(ctx, in)
			if why == "" {
				continue
			}
			if err := a.ix.Delete(ctx, in.SOPUID, a.now()); err != nil && !errors.Is(err, index.ErrNotFound) {
				return rep, fmt.Errorf("recovering: %w", err)
			}
			// A file is removed; what is left of a pack record stays in its segment,
			// unreferenced.
			if !pack.IsLoc(in.BlobKey) {
				if err := a.blobs.Delete(ctx, in.BlobKey); err != nil && !errors.Is(err, blob.ErrNotFound) {
					a.log.Warn("recovering: removing a damaged file", "key", in.BlobKey, "err", err)
				}
			}
			rep.Removed++
			a.log.Warn("recovering: instance removed from the index; it was never acknowledged, the sender will send it again",
				"sop", in.SOPUID, "reason", why)
		}
		if rep.Packs, err = a.replayPacks(ctx, st.PackSegment); err != nil {
			return rep, err
		}
		a.log.Info("recovered from an unclean stop", "checked", rep.Checked, "removed", rep.Removed, "since", since.UTC(),
			"pack_records", rep.Packs.Records, "reindexed", rep.Packs.Indexed, "damaged", rep.Packs.Damaged)
	}
	if err := a.writeState(ingestState{SyncedMS: a.now().UnixMilli(), PackSegment: a.lowPackSegment()}); err != nil {
		return rep, err
	}
	mctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stopMarks = stop
	a.marksDone = make(chan struct{})
	go a.keepMarking(mctx)
	return rep, nil
}

// check returns why an indexed instance's file is not what the index says ("" if it is).
func (a *Archive) check(ctx context.Context, in index.Instance) string {
	rc, err := a.Open(ctx, in)
	if err != nil {
		return "file missing: " + err.Error()
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	switch {
	case err != nil:
		return "file unreadable: " + err.Error()
	case n != in.Size:
		return fmt.Sprintf("file has %d bytes, the index says %d", n, in.Size)
	case hex.EncodeToString(h.Sum(nil)) != in.SHA256:
		return "file content differs from its recorded SHA-256"
	}
	return ""
}

// keepMarking advances the state file's time while ingests happen, until ctx ends.
func (a *Archive) keepMarking(ctx context.Context) {
	defer close(a.marksDone)
	t := time.NewTicker(markInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !a.dirty.Swap(false) {
				continue
			}
			if err := a.mark(ctx, false); err != nil {
				a.dirty.Store(true)
				a.log.Warn("recording ingest progress", "err", err)
			}
		}
	}
}

// mark flushes what was written so far and records it in the state file.
func (a *Archive) mark(ctx context.Context, clean bool) error {
	t := a.now()
	low := a.lowPackSegment()
	if err := a.flushAll(ctx); err != nil {
		return err
	}
	return a.writeState(ingestState{Clean: clean, SyncedMS: t.UnixMilli(), PackSegment: low})
}

// Close records an orderly stop; call it after the last ingest has returned.
func (a *Archive) Close(ctx context.Context) error {
	if a.stopMarks == nil {
		return nil
	}
	a.stopMarks()
	<-a.marksDone
	a.stopMarks = nil
	if err := a.mark(ctx, true); err != nil {
		return fmt.Errorf("closing the archive: %w", err)
	}
	return nil
}

func (a *Archive) readState() (ingestState, error) {
	var st ingestState
	data, err := os.ReadFile(filepath.Join(a.stateDir, stateFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		// A torn write of the state file: assume the worst, check everything.
		a.log.Warn("ingest state file unreadable; checking every instance", "err", err)
		return ingestState{}, nil
	}
	return st, nil
}

// writeState replaces the state file durably (temporary file, fsync, rename, fsync of
// the folder).
func (a *Archive) writeState(st ingestState) error {
	data, _ := json.Marshal(st)
	path := filepath.Join(a.stateDir, stateFile)
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing ingest state: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(a.stateDir); err == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("writing ingest state: %w", err)
	}
	return nil
}
