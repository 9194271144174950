package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/dicomjson"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/node/pack"
	"github.com/cancerimage/cie/internal/store"
)

// Status is what became of an ingested file.
type Status string

// The outcomes of Ingest.
const (
	Stored      Status = "stored"
	Duplicate   Status = "duplicate"
	Quarantined Status = "quarantined"
)

// ReasonUnreadable is the quarantine reason of a file that is not DICOM the codec can read.
const ReasonUnreadable = "unreadable"

// ErrNotQuarantined is returned for a quarantine id that does not exist.
var ErrNotQuarantined = errors.New("no such quarantined file")

// Source says where a file came from.
type Source struct {
	// Kind is "dimse", "stow", "upload" or "ingest".
	Kind string
	// Peer is the calling AE title, user or address.
	Peer string
	// Name is the file's name in an upload or folder, if it had one.
	Name string
}

func (s Source) String() string {
	if s.Peer == "" {
		return s.Kind
	}
	return s.Kind + ":" + s.Peer
}

// Outcome is the result of ingesting one file.
type Outcome struct {
	Status Status
	// The de-identified identifiers, for Stored and Duplicate.
	StudyUID, SeriesUID, SOPUID, SOPClassUID string
	// Size is the stored file's size.
	Size int64
	// For Quarantined: why, and the id to release or delete it by.
	Reason, Detail, QuarantineID string
}

// Archive ingests, stores and finds instances. It is safe for concurrent use.
type Archive struct {
	db     *store.DB
	ix     *index.Index
	blobs  *blob.Store
	packs  *pack.Store
	engine *deid.Engine
	audit  *audit.Log
	log    *slog.Logger
	now    func() time.Time

	// Crash recovery (recover.go): the state file's folder, whether anything was
	// ingested since the last mark, and the marking goroutine.
	stateDir  string
	dirty     atomic.Bool
	stopMarks context.CancelFunc
	marksDone chan struct{}

	// inflight counts, per pack segment, the instances appended to it whose index row
	// is not written yet (see mark).
	inflightMu sync.Mutex
	inflight   map[uint32]int

	putter *putter // writes the index rows of ingests
}

// Options wire an Archive.
type Options struct {
	DB    *store.DB
	Blobs *blob.Store
	// Packs, if set, holds the instances (the quarantine and metadata stay in Blobs):
	// an ingest then costs one append and one shared flush (see package pack), and the
	// index rows need no flush of their own, for Recover rebuilds lost ones from the
	// packs. Without it, each instance is a file in Blobs.
	Packs  *pack.Store
	Engine *deid.Engine
	Audit  *audit.Log
	Logger *slog.Logger
	// StateDir is where the archive keeps its crash-recovery state (see Recover); none
	// if empty.
	StateDir string
}

// New returns an archive.
func New(o Options) *Archive {
	ix := index.New(o.DB)
	return &Archive{db: o.DB, ix: ix, putter: &putter{ix: ix}, blobs: o.Blobs, packs: o.Packs, engine: o.Engine, audit: o.Audit, log: o.Logger, now: time.Now,
		stateDir: o.StateDir, inflight: map[uint32]int{}}
}

// Index returns the archive's index.
func (a *Archive) Index() *index.Index { return a.ix }

// DB returns the archive's SQL store.
func (a *Archive) DB() *store.DB { return a.db }

// Audit returns the log the archive writes its events to.
func (a *Archive) Audit() *audit.Log { return a.audit }

// Blobs returns the archive's blob store.
func (a *Archive) Blobs() *blob.Store { return a.blobs }

// InstanceKey is the blob key of a stored instance (when the archive has no packs, or
// the label of its pack record), and MetadataKey that of its DICOM JSON metadata.
func InstanceKey(study, series, sop string) string {
	return "dicom/" + study + "/" + series + "/" + sop + ".dcm"
}

// MetadataKey is the blob key of the DICOM JSON metadata of a stored instance.
func MetadataKey(study, series, sop string) string {
	return "dicom/" + study + "/" + series + "/" + sop + ".json"
}

// Ingest parses, de-identifies, stores and indexes the file of size bytes read from r.
// It returns an error only when the node cannot do its part (the stores fail, ctx ends);
// a file that is bad or unsafe is an Outcome with Status Quarantined and no error.
func (a *Archive) Ingest(ctx context.Context, r io.ReaderAt, size int64, src Source) (Outcome, error) {
	f, err := dicom.Parse(r, size, dicom.ParseOptions{})
	if err != nil {
		return a.quarantine(ctx, r, size, src, ReasonUnreadable, err.Error())
	}
	res, err := a.engine.Apply(f)
	var qe *deid.QuarantineError
	if errors.As(err, &qe) {
		return a.quarantine(ctx, r, size, src, qe.Reason, qe.Detail)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("de-identifying: %w", err)
	}
	return a.store(ctx, f, res, src, size)
}

// IngestDataset is Ingest for a bare data set of size bytes in transfer syntax ts, as a
// DIMSE C-STORE delivers it: it is wrapped into a Part 10 file with a meta group naming the
// SOP class and instance and the sender's AE title, then goes through the same pipeline.
func (a *Archive) IngestDataset(ctx context.Context, r io.ReaderAt, size int64, ts dicom.TransferSyntax, sopClass, sopInstance string, src Source) (Outcome, error) {
	ds, err := dicom.ParseDataset(r, size, ts, dicom.ParseOptions{})
	if err != nil {
		return a.quarantine(ctx, r, size, src, ReasonUnreadable, err.Error())
	}
	f, err := dicom.NewFile(ds, ts, sopClass, sopInstance, src.Peer)
	if err != nil {
		return a.quarantine(ctx, r, size, src, ReasonUnreadable, err.Error())
	}
	res, err := a.engine.Apply(f)
	var qe *deid.QuarantineError
	if errors.As(err, &qe) {
		// Keep what was received, as a Part 10 file: re-read the data set, unchanged.
		ds, perr := dicom.ParseDataset(r, size, ts, dicom.ParseOptions{})
		if perr == nil {
			if orig, ferr := dicom.NewFile(ds, ts, sopClass, sopInstance, src.Peer); ferr == nil {
				return a.quarantineFile(ctx, orig, src, qe.Reason, qe.Detail)
			}
		}
		return a.quarantine(ctx, r, size, src, qe.Reason, qe.Detail)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("de-identifying: %w", err)
	}
	return a.store(ctx, f, res, src, size)
}

// store writes the de-identified f (received as size bytes) and indexes it, and returns
// once both are on disk.
func (a *Archive) store(ctx context.Context, f *dicom.File, res deid.Result, src Source, size int64) (Outcome, error) {
	out := Outcome{StudyUID: res.StudyUID, SeriesUID: res.SeriesUID, SOPUID: res.InstanceUID, SOPClassUID: res.SOPClassUID}
	rec, err := index.FromDataset(f.Dataset, f.TS.UID)
	if err != nil {
		return a.quarantineFile(ctx, f, src, "cannot-index", err.Error())
	}
	if _, err := a.ix.Get(ctx, rec.SOPUID); err == nil {
		// Already here; another ingest of it may still be on its way to the disk.
		out.Status = Duplicate
		return out, a.durable(ctx, false)
	} else if !errors.Is(err, index.ErrNotFound) {
		return out, err
	}
	key := InstanceKey(rec.StudyUID, rec.SeriesUID, rec.SOPUID)
	rec.Source = src.String()
	info, err := a.putFile(ctx, key, rec.Source, f, size)
	if err != nil {
		return out, err
	}
	rec.Size, rec.SHA256, rec.BlobKey = info.Size, hex.EncodeToString(info.SHA256), info.Key
	// A pack record's flush goes on while the index row is written: both must be done
	// before the instance is acknowledged, neither needs the other.
	packed := pack.IsLoc(info.Key)
	var flushed chan error
	if packed {
		flushed = make(chan error, 1)
		go func() { flushed <- a.durable(ctx, true) }()
	}
	added, err := a.putter.put(ctx, rec, a.now())
	a.indexed(info.Key)
	if err != nil {
		return out, err
	}
	if packed {
		err = <-flushed
	} else {
		err = a.durable(ctx, false)
	}
	if err != nil {
		return out, err
	}
	out.Size = info.Size
	out.Status = Stored
	if !added {
		out.Status = Duplicate // another ingest of the same instance won the race
	}
	return out, nil
}

// durable returns once every file and index row written before it was called is on disk:
// the blob store's and the database's flushes run at the same time, each shared with
// the concurrent ingests that wait for it (group commit). With packs, the packs' flush
// is all: an index row lost with the database's last commits is rebuilt from its pack
// record by Recover. packed says that only pack records were written; otherwise every
// store is flushed.
func (a *Archive) durable(ctx context.Context, packed bool) error {
	if packed {
		if err := a.packs.Sync(ctx); err != nil {
			return fmt.Errorf("making the ingest durable: %w", err)
		}
		a.dirty.Store(true)
		return nil
	}
	if err := a.flushAll(ctx); err != nil {
		return fmt.Errorf("making the ingest durable: %w", err)
	}
	a.dirty.Store(true)
	return nil
}

// flushAll flushes the blob store, the packs and the database at the same time, each
// flush shared with the concurrent callers that wait for it (group commit).
func (a *Archive) flushAll(ctx context.Context) error {
	flushes := []func(context.Context) error{a.blobs.Sync, a.db.Sync}
	if a.packs != nil {
		flushes = append(flushes, a.packs.Sync)
	}
	errs := make(chan error, len(flushes)-1)
	for _, flush := range flushes[1:] {
		go func() { errs <- flush(ctx) }()
	}
	err := flushes[0](ctx)
	for range flushes[1:] {
		err = errors.Join(err, <-errs)
	}
	return err
}

// smallFile is the size up to which an instance is written from one buffer; larger ones
// are streamed.
const smallFile = 32 << 20

var fileBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putFile writes f (received as size bytes from source) into the packs, or into the
// blob store under key, not yet flushed (see durable). The returned Info's Key is the
// pack location or the blob key. After a pack append, the caller calls indexed once
// the index row is written (or failed).
func (a *Archive) putFile(ctx context.Context, key, source string, f *dicom.File, size int64) (blob.Info, error) {
	if size < smallFile {
		buf := fileBufs.Get().(*bytes.Buffer)
		defer func() {
			if buf.Cap() <= smallFile {
				buf.Reset()
				fileBufs.Put(buf)
			}
		}()
		if _, err := f.WriteTo(buf); err != nil {
			return blob.Info{}, fmt.Errorf("storing %s: %w", key, err)
		}
		if a.packs != nil {
			return a.appendFile(key, source, buf.Bytes())
		}
		info, err := a.blobs.PutUnsynced(ctx, key, bytes.NewReader(buf.Bytes()))
		if err != nil {
			return info, fmt.Errorf("storing %s: %w", key, err)
		}
		return info, nil
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := f.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	info, err := a.blobs.PutUnsynced(ctx, key, pr)
	pr.CloseWithError(errors.New("blob store stopped reading"))
	if err != nil {
		return info, fmt.Errorf("storing %s: %w", key, err)
	}
	return info, nil
}

// Metadata returns the DICOM JSON of a stored instance, with Bulk Data URIs relative to
// the instance's URL ("bulkdata/<tag path>"). It is made from the stored file on first
// use and kept beside it (a cache: losing it loses nothing), so ingest writes one object
// per instance.
func (a *Archive) Metadata(ctx context.Context, in index.Instance) ([]byte, error) {
	key := MetadataKey(in.StudyUID, in.SeriesUID, in.SOPUID)
	if rc, err := a.blobs.Get(ctx, key); err == nil {
		data, err := io.ReadAll(rc)
		rc.Close()
		if err == nil {
			return data, nil
		}
	}
	rc, err := a.Open(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", in.SOPUID, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", in.SOPUID, err)
	}
	f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", in.SOPUID, err)
	}
	meta, err := metadata(f.Dataset)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", in.SOPUID, err)
	}
	if _, err := a.blobs.Put(ctx, key, bytes.NewReader(meta)); err != nil {
		a.log.Warn("keeping metadata", "sop", in.SOPUID, "err", err)
	}
	return meta, nil
}

// metadata is the instance's DICOM JSON, with Bulk Data URIs relative to the instance's
// URL ("bulkdata/<tag path>"); the DICOMweb service makes them absolute.
func metadata(ds *dicom.Dataset) ([]byte, error) {
	obj, err := dicomjson.Encode(ds, nil, dicomjson.Options{BulkURI: func(path []dicom.Tag, e *dicom.Element) string {
		s := "bulkdata"
		for _, t := range path {
			s += "/" + dicomjson.Key(t)
		}
		return s
	}})
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// quarantine keeps the file as received, with its reason.
func (a *Archive) quarantine(ctx context.Context, r io.ReaderAt, size int64, src Source, reason, detail string) (Outcome, error) {
	return a.keep(ctx, io.NewSectionReader(r, 0, size), src, reason, detail)
}

// quarantineFile keeps a parsed file (which a de-identification may have changed in
// part: it is kept for the data holder's eyes only, as everything in quarantine).
func (a *Archive) quarantineFile(ctx context.Context, f *dicom.File, src Source, reason, detail string) (Outcome, error) {
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return Outcome{}, fmt.Errorf("quarantining: %w", err)
	}
	return a.keep(ctx, &buf, src, reason, detail)
}

func (a *Archive) keep(ctx context.Context, r io.Reader, src Source, reason, detail string) (Outcome, error) {
	id := newID()
	key := "quarantine/" + id + ".dcm"
	info, err := a.blobs.Put(ctx, key, r)
	if err != nil {
		return Outcome{}, fmt.Errorf("quarantining: %w", err)
	}
	if _, err := a.db.Exec(ctx, `INSERT INTO quarantine (id, received_ms, source, name, reason, detail, size, blob_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, a.now().UnixMilli(), src.String(), src.Name, reason, detail, info.Size, key); err != nil {
		return Outcome{}, fmt.Errorf("quarantining: %w", err)
	}
	if err := a.durable(ctx, false); err != nil {
		return Outcome{}, fmt.Errorf("quarantining: %w", err)
	}
	a.log.Info("file quarantined", "id", id, "source", src.String(), "name", src.Name, "reason", reason, "detail", detail)
	return Outcome{Status: Quarantined, Reason: reason, Detail: detail, QuarantineID: id, Size: info.Size}, nil
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// QuarantinedFile is a file in quarantine.
type QuarantinedFile struct {
	ID       string
	Received time.Time
	Source   string
	Name     string
	Reason   string
	Detail   string
	Size     int64
}

// Quarantine lists the quarantined files, newest first, at most limit.
func (a *Archive) Quarantine(ctx context.Context, limit int) ([]QuarantinedFile, int, error) {
	var total int
	if err := a.db.QueryRow(ctx, `SELECT COUNT(*) FROM quarantine`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting quarantine: %w", err)
	}
	rows, err := a.db.Query(ctx, `SELECT id, received_ms, source, name, reason, detail, size FROM quarantine
		ORDER BY received_ms DESC, id LIMIT ?`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("listing quarantine: %w", err)
	}
	defer rows.Close()
	var out []QuarantinedFile
	for rows.Next() {
		var q QuarantinedFile
		var ms int64
		if err := rows.Scan(&q.ID, &ms, &q.Source, &q.Name, &q.Reason, &q.Detail, &q.Size); err != nil {
			return nil, 0, fmt.Errorf("listing quarantine: %w", err)
		}
		q.Received = time.UnixMilli(ms).UTC()
		out = append(out, q)
	}
	return out, total, rows.Err()
}

func (a *Archive) quarantined(ctx context.Context, id string) (QuarantinedFile, string, error) {
	var q QuarantinedFile
	var key string
	var ms int64
	err := a.db.QueryRow(ctx, `SELECT id, received_ms, source, name, reason, detail, size, blob_key FROM quarantine WHERE id = ?`, id).
		Scan(&q.ID, &ms, &q.Source, &q.Name, &q.Reason, &q.Detail, &q.Size, &key)
	if errors.Is(err, sql.ErrNoRows) {
		return q, "", fmt.Errorf("quarantine %s: %w", id, ErrNotQuarantined)
	}
	q.Received = time.UnixMilli(ms).UTC()
	return q, key, err
}

// Release de-identifies a quarantined file with the full profile but without the checks
// that quarantined it (the data holder, actor, vouches for it), stores it and removes it
// from quarantine. A file the codec cannot read cannot be released.
func (a *Archive) Release(ctx context.Context, id, actor string) (Outcome, error) {
	q, key, err := a.quarantined(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if q.Reason == ReasonUnreadable {
		return Outcome{}, fmt.Errorf("quarantine %s: the file is not DICOM the node can read (%s); it can only be deleted", id, q.Detail)
	}
	rc, err := a.blobs.Get(ctx, key)
	if err != nil {
		return Outcome{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return Outcome{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
	if err != nil {
		return Outcome{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	res, err := a.engine.ApplyReleased(f)
	if err != nil {
		return Outcome{}, fmt.Errorf("quarantine %s cannot be released: %w", id, err)
	}
	out, err := a.store(ctx, f, res, Source{Kind: "released", Peer: actor, Name: q.Name}, int64(len(data)))
	if err != nil {
		return out, err
	}
	if out.Status == Quarantined {
		return out, fmt.Errorf("quarantine %s cannot be released: %s", id, out.Detail)
	}
	if _, err := a.audit.Append(ctx, audit.Event{Type: "quarantine.released", Actor: actor, Subject: id,
		Fields: map[string]string{"reason": q.Reason, "source": q.Source, "name": q.Name, "sop_instance_uid": out.SOPUID}}); err != nil {
		return out, fmt.Errorf("logging release: %w", err)
	}
	return out, a.drop(ctx, id, key)
}

// Delete removes a quarantined file for good.
func (a *Archive) Delete(ctx context.Context, id, actor string) error {
	q, key, err := a.quarantined(ctx, id)
	if err != nil {
		return err
	}
	if _, err := a.audit.Append(ctx, audit.Event{Type: "quarantine.deleted", Actor: actor, Subject: id,
		Fields: map[string]string{"reason": q.Reason, "source": q.Source, "name": q.Name, "size": strconv.FormatInt(q.Size, 10)}}); err != nil {
		return fmt.Errorf("logging deletion: %w", err)
	}
	return a.drop(ctx, id, key)
}

func (a *Archive) drop(ctx context.Context, id, key string) error {
	if _, err := a.db.Exec(ctx, `DELETE FROM quarantine WHERE id = ?`, id); err != nil {
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	if err := a.blobs.Delete(ctx, key); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	return nil
}

// Batch counts the outcomes of one ingest (an association, a request, an upload) and
// records it in the ingests table when it ends.
type Batch struct {
	a       *Archive
	id      string
	src     Source
	started time.Time

	mu                                sync.Mutex
	stored, dups, quarantined, failed int
	bytes                             int64
}

// Begin starts a batch.
func (a *Archive) Begin(ctx context.Context, src Source) (*Batch, error) {
	b := &Batch{a: a, id: newID(), src: src, started: a.now()}
	if _, err := a.db.Exec(ctx, `INSERT INTO ingests (id, source, started_ms) VALUES (?, ?, ?)`, b.id, src.String(), b.started.UnixMilli()); err != nil {
		return nil, fmt.Errorf("starting ingest: %w", err)
	}
	return b, nil
}

// IngestDataset ingests one bare data set (see Archive.IngestDataset) as part of the batch.
func (b *Batch) IngestDataset(ctx context.Context, r io.ReaderAt, size int64, ts dicom.TransferSyntax, sopClass, sopInstance string) (Outcome, error) {
	out, err := b.a.IngestDataset(ctx, r, size, ts, sopClass, sopInstance, b.src)
	b.Count(out, err)
	return out, err
}

// Ingest ingests one file as part of the batch.
func (b *Batch) Ingest(ctx context.Context, r io.ReaderAt, size int64, name string) (Outcome, error) {
	src := b.src
	src.Name = name
	out, err := b.a.Ingest(ctx, r, size, src)
	b.Count(out, err)
	return out, err
}

// Count adds an outcome to the batch's counts.
func (b *Batch) Count(out Outcome, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err != nil:
		b.failed++
	case out.Status == Stored:
		b.stored++
		b.bytes += out.Size
	case out.Status == Duplicate:
		b.dups++
	case out.Status == Quarantined:
		b.quarantined++
	}
}

// End records the batch's counts.
func (b *Batch) End(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.a.db.Exec(ctx, `UPDATE ingests SET ended_ms = ?, stored = ?, duplicates = ?, quarantined = ?, failed = ?, bytes = ?
		WHERE id = ?`, b.a.now().UnixMilli(), b.stored, b.dups, b.quarantined, b.failed, b.bytes, b.id); err != nil {
		return fmt.Errorf("ending ingest: %w", err)
	}
	return nil
}

// IngestRun is one row of the ingests table.
type IngestRun struct {
	ID                                      string
	Source                                  string
	Started                                 time.Time
	Ended                                   *time.Time
	Stored, Duplicates, Quarantined, Failed int
	Bytes                                   int64
}

// Recent lists the last ingests, newest first.
func (a *Archive) Recent(ctx context.Context, limit int) ([]IngestRun, error) {
	rows, err := a.db.Query(ctx, `SELECT id, source, started_ms, ended_ms, stored, duplicates, quarantined, failed, bytes
		FROM ingests ORDER BY started_ms DESC, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing ingests: %w", err)
	}
	defer rows.Close()
	var out []IngestRun
	for rows.Next() {
		var r IngestRun
		var start int64
		var end sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Source, &start, &end, &r.Stored, &r.Duplicates, &r.Quarantined, &r.Failed, &r.Bytes); err != nil {
			return nil, fmt.Errorf("listing ingests: %w", err)
		}
		r.Started = time.UnixMilli(start).UTC()
		if end.Valid {
			t := time.UnixMilli(end.Int64).UTC()
			r.Ended = &t
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
