package health

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Mount serves GET (and HEAD) /health, /livez and /readyz on mux.
func (c *Checker) Mount(mux *http.ServeMux) {
	mux.Handle("GET /health", c.HealthHandler())
	mux.Handle("GET /livez", c.LiveHandler())
	mux.Handle("GET /readyz", c.ReadyHandler())
}

// HealthHandler serves the Report as JSON: 200 when every dependency is healthy, 503 otherwise.
func (c *Checker) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		report := c.Check(r.Context())
		body, err := json.Marshal(report)
		if err != nil {
			http.Error(w, "encode health report: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !report.Healthy() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write(append(body, '\n'))
	})
}

// LiveHandler answers 200 "ok" for as long as the process serves HTTP: the liveness probe. It
// checks no dependency, so that a database outage does not get every replica restarted.
func (c *Checker) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
}

// ReadyHandler answers 200 "ok" once start-up has finished and while every required
// dependency answers (Readiness); 503 with the reasons before start-up, from the start of
// shutdown and during an outage of one of them.
func (c *Checker) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.Readiness(r.Context()); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
		writeText(w, http.StatusOK, "ok")
	})
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, text)
}
