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

	"github.com/riverqueue/river/rivershared/startstop"

	"github.com/workflow-runtime/workflow-runtime/internal/auth"
)

// profiler serves Go's profiler (net/http/pprof) on its own listener (WFR_PPROF_ADDR), never
// on the API's: profiles show internals and cost CPU, so they are for operators who ask.
type profiler struct {
	addr   string
	logger *slog.Logger
	tokens *auth.Tokens // set off loopback: every profile needs an admin token

	startstop.BaseStartStop
}

// Start listens and serves in the background. Calling it on a running profiler does nothing;
// after Stop it starts again.
//
// Stop (startstop.BaseStartStop's) closes the listener and any profile in progress.
func (p *profiler) Start(ctx context.Context) error {
	stopCtx, shouldStart, started, stopped := p.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // running already
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", p.addr)
	if err != nil {
		stopped() // not started: Start may be called again
		return fmt.Errorf("listen for the profiler on %s: %w", p.addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	var h http.Handler = mux
	if p.tokens != nil {
		h = auth.RequireHTTP(p.tokens, auth.ScopeAdmin, mux)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.logger.Warn("profiler stopped", slog.Any("error", err))
		}
	}()
	go func() {
		defer stopped()
		started()
		<-stopCtx.Done() // Stop
		_ = srv.Close()
		<-served
	}()
	p.logger.Info("profiler listening", slog.String("addr", ln.Addr().String()))
	return nil
}
