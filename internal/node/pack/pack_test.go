package pack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

func payload(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*7 + j*13)
	}
	return b
}

func readAll(t *testing.T, s *Store, l Loc) []byte {
	t.Helper()
	r, err := s.Reader(l)
	if err != nil {
		t.Fatalf("Reader(%s): %v", l, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scanAll(t *testing.T, s *Store, seg uint32) ([]Record, ScanEnd) {
	t.Helper()
	var recs []Record
	end, err := s.Scan(context.Background(), seg, func(r Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatalf("Scan(%d): %v", seg, err)
	}
	return recs, end
}

func TestAppendReadScan(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentSize: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	var locs []Loc
	for i := 0; i < 20; i++ {
		l, err := s.Append([]byte(fmt.Sprintf("rec-%d", i)), payload(i, 1000+i*100))
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, l)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	fds := openFiles(t)
	for i, l := range locs {
		if got := readAll(t, s, l); !bytes.Equal(got, payload(i, 1000+i*100)) {
			t.Fatalf("record %d: payload differs", i)
		}
		back, ok := ParseLoc(l.String())
		if !ok || back != l {
			t.Fatalf("ParseLoc(%q) = %v, %v", l.String(), back, ok)
		}
	}
	segs, err := s.Segments()
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 3 {
		t.Fatalf("20 records of over 1,000 bytes in segments of 10,000: %d segments, want several", len(segs))
	}
	// Scan finds every record, in order, with its label, and each verifies.
	i := 0
	for _, seg := range segs {
		recs, end := scanAll(t, s, seg)
		if end.Torn != "" {
			t.Fatalf("segment %d: torn: %s", seg, end.Torn)
		}
		for _, r := range recs {
			if string(r.Label) != fmt.Sprintf("rec-%d", i) || r.Loc != locs[i] {
				t.Fatalf("record %d: label %q loc %s, want rec-%d at %s", i, r.Label, r.Loc, i, locs[i])
			}
			if err := r.Check(readAll(t, s, r.Loc)); err != nil {
				t.Fatal(err)
			}
			i++
		}
	}
	if i != len(locs) {
		t.Fatalf("scan found %d records, want %d", i, len(locs))
	}
	if n := openFiles(t); n != fds {
		t.Fatalf("%d files open after reading, scanning and verifying, %d before", n, fds)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}

	// A store opened again reads the old records and appends to a new segment.
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := readAll(t, s2, locs[5]); !bytes.Equal(got, payload(5, 1500)) {
		t.Fatal("record 5 differs after reopening")
	}
	l, err := s2.Append([]byte("new"), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Segment != segs[len(segs)-1]+1 {
		t.Fatalf("append after reopening went to segment %d, want a new one (%d)", l.Segment, segs[len(segs)-1]+1)
	}
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Append([]byte("a"), payload(1, 5000))
	b, _ := s.Append([]byte("b"), payload(2, 5000))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := s.path(a.Segment)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want int // whole records found
	}{
		{"intact", whole, 2},
		{"cut in the payload", whole[:len(whole)-10], 1},
		{"cut in the header", whole[:b.Offset-10], 1},
		{"stray bytes", append(append([]byte{}, whole...), 1, 2, 3), 2},
		{"garbage after", append(append([]byte{}, whole...), bytes.Repeat([]byte{0xff}, 100)...), 2},
		{"zeros after (a power loss)", append(append([]byte{}, whole...), make([]byte, 4096)...), 2},
		{"flipped length", flip(whole, int(b.Offset-int64(headerSize+1))+12), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.data, 0o640); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			recs, end := scanAll(t, s, a.Segment)
			if len(recs) != tc.want {
				t.Fatalf("found %d records, want %d", len(recs), tc.want)
			}
			if (tc.want == 2 && len(tc.data) == len(whole)) != (end.Torn == "") {
				t.Fatalf("torn = %q", end.Torn)
			}
			if end.Offset != recEnd(tc.want, a, b) {
				t.Fatalf("end offset %d, want %d", end.Offset, recEnd(tc.want, a, b))
			}
		})
	}
	// A payload changed in place: its header is intact, Check finds it.
	if err := os.WriteFile(path, flip(whole, int(a.Offset)+100), 0o640); err != nil {
		t.Fatal(err)
	}
	s, _ = Open(dir, Options{})
	defer s.Close()
	recs, _ := scanAll(t, s, a.Segment)
	if err := recs[0].Check(readAll(t, s, recs[0].Loc)); err == nil {
		t.Fatal("Check accepted a changed payload")
	}
	if err := recs[1].Check(readAll(t, s, recs[1].Loc)); err != nil {
		t.Fatal(err)
	}
	// A location past the segment's end is not found.
	if _, err := s.Reader(Loc{Segment: a.Segment, Offset: b.Offset, Length: b.Length + 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Reader past the end: %v, want ErrNotFound", err)
	}
	if _, err := s.Reader(Loc{Segment: 99, Offset: headerSize, Length: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Reader of a missing segment: %v, want ErrNotFound", err)
	}
}

func recEnd(n int, a, b Loc) int64 {
	switch n {
	case 1:
		return a.Offset + a.Length
	case 2:
		return b.Offset + b.Length
	}
	return 0
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x40
	return c
}

func TestConcurrentAppendSync(t *testing.T) {
	s, err := Open(t.TempDir(), Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, each = 8, 40
	locs := make([][]Loc, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				l, err := s.Append([]byte{byte(w), byte(i)}, payload(w*each+i, 3000))
				if err != nil {
					t.Error(err)
					return
				}
				if err := s.Sync(context.Background()); err != nil {
					t.Error(err)
					return
				}
				locs[w] = append(locs[w], l)
			}
		}()
	}
	wg.Wait()
	seen := map[[2]byte]bool{}
	segs, _ := s.Segments()
	for _, seg := range segs {
		recs, end := scanAll(t, s, seg)
		if end.Torn != "" {
			t.Fatal(end.Torn)
		}
		for _, r := range recs {
			seen[[2]byte{r.Label[0], r.Label[1]}] = true
			if err := r.Check(readAll(t, s, r.Loc)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("scan found %d records, want %d", len(seen), writers*each)
	}
	for w := range locs {
		for i, l := range locs[w] {
			if !bytes.Equal(readAll(t, s, l), payload(w*each+i, 3000)) {
				t.Fatalf("writer %d record %d differs", w, i)
			}
		}
	}
}

func TestParseLocRejects(t *testing.T) {
	for _, s := range []string{"", "pack:", "pack:1:2", "pack:0:28:1", "pack:1:3:1", "pack:1:28:-1", "pack:x:28:1", "dicom/1/2/3.dcm", "pack:1:28:1:2", "pack:4294967296:28:1"} {
		if IsLoc(s) {
			t.Errorf("IsLoc(%q) = true", s)
		}
	}
	if _, err := (&Store{}).Append(make([]byte, MaxLabel+1), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("long label: %v", err)
	}
}

// FuzzScan: whatever a segment holds, Scan neither fails nor allocates beyond the
// file, and every record it reports lies inside it.
func FuzzScan(f *testing.F) {
	good := append(header([]byte("label"), []byte("payload")), []byte("payload")...)
	f.Add(good)
	f.Add(append(append([]byte{}, good...), good[:20]...))
	f.Add(good[:27])
	f.Add([]byte("CIEp"))
	f.Add(bytes.Repeat([]byte{0}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		end, err := scan(context.Background(), bytes.NewReader(data), int64(len(data)), 1, func(r Record) error {
			if r.Loc.Offset < headerSize || r.Loc.Offset+r.Loc.Length > int64(len(data)) || len(r.Label) > MaxLabel {
				t.Fatalf("record %v outside the %d-byte segment", r.Loc, len(data))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if end.Offset > int64(len(data)) || (end.Offset < int64(len(data)) && end.Torn == "") {
			t.Fatalf("end %+v for %d bytes", end, len(data))
		}
	})
}

func BenchmarkAppendSync(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := payload(1, 133<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := s.Append([]byte("dicom/1/2/3.dcm"), p); err != nil {
			b.Fatal(err)
		}
		if err := s.Sync(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// openFiles counts the process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}
