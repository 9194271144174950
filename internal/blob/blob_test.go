package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cancerimage/cie/internal/testenv"
)

func TestFile(t *testing.T) {
	runSuite(t, "file://"+t.TempDir())
}

func TestS3(t *testing.T) {
	runSuite(t, testenv.S3(t))
}

// runSuite checks the Store contract against the store at url, which must be
// empty. Every backend runs the same suite.
func runSuite(t *testing.T, url string) {
	ctx := t.Context()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	// Each subtest works under its own prefix, so they cannot see each
	// other's objects.
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, s, "roundtrip/") })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, s, "empty/") })
	t.Run("Large", func(t *testing.T) { testLarge(t, s, "large/") })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, s, "overwrite/") })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, s, "notfound/") })
	t.Run("List", func(t *testing.T) { testList(t, s, "list/") })
	t.Run("Delete", func(t *testing.T) { testDelete(t, s, "delete/") })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, s) })
	t.Run("ReaderFails", func(t *testing.T) { testReaderFails(t, s, "fail/") })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, s, "cancel/") })
	t.Run("ConcurrentOverwrite", func(t *testing.T) { testConcurrentOverwrite(t, s, "concurrent/") })
	t.Run("Unsynced", func(t *testing.T) { testUnsynced(t, s, "unsynced/") })
	// Last: nothing any subtest aborted may be visible or left over.
	t.Run("NoLeftovers", func(t *testing.T) { testNoLeftovers(t, s) })
}

// data returns n deterministic pseudo-random bytes for seed.
func data(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 1})
	_, _ = r.Read(b)
	return b
}

// stream is an io.Reader of n deterministic pseudo-random bytes that are
// generated as they are read, never held whole in memory.
type stream struct {
	r    *rand.ChaCha8
	left int64
	h    interface{ Write([]byte) (int, error) } // hash of what was read, or nil
}

func newStream(seed uint64, n int64) *stream {
	return &stream{r: rand.NewChaCha8([32]byte{byte(seed), 2}), left: n}
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, _ := s.r.Read(p)
	s.left -= int64(n)
	if s.h != nil {
		_, _ = s.h.Write(p[:n])
	}
	return n, nil
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func mustPut(t *testing.T, s *Store, key string, b []byte) Info {
	t.Helper()
	info, err := s.Put(t.Context(), key, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(b)) || !bytes.Equal(info.SHA256, sum(b)) {
		t.Fatalf("Put(%s) = {%s %d %x}, want {%s %d %x}", key, info.Key, info.Size, info.SHA256, key, len(b), sum(b))
	}
	return info
}

func mustGet(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	r, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return b
}

func wantNotFound(t *testing.T, s *Store, key string) {
	t.Helper()
	ctx := t.Context()
	if r, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		if err == nil {
			r.Close()
		}
		t.Errorf("Get(%s) error = %v, want ErrNotFound", key, err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat(%s) error = %v, want ErrNotFound", key, err)
	}
}

func listKeys(t *testing.T, s *Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), prefix, func(i Info) error {
		keys = append(keys, i.Key)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func testRoundTrip(t *testing.T, s *Store, p string) {
	want := data(1, 100_000)
	key := p + "a/b/1.2.840.10008.dcm"
	mustPut(t, s, key, want)
	if got := mustGet(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get(%s) returned %d bytes that differ from the %d put", key, len(got), len(want))
	}
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != key || info.Size != int64(len(want)) || info.ModTime.IsZero() || info.SHA256 != nil {
		t.Errorf("Stat(%s) = %+v", key, info)
	}
	// A key with spaces, unicode and characters gocloud escapes internally.
	odd := p + "Ünïcödé dir/a b+c=d&e__0x41__.dcm"
	mustPut(t, s, odd, []byte("odd"))
	if got := mustGet(t, s, odd); string(got) != "odd" {
		t.Errorf("Get(%q) = %q", odd, got)
	}
	if keys := listKeys(t, s, p+"Ü"); !slices.Equal(keys, []string{odd}) {
		t.Errorf("List(%q) = %q, want %q", p+"Ü", keys, odd)
	}
}

func testEmpty(t *testing.T, s *Store, p string) {
	mustPut(t, s, p+"zero", nil)
	if got := mustGet(t, s, p+"zero"); len(got) != 0 {
		t.Errorf("empty object read back as %d bytes", len(got))
	}
}

// testLarge streams 20 MB through Put (more than one S3 multipart part) and
// back through Get, comparing hashes rather than holding both copies.
func testLarge(t *testing.T, s *Store, p string) {
	const size = 20 << 20
	key := p + "big"
	src := newStream(7, size)
	h := sha256.New()
	src.h = h
	info, err := s.Put(t.Context(), key, src)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info.Size != size || !bytes.Equal(info.SHA256, h.Sum(nil)) {
		t.Fatalf("Put = size %d sha %x, want %d %x", info.Size, info.SHA256, size, h.Sum(nil))
	}
	r, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	gh := sha256.New()
	n, err := io.Copy(gh, r)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || !bytes.Equal(gh.Sum(nil), info.SHA256) {
		t.Fatalf("Get returned %d bytes, sha %x; want %d, %x", n, gh.Sum(nil), size, info.SHA256)
	}
	if st, err := s.Stat(t.Context(), key); err != nil || st.Size != size {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
}

func testOverwrite(t *testing.T, s *Store, p string) {
	key := p + "k"
	mustPut(t, s, key, data(1, 5000))
	second := data(2, 1234) // shorter: no stale tail may survive
	mustPut(t, s, key, second)
	if got := mustGet(t, s, key); !bytes.Equal(got, second) {
		t.Fatalf("after overwrite Get returned %d bytes, want the %d of the second Put", len(got), len(second))
	}
	if st, err := s.Stat(t.Context(), key); err != nil || st.Size != int64(len(second)) {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	if keys := listKeys(t, s, p); !slices.Equal(keys, []string{key}) {
		t.Fatalf("List = %q, want just %q", keys, key)
	}
}

func testNotFound(t *testing.T, s *Store, p string) {
	wantNotFound(t, s, p+"nothing")
	wantNotFound(t, s, p+"no/such/dir/file")
	if err := s.Delete(t.Context(), p+"nothing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete of absent key: %v, want ErrNotFound", err)
	}
	if keys := listKeys(t, s, p); len(keys) != 0 {
		t.Errorf("List(%q) = %q, want nothing", p, keys)
	}
	// A "folder" that exists because of a deeper key is not an object.
	mustPut(t, s, p+"dir/file", []byte("x"))
	wantNotFound(t, s, p+"dir")
}

func testList(t *testing.T, s *Store, p string) {
	// No key is also the "folder" of another ("a" and "a/1"): the file
	// backend cannot hold both (see TestFileKeyIsFolder).
	keys := []string{p + "a/1", p + "a/2", p + "a0", p + "ab", p + "b/c/d", p + "c"}
	for i, k := range keys {
		mustPut(t, s, k, data(uint64(i), 10+i))
	}
	// Another store's worth of keys that share the start of the prefix.
	mustPut(t, s, strings.TrimSuffix(p, "/")+"x", []byte("outside"))

	var infos []Info
	if err := s.List(t.Context(), p, func(i Info) error { infos = append(infos, i); return nil }); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, info := range infos {
		got = append(got, info.Key)
		if j := slices.Index(keys, info.Key); j >= 0 && info.Size != int64(10+j) || info.ModTime.IsZero() {
			t.Errorf("List entry %d = %+v", i, info)
		}
	}
	if !slices.Equal(got, keys) {
		t.Errorf("List(%q) = %q, want %q", p, got, keys)
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{p + "a", []string{p + "a/1", p + "a/2", p + "a0", p + "ab"}},
		{p + "a/", []string{p + "a/1", p + "a/2"}},
		{p + "b/", []string{p + "b/c/d"}},
		{p + "b/c/d", []string{p + "b/c/d"}},
		{p + "zzz", nil},
		{p + "nodir/", nil},
	} {
		if got := listKeys(t, s, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	// fn's error stops the listing and comes back.
	stop := errors.New("stop")
	calls := 0
	err := s.List(t.Context(), p, func(Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with failing fn: err %v after %d calls, want stop after 1", err, calls)
	}
}

func testDelete(t *testing.T, s *Store, p string) {
	mustPut(t, s, p+"x", []byte("x"))
	mustPut(t, s, p+"y/z", []byte("z"))
	for _, k := range []string{p + "x", p + "y/z"} {
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete(%s): %v", k, err)
		}
		wantNotFound(t, s, k)
		if err := s.Delete(t.Context(), k); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Delete(%s): %v, want ErrNotFound", k, err)
		}
	}
	if keys := listKeys(t, s, p); len(keys) != 0 {
		t.Errorf("List after Delete = %q", keys)
	}
	// A deleted key can be written again.
	mustPut(t, s, p+"x", []byte("again"))
	if got := mustGet(t, s, p+"x"); string(got) != "again" {
		t.Errorf("Get after re-Put = %q", got)
	}
}

var invalidKeys = []string{
	"", "/abs", "a/", "a//b", "./a", "a/./b", "..", "../a", "a/../b", "a/..",
	`a\b`, "a\x00b", "a\nb", "a\x7fb", "a\u0085b", "a\xffb",
	strings.Repeat("k", 1025), strings.Repeat("s", 232),
	"x.attrs", "d/f.dcm.1a2b3c.tmp", "f.0.tmp",
}

func TestValidKey(t *testing.T) {
	for _, k := range invalidKeys {
		if err := ValidKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	for _, k := range []string{
		"a", "a/b/c", "1.2.840.113619.2.55.dcm", "a b", "ü/ñ", ".hidden", "a..b", "...",
		"x.tmp", "x.dcm.tmp", "x.zz.tmp", ".1a.tmp", "x.attrs/y", strings.Repeat("s", 231),
		strings.Repeat("d/", 511) + "f",
	} {
		if err := ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", k, err)
		}
	}
}

func testInvalidKeys(t *testing.T, s *Store) {
	ctx := t.Context()
	for _, k := range invalidKeys {
		if _, err := s.Put(ctx, k, strings.NewReader("x")); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if r, err := s.Get(ctx, k); !errors.Is(err, ErrInvalidKey) {
			if err == nil {
				r.Close()
			}
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	for _, prefix := range []string{"/", "/a", "../", "a/../", "a//", `a\`, "a\x00"} {
		if err := s.List(ctx, prefix, func(Info) error { return nil }); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

// failingReader yields n bytes and then fails.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func failAfter(n int64) *failingReader {
	return &failingReader{r: newStream(3, n), err: errors.New("disk on fire")}
}

// testReaderFails: a Put whose reader fails stores nothing, for a new key and
// for an existing one (which keeps its old content), at sizes below one S3
// part (single PUT) and above (multipart upload).
func testReaderFails(t *testing.T, s *Store, p string) {
	for _, n := range []int64{0, 100_000, 12 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			key := fmt.Sprintf("%snew-%d", p, n)
			fr := failAfter(n)
			if _, err := s.Put(t.Context(), key, fr); !errors.Is(err, fr.err) {
				t.Fatalf("Put with failing reader = %v, want the reader's error", err)
			}
			wantNotFound(t, s, key)

			old := fmt.Sprintf("%sold-%d", p, n)
			oldData := data(9, 3000)
			mustPut(t, s, old, oldData)
			fr = failAfter(n)
			if _, err := s.Put(t.Context(), old, fr); !errors.Is(err, fr.err) {
				t.Fatalf("overwriting Put with failing reader = %v, want the reader's error", err)
			}
			if got := mustGet(t, s, old); !bytes.Equal(got, oldData) {
				t.Fatalf("failed overwrite changed the object: %d bytes, want the old %d", len(got), len(oldData))
			}
			if keys := listKeys(t, s, fmt.Sprintf("%snew-%d", p, n)); len(keys) != 0 {
				t.Fatalf("List shows %q after a failed Put", keys)
			}
		})
	}
}

// cancellingReader cancels its context after n bytes and goes on yielding
// data, as a client connection would that outlives its request.
type cancellingReader struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= int64(n); c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func testCancel(t *testing.T, s *Store, p string) {
	t.Run("Before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		key := p + "before"
		if _, err := s.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put with cancelled ctx = %v, want context.Canceled", err)
		}
		wantNotFound(t, s, key)
	})
	for _, n := range []int64{1, 100_000, 12 << 20} {
		t.Run(fmt.Sprint("During", n), func(t *testing.T) {
			key := fmt.Sprintf("%sduring-%d", p, n)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := &cancellingReader{r: newStream(4, 20<<20), n: n, cancel: cancel}
			if _, err := s.Put(ctx, key, r); !errors.Is(err, context.Canceled) {
				t.Fatalf("Put cancelled after %d bytes = %v, want context.Canceled", n, err)
			}
			wantNotFound(t, s, key)
			if keys := listKeys(t, s, key); len(keys) != 0 {
				t.Fatalf("List shows %q after a cancelled Put", keys)
			}
		})
	}
}

// testConcurrentOverwrite overwrites one key over and over with values of
// different sizes while readers read it: every read must be one complete
// value, never a mix, a truncation or nothing.
func testConcurrentOverwrite(t *testing.T, s *Store, p string) {
	key := p + "hot"
	const versions, rounds, readers = 5, 12, 4
	var vals [][]byte
	valid := map[[32]byte]int{}
	for i := range versions {
		v := data(uint64(100+i), 200_000+i*150_000) // 200 KB to 800 KB
		vals = append(vals, v)
		valid[sha256.Sum256(v)] = i
	}
	mustPut(t, s, key, vals[0])

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var reads int
	seen := map[int]bool{}
	for range readers {
		wg.Go(func() {
			for ctx.Err() == nil {
				r, err := s.Get(ctx, key)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("Get during overwrites: %v", err)
					}
					return
				}
				h := sha256.New()
				_, err = io.Copy(h, r)
				r.Close()
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("reading during overwrites: %v", err)
					}
					return
				}
				var d [32]byte
				h.Sum(d[:0])
				i, ok := valid[d]
				if !ok {
					t.Errorf("a reader saw content that is no complete version (sha %x)", d)
					cancel()
					return
				}
				mu.Lock()
				reads++
				seen[i] = true
				mu.Unlock()
			}
		})
	}
	for i := range rounds {
		v := vals[(i+1)%versions]
		if _, err := s.Put(t.Context(), key, bytes.NewReader(v)); err != nil {
			t.Errorf("Put round %d: %v", i, err)
			break
		}
	}
	cancel()
	wg.Wait()
	t.Logf("%d reads during %d overwrites saw %d distinct versions", reads, rounds, len(seen))
	if got := mustGet(t, s, key); !bytes.Equal(got, vals[rounds%versions]) {
		t.Errorf("final value is not the last one put")
	}
}

// testNoLeftovers lists the whole store: only keys the suite meant to keep
// may be there (no temporary files, nothing from aborted writes), and on S3
// no multipart upload may be left unfinished.
func testNoLeftovers(t *testing.T, s *Store) {
	for _, k := range listKeys(t, s, "") {
		if strings.HasPrefix(k, "fail/new-") || strings.HasPrefix(k, "cancel/") {
			t.Errorf("List shows %q, which only aborted writes wrote", k)
		}
		if isTempName(k) || strings.HasSuffix(k, ".tmp") {
			t.Errorf("List shows temporary file %q", k)
		}
	}
	var client *s3.Client
	if s.bucket.As(&client) {
		name := strings.TrimPrefix(s.desc, "s3://")
		out, err := client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(name)})
		if err != nil {
			t.Fatalf("ListMultipartUploads: %v", err)
		}
		for _, u := range out.Uploads {
			t.Errorf("unfinished multipart upload left for %s", aws.ToString(u.Key))
		}
	}
}

// TestFileLayout checks what the file backend leaves on disk: the objects as
// plain files, no .attrs sidecars, no temporary files after failed writes,
// and temporary files of writes in progress hidden from List.
func TestFileLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "store") // Open creates it
	s, err := Open(t.Context(), dir)                  // a plain path
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPut(t, s, "a/b.dcm", []byte("dicm"))
	if _, err := s.Put(t.Context(), "a/c.dcm", failAfter(1000)); err == nil {
		t.Fatal("Put with failing reader succeeded")
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, []string{"a/b.dcm"}) {
		t.Errorf("files on disk = %q, want just a/b.dcm", files)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a", "b.dcm")); err != nil || string(b) != "dicm" {
		t.Errorf("a/b.dcm on disk = %q, %v", b, err)
	}

	// A write in progress: its temporary file exists but is not listed.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(t.Context(), "a/d.dcm", pr)
		done <- err
	}()
	if _, err := pw.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, "a", "d.dcm.*.tmp"))
	if len(tmps) != 1 {
		t.Errorf("temporary files during the write: %q, want one", tmps)
	}
	if keys := listKeys(t, s, ""); !slices.Equal(keys, []string{"a/b.dcm"}) {
		t.Errorf("List during a write = %q, want just a/b.dcm", keys)
	}
	wantNotFound(t, s, "a/d.dcm")
	_ = pw.CloseWithError(errors.New("client went away"))
	if err := <-done; err == nil {
		t.Fatal("Put of an interrupted stream succeeded")
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, "a", "*.tmp")); len(tmps) != 0 {
		t.Errorf("temporary files left after an aborted write: %q", tmps)
	}
}

// TestFilePutStreams checks that Put does not hold the object in memory: a
// 64 MiB Put must allocate far less than 64 MiB in all.
func TestFilePutStreams(t *testing.T) {
	s, err := Open(t.Context(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const size = 64 << 20
	src := newStream(5, size)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := s.Put(t.Context(), "big", src); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("Put of %d MiB allocated %d MiB", size>>20, alloc>>20)
	}
}

// TestFileKeyIsFolder: on the file backend a key cannot also be the folder of
// other keys. The conflicting Put fails cleanly, and once the deeper keys are
// deleted (which removes their empty folders) the key can be used.
func TestFileKeyIsFolder(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPut(t, s, "x/deep/1", []byte("1"))
	if _, err := s.Put(t.Context(), "x", strings.NewReader("x")); err == nil {
		t.Fatal("Put of a key that is a folder succeeded")
	}
	if _, err := s.Put(t.Context(), "x/deep/1/2", strings.NewReader("x")); err == nil {
		t.Fatal("Put of a key below a file succeeded")
	}
	if keys := listKeys(t, s, ""); !slices.Equal(keys, []string{"x/deep/1"}) {
		t.Fatalf("List = %q", keys)
	}
	if err := s.Delete(t.Context(), "x/deep/1"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "x", []byte("now a file"))
	mustPut(t, s, "x2/deep/1", []byte("1"))
	mustPut(t, s, "x2/other", []byte("2"))
	if err := s.Delete(t.Context(), "x2/deep/1"); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, "x2/other"); string(got) != "2" {
		t.Fatalf("sibling after Delete = %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	for _, u := range []string{
		"",
		"file://host/dir",
		"file:///tmp/x?metadata=yes",
		"gs://bucket",
		"s3://",
		"s3://bucket/path",
		"s3://bucket?bogus=1",
	} {
		if s, err := Open(ctx, u); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, "file://"+f); err == nil {
		s.Close()
		t.Errorf("Open of a regular file succeeded")
	}
}

func TestOpenS3MissingBucket(t *testing.T) {
	u := testenv.S3(t)
	bad := "s3://cie-no-such-bucket-here" + u[strings.Index(u, "?"):]
	if s, err := Open(t.Context(), bad); err == nil {
		s.Close()
		t.Fatalf("Open(%s) of a missing bucket succeeded", bad)
	}
}

// testUnsynced checks PutUnsynced and Sync: objects are readable at once, odd keys (which
// the file backend's direct writer leaves to gocloud) work too, many writers share the
// flushes, and a Sync after a Delete of a pending object still succeeds.
func testUnsynced(t *testing.T, s *Store, p string) {
	ctx := t.Context()
	keys := []string{p + "a/b/c.dcm", p + "x../y", p + "sp ace/é", p + "1.2.840/2.25.9"}
	for i, k := range keys {
		b := data(uint64(i), 1000+i)
		info, err := s.PutUnsynced(ctx, k, bytes.NewReader(b))
		if err != nil {
			t.Fatalf("PutUnsynced(%q): %v", k, err)
		}
		if info.Size != int64(len(b)) || !bytes.Equal(info.SHA256, sum(b)) {
			t.Errorf("PutUnsynced(%q): info %+v", k, info)
		}
		if got := mustGet(t, s, k); !bytes.Equal(got, b) {
			t.Errorf("Get(%q) after PutUnsynced: %d bytes, want %d", k, len(got), len(b))
		}
	}
	if err := s.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("Sync after a delete: %v", err)
	}
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("%sw%d/%d", p, w, i)
				if _, err := s.PutUnsynced(ctx, k, bytes.NewReader(data(uint64(w*each+i), 5000))); err != nil {
					t.Error(err)
					return
				}
				if err := s.Sync(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(listKeys(t, s, p+"w")); n != writers*each {
		t.Errorf("%d objects listed, want %d", n, writers*each)
	}
	if s.syncer != nil {
		t.Logf("%d syncs for %d Sync calls", s.syncer.Runs(), writers*each+1)
	}
}
