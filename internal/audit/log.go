package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

const (
	// DefaultCheckpointInterval is how often a new checkpoint is published
	// when Options.CheckpointInterval is zero.
	DefaultCheckpointInterval = time.Second
	// minCheckpointInterval is the smallest interval tessera's POSIX driver accepts.
	minCheckpointInterval = 100 * time.Millisecond
	// witnessedDir is the folder, inside the log directory, that holds the
	// checkpoints countersigned by the hub.
	witnessedDir = "witnessed"
	// pollInterval is how often Flush looks for a new checkpoint.
	pollInterval = 10 * time.Millisecond
)

// Options configure Open.
type Options struct {
	// Dir is the log's directory (created if missing).
	Dir string
	// Origin is the log's name, the first line of its checkpoints. It must
	// equal Signer.Name(); if empty, Signer.Name() is used.
	Origin string
	// Signer signs checkpoints (the role's Ed25519 key). Required.
	Signer note.Signer
	// Verifier is Signer's public half. Required.
	Verifier note.Verifier
	// Logger receives the log's own messages; nil discards them.
	Logger *slog.Logger
	// CheckpointInterval is how often a new checkpoint is published when the
	// log has grown (default 1s, at least 100ms).
	CheckpointInterval time.Duration
}

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	dir      string
	origin   string
	verifier note.Verifier
	logger   *slog.Logger

	appender *tessera.Appender
	reader   tessera.LogReader
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	now      func() time.Time

	mu      sync.Mutex // serialises Append and guards the fields below
	next    uint64     // index of the next entry
	prev    []byte     // leaf hash of entry next-1
	pending tessera.IndexFuture
	resync  bool
	closed  bool

	wmu           sync.Mutex
	lastWitnessed uint64
}

// Open opens the audit log in o.Dir, creating it if needed. An existing log is
// continued: Open reads its last entry to carry on the index and hash chain.
func Open(ctx context.Context, o Options) (*Log, error) {
	if o.Dir == "" {
		return nil, errors.New("audit: open: no directory")
	}
	if o.Signer == nil || o.Verifier == nil {
		return nil, errors.New("audit: open: signer and verifier are required")
	}
	if o.Origin == "" {
		o.Origin = o.Signer.Name()
	}
	if o.Origin != o.Signer.Name() {
		return nil, fmt.Errorf("audit: open: origin %q differs from the signer's name %q", o.Origin, o.Signer.Name())
	}
	if o.Verifier.Name() != o.Signer.Name() || o.Verifier.KeyHash() != o.Signer.KeyHash() {
		return nil, fmt.Errorf("audit: open: verifier %q is not the signer's key", o.Verifier.Name())
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.CheckpointInterval < minCheckpointInterval {
		return nil, fmt.Errorf("audit: open: checkpoint interval %v is below %v", o.CheckpointInterval, minCheckpointInterval)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("audit_log", o.Origin)

	// Refuse to continue a log signed by another key.
	if cp, err := os.ReadFile(filepath.Join(o.Dir, "checkpoint")); err == nil {
		if _, _, _, err := f_log.ParseCheckpoint(cp, o.Origin, o.Verifier); err != nil {
			return nil, fmt.Errorf("audit: open %s: existing checkpoint: %w: %v", o.Dir, ErrBadSignature, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("audit: open %s: %w", o.Dir, err)
	}

	if err := os.MkdirAll(filepath.Join(o.Dir, witnessedDir), 0o755); err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: o.Dir})
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", o.Dir, err)
	}
	// tessera's background work must outlive ctx; Close stops it.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(o.Signer).
		WithCheckpointInterval(o.CheckpointInterval).
		// Append is serialised: a single entry is flushed at once (no
		// waiting for a batch to fill), and the entries of one AppendBatch,
		// added together, mostly land in one flush.
		WithBatching(maxBatch, 0)
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("audit: open %s: %w", o.Dir, err)
	}
	l := &Log{
		dir:      o.Dir,
		origin:   o.Origin,
		verifier: o.Verifier,
		logger:   logger,
		appender: appender,
		reader:   reader,
		shutdown: shutdown,
		cancel:   cancel,
		now:      time.Now,
	}
	if err := l.syncTail(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("audit: open %s: %w", o.Dir, err)
	}
	sizes, err := l.witnessedSizes()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("audit: open %s: %w", o.Dir, err)
	}
	if len(sizes) > 0 {
		l.lastWitnessed = sizes[len(sizes)-1]
	}
	logger.DebugContext(ctx, "audit log opened", "dir", o.Dir, "size", l.next, "witnessed", l.lastWitnessed)
	return l, nil
}

// maxBatch is the most entries tessera writes in one flush.
const maxBatch = 256

// syncTail sets next and prev from the log on disk. Called with mu held (or
// before the Log is shared).
func (l *Log) syncTail(ctx context.Context) error {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("reading log size: %w", err)
	}
	l.next, l.prev = size, nil
	if size > 0 {
		last := size - 1
		entries, _, err := readBundle(l.dir, last/256, size)
		if err != nil {
			return fmt.Errorf("reading last entry: %w", err)
		}
		if uint64(len(entries)) <= last%256 {
			return fmt.Errorf("reading last entry %d: %w: entry bundle is short", last, ErrTampered)
		}
		raw := entries[last%256]
		l.prev = leafHash(raw)
		// The chain continues from the bytes the tree holds, whatever they
		// are; a damaged entry is reported (Verify names it), not hidden.
		if e, err := parseEntry(raw); err != nil {
			l.logger.ErrorContext(ctx, "audit log: last entry does not parse; run `cie audit verify`", "index", last, "err", err)
		} else if e.Index != last {
			l.logger.ErrorContext(ctx, "audit log: last entry has a wrong index; run `cie audit verify`", "index", last, "embedded", e.Index)
		}
	}
	l.resync = false
	return nil
}

// Append adds e to the log and returns its index once it is durably
// sequenced and integrated into the tree (a checkpoint covering it follows
// within CheckpointInterval; Flush waits for it).
func (l *Log) Append(ctx context.Context, e Event) (uint64, error) {
	return l.AppendBatch(ctx, []Event{e})
}

// AppendBatch adds events to the log, in order, and returns the index of the first
// once all are durably sequenced and integrated. Entries given together are written
// together (tessera integrates them in as few batches as it can), which costs far less
// than appending them one by one.
func (l *Log) AppendBatch(ctx context.Context, events []Event) (uint64, error) {
	if len(events) == 0 {
		return 0, errors.New("audit: append: no events")
	}
	for _, e := range events {
		if e.Type == "" || e.Actor == "" {
			return 0, errors.New("audit: append: event needs a type and an actor")
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if l.pending != nil {
		// A previous Append gave up waiting; its entry may still land.
		if _, err := awaitIndex(ctx, l.pending); err != nil && ctx.Err() != nil {
			return 0, fmt.Errorf("audit: append: waiting for an earlier entry: %w", err)
		}
		l.pending = nil
		l.resync = true
	}
	if l.resync {
		if err := l.syncTail(ctx); err != nil {
			return 0, fmt.Errorf("audit: append: %w", err)
		}
	}
	first, prev, now := l.next, l.prev, l.now().UTC()
	datas := make([][]byte, len(events))
	for i, e := range events {
		data, err := marshalEntry(Entry{Index: first + uint64(i), Time: now, Event: e, Prev: prev})
		if err != nil {
			return 0, fmt.Errorf("audit: append %s: %w", e.Type, err)
		}
		datas[i], prev = data, leafHash(data)
	}
	futures := make([]tessera.IndexFuture, len(datas))
	for i, d := range datas {
		futures[i] = l.appender.Add(ctx, tessera.NewEntry(d))
	}
	for i, f := range futures {
		idx, err := awaitIndex(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				l.pending = futures[len(futures)-1]
			}
			l.resync = true
			return 0, fmt.Errorf("audit: append %s: %w", events[i].Type, err)
		}
		if want := first + uint64(i); idx.Index != want {
			l.resync = true
			l.logger.ErrorContext(ctx, "audit log: entry sequenced at an unexpected index; is another process writing this log?",
				"want", want, "got", idx.Index)
			return 0, fmt.Errorf("audit: append %s: sequenced at %d, expected %d (another writer?)", events[i].Type, idx.Index, want)
		}
	}
	l.next += uint64(len(datas))
	l.prev = prev
	return first, nil
}

// awaitIndex resolves f, giving up when ctx ends.
func awaitIndex(ctx context.Context, f tessera.IndexFuture) (tessera.Index, error) {
	type result struct {
		idx tessera.Index
		err error
	}
	ch := make(chan result, 1)
	go func() {
		idx, err := f()
		ch <- result{idx, err}
	}()
	select {
	case r := <-ch:
		return r.idx, r.err
	case <-ctx.Done():
		return tessera.Index{}, ctx.Err()
	}
}

// Size returns the number of entries appended to the log so far.
func (l *Log) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// Flush waits until every entry appended so far is integrated and covered
// by a published checkpoint.
func (l *Log) Flush(ctx context.Context) error {
	_, err := l.waitCheckpoint(ctx)
	return err
}

// Checkpoint returns the latest published signed checkpoint, waiting for
// one that covers every entry appended so far.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	return l.waitCheckpoint(ctx)
}

func (l *Log) waitCheckpoint(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	want, closed := l.next, l.closed
	l.mu.Unlock()
	if closed {
		// After Close, tessera is stopped but the files are final.
		cp, _, err := l.readCheckpoint(ctx)
		return cp, err
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		cp, size, err := l.readCheckpoint(ctx)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err == nil && size >= want {
			return cp, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("audit: waiting for a checkpoint of size %d: %w", want, ctx.Err())
		case <-t.C:
		}
	}
}

// readCheckpoint reads and checks the published checkpoint.
func (l *Log) readCheckpoint(ctx context.Context) ([]byte, uint64, error) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: reading checkpoint: %w", err)
	}
	cp, _, _, err := f_log.ParseCheckpoint(raw, l.origin, l.verifier)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: reading checkpoint: %w: %v", ErrBadSignature, err)
	}
	return raw, cp.Size, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes oldSize and newSize (oldSize <= newSize <= the integrated size).
// It is empty when oldSize is 0 or equals newSize.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize uint64) ([][]byte, error) {
	if oldSize > newSize {
		return nil, fmt.Errorf("audit: consistency proof from %d to %d: sizes reversed", oldSize, newSize)
	}
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof: reading size: %w", err)
	}
	if newSize > size {
		return nil, fmt.Errorf("audit: consistency proof to %d: the log has only %d entries", newSize, size)
	}
	if oldSize == 0 || oldSize == newSize {
		return [][]byte{}, nil
	}
	pb, err := client.NewProofBuilder(ctx, newSize, l.reader.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof: %w", err)
	}
	p, err := pb.ConsistencyProof(ctx, oldSize, newSize)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof from %d to %d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// Entries returns up to n entries starting at index from, in order; fewer
// if the log ends first. An entry that does not parse is an error naming it.
func (l *Log) Entries(ctx context.Context, from uint64, n int) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: entries: reading size: %w", err)
	}
	if from >= size {
		return nil, nil
	}
	end := min(from+uint64(n), size)
	out := make([]Entry, 0, end-from)
	for b := from / 256; b*256 < end; b++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		raws, _, err := readBundle(l.dir, b, size)
		if err != nil {
			return nil, fmt.Errorf("audit: entries: %w", err)
		}
		for i, raw := range raws {
			idx := b*256 + uint64(i)
			if idx < from || idx >= end {
				continue
			}
			e, err := parseEntry(raw)
			if err != nil {
				return nil, fmt.Errorf("audit: entry %d: %w: %v", idx, ErrTampered, err)
			}
			out = append(out, e)
		}
		if want := min(end, (b+1)*256) - b*256; uint64(len(raws)) < want {
			return nil, fmt.Errorf("audit: entry %d: %w: missing", b*256+uint64(len(raws)), ErrTampered)
		}
	}
	return out, nil
}

// SaveWitnessed stores a checkpoint of this log countersigned by the hub in
// Dir/witnessed/<size>, atomically. The checkpoint must carry this log's
// signature.
func (l *Log) SaveWitnessed(cosigned []byte) error {
	cp, _, n, err := f_log.ParseCheckpoint(cosigned, l.origin, l.verifier)
	if err != nil {
		return fmt.Errorf("audit: save witnessed checkpoint: %w: %v", ErrBadSignature, err)
	}
	if len(n.Sigs)+len(n.UnverifiedSigs) < 2 {
		return errors.New("audit: save witnessed checkpoint: it carries no cosignature")
	}
	dir := filepath.Join(l.dir, witnessedDir)
	if err := writeFileAtomic(dir, strconv.FormatUint(cp.Size, 10), cosigned); err != nil {
		return fmt.Errorf("audit: save witnessed checkpoint %d: %w", cp.Size, err)
	}
	l.wmu.Lock()
	l.lastWitnessed = max(l.lastWitnessed, cp.Size)
	l.wmu.Unlock()
	return nil
}

// LastWitnessedSize returns the size of the largest checkpoint saved with
// SaveWitnessed (0 if none).
func (l *Log) LastWitnessedSize() uint64 {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.lastWitnessed
}

// witnessedSizes lists the sizes in Dir/witnessed, ascending.
func (l *Log) witnessedSizes() ([]uint64, error) {
	return witnessedSizes(l.dir)
}

func witnessedSizes(dir string) ([]uint64, error) {
	des, err := os.ReadDir(filepath.Join(dir, witnessedDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing witnessed checkpoints: %w", err)
	}
	var sizes []uint64
	for _, de := range des {
		if s, err := strconv.ParseUint(de.Name(), 10, 64); err == nil && de.Type().IsRegular() {
			sizes = append(sizes, s)
		}
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	return sizes, nil
}

// Close waits (within ctx) until every appended entry is covered by a
// published checkpoint and stops the log. Further calls do nothing.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.shutdown(ctx)
	l.cancel()
	if err != nil {
		return fmt.Errorf("audit: close %s: %w", l.dir, err)
	}
	return nil
}

// writeFileAtomic writes data to dir/name through a synced temporary file
// and a rename.
func writeFileAtomic(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
