package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// plainKey reports whether key maps to the same path in fileblob as in a plain join: only
// letters, digits, '.', '-', '_' and '/', and no segment ending in "..", which fileblob
// would escape. The direct file writer below handles only such keys (UIDs and ids, as
// the node uses); others go through gocloud.
func plainKey(key string) bool {
	if strings.Contains(key, "../") || strings.Contains(key, "__0x") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/') {
			return false
		}
	}
	return true
}

// writeFile stores r under key on the file backend without gocloud's writer: it writes a
// temporary file beside the final one (named as fileblob names them, so List hides it and
// a crash leaves nothing a reader sees), then renames it into place. With sync, the data,
// the rename and any folder it created are on disk before it returns; without, they are
// recorded for the next Sync.
func (s *Store) writeFile(ctx context.Context, key string, r io.Reader, sync bool) (Info, error) {
	path := filepath.Join(s.root, filepath.FromSlash(key))
	dir := filepath.Dir(path)
	made, err := s.mkdirs(dir)
	if err != nil {
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	var f *os.File
	for try := 0; ; try++ {
		name := path + "." + strconv.FormatInt(time.Now().UnixNano(), 16) + ".tmp"
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
		if errors.Is(err, os.ErrNotExist) && try < 5 {
			// A concurrent Delete pruned the folder (see pruneDirs): make it again.
			if made, err = s.mkdirs(dir); err != nil {
				return Info{}, fmt.Errorf("putting %s: %w", key, err)
			}
			continue
		}
		if errors.Is(err, os.ErrExist) && try < 100 {
			continue
		}
		break
	}
	if err != nil {
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	tmp := f.Name()
	fail := func(err error) (Info, error) {
		f.Close()
		os.Remove(tmp)
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(f, io.TeeReader(ctxReader{ctx: ctx, r: r}, h), *buf)
	copyBufs.Put(buf)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return fail(err)
	}
	if sync {
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return fail(fmt.Errorf("syncing: %w", err))
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	dirs := append(made, dir)
	if sync {
		for _, d := range dirs {
			if err := SyncDir(d); err != nil {
				return Info{}, fmt.Errorf("putting %s: %w", key, err)
			}
		}
	} else {
		s.pend.add(path, dirs)
	}
	return Info{Key: key, Size: n, SHA256: h.Sum(nil)}, nil
}

// mkdirs makes dir and its missing parents, and returns the folders whose entries
// changed (the parent of each folder made), which a sync must flush.
func (s *Store) mkdirs(dir string) ([]string, error) {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil, nil
	}
	var made []string
	for d := dir; d != s.root && strings.HasPrefix(d, s.root+string(filepath.Separator)); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		made = append(made, filepath.Dir(d))
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	return made, nil
}

// pending is what unsynced writes left for the next Sync: files and folders.
type pending struct {
	mu    sync.Mutex
	files []string
	dirs  map[string]bool
}

func (p *pending) add(file string, dirs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files = append(p.files, file)
	if p.dirs == nil {
		p.dirs = map[string]bool{}
	}
	for _, d := range dirs {
		p.dirs[d] = true
	}
}

func (p *pending) take() ([]string, map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, d := p.files, p.dirs
	p.files, p.dirs = nil, nil
	return f, d
}

// flush makes the pending writes durable: each file's data and the folders that name
// them.
func (s *Store) flush(context.Context) error {
	files, dirs := s.pend.take()
	var fds []*os.File
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	var errs []error
	for _, name := range files {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted or replaced since: nothing of it to keep
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fds = append(fds, f)
		// Start writing back at once; the Fdatasync below waits for it.
		_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	}
	// The flushes run at once (at most 64 at a time): a device serves concurrent
	// flushes together, in about the time of one, where one after the other would cost
	// one flush each. Their order does not matter: nothing is promised until all are done.
	var jobs []func() error
	for _, f := range fds {
		jobs = append(jobs, func() error {
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				return fmt.Errorf("syncing %s: %w", f.Name(), err)
			}
			return nil
		})
	}
	for d := range dirs {
		jobs = append(jobs, func() error {
			if err := SyncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		})
	}
	// The last runs here, the others in goroutines of their own.
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, fn := range jobs {
		if i == len(jobs)-1 {
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// Keep nothing half-promised: the callers of this run get the error.
		return fmt.Errorf("syncing blob store %s: %w", s.desc, err)
	}
	return nil
}
