package httpserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWithStackServes: the wrapped handler is called with the request and writes the reply.
func TestWithStackServes(t *testing.T) {
	rec := httptest.NewRecorder()
	withStack(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/x" {
			t.Errorf("path %q", r.URL.Path)
		}
		w.WriteHeader(http.StatusAccepted)
	})).ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202", rec.Code)
	}
}
