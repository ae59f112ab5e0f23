package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// probe is the HTTP server the workflows' http nodes call: the engine's side of every run, seen
// from outside the engine process.
//
//	/run/<key>    counts the requests in flight for key (and the most at once), holds each for
//	              hold, answers 200 {}
//	/block/<key>  holds the request until its context ends (the caller went away) and counts
//	              the requests that started and those whose context ended
type probe struct {
	url  string
	hold time.Duration

	mu       sync.Mutex
	inflight map[string]int
	maxAtOnc map[string]int
	total    map[string]int
	started  map[string]int
	ended    map[string]int
}

func newProbe(t *testing.T, hold time.Duration) *probe {
	t.Helper()
	p := &probe{
		hold:     hold,
		inflight: map[string]int{}, maxAtOnc: map[string]int{}, total: map[string]int{},
		started: map[string]int{}, ended: map[string]int{},
	}
	quit := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/run/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		p.mu.Lock()
		p.inflight[key]++
		p.total[key]++
		p.maxAtOnc[key] = max(p.maxAtOnc[key], p.inflight[key])
		p.mu.Unlock()
		select {
		case <-time.After(p.hold):
		case <-r.Context().Done():
		case <-quit:
		}
		p.mu.Lock()
		p.inflight[key]--
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	})
	mux.HandleFunc("/block/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		p.mu.Lock()
		p.started[key]++
		p.mu.Unlock()
		select {
		case <-r.Context().Done():
			p.mu.Lock()
			p.ended[key]++
			p.mu.Unlock()
		case <-quit:
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) }) // runs first: blocked handlers return, Close does not wait
	p.url = strings.TrimSuffix(srv.URL, "/")
	return p
}

// stats returns, for key, the most /run requests at once and the total.
func (p *probe) stats(key string) (maxAtOnce, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxAtOnc[key], p.total[key]
}

// blocked returns, for key, the /block requests that started and those whose context ended.
func (p *probe) blocked(key string) (started, ended int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started[key], p.ended[key]
}
