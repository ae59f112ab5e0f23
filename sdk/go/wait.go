package runtime

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// IsTerminal reports whether an execution in status s has ended: SUCCEEDED, FAILED,
// CANCELLED, TIMED_OUT or SKIPPED. A terminal execution never changes again.
func IsTerminal(s v1.ExecutionStatus) bool {
	switch s {
	case v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED,
		v1.ExecutionStatus_EXECUTION_STATUS_FAILED,
		v1.ExecutionStatus_EXECUTION_STATUS_CANCELLED,
		v1.ExecutionStatus_EXECUTION_STATUS_TIMED_OUT,
		v1.ExecutionStatus_EXECUTION_STATUS_SKIPPED:
		return true
	}
	return false
}

// WaitExecution returns execution id once it has ended (IsTerminal), whether it succeeded or
// not: look at its status. It waits as long as ctx allows; when ctx ends first it returns the
// last state it saw (nil if none) with a canceled or deadline_exceeded *Error. An error of
// the service (not_found, permission_denied, or unavailable after the read's retries) ends
// the wait with that error.
func (c *Client) WaitExecution(ctx context.Context, id string) (*v1.Execution, error) {
	e, err := c.waiter.wait(ctx, id)
	return e, toError(err)
}

// waiter follows one execution until it ends. pollWaiter asks GetExecution again and again;
// once the service streams status changes (WatchExecutions), a waiter on that stream takes
// its place in NewClient without WaitExecution changing.
type waiter interface {
	wait(ctx context.Context, id string) (*v1.Execution, error)
}

// Polling intervals of pollWaiter: from pollInitial, 1.5 times longer each time (±20%), at
// most pollMax. Short executions are seen to end quickly; long ones cost one call every few
// seconds.
const (
	pollInitial = 50 * time.Millisecond
	pollMax     = 2 * time.Second
)

// pollWaiter waits by polling GetExecution (a read, so each call is retried by the client).
type pollWaiter struct {
	get func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error)
}

func (w *pollWaiter) wait(ctx context.Context, id string) (*v1.Execution, error) {
	interval := backoff.NewExponentialBackOff()
	interval.InitialInterval = pollInitial
	interval.MaxInterval = pollMax
	interval.RandomizationFactor = 0.2
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last *v1.Execution
	for {
		select {
		case <-ctx.Done():
			return last, contextError(ctx)
		case <-timer.C:
		}
		res, err := w.get(ctx, &v1.GetExecutionRequest{ExecutionId: id})
		if err != nil {
			if ctx.Err() != nil {
				return last, contextError(ctx)
			}
			return last, err
		}
		last = res.GetExecution()
		if IsTerminal(last.GetStatus()) {
			return last, nil
		}
		timer.Reset(interval.NextBackOff())
	}
}
