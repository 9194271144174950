package viewertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/viewer"
)

// Paths of the environment's server.
const (
	// NodeBase is where DICOMweb is relayed as a node serves it.
	NodeBase = "/dicomweb"
	// HubBase is where DICOMweb is relayed as the hub relays a node's.
	HubBase = "/nodes/test/dicomweb"
	// BrokenBase relays metadata but answers every frame request with 503,
	// to show how the viewer reports frames it cannot load.
	BrokenBase = "/broken/dicomweb"
)

// Options configure Start.
type Options struct {
	// Dir holds Orthanc's configuration and storage; it must exist.
	Dir string
	// CT is the CT image the series is made from (see CTSeries).
	CT string
	// Slices is the number of slices of the CT series; 0 means 24.
	Slices int
	// Samples are more DICOM files to upload, each shown as its own series
	// (e.g. one file per transfer syntax).
	Samples []string
	// Listen is the server's address; empty means "127.0.0.1:0".
	Listen string
}

// SeriesInfo names one series of the environment and the viewer URL that
// opens it (a path on the environment's server).
type SeriesInfo struct {
	Name           string `json:"name"`
	Study          string `json:"study"`
	Series         string `json:"series"`
	Count          int    `json:"count"`
	TransferSyntax string `json:"transferSyntax,omitempty"`
	Viewer         string `json:"viewer"`
}

// Env is a running environment: Orthanc with the series, and a server with
// the viewer at /viewer/ and DICOMweb at NodeBase, HubBase and BrokenBase.
type Env struct {
	// URL is the server's root, e.g. "http://127.0.0.1:40000".
	URL string `json:"url"`
	// OrthancURL is Orthanc's own REST root.
	OrthancURL string `json:"orthanc"`
	// CT is the generated CT series, opened through NodeBase.
	CT SeriesInfo `json:"ct"`
	// CTViaHub is the same series opened through HubBase.
	CTViaHub SeriesInfo `json:"ctViaHub"`
	// CTBroken is the same series opened through BrokenBase.
	CTBroken SeriesInfo `json:"ctBroken"`
	// Missing opens a series that does not exist.
	Missing SeriesInfo `json:"missing"`
	// Samples are the sample files' series, in the order given.
	Samples []SeriesInfo `json:"samples"`

	orthanc *Orthanc
	srv     *http.Server
}

// Start starts Orthanc, uploads the CT series and the samples, and serves
// the viewer in front of it. Stop it with Close.
func Start(ctx context.Context, o Options) (*Env, error) {
	if o.Slices == 0 {
		o.Slices = 24
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	ct, err := CTSeries(o.CT, o.Slices, "viewer test CT")
	if err != nil {
		return nil, err
	}
	orth, err := StartOrthanc(ctx, o.Dir)
	if err != nil {
		return nil, err
	}
	e := &Env{orthanc: orth, OrthancURL: orth.URL}
	fail := func(err error) (*Env, error) {
		e.Close()
		return nil, err
	}
	for _, f := range ct.Files {
		if err := orth.Upload(ctx, f); err != nil {
			return fail(err)
		}
	}
	vh, err := viewer.New(viewer.Options{DICOMweb: NodeBase})
	if err != nil {
		return fail(err)
	}
	info := func(name, base, study, series string, n int) SeriesInfo {
		return SeriesInfo{Name: name, Study: study, Series: series, Count: n, Viewer: vh.URL(base, study, series)}
	}
	e.CT = info("CT", NodeBase, ct.Study, ct.Series, len(ct.Files))
	e.CTViaHub = info("CT via hub", HubBase, ct.Study, ct.Series, len(ct.Files))
	e.CTBroken = info("CT, frames failing", BrokenBase, ct.Study, ct.Series, len(ct.Files))
	e.Missing = info("missing", NodeBase, "1.2.3.4", "1.2.3.4.5", 0)
	for _, p := range o.Samples {
		b, err := os.ReadFile(p)
		if err != nil {
			return fail(fmt.Errorf("viewertest: sample: %w", err))
		}
		f, err := dicom.Parse(bytes.NewReader(b), int64(len(b)), dicom.ParseOptions{})
		if err != nil {
			return fail(fmt.Errorf("viewertest: sample %s: %w", p, err))
		}
		if err := orth.Upload(ctx, b); err != nil {
			return fail(fmt.Errorf("viewertest: sample %s: %w", p, err))
		}
		si := info(filepath.Base(p), NodeBase, f.Dataset.Text(tags.StudyInstanceUID), f.Dataset.Text(tags.SeriesInstanceUID), 1)
		si.TransferSyntax = f.TS.UID
		e.Samples = append(e.Samples, si)
	}

	mux := http.NewServeMux()
	mux.Handle("/viewer/", vh)
	mux.Handle(NodeBase+"/", orth.Proxy(NodeBase+"/"))
	mux.Handle(HubBase+"/", orth.Proxy(HubBase+"/"))
	broken := orth.Proxy(BrokenBase + "/")
	mux.Handle(BrokenBase+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/frames/") {
			http.Error(w, "frames are switched off here", http.StatusServiceUnavailable)
			return
		}
		broken.ServeHTTP(w, r)
	}))
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fail(fmt.Errorf("viewertest: %w", err))
	}
	e.URL = "http://" + ln.Addr().String()
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

// Close stops the server and Orthanc.
func (e *Env) Close() error {
	var errs []error
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("viewertest: stopping the server: %w", err))
		}
	}
	if e.orthanc != nil {
		errs = append(errs, e.orthanc.Close())
	}
	return errors.Join(errs...)
}

// OrthancLog returns what Orthanc printed so far.
func (e *Env) OrthancLog() string { return e.orthanc.Log() }

// SampleFiles returns the files of dir whose names are in names and exist,
// in the order of names (sorted when names is empty: every .dcm file).
func SampleFiles(dir string, names ...string) []string {
	if len(names) == 0 {
		m, _ := filepath.Glob(filepath.Join(dir, "*.dcm"))
		sort.Strings(m)
		return m
	}
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}
