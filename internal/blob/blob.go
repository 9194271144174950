package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	gcaws "gocloud.dev/aws"

	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/cancerimage/cie/internal/groupcommit"
)

// ErrNotFound is returned (wrapped) by Get, Stat and Delete when no object
// is stored under the key. Test for it with errors.Is.
var ErrNotFound = errors.New("blob not found")

// ErrInvalidKey is returned (wrapped) by ValidKey, and so by every Store
// method given a key or prefix that ValidKey rejects.
var ErrInvalidKey = errors.New("invalid blob key")

// Info describes a stored object.
type Info struct {
	// Key is the object's key.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// SHA256 is the SHA-256 digest of the object's content. Only Put sets it
	// (it is computed while streaming); Stat and List leave it nil.
	SHA256 []byte
	// ModTime is when the object was last written, as the backend reports it.
	// Stat and List set it; Put leaves it zero (use Stat if you need it).
	ModTime time.Time
}

// Store is a blob store. It is safe for concurrent use by multiple
// goroutines. Close it when done.
type Store struct {
	bucket *gcblob.Bucket
	// file is true for the file-system backend, whose writes are fsynced and
	// whose temporary files List has to hide.
	file bool
	// root is the store's folder (file backend only).
	root string
	// desc names the store in error messages ("file:///dir", "s3://bucket").
	desc string
	// pend and syncer serve PutUnsynced and Sync (file backend).
	pend   pending
	syncer *groupcommit.Committer
}

// contentType is stored with every object. Setting it also keeps gocloud
// from buffering the first 512 bytes to sniff one, so the backend's writer is
// created (and, for files, its temporary file opened) at once.
const contentType = "application/octet-stream"

// Open opens the blob store at rawURL.
//
// File system, the embedded default:
//
//	file:///var/lib/cie/blobs
//	/var/lib/cie/blobs            (a plain path; a relative one is made absolute)
//
// The folder (and its parents) is created if missing. A file URL takes no
// host (other than "localhost") and no query parameters.
//
// S3 or any S3-compatible service:
//
//	s3://BUCKET?endpoint=http://127.0.0.1:7070&region=us-east-1&use_path_style=true
//
// The bucket must exist; Open checks that it is reachable. Credentials come
// from the AWS SDK's default chain: the environment variables
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), then
// the shared config files and instance roles. The query parameters are those
// of gocloud.dev v0.47's s3blob URL opener:
//
//   - endpoint: the service's base URL, e.g. http://127.0.0.1:7070 (the
//     scheme in it decides between HTTP and HTTPS). Without it, AWS itself.
//   - region: the signing region (else AWS_REGION or the shared config; one
//     of them is required). Any value works for most S3-compatible servers;
//     use us-east-1 when unsure.
//   - use_path_style=true: address the bucket as ENDPOINT/BUCKET rather than
//     BUCKET.HOST; needed for servers on an IP address or without wildcard
//     DNS, such as versitygw or MinIO on localhost.
//   - hostname_immutable=true: send requests to the endpoint exactly as given,
//     never prefixing the host with the bucket name.
//   - disable_https=true: use HTTP for endpoints that AWS resolves (one given
//     with endpoint= already says its scheme).
//   - request_checksum_calculation / response_checksum_validation:
//     when_supported (default) or when_required; when_required is for servers
//     that reject the SDK's default CRC checksums.
//   - also accepted, as gocloud defines them: profile, anonymous, role, fips,
//     dualstack, accelerate, ssetype, kmskeyid, rate_limiter_capacity, awssdk.
//     Unknown parameters are an error.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	if rawURL == "" {
		return nil, errors.New("opening blob store: empty URL")
	}
	if !strings.Contains(rawURL, "://") {
		return openDir(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("opening blob store: parsing URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("opening blob store %s: a file URL takes an absolute path and no host (file:///dir)", rawURL)
		}
		if u.RawQuery != "" {
			return nil, fmt.Errorf("opening blob store %s: a file URL takes no query parameters", rawURL)
		}
		if u.Path == "" {
			return nil, fmt.Errorf("opening blob store %s: no path", rawURL)
		}
		return openDir(u.Path)
	case "s3":
		return openS3(ctx, u)
	default:
		return nil, fmt.Errorf("opening blob store %s: unsupported scheme %q (want file or s3)", redact(u), u.Scheme)
	}
}

func openDir(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening blob store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("opening blob store %s: %w", abs, err)
	}
	b, err := fileblob.OpenBucket(abs, &fileblob.Options{
		CreateDir:   true,
		DirFileMode: 0o750,
		// Temporary files go beside their final file, so the rename that
		// publishes them never crosses a file system boundary (as it would
		// with os.TempDir). List hides them; ValidKey reserves their names.
		NoTempDir: true,
		// No ".attrs" sidecar files: the store keeps no per-object metadata,
		// and a sidecar would be one more file to keep consistent.
		Metadata: fileblob.MetadataDontWrite,
	})
	if err != nil {
		return nil, fmt.Errorf("opening blob store %s: %w", abs, err)
	}
	st := &Store{bucket: b, file: true, root: abs, desc: "file://" + abs}
	st.syncer = groupcommit.New(st.flush)
	return st, nil
}

func openS3(ctx context.Context, u *url.URL) (*Store, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("opening blob store %s: no bucket name (s3://BUCKET?...)", redact(u))
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("opening blob store %s: an s3 URL takes no path after the bucket name", redact(u))
	}
	client, opts, err := s3Client(ctx, u.Query())
	if err != nil {
		return nil, fmt.Errorf("opening blob store %s: %w", redact(u), err)
	}
	b, err := s3blob.OpenBucket(ctx, client, u.Host, opts)
	if err != nil {
		return nil, fmt.Errorf("opening blob store %s: %w", redact(u), err)
	}
	ok, err := b.IsAccessible(ctx)
	if err == nil && !ok {
		err = errors.New("bucket does not exist")
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("opening blob store %s: %w", redact(u), err)
	}
	return &Store{bucket: b, desc: "s3://" + u.Host}, nil
}

// s3Client does what gocloud's s3blob.URLOpener does with the query
// parameters, and also keeps the AWS SDK from logging to stderr: the SDK
// would otherwise warn on every read of a multipart object that it cannot
// check that object's composite checksum. (Put computes SHA-256 itself.)
func s3Client(ctx context.Context, q url.Values) (*s3.Client, *s3blob.Options, error) {
	opts := &s3blob.Options{}
	var clientOpts []func(*s3.Options)
	boolParam := func(name string, set func(bool)) error {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		q.Del(name)
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("query parameter %s: %w", name, err)
		}
		set(b)
		return nil
	}
	if err := boolParam("use_path_style", func(b bool) {
		clientOpts = append(clientOpts, func(o *s3.Options) { o.UsePathStyle = b })
	}); err != nil {
		return nil, nil, err
	}
	if err := boolParam("disable_https", func(b bool) {
		clientOpts = append(clientOpts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = b })
	}); err != nil {
		return nil, nil, err
	}
	if err := boolParam("accelerate", func(b bool) {
		clientOpts = append(clientOpts, func(o *s3.Options) { o.UseAccelerate = b })
	}); err != nil {
		return nil, nil, err
	}
	if v := q.Get("ssetype"); v != "" {
		q.Del("ssetype")
		var ok bool
		for _, t := range s3types.ServerSideEncryptionAes256.Values() {
			if strings.EqualFold(string(t), v) {
				opts.EncryptionType, ok = t, true
			}
		}
		if !ok {
			return nil, nil, fmt.Errorf("query parameter ssetype: unknown type %q", v)
		}
	}
	if v := q.Get("kmskeyid"); v != "" {
		q.Del("kmskeyid")
		opts.KMSEncryptionID = v
	}
	// endpoint, region, hostname_immutable, profile, anonymous, role, fips,
	// dualstack, rate_limiter_capacity, request_checksum_calculation,
	// response_checksum_validation; anything else is an error.
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	cfg.Logger = logging.Nop{}
	clientOpts = append(clientOpts, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	// The transfer manager does not take this from the client.
	opts.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	return s3.NewFromConfig(cfg, clientOpts...), opts, nil
}

// redact drops any user info from u for error messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// String returns a description of the store ("file:///dir" or "s3://bucket")
// without credentials or query parameters.
func (s *Store) String() string { return s.desc }

// Put stores the content read from r under key, replacing any object already
// there, and returns its size and SHA-256 digest.
//
// Put streams r to the backend; it never holds the whole object in memory.
// The write is atomic: until Put returns nil, readers see the previous
// object (or none). If reading r fails, ctx is cancelled or the backend
// fails, Put aborts the write and returns an error; nothing is stored and a
// previous object under key is left as it was. (On S3, a cancellation that
// races with the final request of an upload may find the server already
// done: then the new object is stored although Put reports the error.)
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	if s.file && plainKey(key) {
		return s.writeFile(ctx, key, r, true)
	}
	// gocloud aborts a write whose context is cancelled before Close.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var f *os.File // the temporary file, file backend only
	w, err := s.newWriter(wctx, key, &f)
	if err != nil {
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	abort := func(err error) (Info, error) {
		cancel()
		_ = w.Close() // returns the cancellation; the write is discarded
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}

	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(w, io.TeeReader(ctxReader{ctx: ctx, r: r}, h), *buf)
	copyBufs.Put(buf)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// The backend noticed the cancellation first; say so.
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		return abort(err)
	}
	if err := ctx.Err(); err != nil {
		return abort(err)
	}
	if f != nil {
		// Make the data durable before the rename publishes it.
		if err := f.Sync(); err != nil {
			return abort(fmt.Errorf("syncing: %w", err))
		}
	}
	if err := w.Close(); err != nil {
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	if f != nil {
		// Make the rename durable.
		if err := SyncDir(filepath.Dir(f.Name())); err != nil {
			return Info{}, fmt.Errorf("putting %s: %w", key, err)
		}
	}
	return Info{Key: key, Size: n, SHA256: h.Sum(nil)}, nil
}

// PutUnsynced is Put without waiting for the disk: the object is in place when it
// returns, and survives the process being killed, but not the machine losing power until
// Sync has returned. Writers that store many objects at once (the node's ingest) call
// Sync before they acknowledge, so that concurrent writers share the flushes. On S3 it
// is Put (an object is durable once stored).
func (s *Store) PutUnsynced(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("putting %s: %w", key, err)
	}
	if s.file && plainKey(key) {
		return s.writeFile(ctx, key, r, false)
	}
	return s.Put(ctx, key, r)
}

// Sync returns once every PutUnsynced that returned before Sync was called is on disk
// (the data, its name, and any folder made for it). Concurrent calls share one flush.
func (s *Store) Sync(ctx context.Context) error {
	if s.syncer == nil {
		return nil
	}
	return s.syncer.Wait(ctx)
}

// newWriter starts the write of key, setting *f to the temporary file on the
// file backend.
func (s *Store) newWriter(ctx context.Context, key string, f **os.File) (*gcblob.Writer, error) {
	for attempt := 1; ; attempt++ {
		w, err := s.bucket.NewWriter(ctx, key, &gcblob.WriterOptions{
			ContentType: contentType,
			BeforeWrite: func(as func(any) bool) error {
				as(f) // false (f stays nil) on S3
				return nil
			},
		})
		// On the file backend, a concurrent Delete may remove the folder
		// between fileblob creating it and creating the temporary file in
		// it (see pruneDirs). Nothing has been read from the caller yet, so
		// trying again is safe.
		if err != nil && s.file && attempt < 5 && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return w, err
	}
}

// copyBufs recycle Put's copy buffers: io.Copy into a gocloud writer would make the
// writer allocate (and zero) a 1 MiB buffer for every object.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// ctxReader fails reads once ctx is done, so a cancelled Put stops
// streaming promptly even on backends that only look at the context at the
// end of the write.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// LocalDir returns the store's folder on the file backend, and "" on others.
func (s *Store) LocalDir() string {
	if !s.file {
		return ""
	}
	return s.root
}

// SyncDir flushes the folder dir, so that the names made or removed in it are on disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing folder: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// Get opens the object stored under key for reading. The caller must close
// the returned reader. It returns an error wrapping ErrNotFound if there is no
// such object.
//
// The reader yields one complete version of the object, even if the key is
// overwritten while it is being read.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, fmt.Errorf("getting %s: %w", key, err)
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", key, s.mapErr(err))
	}
	return r, nil
}

// Stat returns the size and modification time of the object stored under
// key (Info.SHA256 is nil). It returns an error wrapping ErrNotFound if there
// is no such object.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, fmt.Errorf("stating %s: %w", key, err)
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return Info{}, fmt.Errorf("stating %s: %w", key, s.mapErr(err))
	}
	return Info{Key: key, Size: a.Size, ModTime: a.ModTime}, nil
}

// Delete removes the object stored under key. It returns an error wrapping
// ErrNotFound if there is no such object; callers that want an idempotent
// delete ignore that with errors.Is.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	if err := s.bucket.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting %s: %w", key, s.mapErr(err))
	}
	if s.file {
		s.pruneDirs(key)
	}
	return nil
}

// pruneDirs removes the folders of key on the file backend that are now
// empty, deepest first, so that a deleted "a/b" leaves no folder "a" that
// would keep a later Put of key "a" from working. It is best effort: a
// folder that is not empty (or not there) stays, which is always safe.
func (s *Store) pruneDirs(key string) {
	dir := filepath.Dir(filepath.Join(s.root, filepath.FromSlash(key)))
	for dir != s.root && strings.HasPrefix(dir, s.root+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// List calls fn for every object whose key starts with prefix (all objects
// if prefix is ""), in lexical key order, with Info.Key, Size and ModTime
// set. The prefix is a plain string prefix, not a folder: "a/b" matches
// "a/b/c" and "a/bc". If fn returns an error, List stops and returns it
// (wrapped). Objects written or deleted during the listing may or may not be
// seen.
func (s *Store) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := validPrefix(prefix); err != nil {
		return fmt.Errorf("listing %q: %w", prefix, err)
	}
	it := s.bucket.List(&gcblob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing %q: %w", prefix, s.mapErr(err))
		}
		if obj.IsDir {
			continue
		}
		if s.file && isTempName(obj.Key) {
			continue // a write in progress (or left by a crash)
		}
		if err := fn(Info{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}); err != nil {
			return fmt.Errorf("listing %q: at %s: %w", prefix, obj.Key, err)
		}
	}
}

// Close releases the store's resources. The Store must not be used after.
func (s *Store) Close() error {
	if err := s.bucket.Close(); err != nil {
		return fmt.Errorf("closing blob store %s: %w", s.desc, err)
	}
	return nil
}

// mapErr turns gocloud's not-found into ErrNotFound, keeping the message.
func (s *Store) mapErr(err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%w (%s)", ErrNotFound, s.desc)
	}
	return err
}
