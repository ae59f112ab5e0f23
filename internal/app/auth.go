package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"connectrpc.com/connect"

	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// startAuth loads the bearer tokens when authentication is on and reloads them on SIGHUP until
// Stop. A reload that fails keeps the tokens in force and says why in the log.
func (a *App) startAuth() error {
	switch {
	case a.cfg.AuthEnabled():
	case a.cfg.Auth == "none" && !config.IsLoopback(a.cfg.Addr):
		a.logger.Warn("authentication is off (WFR_AUTH=none): anyone who can connect may deploy, trigger and delete", "addr", a.cfg.Addr)
		return nil
	default:
		return nil
	}
	tokens, err := auth.Load(a.cfg.AuthTokensFile)
	if err != nil {
		return fmt.Errorf("start auth: %w", err)
	}
	a.tokens = tokens
	a.logger.Info("bearer tokens loaded", "file", a.cfg.AuthTokensFile, "tokens", tokens.Len())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	a.stopAuth = func() { signal.Stop(hup); close(hup) }
	go func() {
		for range hup {
			if err := tokens.Reload(); err != nil {
				a.logger.Error("tokens not reloaded; the previous ones stay in force", slog.Any("error", err))
				continue
			}
			a.logger.Info("bearer tokens reloaded", "file", a.cfg.AuthTokensFile, "tokens", tokens.Len())
		}
	}()
	return nil
}

// bearer is a client interceptor that sends a fixed bearer token on every call.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// rootCAs are the certificate authorities trusted by this process's TLS connections (remote
// engine, Redis): the system's plus WFR_TLS_CA_FILE; nil (the system's) without it.
func (a *App) rootCAs() (*x509.CertPool, error) {
	if a.cfg.TLSCAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(a.cfg.TLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("WFR_TLS_CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("WFR_TLS_CA_FILE: %s holds no PEM certificate", a.cfg.TLSCAFile)
	}
	return pool, nil
}
