package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/node/pack"
)

// packLabel is the label of an instance's pack record: enough to index it again.
type packLabel struct {
	Key    string `json:"key"`
	Source string `json:"source"`
}

// appendFile appends the file data stored under key, received from source, to the
// packs (see putFile).
func (a *Archive) appendFile(key, source string, data []byte) (blob.Info, error) {
	// The digest is computed while the record is written.
	summed := make(chan [sha256.Size]byte, 1)
	go func() { summed <- sha256.Sum256(data) }()
	label, _ := json.Marshal(packLabel{Key: key, Source: source})
	a.inflightMu.Lock()
	loc, err := a.packs.Append(label, data)
	if err == nil {
		a.inflight[loc.Segment]++
	}
	a.inflightMu.Unlock()
	sum := <-summed
	if err != nil {
		return blob.Info{}, fmt.Errorf("storing %s: %w", key, err)
	}
	return blob.Info{Key: loc.String(), Size: loc.Length, SHA256: sum[:]}, nil
}

// indexed records that the index row of the instance stored under key (a pack
// location, or a blob key, which it ignores) was written or failed.
func (a *Archive) indexed(key string) {
	loc, ok := pack.ParseLoc(key)
	if !ok {
		return
	}
	a.inflightMu.Lock()
	defer a.inflightMu.Unlock()
	if a.inflight[loc.Segment]--; a.inflight[loc.Segment] <= 0 {
		delete(a.inflight, loc.Segment)
	}
}

// lowPackSegment is the lowest pack segment that may hold an instance whose index row
// is not written yet: the lowest with one in flight, else the one appended to. Every
// record in a lower segment had its row written before this returned.
func (a *Archive) lowPackSegment() uint32 {
	if a.packs == nil {
		return 0
	}
	a.inflightMu.Lock()
	defer a.inflightMu.Unlock()
	low := a.packs.Current()
	for seg := range a.inflight {
		low = min(low, seg)
	}
	return low
}

// Open opens a stored instance's file for reading, from its pack or blob. A missing
// one fails with an error that matches blob.ErrNotFound.
func (a *Archive) Open(ctx context.Context, in index.Instance) (io.ReadCloser, error) {
	loc, ok := pack.ParseLoc(in.BlobKey)
	if !ok {
		return a.blobs.Get(ctx, in.BlobKey)
	}
	if a.packs == nil {
		return nil, fmt.Errorf("instance %s is kept in a pack, and this archive has none", in.SOPUID)
	}
	r, err := a.packs.Reader(loc)
	if errors.Is(err, pack.ErrNotFound) {
		return nil, fmt.Errorf("instance %s: %w: %w", in.SOPUID, blob.ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.SOPUID, err)
	}
	return r, nil
}

// Replayed is what replayPacks did.
type Replayed struct {
	// Records were read; Indexed of them had lost their index row and have it again.
	Records, Indexed int
	// Damaged records were skipped (unreadable label, checksum, DICOM).
	Damaged int
}

// replayPacks indexes again the instances of the pack segments from seg on whose index
// row was lost with the database's last commits (a power loss): their records were
// flushed, and so perhaps acknowledged, before the rows were.
func (a *Archive) replayPacks(ctx context.Context, from uint32) (Replayed, error) {
	var rep Replayed
	if a.packs == nil {
		return rep, nil
	}
	segs, err := a.packs.Segments()
	if err != nil {
		return rep, err
	}
	for _, seg := range segs {
		if seg < from {
			continue
		}
		end, err := a.packs.Scan(ctx, seg, func(r pack.Record) error {
			rep.Records++
			done, err := a.replay(ctx, r)
			switch {
			case err != nil:
				return err
			case done == "indexed":
				rep.Indexed++
			case done != "":
				rep.Damaged++
				a.log.Warn("recovering: pack record skipped", "loc", r.Loc.String(), "reason", done)
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("recovering from pack segment %d: %w", seg, err)
		}
		if end.Torn != "" {
			a.log.Info("recovering: pack segment ends in a record never acknowledged", "segment", seg, "detail", end.Torn)
		}
	}
	return rep, nil
}

// replay indexes one record if its instance is not in the index. It returns "" if the
// index had it, "indexed", or why the record was skipped; an error only if the index
// fails.
func (a *Archive) replay(ctx context.Context, r pack.Record) (string, error) {
	var lab packLabel
	if err := json.Unmarshal(r.Label, &lab); err != nil || !strings.HasSuffix(lab.Key, ".dcm") {
		return "label unreadable", nil
	}
	sop := strings.TrimSuffix(path.Base(lab.Key), ".dcm")
	if _, err := a.ix.Get(ctx, sop); err == nil {
		return "", nil
	} else if !errors.Is(err, index.ErrNotFound) {
		return "", err
	}
	if r.Loc.Length > smallFile {
		return "larger than an instance kept in a pack", nil
	}
	sr, err := a.packs.Reader(r.Loc)
	if err != nil {
		return err.Error(), nil
	}
	data := make([]byte, r.Loc.Length) // at most smallFile, checked above
	_, err = io.ReadFull(sr, data)
	sr.Close()
	if err == nil {
		err = r.Check(data)
	}
	if err != nil {
		return err.Error(), nil
	}
	f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
	if err != nil {
		return err.Error(), nil
	}
	rec, err := index.FromDataset(f.Dataset, f.TS.UID)
	if err != nil {
		return err.Error(), nil
	}
	if rec.SOPUID != sop {
		return "label names another instance", nil
	}
	sum := sha256.Sum256(data)
	rec.Size, rec.SHA256, rec.BlobKey, rec.Source = r.Loc.Length, hex.EncodeToString(sum[:]), r.Loc.String(), lab.Source
	if _, err := a.ix.Put(ctx, rec, a.now()); err != nil {
		return "", err
	}
	a.log.Warn("recovering: instance indexed again from its pack record", "sop", sop, "loc", r.Loc.String())
	return "indexed", nil
}
