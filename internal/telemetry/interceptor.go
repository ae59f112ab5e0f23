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
// at ERROR, every other failure at INFO. A unary call that succeeds is logged at INFO only with
// AccessLogConfig.All or when it took at least AccessLogConfig.Slow (it then adds "slow":true),
// and at DEBUG otherwise: a busy service writes no line per call at the default level, as
// Kubernetes' API server keeps its per-request log to a higher verbosity. A stream is logged at
// INFO when it ends. Request and response bodies are never logged. Put it outermost, so that it
// sees what the caller sees (including recovered panics and validation errors).
type AccessLog struct {
	logger *slog.Logger
	cfg    AccessLogConfig
	now    func() time.Time
}

// AccessLogConfig says which successful unary calls AccessLog writes at INFO.
type AccessLogConfig struct {
	// All writes every call at INFO (WFR_ACCESS_LOG=all).
	All bool
	// Slow writes a successful call that took at least this long at INFO (0: none).
	Slow time.Duration
}

var _ connect.Interceptor = (*AccessLog)(nil)

// NewAccessLog returns the access-log interceptor writing to logger.
func NewAccessLog(logger *slog.Logger, cfg AccessLogConfig) *AccessLog {
	return &AccessLog{logger: logger, cfg: cfg, now: time.Now}
}

// WrapUnary implements connect.Interceptor.
func (a *AccessLog) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		start := a.now()
		res, err := next(ctx, req)
		a.log(ctx, req.Spec().Procedure, req.Peer(), start, err, true)
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
		a.log(ctx, conn.Spec().Procedure, conn.Peer(), start, err, false)
		return err
	}
}

func (a *AccessLog) log(ctx context.Context, procedure string, peer connect.Peer, start time.Time, err error, unary bool) {
	code := "ok"
	level := slog.LevelInfo
	var took time.Duration
	slow := false
	if err != nil {
		c := connect.CodeOf(err)
		code = c.String()
		if c == connect.CodeInternal || c == connect.CodeUnknown || c == connect.CodeDataLoss {
			level = slog.LevelError
		}
	} else if unary && !a.cfg.All {
		// Timed only here: a quick success at DEBUG costs no clock read when DEBUG is off.
		took = a.now().Sub(start)
		if slow = a.cfg.Slow > 0 && took >= a.cfg.Slow; !slow {
			level = slog.LevelDebug
		}
	}
	if !a.logger.Enabled(ctx, level) {
		return
	}
	if took == 0 {
		took = a.now().Sub(start)
	}
	attrs := []slog.Attr{
		slog.String("procedure", procedure),
		slog.String("protocol", peer.Protocol),
		slog.String("code", code),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.String("peer", peer.Addr),
	}
	if slow {
		attrs = append(attrs, slog.Bool("slow", true))
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
