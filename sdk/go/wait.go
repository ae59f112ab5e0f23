package runtime

import (
	"cmp"
	"context"
	"iter"
	"time"

	"github.com/cenkalti/backoff/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

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
// not: look at its status. It follows the WatchExecutions stream (polling GetExecution on a
// service without it). It waits as long as ctx allows; when ctx ends first it returns the
// last state it saw (nil if none) with a canceled or deadline_exceeded *Error. An error of
// the service (not_found, permission_denied, or unavailable after the read's retries) ends
// the wait with that error.
func (c *Client) WaitExecution(ctx context.Context, id string) (*v1.Execution, error) {
	var last *v1.Execution
	err := c.watcher.execution(ctx, id, func(e *v1.Execution) bool {
		last = e
		return true
	})
	return last, toError(err)
}

// WatchExecution yields execution id's state each time it changes: first its state when the
// watch starts, then each change, the last one terminal (IsTerminal), after which the
// iteration ends. An error ends it too, yielded once as an *Error with a nil execution: one
// of the service (not_found, permission_denied, unavailable after the retries) or ctx's end
// (canceled, deadline_exceeded). Changes that follow each other quickly may be seen as one:
// the terminal state is always yielded.
//
//	for e, err := range client.WatchExecution(ctx, id) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(e.GetStatus())
//	}
func (c *Client) WatchExecution(ctx context.Context, id string) iter.Seq2[*v1.Execution, error] {
	return func(yield func(*v1.Execution, error) bool) {
		stopped := false
		err := c.watcher.execution(ctx, id, func(e *v1.Execution) bool {
			stopped = !yield(e, nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(nil, toError(err))
		}
	}
}

// WatchDeployment yields the executions of a deployment as they change, until ctx ends or the
// loop stops: first those PENDING or RUNNING when the watch starts, then every execution
// created or changed after that, each time it changes (quick successive changes may be seen
// as one). It does not end by itself: ctx's end is yielded as a canceled or
// deadline_exceeded *Error, as is an error of the service (not_found for an unknown
// deployment).
func (c *Client) WatchDeployment(ctx context.Context, deploymentID string) iter.Seq2[*v1.Execution, error] {
	return func(yield func(*v1.Execution, error) bool) {
		stopped := false
		err := c.watcher.deployment(ctx, deploymentID, func(e *v1.Execution) bool {
			stopped = !yield(e, nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(nil, toError(err))
		}
	}
}

// watcher follows executions and calls yield with each state it sees, until the watch ends,
// yield returns false (then it returns nil), or an error. streamWatcher (watch.go) follows
// the service's WatchExecutions stream; pollWatcher asks GetExecution and GetExecutionHistory
// again and again, for a service without the stream.
type watcher interface {
	// execution follows one execution until it is terminal.
	execution(ctx context.Context, id string, yield func(*v1.Execution) bool) error
	// deployment follows a deployment's executions until ctx ends.
	deployment(ctx context.Context, deploymentID string, yield func(*v1.Execution) bool) error
}

// Polling intervals of pollWatcher for one execution: from pollInitial, 1.5 times longer each
// time (±20%), at most pollMax. Short executions are seen to end quickly; long ones cost one
// call every few seconds. A deployment is polled every pollDeployment.
const (
	pollInitial    = 50 * time.Millisecond
	pollMax        = 2 * time.Second
	pollDeployment = time.Second
	// pollOverlap is how far before the newest creation time seen a deployment poll lists
	// again, for executions whose transactions committed out of creation order.
	pollOverlap = time.Minute
)

// pollWatcher watches by polling reads (each retried by the client): the watcher of a service
// older than WatchExecutions.
type pollWatcher struct {
	get  func(context.Context, *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error)
	list func(context.Context, *v1.GetExecutionHistoryRequest) (*v1.GetExecutionHistoryResponse, error)
	// every is the interval of deployment polls. Default pollDeployment.
	every time.Duration
}

func (w *pollWatcher) execution(ctx context.Context, id string, yield func(*v1.Execution) bool) error {
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
			return contextError(ctx)
		case <-timer.C:
		}
		res, err := w.get(ctx, &v1.GetExecutionRequest{ExecutionId: id})
		if err != nil {
			if ctx.Err() != nil {
				return contextError(ctx)
			}
			return err
		}
		e := res.GetExecution()
		if last == nil || !proto.Equal(e, last) {
			last = e
			if !yield(e) {
				return nil
			}
		}
		if IsTerminal(e.GetStatus()) {
			return nil
		}
		timer.Reset(interval.NextBackOff())
	}
}

// deployment polls the deployment's history every pollDeployment: the executions created
// since shortly before the newest one seen (all pages), and each unfinished execution created
// earlier by itself. It yields every execution it has not seen in that state.
func (w *pollWatcher) deployment(ctx context.Context, deploymentID string, yield func(*v1.Execution) bool) error {
	seen := map[string]*v1.Execution{} // the last state yielded, of executions not yet forgotten
	var since time.Time                // list executions created at or after this time
	emit := func(e *v1.Execution) bool {
		if old, ok := seen[e.GetId()]; ok && proto.Equal(old, e) {
			return true
		}
		seen[e.GetId()] = e
		return yield(e)
	}
	listAll := func(req *v1.GetExecutionHistoryRequest) ([]*v1.Execution, error) {
		var all []*v1.Execution
		for {
			res, err := w.list(ctx, req)
			if err != nil {
				return nil, err
			}
			all = append(all, res.GetExecutions()...)
			if res.GetNextPageToken() == "" || res.GetNextPageToken() == req.GetPageToken() {
				return all, nil
			}
			req.PageToken = res.GetNextPageToken()
		}
	}
	fail := func(err error) error {
		if ctx.Err() != nil {
			return contextError(ctx)
		}
		return err
	}

	// The state when the watch starts: where new executions begin (the newest one's creation
	// time), the executions the first poll will list again, and the unfinished ones. Read in
	// this order, an execution created meanwhile is either unfinished or new to the first poll.
	newest, err := w.list(ctx, &v1.GetExecutionHistoryRequest{DeploymentId: deploymentID, PageSize: 1})
	if err != nil {
		return fail(err)
	}
	var before []*v1.Execution // what the first poll lists again, as it was at the start
	if es := newest.GetExecutions(); len(es) > 0 {
		since = es[0].GetCreateTime().AsTime()
		before, err = listAll(&v1.GetExecutionHistoryRequest{DeploymentId: deploymentID, StartTime: timestamppb.New(since.Add(-pollOverlap)), PageSize: 1000})
		if err != nil {
			return fail(err)
		}
	}
	open, err := listAll(&v1.GetExecutionHistoryRequest{
		DeploymentId: deploymentID,
		Statuses:     []v1.ExecutionStatus{v1.ExecutionStatus_EXECUTION_STATUS_PENDING, v1.ExecutionStatus_EXECUTION_STATUS_RUNNING},
		PageSize:     1000,
	})
	if err != nil {
		return fail(err)
	}
	for i := len(open) - 1; i >= 0; i-- { // oldest first
		if !emit(open[i]) {
			return nil
		}
	}
	for _, e := range before {
		if _, ok := seen[e.GetId()]; !ok {
			seen[e.GetId()] = e // as it was before the watch: yielded when it changes
		}
	}

	every := cmp.Or(w.every, pollDeployment)
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return contextError(ctx)
		case <-timer.C:
		}
		req := &v1.GetExecutionHistoryRequest{DeploymentId: deploymentID, PageSize: 1000}
		if !since.IsZero() {
			req.StartTime = timestamppb.New(since.Add(-pollOverlap))
		}
		recent, err := listAll(req)
		if err != nil {
			return fail(err)
		}
		listed := make(map[string]bool, len(recent))
		for i := len(recent) - 1; i >= 0; i-- { // oldest first
			e := recent[i]
			listed[e.GetId()] = true
			if t := e.GetCreateTime().AsTime(); t.After(since) {
				since = t
			}
			if !emit(e) {
				return nil
			}
		}
		// Unfinished executions created before the listed range are read one by one.
		for id, e := range seen {
			if listed[id] || IsTerminal(e.GetStatus()) {
				continue
			}
			res, err := w.get(ctx, &v1.GetExecutionRequest{ExecutionId: id})
			if err != nil {
				return fail(err)
			}
			if !emit(res.GetExecution()) {
				return nil
			}
		}
		// Forget what cannot change again and will not be listed again.
		cut := since.Add(-pollOverlap)
		for id, e := range seen {
			if IsTerminal(e.GetStatus()) && e.GetCreateTime().AsTime().Before(cut) {
				delete(seen, id)
			}
		}
		timer.Reset(every)
	}
}
