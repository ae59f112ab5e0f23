package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"connectrpc.com/connect"
)

// AccessLog is a Connect handler interceptor that writes one line per RPC when it ends:
//
//	{"level":"INFO","msg":"rpc","procedure":"/workflowruntime.v1.WorkflowRuntimeService/GetSystemHealth",
//	 "protocol":"grpc","code":"ok","duration_ms":0.42,"peer":"127.0.0.1:53412"}
//
// Failures add "error"; codes that mean a server fault (internal, unknown, data_loss) are logged
// at ERROR, every other outcome at INFO. Request and response bodies are never logged. Put it
// outermost, so that it sees what the caller sees (including recovered panics and validation
// errors).
type AccessLog struct {
	logger *slog.Logger
	now    func() time.Time
}

var _ connect.Interceptor = (*AccessLog)(nil)

// NewAccessLog returns the access-log interceptor writing to logger.
func NewAccessLog(logger *slog.Logger) *AccessLog {
	return &AccessLog{logger: logger, now: time.Now}
}

// WrapUnary implements connect.Interceptor.
func (a *AccessLog) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		start := a.now()
		res, err := next(ctx, req)
		a.log(ctx, req.Spec().Procedure, req.Peer(), start, err)
		return res, err
	}
}

// WrapStreamingClient implements connect.Interceptor; client streams are not logged.
func (a *AccessLog) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor: one line when the stream ends.
func (a *AccessLog) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := a.now()
		err := next(ctx, conn)
		a.log(ctx, conn.Spec().Procedure, conn.Peer(), start, err)
		return err
	}
}

func (a *AccessLog) log(ctx context.Context, procedure string, peer connect.Peer, start time.Time, err error) {
	code := "ok"
	level := slog.LevelInfo
	if err != nil {
		c := connect.CodeOf(err)
		code = c.String()
		if c == connect.CodeInternal || c == connect.CodeUnknown || c == connect.CodeDataLoss {
			level = slog.LevelError
		}
	}
	if !a.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("procedure", procedure),
		slog.String("protocol", peer.Protocol),
		slog.String("code", code),
		slog.Float64("duration_ms", float64(a.now().Sub(start).Microseconds())/1000),
		slog.String("peer", peer.Addr),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	a.logger.LogAttrs(ctx, level, "rpc", attrs...)
}

// errInternal is what a caller sees of a panic.
var errInternal = errors.New("internal error")

// WithRecover returns the handler option that recovers a panic in a handler (or in an
// interceptor inside it): the panic value and stack are logged at ERROR, and the caller gets
// code internal with a generic message. Place it after the access log and before the other
// interceptors. Panics with http.ErrAbortHandler are left to net/http, as connect does.
func WithRecover(logger *slog.Logger) connect.HandlerOption {
	return connect.WithRecover(RecoverHandler(logger))
}

// RecoverHandler is the function WithRecover installs, for use with connect.WithRecover.
func RecoverHandler(logger *slog.Logger) func(context.Context, connect.Spec, http.Header, any) error {
	return func(ctx context.Context, spec connect.Spec, _ http.Header, panicked any) error {
		logger.LogAttrs(ctx, slog.LevelError, "handler panicked",
			slog.String("procedure", spec.Procedure),
			slog.String("panic", fmt.Sprint(panicked)),
			slog.String("stack", string(debug.Stack())),
		)
		return connect.NewError(connect.CodeInternal, errInternal)
	}
}
