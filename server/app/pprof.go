package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/auth"
)

// profiler serves Go's profiler (net/http/pprof) on its own listener (WFR_PPROF_ADDR), never
// on the API's: profiles show internals and cost CPU, so they are for operators who ask.
type profiler struct {
	addr   string
	logger *slog.Logger
	tokens *auth.Tokens // set off loopback: every profile needs an admin token
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}
}

// Start listens and serves in the background.
func (p *profiler) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", p.addr)
	if err != nil {
		return fmt.Errorf("listen for the profiler on %s: %w", p.addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	p.ln, p.done = ln, make(chan struct{})
	var h http.Handler = mux
	if p.tokens != nil {
		h = auth.RequireHTTP(p.tokens, auth.ScopeAdmin, mux)
	}
	p.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.logger.Warn("profiler stopped", slog.Any("error", err))
		}
	}()
	p.logger.Info("profiler listening", slog.String("addr", ln.Addr().String()))
	return nil
}

// Stop closes the listener and any profile in progress.
func (p *profiler) Stop() {
	if p.srv == nil {
		return
	}
	_ = p.srv.Close()
	<-p.done
}
