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
//	              hold, answers 200 {}; remembers when each Idempotency-Key header value
//	              ("<execution id>:<attempt>", sent by every http node) arrived
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
	calls    map[string][]time.Time // by Idempotency-Key
}

func newProbe(t *testing.T, hold time.Duration) *probe {
	t.Helper()
	p := &probe{
		hold:     hold,
		inflight: map[string]int{}, maxAtOnc: map[string]int{}, total: map[string]int{},
		started: map[string]int{}, ended: map[string]int{}, calls: map[string][]time.Time{},
	}
	quit := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/run/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		p.mu.Lock()
		p.inflight[key]++
		p.total[key]++
		p.maxAtOnc[key] = max(p.maxAtOnc[key], p.inflight[key])
		if idem := r.Header.Get("Idempotency-Key"); idem != "" {
			p.calls[idem] = append(p.calls[idem], time.Now())
		}
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

// engineCalls returns when each Idempotency-Key ("<execution id>:<attempt>") reached /run.
func (p *probe) engineCalls() map[string][]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string][]time.Time, len(p.calls))
	for k, v := range p.calls {
		out[k] = append([]time.Time(nil), v...)
	}
	return out
}

// inflightTotal is the number of /run requests in flight, all keys together.
func (p *probe) inflightTotal() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.inflight {
		n += v
	}
	return n
}

// blocked returns, for key, the /block requests that started and those whose context ended.
func (p *probe) blocked(key string) (started, ended int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started[key], p.ended[key]
}
