package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// JSON writes v as a JSON reply with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Problem is the body of every JSON error reply.
type Problem struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// Error writes a JSON error reply.
func Error(w http.ResponseWriter, status int, format string, args ...any) {
	JSON(w, status, Problem{Status: status, Error: fmt.Sprintf(format, args...)})
}

// Ready tracks whether a role is ready to serve; /readyz answers 503 until
// Set(true) and after Set(false) with the reason.
type Ready struct {
	reason atomic.Pointer[string]
}

// NewReady returns a Ready that is not ready, for reason.
func NewReady(reason string) *Ready {
	r := &Ready{}
	r.NotReady(reason)
	return r
}

// OK marks the role ready.
func (r *Ready) OK() { r.reason.Store(nil) }

// NotReady marks the role not ready, for reason.
func (r *Ready) NotReady(reason string) { r.reason.Store(&reason) }

// Reason returns why the role is not ready ("" when ready).
func (r *Ready) Reason() string {
	if p := r.reason.Load(); p != nil {
		return *p
	}
	return ""
}

// Probes registers /healthz (the process answers) and /readyz (the role is
// ready) on mux.
func Probes(mux Mux, ready *Ready) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if reason := ready.Reason(); reason != "" {
			JSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason})
			return
		}
		JSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// Metrics is a role's own Prometheus registry (never the global one: the
// demo may run several roles in one process) with HTTP request metrics.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics returns a registry with Go and process collectors and the
// request metrics, labelled with role.
func NewMetrics(role string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cie_http_requests_total", Help: "HTTP requests served, by route pattern and status code.",
			ConstLabels: prometheus.Labels{"role": role},
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cie_http_request_duration_seconds", Help: "HTTP request latency, by route pattern.",
			ConstLabels: prometheus.Labels{"role": role}, Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the wrapper.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Instrument wraps mux: every request is counted and timed by its route
// pattern, and logged at debug level; a handler panic becomes a 500.
func (m *Metrics) Instrument(mux *http.ServeMux, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		_, pattern := mux.Handler(r)
		if pattern == "" {
			pattern = "unmatched"
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { // a deliberate cut: the client must see a broken answer
					m.requests.WithLabelValues(pattern, "aborted").Inc()
					panic(v)
				}
				log.Error("handler panic", "route", pattern, "panic", v)
				if sw.code == 0 {
					Error(sw, http.StatusInternalServerError, "internal error")
				}
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(pattern, strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
			log.Debug("http", "method", r.Method, "path", r.URL.Path, "code", code, "dur", time.Since(start))
		}()
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "same-origin")
		mux.ServeHTTP(sw, r)
	})
}

// Listen opens a TCP listener on addr, with an error naming the address.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves h on ln until ctx is done, then shuts down gracefully
// (waiting up to 5 s for requests in flight).
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutting down http on %s: %w", ln.Addr(), err)
	}
	return nil
}

// OpenAPIOperations lists the operations of an OpenAPI document as
// "METHOD /path" patterns (path parameters as {name}), sorted.
func OpenAPIOperations(doc []byte) ([]string, error) {
	var d struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("parsing OpenAPI document: %w", err)
	}
	if d.OpenAPI == "" {
		return nil, errors.New("parsing OpenAPI document: no openapi version")
	}
	var out []string
	for path, ops := range d.Paths {
		for method := range ops {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Mux is what routes are registered on: an *http.ServeMux, or a Recorder.
type Mux interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Recorder is an *http.ServeMux that also notes every pattern registered on it, so that
// a server can list its routes (tests check that each one is covered).
type Recorder struct {
	*http.ServeMux
	Patterns []string
}

// NewRecorder returns a Recorder over a new ServeMux.
func NewRecorder() *Recorder { return &Recorder{ServeMux: http.NewServeMux()} }

// Handle registers handler for pattern and notes the pattern.
func (m *Recorder) Handle(pattern string, handler http.Handler) {
	m.ServeMux.Handle(pattern, handler)
	m.Patterns = append(m.Patterns, pattern)
}

// HandleFunc registers handler for pattern and notes the pattern.
func (m *Recorder) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.ServeMux.HandleFunc(pattern, handler)
	m.Patterns = append(m.Patterns, pattern)
}

// Route is one endpoint of a JSON API.
type Route struct {
	Pattern string // "METHOD /path", as http.ServeMux takes it
	Handler http.HandlerFunc
}

// OpenAPIRoute serves an OpenAPI document at GET /api/v1/openapi.json.
func OpenAPIRoute(doc []byte) Route {
	return Route{"GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}}
}
