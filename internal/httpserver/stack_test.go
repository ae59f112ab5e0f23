package httpserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// deep recurses n frames of about 256 bytes each, as a request's handlers do, and returns
// something the compiler cannot drop.
//
//go:noinline
func deep(n int) byte {
	var pad [256]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[(n+1)%len(pad)]
}

// BenchmarkWithStack serves each request on a new goroutine, as the HTTP/2 server does, with
// a handler 12 KiB deep: without withStack the goroutine's stack grows (and is copied) at
// depth, with it once at the top. Compare the two sub-benchmarks' ns/op.
func BenchmarkWithStack(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if deep(48) == 255 {
			w.WriteHeader(http.StatusTeapot)
		}
	})
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/", nil)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", handler}, {"withStack", withStack(handler)}} {
		b.Run(bc.name, func(b *testing.B) {
			done := make(chan struct{})
			for b.Loop() {
				go func() {
					bc.h.ServeHTTP(httptest.NewRecorder(), req)
					done <- struct{}{}
				}()
				<-done
			}
		})
	}
}

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
	if reserveStack(stackReserve-1) != 0 {
		t.Fatal("reserveStack read a byte it did not write")
	}
}
