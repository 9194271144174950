package viewer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var distFS embed.FS

// DefaultPrefix is where a Handler is mounted when Options.Prefix is empty.
const DefaultPrefix = "/viewer/"

// Page is one series to show in the viewer.
type Page struct {
	// DICOMweb is the base URL of the DICOMweb service, without a trailing
	// slash: "/dicomweb" on a node, "/nodes/oslo/dicomweb" through the hub, or
	// an absolute http(s) URL. The viewer reads
	// {DICOMweb}/studies/{Study}/series/{Series}/metadata and the frames of
	// the instances listed there.
	DICOMweb string
	// Study and Series are the Study and Series Instance UIDs.
	Study, Series string
	// Title is shown in the browser tab before "cie viewer"; may be empty.
	Title string
	// Token, when not empty, is sent as "Authorization: Bearer {Token}" with
	// every DICOMweb request. Leave it empty when a same-origin session cookie
	// authenticates the requests.
	Token string
	// Back, when not empty, is the target of a "Back" link in the viewer's bar.
	Back string
}

// Options configure a Handler.
type Options struct {
	// Prefix is the path the Handler is mounted at: it must start and end
	// with "/". Empty means DefaultPrefix. The Handler sees full request
	// paths (do not strip the prefix).
	Prefix string
	// DICOMweb is the DICOMweb base used when a page request has no dicomweb
	// query parameter, e.g. "/dicomweb" on a node. Empty means the parameter
	// is required.
	DICOMweb string
	// OnError, when set, is told about every error that made the Handler
	// answer 500. The package itself logs nothing.
	OnError func(error)
}

// Handler serves the viewer page and its assets. It is safe for concurrent use.
type Handler struct {
	opts   Options
	page   *template.Template
	assets map[string]*asset // name under assets/ → file
}

type asset struct {
	data  []byte
	ctype string
	etag  string // quoted, strong

	gzOnce sync.Once
	gz     []byte // gzip of data, nil when not worth it
}

// contentTypes are the types of the files Vite writes. A file with another
// extension in dist stops New, so a new kind of asset is noticed at once
// rather than served with a guessed type.
var contentTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".wasm":  "application/wasm",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".woff2": "font/woff2",
	".json":  "application/json",
}

// New indexes the embedded assets and parses the page template. It fails when
// the embedded build is incomplete or broken, so that shows at start.
func New(o Options) (*Handler, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !strings.HasPrefix(o.Prefix, "/") || !strings.HasSuffix(o.Prefix, "/") {
		return nil, fmt.Errorf("viewer: prefix %q must start and end with /", o.Prefix)
	}
	if o.DICOMweb != "" {
		if err := checkBase(o.DICOMweb, true); err != nil {
			return nil, fmt.Errorf("viewer: Options.DICOMweb: %w", err)
		}
	}
	h := &Handler{opts: o, assets: map[string]*asset{}}
	index, err := fs.ReadFile(distFS, "dist/index.html")
	if err != nil {
		return nil, fmt.Errorf("viewer: embedded build has no index.html (run web/viewer/build.sh): %w", err)
	}
	h.page, err = template.New("index.html").Option("missingkey=error").Parse(string(index))
	if err != nil {
		return nil, fmt.Errorf("viewer: parsing dist/index.html: %w", err)
	}
	err = fs.WalkDir(distFS, "dist/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("no content type for %s", p)
		}
		data, err := fs.ReadFile(distFS, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		h.assets[strings.TrimPrefix(p, "dist/assets/")] = &asset{
			data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("viewer: embedded assets: %w", err)
	}
	if len(h.assets) == 0 {
		return nil, errors.New("viewer: embedded build has no assets (run web/viewer/build.sh)")
	}
	return h, nil
}

// Prefix returns the path the Handler is mounted at.
func (h *Handler) Prefix() string { return h.opts.Prefix }

// URL returns the address of the viewer page for a series, relative to the
// site: the prefix with the dicomweb (when not empty), study and series query
// parameters. Use it for links to the viewer.
func (h *Handler) URL(dicomweb, study, series string) string {
	q := url.Values{}
	if dicomweb != "" {
		q.Set("dicomweb", dicomweb)
	}
	q.Set("study", study)
	q.Set("series", series)
	return h.opts.Prefix + "?" + q.Encode()
}

// ServeHTTP serves the page at the prefix (from query parameters, see the
// package documentation) and the assets under prefix + "assets/"; anything
// else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == h.opts.Prefix:
		h.servePageFromQuery(w, r)
	case strings.HasPrefix(p, h.opts.Prefix+"assets/"):
		h.serveAsset(w, r, strings.TrimPrefix(p, h.opts.Prefix+"assets/"))
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) servePageFromQuery(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := Page{
		DICOMweb: q.Get("dicomweb"),
		Study:    q.Get("study"),
		Series:   q.Get("series"),
		Title:    q.Get("title"),
		Back:     q.Get("back"),
	}
	if p.DICOMweb == "" {
		p.DICOMweb = h.opts.DICOMweb
	} else if err := checkBase(p.DICOMweb, false); err != nil {
		http.Error(w, "viewer: query parameter dicomweb: "+err.Error(), http.StatusBadRequest)
		return
	}
	if p.Back != "" && !isLocalPath(p.Back) {
		http.Error(w, "viewer: query parameter back: must be a path on this site", http.StatusBadRequest)
		return
	}
	h.ServePage(w, r, p)
}

// ServePage writes the viewer page for p: 400 when p names no DICOMweb base or
// a study or series UID that is not a valid UID, 500 (told to
// Options.OnError) when the page cannot be rendered. Callers check access to
// the series before calling it.
func (h *Handler) ServePage(w http.ResponseWriter, r *http.Request, p Page) {
	if err := p.check(); err != nil {
		http.Error(w, "viewer: "+err.Error(), http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	err := h.page.Execute(&buf, struct {
		Page
		Assets string
	}{p, h.opts.Prefix})
	if err != nil {
		err = fmt.Errorf("viewer: rendering the page: %w", err)
		if h.opts.OnError != nil {
			h.opts.OnError(err)
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", csp(p.DICOMweb))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// csp is the page's Content-Security-Policy: its own origin for scripts,
// workers, styles and connections, WebAssembly compilation for the codecs,
// and the origin of an absolute DICOMweb base.
func csp(base string) string {
	connect := "'self'"
	if u, err := url.Parse(base); err == nil && u.Scheme != "" && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
		"connect-src " + connect + "; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
}

func (p Page) check() error {
	if p.DICOMweb == "" {
		return errors.New("no DICOMweb base URL")
	}
	if err := checkBase(p.DICOMweb, true); err != nil {
		return fmt.Errorf("DICOMweb base: %w", err)
	}
	if !validUID(p.Study) {
		return fmt.Errorf("study %q is not a UID", p.Study)
	}
	if !validUID(p.Series) {
		return fmt.Errorf("series %q is not a UID", p.Series)
	}
	return nil
}

// checkBase accepts a same-origin path ("/dicomweb"), and with absolute an
// http or https URL too. Query strings and fragments are refused: the viewer
// appends paths to the base.
func checkBase(base string, absolute bool) error {
	if isLocalPath(base) {
		if strings.ContainsAny(base, "?#") {
			return fmt.Errorf("%q has a query or fragment", base)
		}
		return nil
	}
	if !absolute {
		return fmt.Errorf("%q is not a path on this site (it must start with a single /)", base)
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("%q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is neither a path nor an http(s) URL without query, fragment or user", base)
	}
	return nil
}

// isLocalPath reports whether s is a path on the same site: one leading
// slash, not "//" or "/\" (which browsers take as another host).
func isLocalPath(s string) bool {
	return strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, `/\`)
}

// validUID reports whether s is a DICOM UID (PS3.5 9.1): 1 to 64 characters,
// digits in components separated by single dots.
func validUID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range strings.Split(s, ".") {
		if c == "" {
			return false
		}
		for _, r := range c {
			if r < '0' || r > '9' {
				return false
			}
		}
	}
	return true
}

// startTime is the Last-Modified of the embedded assets: they cannot change
// while the process runs.
var startTime = time.Now()

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := h.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Vary", "Accept-Encoding")
	data, etag := a.data, a.etag
	if gz := a.gzipped(); gz != nil && acceptsGzip(r) {
		data, etag = gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", startTime, bytes.NewReader(data))
}

// gzipped returns the gzip of the asset, made on first use, or nil for
// assets too small or already compressed.
func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		if len(a.data) < 1024 || strings.HasPrefix(a.ctype, "image/png") || strings.HasPrefix(a.ctype, "font/") {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(a.data); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		if b.Len() < len(a.data)*9/10 {
			a.gz = b.Bytes()
		}
	})
	return a.gz
}

// acceptsGzip reports whether the request's Accept-Encoding lists gzip with a
// quality above zero.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(params), "=")
		if !ok || strings.TrimSpace(k) != "q" {
			return true
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && q > 0
	}
	return false
}
