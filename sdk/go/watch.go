package runtime

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/cenkalti/backoff/v5"
	"google.golang.org/protobuf/proto"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// streamWatcher follows executions on the service's WatchExecutions stream: no polling, each
// change as the service sees it. A stream that ends before the watch does (the service shut
// down: unavailable) is opened again, waiting as the retry policy says between attempts that
// fail; its first messages repeat the current state, and states already yielded are not
// yielded again. A service without the stream (older than it: unimplemented) is followed by
// polling instead, from then on.
type streamWatcher struct {
	watch func(context.Context, *v1.WatchExecutionsRequest) (*connect.ServerStreamForClient[v1.WatchExecutionsResponse], error)
	poll  *pollWatcher
	retry RetryPolicy
	// noStream is set once the service answered unimplemented.
	noStream atomic.Bool
}

// seenLimit bounds the states a deployment's watch remembers to avoid yielding one twice
// after it opened the stream again; past it, it forgets them all (a repeat is harmless).
const seenLimit = 10000

func (w *streamWatcher) execution(ctx context.Context, id string, yield func(*v1.Execution) bool) error {
	if w.noStream.Load() {
		return w.poll.execution(ctx, id, yield)
	}
	var last *v1.Execution
	done := false
	err := w.follow(ctx, &v1.WatchExecutionsRequest{Target: &v1.WatchExecutionsRequest_ExecutionId{ExecutionId: id}},
		func(e *v1.Execution) bool {
			if last != nil && proto.Equal(last, e) {
				return true // the state again, from a stream opened again
			}
			last = e
			if !yield(e) || IsTerminal(e.GetStatus()) {
				done = true
				return false
			}
			return true
		})
	if errUnimplemented(err) {
		w.noStream.Store(true)
		return w.poll.execution(ctx, id, yield)
	}
	if done {
		return nil
	}
	return err
}

func (w *streamWatcher) deployment(ctx context.Context, deploymentID string, yield func(*v1.Execution) bool) error {
	if w.noStream.Load() {
		return w.poll.deployment(ctx, deploymentID, yield)
	}
	seen := map[string]*v1.Execution{}
	stopped := false
	err := w.follow(ctx, &v1.WatchExecutionsRequest{Target: &v1.WatchExecutionsRequest_DeploymentId{DeploymentId: deploymentID}},
		func(e *v1.Execution) bool {
			if old, ok := seen[e.GetId()]; ok && proto.Equal(old, e) {
				return true
			}
			if len(seen) >= seenLimit {
				clear(seen)
			}
			seen[e.GetId()] = e
			stopped = !yield(e)
			return !stopped
		})
	if errUnimplemented(err) {
		w.noStream.Store(true)
		return w.poll.deployment(ctx, deploymentID, yield)
	}
	if stopped {
		return nil
	}
	return err
}

// follow opens the stream of req and hands each execution it carries to next (heartbeats and
// the end of the initial state carry none) until next returns false (then it returns nil) or
// ctx ends. A stream that ends otherwise, cleanly or with unavailable, is opened again after
// a backoff; RetryPolicy.MaxAttempts streams in a row that fail without a message end the
// watch with the last error. Any other error ends it at once (not_found, permission_denied,
// unimplemented).
func (w *streamWatcher) follow(ctx context.Context, req *v1.WatchExecutionsRequest, next func(*v1.Execution) bool) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = w.retry.InitialBackoff
	b.MaxInterval = w.retry.MaxBackoff
	failures := 0
	for {
		stopped, received, err := w.once(ctx, req, next)
		switch {
		case stopped:
			return nil
		case ctx.Err() != nil:
			return contextError(ctx)
		case err != nil && connect.CodeOf(err) != connect.CodeUnavailable:
			return err
		}
		if received {
			failures = 0
			b.Reset()
		}
		failures++
		if failures >= max(w.retry.MaxAttempts, 1) {
			if err == nil {
				err = connect.NewError(connect.CodeUnavailable, errStreamEnded)
			}
			return err
		}
		timer := time.NewTimer(b.NextBackOff())
		select {
		case <-ctx.Done():
			timer.Stop()
			return contextError(ctx)
		case <-timer.C:
		}
	}
}

// errStreamEnded is the error of streams that kept ending before the watch did.
var errStreamEnded = errors.New("the watch stream kept ending before the watch did")

// once follows one stream until it ends or next says stop (stopped). received says whether
// a message came; err is the stream's error, nil when it ended cleanly (the service going
// away).
func (w *streamWatcher) once(ctx context.Context, req *v1.WatchExecutionsRequest, next func(*v1.Execution) bool) (stopped, received bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // closes the stream when next says stop
	stream, err := w.watch(ctx, req)
	if err != nil {
		return false, false, err
	}
	defer func() { _ = stream.Close() }()
	for stream.Receive() {
		received = true
		e := stream.Msg().GetExecution()
		if e == nil {
			continue // a heartbeat, or the end of the initial state
		}
		if !next(e) {
			return true, true, nil
		}
	}
	return false, received, stream.Err()
}

// errUnimplemented reports whether err says the service has no WatchExecutions.
func errUnimplemented(err error) bool {
	return connect.CodeOf(err) == connect.CodeUnimplemented
}
