package pack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/groupcommit"
	"golang.org/x/sys/unix"
)

// Errors.
var (
	// ErrNotFound: no record at that location (its segment is missing or shorter).
	ErrNotFound = errors.New("pack: no such record")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("pack: store closed")
	// ErrTooLarge: a label longer than MaxLabel.
	ErrTooLarge = errors.New("pack: label too long")
)

// Record layout constants (see the package documentation).
const (
	magic      = "CIEp"
	version    = 1
	headerSize = 28
	// MaxLabel is the longest label a record may have.
	MaxLabel = 4096
)

// DefaultSegmentSize is the size after which a store starts a new segment.
const DefaultSegmentSize = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Loc is where a record's payload is: its segment's number, the payload's offset in it
// and its length.
type Loc struct {
	Segment uint32
	Offset  int64
	Length  int64
}

// locPrefix starts the text form of a Loc, which callers keep as a storage key.
const locPrefix = "pack:"

// String is the text form "pack:SEGMENT:OFFSET:LENGTH", which ParseLoc reads.
func (l Loc) String() string {
	return locPrefix + strconv.FormatUint(uint64(l.Segment), 10) + ":" + strconv.FormatInt(l.Offset, 10) + ":" + strconv.FormatInt(l.Length, 10)
}

// ParseLoc reads the text form of a Loc; ok is false if s is not one.
func ParseLoc(s string) (l Loc, ok bool) {
	rest, found := strings.CutPrefix(s, locPrefix)
	if !found {
		return Loc{}, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return Loc{}, false
	}
	seg, err1 := strconv.ParseUint(parts[0], 10, 32)
	off, err2 := strconv.ParseInt(parts[1], 10, 64)
	n, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || seg == 0 || off < headerSize || n < 0 {
		return Loc{}, false
	}
	return Loc{Segment: uint32(seg), Offset: off, Length: n}, true
}

// IsLoc reports whether s is the text form of a Loc.
func IsLoc(s string) bool {
	_, ok := ParseLoc(s)
	return ok
}

// Store appends records to the segments in one folder and reads them back. It is safe
// for concurrent use.
type Store struct {
	dir     string
	maxSize int64
	syncer  *groupcommit.Committer

	mu     sync.Mutex
	closed bool
	cur    *os.File // the segment appended to; nil until the first Append
	curSeg uint32
	curEnd int64
	next   uint32              // the number the next new segment gets
	dirty  map[uint32]*os.File // segments written since their last flush
}

// Options configure Open.
type Options struct {
	// SegmentSize is the size after which a new segment is started
	// (DefaultSegmentSize if 0).
	SegmentSize int64
}

// Open opens (creating if needed) the store in dir. Appends go to a new segment,
// numbered after the highest one present.
func Open(dir string, o Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("opening pack store %s: %w", dir, err)
	}
	s := &Store{dir: dir, maxSize: o.SegmentSize, dirty: map[uint32]*os.File{}}
	if s.maxSize <= 0 {
		s.maxSize = DefaultSegmentSize
	}
	segs, err := s.Segments()
	if err != nil {
		return nil, err
	}
	s.next = 1
	if len(segs) > 0 {
		s.next = segs[len(segs)-1] + 1
	}
	s.syncer = groupcommit.New(s.flush)
	return s, nil
}

// Dir returns the store's folder.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(seg uint32) string {
	return filepath.Join(s.dir, fmt.Sprintf("%08d.pack", seg))
}

// Segments lists the numbers of the segments present, in increasing order.
func (s *Store) Segments() ([]uint32, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing pack segments in %s: %w", s.dir, err)
	}
	var out []uint32
	for _, e := range ents {
		num, ok := strings.CutSuffix(e.Name(), ".pack")
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil || n == 0 {
			continue
		}
		out = append(out, uint32(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Current returns the number of the segment the next Append writes to (an existing one,
// or the number a new one will get).
func (s *Store) Current() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.curEnd < s.maxSize {
		return s.curSeg
	}
	return s.next
}

// header builds a record's header and label.
func header(label []byte, payload []byte) []byte {
	h := make([]byte, headerSize+len(label))
	copy(h, magic)
	h[4] = version
	binary.LittleEndian.PutUint32(h[8:], uint32(len(label)))
	binary.LittleEndian.PutUint64(h[12:], uint64(len(payload)))
	binary.LittleEndian.PutUint32(h[20:], crc32.Checksum(payload, castagnoli))
	copy(h[headerSize:], label)
	c := crc32.Update(crc32.Checksum(h[:24], castagnoli), castagnoli, label)
	binary.LittleEndian.PutUint32(h[24:], c)
	return h
}

// Append writes a record and returns where its payload is. The record is not durable
// until Sync returns.
func (s *Store) Append(label, payload []byte) (Loc, error) {
	if len(label) > MaxLabel {
		return Loc{}, fmt.Errorf("appending to pack store: %w (%d bytes)", ErrTooLarge, len(label))
	}
	h := header(label, payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Loc{}, ErrClosed
	}
	if s.cur == nil || s.curEnd >= s.maxSize {
		if err := s.startLocked(); err != nil {
			return Loc{}, err
		}
	}
	start := s.curEnd
	if err := writeAll(s.cur, [][]byte{h, payload}); err != nil {
		// Leave no torn record for later ones to follow: cut it off, or, if that
		// fails, append to a new segment from now on.
		if terr := s.cur.Truncate(start); terr != nil {
			s.retireLocked()
		}
		return Loc{}, fmt.Errorf("appending to pack segment %s: %w", s.path(s.curSeg), err)
	}
	s.curEnd += int64(len(h) + len(payload))
	s.dirty[s.curSeg] = s.cur
	return Loc{Segment: s.curSeg, Offset: start + int64(len(h)), Length: int64(len(payload))}, nil
}

// writeAll writes bufs in order with as few system calls as it can.
func writeAll(f *os.File, bufs [][]byte) error {
	fd := int(f.Fd())
	for len(bufs) > 0 {
		n, err := unix.Writev(fd, bufs)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		for n > 0 && len(bufs) > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
				continue
			}
			bufs[0] = bufs[0][n:]
			n = 0
		}
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
	}
	return nil
}

// startLocked starts a new segment: created, and its name flushed into the folder, so
// a flush of its data is all a record in it needs to be durable.
func (s *Store) startLocked() error {
	s.retireLocked()
	for try := 0; ; try++ {
		seg := s.next
		s.next++
		f, err := os.OpenFile(s.path(seg), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
		if errors.Is(err, os.ErrExist) && try < 100 {
			continue // made by another process meanwhile
		}
		if err != nil {
			return fmt.Errorf("starting pack segment: %w", err)
		}
		if err := blob.SyncDir(s.dir); err != nil {
			f.Close()
			os.Remove(f.Name())
			return err
		}
		s.cur, s.curSeg, s.curEnd = f, seg, 0
		return nil
	}
}

// retireLocked stops appending to the current segment. The next flush flushes and
// closes it (it is marked as written even if it was flushed already, for a flush
// running now may hold it; only a flush closes a segment it was given).
func (s *Store) retireLocked() {
	if s.cur == nil {
		return
	}
	s.dirty[s.curSeg] = s.cur
	s.cur = nil
}

// Sync returns once every record appended before it was called is on disk. Concurrent
// callers share one flush.
func (s *Store) Sync(ctx context.Context) error {
	return s.syncer.Wait(ctx)
}

// flush flushes the segments written since their last flush, and closes those no
// longer appended to (once flushed, and not given to a later flush).
func (s *Store) flush(context.Context) error {
	s.mu.Lock()
	files := s.dirty
	s.dirty = map[uint32]*os.File{}
	s.mu.Unlock()
	var errs []error
	for seg, f := range files {
		err := unix.Fdatasync(int(f.Fd()))
		s.mu.Lock()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("flushing pack segment %s: %w", s.path(seg), err))
			// Flush it again next time: its records must not be promised.
			s.dirty[seg] = f
		case f != s.cur && s.dirty[seg] != f && !s.closed:
			f.Close()
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// open opens segment seg for reading; the caller closes it.
func (s *Store) open(seg uint32) (*os.File, int64, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, 0, ErrClosed
	}
	f, err := os.Open(s.path(seg))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("pack segment %d: %w", seg, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("opening pack segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("reading pack segment %d: %w", seg, err)
	}
	return f, fi.Size(), nil
}

// Section is a record's payload, open for reading (each Section has a file of its
// own, so none is left open once the readers are done). Close releases it.
type Section struct {
	*io.SectionReader
	f *os.File
}

// Close closes the section's file.
func (r *Section) Close() error { return r.f.Close() }

// Reader opens the payload at loc; the caller closes it. It fails with ErrNotFound if
// the segment is missing or too short to hold it.
func (s *Store) Reader(loc Loc) (*Section, error) {
	f, size, err := s.open(loc.Segment)
	if err != nil {
		return nil, err
	}
	if loc.Offset+loc.Length > size {
		f.Close()
		return nil, fmt.Errorf("record %s: %w (segment has %d bytes)", loc, ErrNotFound, size)
	}
	return &Section{SectionReader: io.NewSectionReader(f, loc.Offset, loc.Length), f: f}, nil
}

// Record is one record found by Scan.
type Record struct {
	Label []byte
	Loc   Loc
	// CRC is the payload's recorded CRC-32C; Check checks a payload against it.
	CRC uint32
}

// Check checks payload, the record's payload as read back, against its checksum.
func (r Record) Check(payload []byte) error {
	if int64(len(payload)) != r.Loc.Length {
		return fmt.Errorf("record %s: %d bytes read, %d recorded", r.Loc, len(payload), r.Loc.Length)
	}
	if crc32.Checksum(payload, castagnoli) != r.CRC {
		return fmt.Errorf("record %s: payload checksum mismatch", r.Loc)
	}
	return nil
}

// ScanEnd tells why Scan stopped.
type ScanEnd struct {
	// Offset is where the last whole record ends.
	Offset int64
	// Torn is set if bytes follow that are not a whole, valid record header (a
	// crash during an append, or damage), and says what was wrong.
	Torn string
}

// Scan calls fn for each record of segment seg in order, until fn returns an error
// (which Scan returns) or the records end. A record's header is checked before its
// lengths are trusted; its payload is not read (see Check).
func (s *Store) Scan(ctx context.Context, seg uint32, fn func(Record) error) (ScanEnd, error) {
	f, size, err := s.open(seg)
	if err != nil {
		return ScanEnd{}, err
	}
	defer f.Close()
	return scan(ctx, f, size, seg, fn)
}

// scan reads the records of a segment of size bytes from r.
func scan(ctx context.Context, r io.ReaderAt, size int64, seg uint32, fn func(Record) error) (ScanEnd, error) {
	var off int64
	hdr := make([]byte, headerSize)
	for off < size {
		if err := ctx.Err(); err != nil {
			return ScanEnd{Offset: off}, err
		}
		if size-off < headerSize {
			return ScanEnd{Offset: off, Torn: fmt.Sprintf("%d stray bytes at the end", size-off)}, nil
		}
		if err := readAt(r, hdr, off); err != nil {
			return ScanEnd{Offset: off}, fmt.Errorf("reading pack segment %d at %d: %w", seg, off, err)
		}
		if string(hdr[:4]) != magic || hdr[4] != version || hdr[5]|hdr[6]|hdr[7] != 0 {
			return ScanEnd{Offset: off, Torn: fmt.Sprintf("no record header at offset %d", off)}, nil
		}
		labelLen := int64(binary.LittleEndian.Uint32(hdr[8:]))
		payloadLen := binary.LittleEndian.Uint64(hdr[12:])
		if labelLen > MaxLabel || size-off-headerSize < labelLen {
			return ScanEnd{Offset: off, Torn: fmt.Sprintf("label of %d bytes at offset %d does not fit", labelLen, off)}, nil
		}
		label := make([]byte, labelLen) // bounded by MaxLabel and checked against the file
		if err := readAt(r, label, off+headerSize); err != nil {
			return ScanEnd{Offset: off}, fmt.Errorf("reading pack segment %d at %d: %w", seg, off, err)
		}
		c := crc32.Update(crc32.Checksum(hdr[:24], castagnoli), castagnoli, label)
		if c != binary.LittleEndian.Uint32(hdr[24:]) {
			return ScanEnd{Offset: off, Torn: fmt.Sprintf("record header at offset %d fails its checksum", off)}, nil
		}
		start := off + headerSize + labelLen
		if payloadLen > uint64(size-start) {
			return ScanEnd{Offset: off, Torn: fmt.Sprintf("record at offset %d is cut short", off)}, nil
		}
		rec := Record{Label: label, Loc: Loc{Segment: seg, Offset: start, Length: int64(payloadLen)}, CRC: binary.LittleEndian.Uint32(hdr[20:])}
		if err := fn(rec); err != nil {
			return ScanEnd{Offset: off}, err
		}
		off = start + int64(payloadLen)
	}
	return ScanEnd{Offset: off}, nil
}

// readAt fills b from r at off; an io.EOF with b filled is no error.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Close flushes what was appended and closes the segments it appends to. Sections
// opened before stay readable until closed.
func (s *Store) Close() error {
	err := s.Sync(context.Background())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return err
	}
	s.closed = true
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	for seg, f := range s.dirty {
		f.Close()
		delete(s.dirty, seg)
	}
	return err
}
