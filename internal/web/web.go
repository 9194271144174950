package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*.css static/*.svg static/*.js static/vendor/*.js
var staticFS embed.FS

// NavItem is one entry of the navigation bar: Key is what Page.Active names to
// highlight it, Label the text shown, Href the link target.
type NavItem struct{ Key, Label, Href string }

// HubNav is the navigation of the hub's web UI.
var HubNav = []NavItem{
	{"catalogue", "Catalogue", "/catalogue"},
	{"search", "Search", "/explorer"},
	{"atlas", "Atlas", "/atlas"},
	{"requests", "Requests", "/requests"},
	{"jobs", "Jobs", "/jobs"},
	{"audit", "Audit", "/audit"},
	{"nodes", "Nodes", "/nodes"},
}

// NodeNav is the navigation of a node's web UI.
var NodeNav = []NavItem{
	{"home", "Overview", "/"},
	{"archive", "Archive", "/archive"},
	{"datasets", "Datasets", "/datasets"},
	{"clinical", "Clinical data", "/clinical"},
	{"search", "Search policy", "/search-policy"},
	{"audit", "Audit", "/audit"},
}

// User is the logged-in user shown in the page header.
type User struct{ Name, Role string }

// Page is what every full page is rendered from: the common parts the layout
// needs, and Data, the page-specific value (see the package documentation for
// the type each page expects).
type Page struct {
	Title  string // page title, shown in the browser tab before the site name
	Active string // nav key to highlight
	User   *User  // nil = anonymous: the header shows a "Log in" link; else name, role and a logout form
	CSRF   string // token put in every form as the hidden input name="csrf"
	Flash  string // optional message (e.g. "Logged out")
	Error  string // optional error message
	// Notices is the number of the user's unread notifications, shown in the hub's
	// header.
	Notices int
	Data    any // page-specific
}

// Options configure a Site.
type Options struct {
	// Product is "hub" or "node".
	Product string
	// Name is shown in the header and the title, e.g. "cie hub" or "cie node oslo".
	// Empty means "cie " + Product.
	Name string
	// Nav is the navigation bar. Nil means HubNav for a hub, NodeNav for a node.
	Nav []NavItem
	// Version is shown in the footer. Empty means "dev".
	Version string
	// OnError, when set, is told about every error that made Render or Partial
	// answer 500. The package itself logs nothing.
	OnError func(error)
	// Now is the clock used for relative times that carry no reference time of
	// their own (node-home). Nil means time.Now.
	Now func() time.Time
}

// Site renders the pages and serves the static assets of one web UI. It is
// safe for concurrent use.
type Site struct {
	opts   Options
	pages  map[string]*template.Template // page name → layout + partials + page
	base   *template.Template            // layout + partials, for Partial
	assets map[string]asset              // path under /static/ → file
}

// view is what the layout template executes with: the Page plus the site.
type view struct {
	Page
	Site     siteInfo
	PageName string
}

type siteInfo struct {
	Product, Name, Version string
	Nav                    []NavItem
}

type asset struct {
	data  []byte
	ctype string
	etag  string // quoted, strong
	ver   string // short content hash, the ?v= of versioned URLs
}

// layoutFiles are templates shared by every page; every other file in
// templates/ is a page named after the file.
var layoutFiles = []string{"layout.html", "partials.html"}

// New parses all templates and indexes the static assets. It fails on any
// template error, so a broken template stops the program at start.
func New(o Options) (*Site, error) {
	switch o.Product {
	case "hub":
		if o.Nav == nil {
			o.Nav = HubNav
		}
	case "node":
		if o.Nav == nil {
			o.Nav = NodeNav
		}
	default:
		return nil, fmt.Errorf("web: product %q: want \"hub\" or \"node\"", o.Product)
	}
	if o.Name == "" {
		o.Name = "cie " + o.Product
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Site{opts: o, pages: map[string]*template.Template{}}
	if err := s.loadAssets(); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Site) parseTemplates() error {
	base := template.New("layout").Funcs(s.funcs())
	for _, f := range layoutFiles {
		if _, err := base.ParseFS(templateFS, "templates/"+f); err != nil {
			return fmt.Errorf("web: parse %s: %w", f, err)
		}
	}
	if base.Lookup("layout") == nil {
		return errors.New("web: layout.html does not define \"layout\"")
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("web: list templates: %w", err)
	}
	for _, f := range files {
		file := path.Base(f)
		if isLayoutFile(file) {
			continue
		}
		name := strings.TrimSuffix(file, ".html")
		t, err := base.Clone()
		if err != nil {
			return fmt.Errorf("web: page %s: clone layout: %w", name, err)
		}
		if _, err := t.ParseFS(templateFS, f); err != nil {
			return fmt.Errorf("web: parse page %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return fmt.Errorf("web: page %s does not define \"content\"", name)
		}
		s.pages[name] = t
	}
	// Clone the base once more so Partial's template set is never the one the
	// pages were cloned from (html/template forbids parsing after execution).
	b, err := base.Clone()
	if err != nil {
		return fmt.Errorf("web: clone partials: %w", err)
	}
	s.base = b
	return nil
}

func isLayoutFile(f string) bool {
	for _, l := range layoutFiles {
		if f == l {
			return true
		}
	}
	return false
}

// Pages returns the names of the pages Render knows, sorted.
func (s *Site) Pages() []string {
	names := make([]string, 0, len(s.pages))
	for n := range s.pages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Render writes the page named page, in the layout, with the given status.
// The page is rendered into a buffer first: on an unknown page or a template
// error the response is a plain 500 and the error goes to Options.OnError.
func (s *Site) Render(w http.ResponseWriter, status int, page string, p Page) {
	var buf bytes.Buffer
	if err := s.execute(&buf, page, p); err != nil {
		s.fail(w, err)
		return
	}
	writeHTML(w, status, buf.Bytes())
}

// Partial writes the fragment named name (no layout) with status 200, for an
// htmx request. The fragments are the templates defined in partials.html, such
// as "nodes-table" (data NodesData). Errors are handled as in Render.
func (s *Site) Partial(w http.ResponseWriter, name string, data any) {
	t := s.base.Lookup(name)
	if t == nil || name == "layout" {
		s.fail(w, fmt.Errorf("web: no partial %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s.fail(w, fmt.Errorf("web: render partial %s: %w", name, err))
		return
	}
	writeHTML(w, http.StatusOK, buf.Bytes())
}

func (s *Site) execute(buf *bytes.Buffer, page string, p Page) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	v := view{
		Page:     p,
		PageName: page,
		Site: siteInfo{
			Product: s.opts.Product,
			Name:    s.opts.Name,
			Version: s.opts.Version,
			Nav:     s.opts.Nav,
		},
	}
	if err := t.ExecuteTemplate(buf, "layout", v); err != nil {
		return fmt.Errorf("web: render page %s: %w", page, err)
	}
	return nil
}

func (s *Site) fail(w http.ResponseWriter, err error) {
	if s.opts.OnError != nil {
		s.opts.OnError(err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("500 internal server error: the page could not be rendered\n"))
}

func writeHTML(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	// Pages carry the user's name and a CSRF token: never cache them.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Site) loadAssets() error {
	s.assets = map[string]asset{}
	return fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("web: walk static %s: %w", p, err)
		}
		if d.IsDir() {
			return nil
		}
		data, err := staticFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("web: read static %s: %w", p, err)
		}
		ctype := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // do not depend on the host's mime tables
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(data)
		ver := hex.EncodeToString(sum[:6])
		s.assets[strings.TrimPrefix(p, "static/")] = asset{
			data: data, ctype: ctype, ver: ver, etag: `"` + hex.EncodeToString(sum[:16]) + `"`,
		}
		return nil
	})
}

// Static serves the embedded static files. Mount it with
// mux.Handle("/static/", site.Static()); it also accepts paths without the
// /static prefix. A request carrying the file's current content version
// (?v=…, as the templates link them) is cacheable for a year; any other
// request for 5 minutes, then revalidated by ETag.
func (s *Site) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		name = strings.TrimPrefix(name, "/")
		a, ok := s.assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", a.etag)
		if r.URL.Query().Get("v") == a.ver {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=300")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.data))
	})
}

// assetURL is the template func "asset": the versioned URL of a static file.
func (s *Site) assetURL(name string) (string, error) {
	a, ok := s.assets[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return "/static/" + name + "?v=" + a.ver, nil
}

func (s *Site) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": s.assetURL,
		// ago t now: t relative to now, e.g. "3 s ago"; "never" for a zero t.
		"ago": ago,
		// dur t now: the span from t to now, e.g. "5 min".
		"dur": dur,
		// since t: t relative to the site clock.
		"since": func(t time.Time) string { return ago(t, s.opts.Now()) },
		"iso":   iso,
		// datetime t: the value of a <time datetime> attribute.
		"datetime": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
		// sub a b: a-b for sizes, 0 when b > a.
		"sub": func(a, b uint64) uint64 {
			if b > a {
				return 0
			}
			return a - b
		},
		// add a b, isub a b: integer sums and differences for SVG geometry.
		"add":         func(a, b int) int { return a + b },
		"isub":        func(a, b int) int { return a - b },
		"num":         num,
		"bytes":       byteSize,
		"stateLabel":  stateLabel,
		"stateClass":  stateClass,
		"statusText":  http.StatusText,
		"short":       short,
		"count":       count,
		"csrfHeaders": csrfHeaders,
		"placeholderAbout": func(d PlaceholderData) string {
			if d.About != "" {
				return d.About
			}
			return placeholderAbout[strings.ToLower(d.What)]
		},
		"isURL": func(s string) bool {
			return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
		},
	}
}

// ago formats t relative to now: "just now", "3 s ago", "5 min ago",
// "2 h ago", "4 d ago"; "in 3 s" for a time in the future; "never" for zero.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0 && -d >= time.Second:
		return "in " + span(-d)
	case d < time.Second:
		return "just now"
	}
	return span(d) + " ago"
}

// dur formats the time from t to now as a span: "3 s", "5 min", "2 h", "4 d";
// "" for a zero t.
func dur(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	if d < 0 {
		d = -d
	}
	return span(d)
}

func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d d", int(d/(24*time.Hour)))
}

// iso formats t in UTC, ISO 8601 to the second: "2026-03-01 14:02:05Z".
func iso(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func stateLabel(state string) string {
	switch state {
	case "online":
		return "online"
	case "offline":
		return "offline"
	case "never":
		return "never connected"
	}
	if state == "" {
		return "unknown"
	}
	return state
}

func stateClass(state string) string {
	switch state {
	case "online", "offline", "never":
		return "pill-" + state
	}
	return "pill-unknown"
}

// num formats a count with thin spaces between groups of three digits
// (ISO 80000 style, readable in every locale): 18234 → "18 234".
func num(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 4 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// short cuts a long hash or key to its first 16 characters plus "…".
func short(s string) string {
	const n = 16
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// count counts the rows of a NodesData in the given state.
func count(rows []NodeRow, state string) int {
	n := 0
	for _, r := range rows {
		if r.State == state {
			n++
		}
	}
	return n
}

// csrfHeaders is the JSON of hx-headers that makes htmx send the CSRF token
// with every request it makes.
func csrfHeaders(token string) (string, error) {
	b, err := json.Marshal(map[string]string{"X-CSRF-Token": token})
	if err != nil {
		return "", fmt.Errorf("web: csrf headers: %w", err)
	}
	return string(b), nil
}

// byteSize formats a size in bytes with a binary unit, e.g. "3.2 MiB".
func byteSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}
