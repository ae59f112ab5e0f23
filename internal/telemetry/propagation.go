package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceContext is the W3C propagator of the queue messages.
var traceContext = propagation.TraceContext{}

// Traceparent returns the W3C traceparent of the span in ctx ("" without a valid span): what
// a producer puts in a queue message.
func Traceparent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// ContextWithTraceparent returns ctx carrying the remote span context of traceparent, so that
// a span started from it is the producer's span's child. An empty or malformed traceparent
// returns ctx unchanged.
func ContextWithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// WithTrace returns logger with the trace_id and span_id of the span in ctx (logger itself
// without a valid span): for a component that logs without a context (logger.Warn) inside a
// request or an execution.
func WithTrace(ctx context.Context, logger *slog.Logger) *slog.Logger {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return logger
	}
	return logger.With(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
}
