package viewertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrNoOrthanc is returned by StartOrthanc when Orthanc or its DICOMweb plugin
// is not installed.
var ErrNoOrthanc = errors.New("viewertest: Orthanc with the DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)")

// Orthanc is a running Orthanc server with its DICOMweb plugin, on loopback,
// with its own configuration and storage in a folder.
type Orthanc struct {
	// URL is Orthanc's REST root, e.g. "http://127.0.0.1:41234".
	URL string
	// DICOMweb is the root of its DICOMweb plugin: URL + "/dicom-web".
	DICOMweb string

	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
	once sync.Once
	err  error
}

// findOrthanc returns the Orthanc program and DICOMweb plugin: from
// CIE_ORTHANC and CIE_ORTHANC_DICOMWEB when set, else Debian's paths.
func findOrthanc() (bin, plugin string, err error) {
	bin = os.Getenv("CIE_ORTHANC")
	if bin == "" {
		if bin, err = exec.LookPath("Orthanc"); err != nil {
			bin = "/usr/sbin/Orthanc"
		}
	}
	plugin = os.Getenv("CIE_ORTHANC_DICOMWEB")
	if plugin == "" {
		plugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
	}
	for _, p := range []string{bin, plugin} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("%w: %v", ErrNoOrthanc, err)
		}
	}
	return bin, plugin, nil
}

// freePort asks the kernel for a free TCP port on loopback. Another process
// could take it before Orthanc binds it; StartOrthanc then fails and says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("viewertest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartOrthanc starts Orthanc with the DICOMweb plugin on free loopback ports,
// its configuration, index and storage under dir (which must exist), and
// waits until its REST API answers. The DIMSE listener is off. Stop it with
// Close; it is also killed when ctx ends.
func StartOrthanc(ctx context.Context, dir string) (*Orthanc, error) {
	bin, plugin, err := findOrthanc()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	dicomPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{
		"Name":                  "cie-viewer-test",
		"StorageDirectory":      filepath.Join(dir, "storage"),
		"IndexDirectory":        filepath.Join(dir, "index"),
		"HttpPort":              httpPort,
		"DicomPort":             dicomPort,
		"DicomServerEnabled":    false,
		"RemoteAccessAllowed":   false,
		"AuthenticationEnabled": false,
		"HttpDescribeErrors":    true,
		"SaveJobs":              false,
		"Plugins":               []string{plugin},
		"DicomWeb": map[string]any{
			"Enable": true, "Root": "/dicom-web/", "EnableWado": false,
			"StudiesMetadata": "Full", "SeriesMetadata": "Full",
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("viewertest: Orthanc configuration: %w", err)
	}
	conf := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		return nil, fmt.Errorf("viewertest: writing %s: %w", conf, err)
	}
	o := &Orthanc{
		URL:  fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		log:  &bytes.Buffer{},
		done: make(chan struct{}),
	}
	o.DICOMweb = o.URL + "/dicom-web"
	o.cmd = exec.CommandContext(ctx, bin, conf)
	o.cmd.Dir = dir
	o.cmd.Stdout = &syncWriter{w: o.log}
	o.cmd.Stderr = o.cmd.Stdout
	if err := o.cmd.Start(); err != nil {
		return nil, fmt.Errorf("viewertest: starting %s: %w", bin, err)
	}
	go func() {
		o.err = o.cmd.Wait()
		close(o.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-o.done:
			return nil, fmt.Errorf("viewertest: Orthanc exited at start (%v):\n%s", o.err, o.Log())
		default:
		}
		if err := o.get(ctx, "/dicom-web/studies", nil); err == nil {
			return o, nil
		} else if time.Now().After(deadline) {
			o.Close()
			return nil, fmt.Errorf("viewertest: Orthanc's DICOMweb did not answer in 30 s (%v):\n%s", err, o.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Log returns what Orthanc has printed so far.
func (o *Orthanc) Log() string {
	w := o.cmd.Stdout.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return o.log.String()
}

func (o *Orthanc) get(ctx context.Context, p string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL+p, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", p, res.Status, b)
	}
	if v != nil {
		return json.Unmarshal(b, v)
	}
	return nil
}

// Upload stores one DICOM Part 10 file in Orthanc (POST /instances).
func (o *Orthanc) Upload(ctx context.Context, file []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL+"/instances", bytes.NewReader(file))
	if err != nil {
		return fmt.Errorf("viewertest: upload: %w", err)
	}
	req.Header.Set("Content-Type", "application/dicom")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("viewertest: upload: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("viewertest: upload: Orthanc answered %s: %s", res.Status, b)
	}
	var st struct{ Status string }
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("viewertest: upload: Orthanc's answer %q: %w", b, err)
	}
	if st.Status != "Success" && st.Status != "AlreadyStored" {
		return fmt.Errorf("viewertest: upload: Orthanc says %q", st.Status)
	}
	return nil
}

// Close stops Orthanc and waits for it to exit.
func (o *Orthanc) Close() error {
	o.once.Do(func() {
		if o.cmd.Process != nil {
			_ = o.cmd.Process.Signal(os.Interrupt)
		}
		select {
		case <-o.done:
		case <-time.After(10 * time.Second):
			_ = o.cmd.Process.Kill()
			<-o.done
		}
	})
	return nil
}

// Proxy returns a handler that relays requests under prefix (e.g.
// "/dicomweb/") to Orthanc's DICOMweb root, the way a node or the hub serves
// DICOMweb on the viewer's origin: GET {prefix}studies/… is answered by
// {Orthanc}/dicom-web/studies/…. Other paths are 404.
func (o *Orthanc) Proxy(prefix string) http.Handler {
	target, _ := url.Parse(o.DICOMweb + "/")
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			rest := strings.TrimPrefix(r.In.URL.Path, prefix)
			r.Out.URL.Scheme = target.Scheme
			r.Out.URL.Host = target.Host
			r.Out.URL.Path = target.Path + rest
			r.Out.URL.RawPath = ""
			r.Out.Host = target.Host
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	})
}
