package runtime_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// scriptedService answers WatchExecutions with the script of each call in turn, and
// GetExecution with a SUCCEEDED execution, to drive the client's watcher through what a
// service does: restarts, refusals, no stream at all.
type scriptedService struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler
	scripts []func(*connect.ServerStream[v1.WatchExecutionsResponse]) error
	watches atomic.Int32
	gets    atomic.Int32
	// listed is called on each GetExecutionHistory, which answers no executions.
	listed func()
}

func (s *scriptedService) GetExecutionHistory(context.Context, *v1.GetExecutionHistoryRequest) (*v1.GetExecutionHistoryResponse, error) {
	if s.listed != nil {
		s.listed()
	}
	return &v1.GetExecutionHistoryResponse{}, nil
}

func (s *scriptedService) WatchExecutions(_ context.Context, _ *v1.WatchExecutionsRequest, stream *connect.ServerStream[v1.WatchExecutionsResponse]) error {
	n := int(s.watches.Add(1)) - 1
	if n >= len(s.scripts) {
		return connect.NewError(connect.CodeUnimplemented, errors.New("no script"))
	}
	return s.scripts[n](stream)
}

func (s *scriptedService) GetExecution(_ context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
	s.gets.Add(1)
	return &v1.GetExecutionResponse{Execution: &v1.Execution{Id: req.GetExecutionId(), Status: v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED}}, nil
}

// serve runs svc on a loopback listener and returns a client of it (the Connect protocol, over
// HTTP/1.1) whose retries wait a millisecond.
func serve(t *testing.T, svc *scriptedService) *runtime.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(workflowruntimev1connect.NewWorkflowRuntimeServiceHandler(svc))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL, runtime.WithProtocol(runtime.ProtocolConnect),
		runtime.WithRetryPolicy(runtime.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}))
}

func send(stream *connect.ServerStream[v1.WatchExecutionsResponse], status v1.ExecutionStatus) error {
	return stream.Send(&v1.WatchExecutionsResponse{Execution: &v1.Execution{Id: "e1", Status: status}})
}

const (
	running   = v1.ExecutionStatus_EXECUTION_STATUS_RUNNING
	succeeded = v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED
)

// TestWatchOpensTheStreamAgain: a stream that ends early (the service restarting) is opened
// again; the state it repeats is not yielded twice.
func TestWatchOpensTheStreamAgain(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	svc := &scriptedService{scripts: []func(*connect.ServerStream[v1.WatchExecutionsResponse]) error{
		func(s *connect.ServerStream[v1.WatchExecutionsResponse]) error {
			if err := send(s, running); err != nil {
				return err
			}
			return connect.NewError(connect.CodeUnavailable, errors.New("shutting down"))
		},
		func(s *connect.ServerStream[v1.WatchExecutionsResponse]) error {
			if err := s.Send(&v1.WatchExecutionsResponse{Synced: true}); err != nil { // no execution: skipped
				return err
			}
			if err := send(s, running); err != nil { // the current state again
				return err
			}
			return send(s, succeeded)
		},
	}}
	c := serve(t, svc)
	var got []v1.ExecutionStatus
	for e, err := range c.WatchExecution(t.Context(), "e1") {
		is.NoErr(err)
		got = append(got, e.GetStatus())
	}
	is.Equal(got, []v1.ExecutionStatus{running, succeeded}) // each state once
	is.Equal(svc.watches.Load(), int32(2))
	is.Equal(svc.gets.Load(), int32(0)) // no polling
}

// TestWatchGivesUpOnAStreamThatKeepsFailing: MaxAttempts streams in a row without a message
// end the watch with the service's error; an error other than unavailable ends it at once.
func TestWatchGivesUpOnAStreamThatKeepsFailing(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	down := func(*connect.ServerStream[v1.WatchExecutionsResponse]) error {
		return connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	svc := &scriptedService{scripts: []func(*connect.ServerStream[v1.WatchExecutionsResponse]) error{down, down, down, down}}
	_, err := serve(t, svc).WaitExecution(t.Context(), "e1")
	is.Equal(code(t, err), connect.CodeUnavailable)
	is.Equal(svc.watches.Load(), int32(3)) // MaxAttempts

	svc = &scriptedService{scripts: []func(*connect.ServerStream[v1.WatchExecutionsResponse]) error{
		func(*connect.ServerStream[v1.WatchExecutionsResponse]) error {
			return connect.NewError(connect.CodeNotFound, errors.New("no such execution"))
		},
	}}
	_, err = serve(t, svc).WaitExecution(t.Context(), "e1")
	is.Equal(code(t, err), connect.CodeNotFound)
	is.Equal(svc.watches.Load(), int32(1))
}

// TestWatchFallsBackToPolling: a service without WatchExecutions (unimplemented) is polled,
// and is not asked for the stream again.
func TestWatchFallsBackToPolling(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	svc := &scriptedService{} // no script: unimplemented
	c := serve(t, svc)
	e, err := c.WaitExecution(t.Context(), "e1")
	is.NoErr(err)
	is.Equal(e.GetStatus(), succeeded)
	for e, err := range c.WatchExecution(t.Context(), "e1") {
		is.NoErr(err)
		is.Equal(e.GetStatus(), succeeded)
	}
	is.Equal(svc.watches.Load(), int32(1)) // asked once
	is.Equal(svc.gets.Load(), int32(2))    // then polled
}

// TestWatchDeploymentFallsBackToPolling: a deployment's watch polls GetExecutionHistory when
// the service has no stream.
func TestWatchDeploymentFallsBackToPolling(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	svc := &scriptedService{listed: cancel} // the caller gives up once the history was read
	for _, err := range serve(t, svc).WatchDeployment(ctx, "d1") {
		is.Equal(code(t, err), connect.CodeCanceled) // the only end of a deployment's watch
	}
	is.Equal(svc.watches.Load(), int32(1)) // the stream was asked for, then polling took over
}
