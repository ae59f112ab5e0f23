// Package telemetry is the service's observability: the slog logger every component receives
// (JSON lines with trace_id/span_id, sensitive values masked, optional rotated file), the
// Connect interceptors (access log, panic recovery), and the OpenTelemetry Provider: traces
// (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set), W3C trace context through the queue, and the
// metrics served at /metrics by the Prometheus exporter.
//
// Its acceptance tests (acceptance_*_test.go) need more than this package: one trace across the
// api, worker and engine roles (in-memory span exporter), the /metrics series parsed by the
// Prometheus text parser, masked logs, and /readyz following PostgreSQL and Redis servers that
// the tests stop and start themselves.
package telemetry

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
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
// error) in format json (one object per line; the default) or text, through Handler: trace
// ids on lines logged with a span's context, sensitive values masked.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "json", "":
		return slog.New(NewHandler(slog.NewJSONHandler(w, opts))), nil
	case "text":
		return slog.New(NewHandler(slog.NewTextHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("log format %q is not one of json, text", format)
}

// LogOptions configures OpenLogger. Zero values mean the stated defaults.
type LogOptions struct {
	// Level is debug|info|warn|error. Default info.
	Level string
	// Format is json|text. Default json.
	Format string
	// File, when set, receives the same lines as stdout, rotated by size. Default: no file.
	File string
	// FileMaxSizeMB is the size at which the file is rotated. Default 100.
	FileMaxSizeMB int
	// FileMaxBackups is how many rotated files are kept; 0 keeps them all (WFR_LOG_MAX_BACKUPS
	// defaults to 5).
	FileMaxBackups int
	// FileMaxAgeDays is how many days rotated files are kept; 0 keeps them whatever their age
	// (WFR_LOG_MAX_AGE_DAYS defaults to 28).
	FileMaxAgeDays int
	// FileCompress gzips rotated files. Default false.
	FileCompress bool
}

// OpenLogger returns the logger of the process: lines to stdout and, with opts.File, also to
// that file, rotated through lumberjack. Close the returned Closer at exit (a no-op without a
// file).
func OpenLogger(stdout io.Writer, opts LogOptions) (*slog.Logger, io.Closer, error) {
	var (
		w                = stdout
		closer io.Closer = nopCloser{}
	)
	if opts.File != "" {
		file := &lumberjack.Logger{
			Filename:   opts.File,
			MaxSize:    cmp.Or(opts.FileMaxSizeMB, 100),
			MaxBackups: opts.FileMaxBackups,
			MaxAge:     opts.FileMaxAgeDays,
			Compress:   opts.FileCompress,
		}
		w, closer = io.MultiWriter(stdout, file), file
	}
	logger, err := NewLogger(w, opts.Level, opts.Format)
	if err != nil {
		_ = closer.Close()
		return nil, nil, err
	}
	return logger, closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
