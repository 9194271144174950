// Package batch runs the de-identification of a folder or zip of DICOM
// files into an output folder: parallel workers, a quarantine folder for
// what cannot be released, progress, and a report that accounts for every
// input file.
package batch

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/dicom"
)

// MaxZipEntry is the largest zip entry read (uncompressed); larger ones are
// quarantined as unreadable.
const MaxZipEntry = 2 << 30

// Options configure Run.
type Options struct {
	In         string // a folder (read recursively) or a .zip file
	Out        string // the output folder: de-identified files only
	Quarantine string // where refused files go, with their reasons (default OUT-quarantine); never inside Out
	Workers    int    // 0: one per CPU
	Engine     *deid.Engine
	Reid       *deid.ReidMap // may be nil
	Log        *slog.Logger
	// Progress, when set, is called after every file with the counts so far.
	Progress func(done, total int, bytesIn int64)
}

// FileReport is the fate of one input file.
type FileReport struct {
	Input  string `json:"input"`
	Output string `json:"output,omitempty"` // relative to Out
	Status string `json:"status"`           // "ok", "duplicate" (same instance as an earlier input) or "quarantined"
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Report accounts for a run.
type Report struct {
	In          string         `json:"in"`
	Out         string         `json:"out"`
	Quarantine  string         `json:"quarantine"`
	Options     string         `json:"options"`
	Started     time.Time      `json:"started"`
	Seconds     float64        `json:"seconds"`
	Workers     int            `json:"workers"`
	FilesIn     int            `json:"files_in"`
	FilesOut    int            `json:"files_out"`
	Duplicates  int            `json:"duplicates"` // inputs whose SOP instance another input (earlier in name order) already gave
	Quarantined int            `json:"quarantined"`
	ByReason    map[string]int `json:"quarantined_by_reason"`
	Patients    int            `json:"patients"`
	Studies     int            `json:"studies"`
	Series      int            `json:"series"`
	BytesIn     int64          `json:"bytes_in"`
	BytesOut    int64          `json:"bytes_out"`
	Files       []FileReport   `json:"files"`
}

// source is one input file: a path on disk or a zip entry.
type source struct {
	name string // path relative to In, or the zip entry's name
	path string // file on disk ("" for zip entries)
	zf   *zip.File
	size int64
}

// Run de-identifies every file of o.In into o.Out.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return Report{}, fmt.Errorf("output folder: %w", err)
	}
	if o.Quarantine == "" {
		o.Quarantine = strings.TrimRight(out, string(filepath.Separator)) + "-quarantine"
	}
	q, err := filepath.Abs(o.Quarantine)
	if err != nil {
		return Report{}, fmt.Errorf("quarantine folder: %w", err)
	}
	if q == out || strings.HasPrefix(q, out+string(filepath.Separator)) {
		return Report{}, fmt.Errorf("the quarantine folder %s must not be inside the output folder %s: quarantined files are not de-identified", q, out)
	}
	in, err := filepath.Abs(o.In)
	if err != nil {
		return Report{}, fmt.Errorf("input: %w", err)
	}
	if in == out || strings.HasPrefix(out, in+string(filepath.Separator)) {
		return Report{}, fmt.Errorf("the output folder %s must not be inside the input %s", out, in)
	}
	for _, d := range []string{out, q} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return Report{}, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	srcs, closer, err := list(in)
	if err != nil {
		return Report{}, err
	}
	defer closer()

	rep := Report{In: in, Out: out, Quarantine: q, Options: o.Engine.Method(), Started: time.Now().UTC(), Workers: o.Workers,
		FilesIn: len(srcs), ByReason: map[string]int{}, Files: make([]FileReport, len(srcs))}
	var done atomic.Int64
	var bytesIn, bytesOut atomic.Int64
	var mu sync.Mutex
	patients, studies, series := map[string]bool{}, map[string]bool{}, map[string]bool{}
	claims := &claims{by: map[string]int{}}
	// Workers take the next file by an atomic counter: no feeding goroutine,
	// no channel hand-off (and scheduler wake-up) per file.
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(srcs) {
					return
				}
				s := srcs[i]
				fr, res, nin, nout := one(o, out, q, s, i, claims)
				rep.Files[i] = fr
				bytesIn.Add(nin)
				bytesOut.Add(nout)
				if fr.Status == "ok" {
					mu.Lock()
					patients[res.PatientPseudonym] = true
					studies[res.StudyUID] = true
					series[res.SeriesUID] = true
					mu.Unlock()
					if o.Reid != nil {
						o.Reid.Add(res)
					}
				}
				n := done.Add(1)
				if o.Progress != nil {
					o.Progress(int(n), len(srcs), bytesIn.Load())
				}
			}
		}()
	}
	wg.Wait()
	var ctxErr error
	if int(done.Load()) < len(srcs) {
		ctxErr = ctx.Err()
	}
	for i, fr := range rep.Files {
		switch fr.Status {
		case "ok":
			if claims.owner(fr.Output) != i {
				rep.Files[i].Status = "duplicate"
				rep.Files[i].Detail = "the same SOP instance as " + srcs[claims.owner(fr.Output)].name + ", which is the one kept"
				rep.Duplicates++
				continue
			}
			rep.FilesOut++
		case "quarantined":
			rep.Quarantined++
			rep.ByReason[fr.Reason]++
		default:
			rep.Files[i] = FileReport{Input: srcs[i].name, Status: "not processed", Detail: "the run was interrupted"}
		}
	}
	rep.Patients, rep.Studies, rep.Series = len(patients), len(studies), len(series)
	rep.BytesIn, rep.BytesOut = bytesIn.Load(), bytesOut.Load()
	rep.Seconds = time.Since(rep.Started).Seconds()
	if ctxErr != nil {
		return rep, fmt.Errorf("de-identification interrupted after %d of %d files: %w", done.Load(), len(srcs), ctxErr)
	}
	return rep, nil
}

// list returns the input files: every regular file under a folder, or
// every file entry of a zip.
func list(in string) ([]source, func(), error) {
	st, err := os.Stat(in)
	if err != nil {
		return nil, nil, fmt.Errorf("input: %w", err)
	}
	if !st.IsDir() {
		zr, err := zip.OpenReader(in)
		if err != nil {
			return nil, nil, fmt.Errorf("input %s is neither a folder nor a zip file: %w", in, err)
		}
		var srcs []source
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			srcs = append(srcs, source{name: f.Name, zf: f, size: int64(f.UncompressedSize64)})
		}
		return srcs, func() { zr.Close() }, nil
	}
	var srcs []source
	err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("reading input: %w", err)
			}
			rel, _ := filepath.Rel(in, p)
			srcs = append(srcs, source{name: rel, path: p, size: info.Size()})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].name < srcs[j].name })
	return srcs, func() {}, nil
}

// MaxInMemory is the size up to which an input file is read whole, with one
// read into a reused buffer, and parsed there (dicom.ParseBytes); larger ones
// are parsed from the file, their large values copied from it on write.
const MaxInMemory = 32 << 20

// bufPool recycles the buffers input files are read into.
var bufPool sync.Pool // of *[]byte

// poolCap bounds the buffers kept in bufPool.
const poolCap = 4 << 20

// input is an opened source: its bytes in memory (mem) or a reader of them.
type input struct {
	r       io.ReaderAt
	size    int64
	mem     []byte // all size bytes, when in memory
	release func() // closes the file or returns the buffer; call once done
}

// open reads a source into memory if it is small enough, or opens it.
func (s source) open() (input, error) {
	if s.zf == nil {
		f, err := os.Open(s.path)
		if err != nil {
			return input{}, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return input{}, err
		}
		size := st.Size()
		if size > MaxInMemory {
			return input{r: f, size: size, release: func() { f.Close() }}, nil
		}
		defer f.Close()
		bp, _ := bufPool.Get().(*[]byte)
		if bp == nil || int64(cap(*bp)) < size {
			// size is at most MaxInMemory, from the file system.
			b := make([]byte, max(size, 64<<10))
			bp = &b
		}
		buf := (*bp)[:size]
		if _, err := io.ReadFull(f, buf); err != nil {
			return input{}, fmt.Errorf("reading %d bytes: %w", size, err)
		}
		return input{r: bytes.NewReader(buf), size: size, mem: buf, release: func() {
			if cap(*bp) <= poolCap {
				bufPool.Put(bp)
			}
		}}, nil
	}
	if s.size > MaxZipEntry {
		return input{}, fmt.Errorf("zip entry of %d bytes is larger than %d", s.size, MaxZipEntry)
	}
	rc, err := s.zf.Open()
	if err != nil {
		return input{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxZipEntry+1))
	if err != nil {
		return input{}, err
	}
	return input{r: bytes.NewReader(b), size: int64(len(b)), mem: b, release: func() {}}, nil
}

// claims decides which input owns an output path when several inputs are
// the same SOP instance: the first in name order, whatever the order in
// which the workers finish, so that runs are repeatable.
type claims struct {
	mu sync.Mutex
	by map[string]int
}

// write writes f to out/rel unless an earlier input already owns rel. The
// file is written to a temporary name outside the lock; only the check and
// the rename are serialized.
func (c *claims) write(out, rel string, idx int, f *dicom.File) (int64, error) {
	path := filepath.Join(out, rel)
	tmp, n, err := writeTemp(path, f)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.by[rel]; ok && prev < idx {
		os.Remove(tmp)
		return 0, nil
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	c.by[rel] = idx
	return n, nil
}

func (c *claims) owner(rel string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[rel]
}

// one de-identifies one source; it never returns an error: every failure
// is a quarantine with its reason.
func one(o Options, out, q string, s source, idx int, c *claims) (FileReport, deid.Result, int64, int64) {
	fr := FileReport{Input: s.name}
	in, err := s.open()
	if err != nil {
		fr.Status, fr.Reason, fr.Detail = "quarantined", deid.ReasonUnreadable, err.Error()
		return fr, deid.Result{}, 0, 0
	}
	// The parsed file shares in.mem: released only once it is written.
	defer in.release()
	size := in.size
	quar := func(reason, detail string) (FileReport, deid.Result, int64, int64) {
		fr.Status, fr.Reason, fr.Detail = "quarantined", reason, detail
		if err := copyToQuarantine(q, s.name, reason, detail, in.r, size); err != nil {
			o.Log.Error("quarantining", "file", s.name, "err", err)
			fr.Detail += "; copying to quarantine failed: " + err.Error()
		}
		return fr, deid.Result{}, size, 0
	}
	var f *dicom.File
	if in.mem != nil {
		f, err = dicom.ParseBytes(in.mem, dicom.ParseOptions{})
	} else {
		f, err = dicom.Parse(in.r, size, dicom.ParseOptions{})
	}
	if err != nil {
		return quar(deid.ReasonUnreadable, err.Error())
	}
	res, err := o.Engine.Apply(f)
	if err != nil {
		var qe *deid.QuarantineError
		if errors.As(err, &qe) {
			return quar(qe.Reason, qe.Detail)
		}
		return quar(deid.ReasonInvalidElement, err.Error())
	}
	rel := filepath.Join(safeName(res.PatientPseudonym), safeName(res.StudyUID), safeName(res.SeriesUID), safeName(res.InstanceUID)+".dcm")
	n, err := c.write(out, rel, idx, f)
	if err != nil {
		return quar(deid.ReasonInvalidElement, "writing the de-identified file: "+err.Error())
	}
	fr.Status, fr.Output = "ok", rel
	return fr, res, size, n
}

// safeName keeps a pseudonym or UID usable as a file name.
func safeName(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// writeTemp writes f beside path under a temporary name and returns it; the
// caller renames it into place, so that a crash leaves no half-written
// output.
func writeTemp(path string, f *dicom.File) (string, int64, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".deid-*")
	if errors.Is(err, fs.ErrNotExist) {
		// The folder's first file: make the folder (most outputs go to one
		// that exists, so it is not looked at before every file).
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", 0, err
		}
		tmp, err = os.CreateTemp(dir, ".deid-*")
	}
	if err != nil {
		return "", 0, err
	}
	n, err := f.WriteTo(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", 0, err
	}
	return tmp.Name(), n, nil
}

// copyToQuarantine keeps the original bytes of a refused file with a note
// of the reason beside it.
func copyToQuarantine(q, name, reason, detail string, r io.ReaderAt, size int64) error {
	dst := filepath.Join(q, reason, filepath.FromSlash(strings.TrimLeft(filepath.ToSlash(filepath.Clean("/"+name)), "/")))
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.NewSectionReader(r, 0, size)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst+".reason.txt", []byte(reason+": "+detail+"\n"), 0o640)
}
