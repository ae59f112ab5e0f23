package execution_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
)

// queueStats is the part of the queues that reports their contents.
type queueStats interface {
	Stats(ctx context.Context) (queue.Stats, error)
}

// waitQueueDrained waits until the queue has nothing ready, delivered or delayed (bounded:
// 15 s), looking again each time a message leaves it.
func (b *testBundle) waitQueueDrained(t *testing.T) queue.Stats {
	t.Helper()
	q := b.queue.(*signallingQueue)
	var s queue.Stats
	q.left.Await(t, 15*time.Second, func() error {
		var err error
		if s, err = q.Stats(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s.Depth == 0 && s.Pending == 0 && s.Delayed == 0 {
			return nil
		}
		return fmt.Errorf("queue not drained: %+v", s)
	})
	return s
}

func TestMessageForUnknownExecutionIsDropped(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, m.opts)
			is.NoErr(b.queue.Enqueue(context.Background(), queue.Message{ExecutionID: uuid.NewString()}))
			s := b.waitQueueDrained(t)         // acknowledged, not redelivered
			is.Equal(s.DeadLettered, int64(0)) // dropped, not dead-lettered
			is.Equal(b.engine.calls.Load(), int64(0))
		})
	}
}

func TestDuplicateMessageOfFinishedExecutionDoesNotRunAgain(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})
	wf := b.deploy(t, noop, deployments.Config{})
	e := b.waitStatus(t, b.trigger(t, wf).ID, execution.StatusSucceeded)
	is.Equal(b.engine.calls.Load(), int64(1))

	// The sweeper or a redelivery may hand the worker a message of a finished execution.
	is.NoErr(b.queue.Enqueue(context.Background(), queue.Message{ExecutionID: e.ID}))
	b.waitQueueDrained(t)
	is.Equal(b.engine.calls.Load(), int64(1)) // not run again
	again, err := b.execs.Get(context.Background(), e.ID)
	is.NoErr(err)
	is.Equal(again.Attempt, int32(1))
	is.Equal(again.FinishedAt, e.FinishedAt)
}

// TestEarlyMessageWaitsForRetryBackoff: a message that arrives before a retry's backoff has
// passed (the sweeper's, a duplicate) is put back until then; the attempt does not start early.
func TestEarlyMessageWaitsForRetryBackoff(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					w.WriteHeader(http.StatusServiceUnavailable) // retryable
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			t.Cleanup(srv.Close)
			b := setup(t, m.opts)
			backoff := 600 * time.Millisecond
			wf := b.deploy(t, deployments.Node{ID: "call", Type: "http", Params: map[string]any{"url": srv.URL}}, deployments.Config{
				Retry: deployments.RetryPolicy{MaxAttempts: 2, InitialBackoff: backoff, MaxBackoff: backoff, BackoffCoefficient: 1},
			})
			id := b.trigger(t, wf).ID

			// Wait for the first attempt to have failed and the retry to be scheduled.
			var waiting *execution.Execution
			b.awaitChange(t, func() error {
				e, err := b.execs.Get(context.Background(), id)
				is.NoErr(err)
				if e.Status == execution.StatusPending && e.Attempt == 1 {
					waiting = e
					return nil
				}
				if e.Status.Terminal() {
					t.Fatalf("execution is %s at attempt %d, want PENDING for a retry", e.Status, e.Attempt)
				}
				return fmt.Errorf("execution is %s at attempt %d, want PENDING for a retry", e.Status, e.Attempt)
			})
			is.True(waiting.Error != "")                   // the first attempt's failure
			is.True(waiting.AvailableAt.After(time.Now())) // the backoff has not passed yet

			is.NoErr(b.queue.Enqueue(context.Background(), queue.Message{ExecutionID: id})) // early
			done := b.waitStatus(t, id, execution.StatusSucceeded)
			is.Equal(done.Attempt, int32(2))
			is.Equal(hits.Load(), int32(2))                      // the early message did not add a run
			is.True(!done.StartedAt.Before(waiting.AvailableAt)) // the second attempt waited for the backoff
			b.waitQueueDrained(t)
		})
	}
}

func TestCancelFinishedExecutionFails(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})
	wf := b.deploy(t, noop, deployments.Config{})
	e := b.waitStatus(t, b.trigger(t, wf).ID, execution.StatusSucceeded)
	got, err := b.execs.Cancel(context.Background(), e.ID, "too late")
	is.True(errors.Is(err, errdefs.ErrFailedPrecondition)) // already ended
	is.Equal(got.Status, execution.StatusSucceeded)        // and stays so

	_, err = b.execs.Cancel(context.Background(), uuid.NewString(), "")
	is.True(errors.Is(err, errdefs.ErrNotFound))
}

// TestDuplicateDeliveriesRunOnce: messages of one PENDING execution delivered at the same time
// (the sweeper's next to the original, a redelivery) run it once; the overlap policy is never
// applied by a delivery to its own execution: under SKIP it would end SKIPPED ("another
// execution is running", with nothing else running), under CANCEL_OTHER a duplicate would
// cancel the run of its own execution as the older one.
func TestDuplicateDeliveriesRunOnce(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		for _, overlap := range []policy.Overlap{policy.OverlapSkip, policy.OverlapCancelOther} {
			t.Run(m.name+"/"+overlap.String(), func(t *testing.T) {
				t.Parallel()
				is := is.New(t)
				o := m.opts
				o.noWorker = true
				b := setup(t, o)
				wf := b.deploy(t, delay("100ms"), deployments.Config{OverlapPolicy: overlap})
				e := b.trigger(t, wf) // one message
				for range 4 {
					is.NoErr(b.queue.Enqueue(context.Background(), queue.Message{ExecutionID: e.ID}))
				}
				b.startWorker(t, o)
				done := b.waitStatus(t, e.ID, execution.StatusSucceeded, execution.StatusSkipped, execution.StatusCancelled, execution.StatusFailed)
				is.Equal(done.Status, execution.StatusSucceeded) // not ended by its own duplicate
				is.Equal(done.Attempt, int32(1))
				is.Equal(b.engine.calls.Load(), int64(1))
			})
		}
	}
}

// earlyDeadlineEngine answers like a remote engine whose clock runs a little ahead: it returns
// deadline exceeded shortly before the caller's own deadline fires.
type earlyDeadlineEngine struct{ early time.Duration }

func (e earlyDeadlineEngine) Execute(ctx context.Context, req *engine.Request) (*engine.Result, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil, errors.New("no deadline propagated")
	}
	select {
	case <-time.After(time.Until(deadline) - e.early):
		return nil, fmt.Errorf("execute %s on remote engine: %w", req.ExecutionID, context.DeadlineExceeded)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestRemoteDeadlineBeforeLocalTimerIsTimeout: the engine's deadline-exceeded answer arriving
// just before the worker's own execution-timeout timer fires still ends the execution
// TIMED_OUT, not FAILED.
func TestRemoteDeadlineBeforeLocalTimerIsTimeout(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{noWorker: true})
	w := execution.NewWorker(b.db, b.queue, b.locker, earlyDeadlineEngine{early: 20 * time.Millisecond}, b.waitlist, b.notifier, execution.WorkerConfig{
		LockTTL: 2 * time.Second, Logger: slog.New(slog.DiscardHandler),
	})
	startStop(t, w)
	wf := b.deploy(t, noop, deployments.Config{ExecutionTimeout: 300 * time.Millisecond})
	e := b.waitStatus(t, b.trigger(t, wf).ID, execution.StatusTimedOut, execution.StatusFailed)
	is.Equal(e.Status, execution.StatusTimedOut)
	is.Equal(e.Error, "execution timeout of 300ms exceeded")
}
