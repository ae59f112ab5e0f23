package runtime

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for s := range v1.ExecutionStatus_name {
		status := v1.ExecutionStatus(s)
		want := status != v1.ExecutionStatus_EXECUTION_STATUS_UNSPECIFIED &&
			status != v1.ExecutionStatus_EXECUTION_STATUS_PENDING &&
			status != v1.ExecutionStatus_EXECUTION_STATUS_RUNNING
		is.Equal(IsTerminal(status), want) // every status of the proto is classified
	}
}

// statuses answers GetExecution with the given statuses in turn (the last one from then on).
func statuses(list ...v1.ExecutionStatus) (func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error), *int) {
	n := 0
	return func(_ context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
		s := list[min(n, len(list)-1)]
		n++
		return &v1.GetExecutionResponse{Execution: &v1.Execution{Id: req.GetExecutionId(), Status: s}}, nil
	}, &n
}

func TestPollWaiter(t *testing.T) {
	t.Parallel()

	t.Run("until terminal", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		get, n := statuses(v1.ExecutionStatus_EXECUTION_STATUS_PENDING, v1.ExecutionStatus_EXECUTION_STATUS_RUNNING,
			v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
		e, err := (&pollWaiter{get: get}).wait(t.Context(), "e1")
		is.NoErr(err)
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED) // a failure is an end too
		is.Equal(*n, 3)
	})
	t.Run("an error of the service ends it", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		w := &pollWaiter{get: func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("no such execution"))
		}}
		e, err := w.wait(t.Context(), "e1")
		is.True(e == nil)
		is.Equal(connect.CodeOf(err), connect.CodeNotFound)
	})
	t.Run("the context ends it with the last state seen", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		get, _ := statuses(v1.ExecutionStatus_EXECUTION_STATUS_RUNNING)
		w := &pollWaiter{get: func(ctx context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
			defer cancel() // the caller gives up after the first answer
			return get(ctx, req)
		}}
		e, err := w.wait(ctx, "e1")
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_RUNNING)
		is.Equal(connect.CodeOf(err), connect.CodeCanceled)
	})
	t.Run("a call cut by the context reports the context", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		w := &pollWaiter{get: func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
			cancel()
			return nil, connect.NewError(connect.CodeUnavailable, errors.New("connection reset"))
		}}
		_, err := w.wait(ctx, "e1")
		is.Equal(connect.CodeOf(err), connect.CodeCanceled)
	})
}
