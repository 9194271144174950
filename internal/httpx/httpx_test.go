package httpx

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestInstrumentAbort: a handler that cuts its answer short with http.ErrAbortHandler
// leaves the client with a broken body, not a complete-looking short one; any other
// panic becomes a 500.
func TestInstrumentAbort(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/cut", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("the first half"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/bug", func(w http.ResponseWriter, r *http.Request) { panic("a bug") })
	srv := httptest.NewServer(NewMetrics("test").Instrument(mux, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/cut")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("the cut answer read as complete: %q", body)
	}
	resp, err = http.Get(srv.URL + "/bug")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("a panic: %d, want 500", resp.StatusCode)
	}
}
