package execution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/engine"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/queue"
	"github.com/workflow-runtime/workflow-runtime/server/telemetry"
)

// run claims the row under lease, runs the engine while renewing both leases, records the
// outcome and releases the leases. It reports whether the lease was lost during the run.
func (w *Worker) run(ctx context.Context, log *slog.Logger, e *Execution, cfg *deployments.Config, gate, lease *lock.Lease) (lost bool) {
	bg := context.WithoutCancel(ctx)
	defer w.release(ctx, log, gate)
	defer w.release(ctx, log, lease)
	e, err := w.steps.claimExecution(ctx, e.ID, lease.Fence, w.cfg.Now().UTC())
	if err != nil {
		if !errors.Is(err, apperr.ErrConflict) {
			log.Warn("claim failed", slog.Any("error", err))
		}
		return false
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("wfr.execution.attempt", int(e.Attempt)), attribute.Int("wfr.revision", int(e.Revision)))
	if cfg.OverlapPolicy == deployments.OverlapCancelOther {
		if n, err := w.waitlist.Len(ctx, e.WorkflowID); err == nil && n > 0 {
			// A newer execution arrived before this one was RUNNING (see admitWhileHeld).
			w.finish(bg, log, e, lease.Fence, StatusCancelled, nil, "cancelled by a newer execution (overlap policy CANCEL_OTHER)")
			return false
		}
	}
	def, err := w.revisions.get(ctx, w.store, e.WorkflowID, e.Revision)
	if err != nil {
		log.Warn("load revision failed", slog.Any("error", err))
		w.finish(bg, log, e, lease.Fence, StatusFailed, nil, fmt.Sprintf("load revision %d: %v", e.Revision, err))
		return false
	}

	held, stopHold := lock.Hold(bg, w.locker, lease, w.cfg.LockTTL/3)
	defer stopHold()
	if gate != nil {
		var stopGate func()
		held, stopGate = lock.Hold(held, w.locker, gate, w.cfg.LockTTL/3)
		defer stopGate()
	}
	runCtx, cancel := context.WithCancelCause(held)
	defer cancel(nil)
	runCtx, cancelTimeout := context.WithTimeoutCause(runCtx, cfg.ExecutionTimeout, errTimedOut)
	defer cancelTimeout()
	w.mu.Lock()
	w.running[e.ID] = cancel
	if w.stopping {
		cancel(errShutdown)
	}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, e.ID)
		w.mu.Unlock()
	}()
	if e.CancelRequested {
		cancel(errCancelRequested)
	}
	stopWatch := w.heartbeat(runCtx, cancel, e.ID, lease.Fence)
	res, err := w.engine.Execute(runCtx, &engine.Request{
		ExecutionID: e.ID,
		WorkflowID:  e.WorkflowID,
		Revision:    e.Revision,
		Definition:  *def,
		Input:       e.TriggerData,
		Attempt:     e.Attempt,
	})
	stopWatch()

	cause := context.Cause(runCtx)
	if cause == nil && errors.Is(err, context.DeadlineExceeded) {
		if _, ok := runCtx.Deadline(); ok {
			// The only deadline the engine gets is the execution timeout, propagated with the
			// call; a remote engine enforces it and may answer a moment before this process's
			// own timer fires. That is a timeout, not a failure.
			cause = errTimedOut
		}
	}
	switch {
	case errors.Is(cause, lock.ErrLost):
		lost = true
		log.Warn("lock lost while running; the new owner records the outcome", slog.Int64("fence", lease.Fence))
	case errors.Is(cause, errShutdown):
		// Hand it back at once so another worker runs it; the attempt stays counted.
		if err := w.store.ExecutionRetry(bg, e.ID, lease.Fence, w.cfg.Now().UTC(), "worker shut down during the run"); err == nil {
			_ = w.queue.Enqueue(bg, queue.Message{ExecutionID: e.ID})
		}
	case errors.Is(cause, errCancelRequested):
		w.finish(bg, log, e, lease.Fence, StatusCancelled, nil, "cancelled by request")
	case errors.Is(cause, errTimedOut):
		w.finish(bg, log, e, lease.Fence, StatusTimedOut, nil, fmt.Sprintf("execution timeout of %s exceeded", cfg.ExecutionTimeout))
	case err != nil:
		w.failOrRetry(bg, log, e, cfg, lease.Fence, err.Error(), true)
	case res.Failure != nil:
		msg := res.Failure.Message
		if res.Failure.NodeID != "" {
			msg = fmt.Sprintf("node %s: %s", res.Failure.NodeID, res.Failure.Message)
		}
		w.failOrRetry(bg, log, e, cfg, lease.Fence, msg, res.Failure.Retryable)
	default:
		w.finish(bg, log, e, lease.Fence, StatusSucceeded, res.Output, "")
	}
	return lost
}

// heartbeat marks the row alive while the engine runs (so the sweeper leaves it alone) and
// learns two things from the same write: a requested cancellation (the safety net under the
// cancel notification, which can be lost) and a lost claim (another owner's fence is on the
// row), either of which ends the run.
func (w *Worker) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, id string, fence int64) (stop func()) {
	ctx, stop = context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(max(min(w.cfg.LockTTL/3, 10*time.Second), 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				cancelRequested, err := w.store.ExecutionHeartbeat(ctx, id, fence, w.cfg.Now().UTC())
				switch {
				case errors.Is(err, apperr.ErrConflict):
					cancel(lock.ErrLost)
					return
				case err == nil && cancelRequested:
					cancel(errCancelRequested)
					return
				}
			}
		}
	}()
	return stop
}

func (w *Worker) failOrRetry(ctx context.Context, log *slog.Logger, e *Execution, cfg *deployments.Config, fence int64, msg string, retryable bool) {
	if retryable && uint32(e.Attempt) < cfg.Retry.MaxAttempts {
		at := w.cfg.Now().UTC().Add(Backoff(cfg.Retry, e.Attempt))
		if err := w.store.ExecutionRetry(ctx, e.ID, fence, at, msg); err != nil {
			if !errors.Is(err, apperr.ErrConflict) {
				log.Warn("record retry failed", slog.Any("error", err))
			}
			return
		}
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("wfr.execution.status", "RETRY_SCHEDULED"))
		trace.SpanFromContext(ctx).SetStatus(codes.Error, msg)
		// The retry's span joins this trace.
		if err := w.queue.EnqueueAt(ctx, queue.Message{ExecutionID: e.ID, Traceparent: telemetry.Traceparent(ctx)}, at); err != nil {
			log.Warn("enqueue retry failed; the sweeper will enqueue it", slog.Any("error", err))
		}
		return
	}
	w.finish(ctx, log, e, fence, StatusFailed, nil, msg)
}

func (w *Worker) finish(ctx context.Context, log *slog.Logger, e *Execution, fence int64, status Status, output []byte, msg string) {
	err := w.steps.finishExecution(ctx, &FinishParams{ID: e.ID, Fence: fence, Status: status, Output: output, Error: msg, Now: w.cfg.Now().UTC()})
	switch {
	case errors.Is(err, apperr.ErrConflict):
		log.Warn("outcome refused: a newer owner holds the execution", slog.Int64("fence", fence), slog.String("status", string(status)))
	case err != nil:
		log.Warn("record outcome failed", slog.Any("error", err))
	default:
		w.outcome(ctx, status, msg)
	}
}

// outcome reports a recorded outcome: the span's status and attribute, and the metric.
func (w *Worker) outcome(ctx context.Context, status Status, msg string) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("wfr.execution.status", string(status)))
	switch status {
	case StatusSucceeded, StatusSkipped:
		span.SetStatus(codes.Ok, "")
	default:
		span.SetStatus(codes.Error, msg)
	}
	w.cfg.Metrics.ExecutionFinished(ctx, string(status))
}

// Backoff is the delay before the retry that follows attempt (1-based): initial ×
// coefficient^(attempt-1), capped at the policy's maximum.
func Backoff(p deployments.RetryPolicy, attempt int32) time.Duration {
	d := float64(p.InitialBackoff) * math.Pow(p.BackoffCoefficient, float64(max(attempt-1, 0)))
	if d > float64(p.MaxBackoff) || math.IsInf(d, 0) || math.IsNaN(d) {
		return p.MaxBackoff
	}
	return time.Duration(d)
}
