// Package telemetry is the service's logging: the slog logger every component receives, the
// Connect interceptor that writes one access line per RPC, and the panic handler that turns a
// handler panic into an `internal` error with the stack in the log.
//
// Tracing (trace_id/span_id on every line, otelconnect) and Prometheus metrics come with a later
// issue; they belong here too.
package telemetry

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ParseLevel turns debug|info|warn|error into a slog.Level.
func ParseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q is not one of debug, info, warn, error", level)
}

// NewLogger returns a logger writing to w (stdout in production) at level (debug|info|warn|
// error) in format json (one object per line; the default) or text.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "json", "":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q is not one of json, text", format)
}
