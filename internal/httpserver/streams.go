package httpserver

import (
	"context"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

// Long-lived streams and the server's timeouts.
//
// WFR_READ_TIMEOUT and WFR_WRITE_TIMEOUT bound a whole request and a whole response: right for
// unary RPCs, fatal for a stream that stays open for hours (over HTTP/2 the write timeout resets
// the stream when it fires, writing or not). The procedures in streamingProcedures therefore
// manage their own deadlines, through the http.ResponseController of their response:
//
//   - once the request is read (when the handler starts), the read deadline is lifted: nothing
//     more is read, and over HTTP/1.1 an expired read deadline would end the request;
//   - the write deadline is lifted while the stream waits for something to send, and set to
//     WFR_WRITE_TIMEOUT from now for each message: a caller that stops reading is cut off after
//     it, as a unary caller would be, while a quiet stream lives as long as the caller wants.

// streamingProcedures are the long-lived server streams.
var streamingProcedures = map[string]bool{
	workflowruntimev1connect.WorkflowRuntimeServiceWatchExecutionsProcedure: true,
}

type deadlinesKey struct{}

// streamDeadlines is what a stream's interceptor needs of its response.
type streamDeadlines struct {
	rc    *http.ResponseController
	write time.Duration // WFR_WRITE_TIMEOUT; 0: none
}

// withStreamDeadlines hands the streaming procedures' handlers their response's controller,
// through the request's context.
func withStreamDeadlines(next http.Handler, writeTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if streamingProcedures[r.URL.Path] {
			d := &streamDeadlines{rc: http.NewResponseController(w), write: writeTimeout}
			r = r.WithContext(context.WithValue(r.Context(), deadlinesKey{}, d))
		}
		next.ServeHTTP(w, r)
	})
}

// streamDeadlineInterceptor lifts the read deadline of the streaming procedures when their
// handler starts and bounds each message's write by the write timeout, nothing else.
type streamDeadlineInterceptor struct{}

func (streamDeadlineInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (streamDeadlineInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (streamDeadlineInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		d, ok := ctx.Value(deadlinesKey{}).(*streamDeadlines)
		if !ok {
			return next(ctx, conn)
		}
		// Errors say the writer cannot (http.ErrNotSupported): the server's timeouts then apply.
		_ = d.rc.SetReadDeadline(time.Time{})
		_ = d.rc.SetWriteDeadline(time.Time{})
		return next(ctx, deadlineConn{StreamingHandlerConn: conn, d: d})
	}
}

// deadlineConn bounds each Send by the write timeout and lifts the deadline again after it.
type deadlineConn struct {
	connect.StreamingHandlerConn
	d *streamDeadlines
}

func (c deadlineConn) Send(msg any) error {
	if c.d.write > 0 {
		_ = c.d.rc.SetWriteDeadline(time.Now().Add(c.d.write))
		defer func() { _ = c.d.rc.SetWriteDeadline(time.Time{}) }()
	}
	return c.StreamingHandlerConn.Send(msg)
}
