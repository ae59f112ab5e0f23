package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/watch"
)

// WatchExecutions implements WorkflowRuntimeService: a stream of the watched executions'
// changes (internal/watch), until the execution is terminal, the caller cancels, or the server
// shuts down (unavailable: watch again).
func (h *Handler) WatchExecutions(ctx context.Context, req *v1.WatchExecutionsRequest, stream *connect.ServerStream[v1.WatchExecutionsResponse]) error {
	if h.watches == nil {
		return connect.NewError(connect.CodeUnimplemented, errors.New("this server does not serve watches"))
	}
	q := watch.Query{
		ExecutionID:  req.GetExecutionId(),
		DeploymentID: req.GetDeploymentId(),
		Heartbeat:    req.GetHeartbeatInterval().AsDuration(),
	}
	for _, s := range req.GetStatuses() {
		q.Statuses = append(q.Statuses, execution.Status(enumName(s.String(), "EXECUTION_STATUS_")))
	}
	if q.DeploymentID != "" {
		if _, err := h.deployments.Get(ctx, q.DeploymentID); err != nil {
			return h.toConnect(ctx, err)
		}
	}
	var sendErr error
	err := h.watches.Watch(ctx, q, func(ev watch.Event) error {
		resp := &v1.WatchExecutionsResponse{Synced: ev.Synced}
		if ev.Execution != nil {
			resp.Execution = executionToProto(ev.Execution)
		}
		sendErr = stream.Send(resp)
		return sendErr
	})
	switch {
	case err == nil:
		return nil
	case sendErr != nil && errors.Is(err, sendErr):
		return err // the caller went away or stopped reading; connect says which
	case errors.Is(err, watch.ErrStopped):
		return connect.NewError(connect.CodeUnavailable, err)
	}
	return h.toConnect(ctx, err)
}
