package execution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cenkalti/backoff/v5"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// runHandle is an execution's run in this worker (Worker.running), registered before its claim.
// Every worker hears every cancellation (CancelChannel) and cancels the run it finds; one that
// comes after the claim made the row RUNNING (and the caller saw it) but before the engine
// call's context exists is kept in cause and applied when it does, so it is not left to the
// next heartbeat (LockTTL/3 later). One that came before the claim is on the row the claim
// returns (CancelRequested).
type runHandle struct {
	cancel context.CancelCauseFunc // the engine call's; nil until it starts
	cause  error                   // a stop that came before cancel existed
}

// stop cancels the run with cause, or keeps cause for when it starts. Called under Worker.mu.
func (h *runHandle) stop(cause error) {
	if h.cancel != nil {
		h.cancel(cause)
		return
	}
	if h.cause == nil {
		h.cause = cause
	}
}

// run claims the row under lease, runs the engine while renewing both leases, records what
// happens next and releases the leases. It reports whether the message may be acknowledged:
// the row says what happens next (an outcome, a scheduled retry, a hand-back whose message is
// enqueued) or another owner's fence refused the claim. It is false when a write could not be
// made before the lease was lost: the message stays pending, and whoever takes it over finds
// the row as it was. unclaimed reports that the claim found its condition false (settled is
// then true): the row is terminal, not due yet, missing, or a newer owner holds it.
func (w *Worker) run(ctx context.Context, log *slog.Logger, e *Execution, d queue.Delivery, cfg *deployments.Config, gate, lease *lock.Lease) (settled, unclaimed bool) {
	bg := context.WithoutCancel(ctx)
	// The leases are released once, in this order: renewals stop, then the locks are freed.
	// A hand-back releases them before it enqueues, so the next worker finds them free.
	var stopHolds []func()
	released := false
	releaseLeases := func() {
		if released {
			return
		}
		released = true
		for i := len(stopHolds) - 1; i >= 0; i-- {
			stopHolds[i]()
		}
		w.release(bg, log, gate)
		w.release(bg, log, lease)
	}
	defer releaseLeases()
	if w.quitting() {
		// Received before Stop, not started: back to the queue at once, leases free first.
		releaseLeases()
		w.requeue(bg, log, e.ID, d, time.Time{})
		return false, false // requeue acknowledged it
	}
	// Registered before the claim: a cancellation published once the row is RUNNING finds the
	// run even before its engine call starts (runHandle).
	h := &runHandle{}
	w.mu.Lock()
	w.running[e.ID] = h
	w.mu.Unlock()
	defer func(id string) {
		w.mu.Lock()
		if w.running[id] == h {
			delete(w.running, id)
		}
		w.mu.Unlock()
	}(e.ID)
	e, err := w.steps.claimExecution(ctx, e.ID, lease.Fence, w.cfg.Now().UTC())
	if err != nil {
		if !errors.Is(err, errdefs.ErrConflict) {
			log.Warn("claim failed", slog.Any("error", err))
			return false, false // the row is unchanged: delivered again
		}
		return true, true // terminal, not due, or a newer owner holds it
	}
	w.own.runs(lease) // a delivery of it that comes now is put off, not kept waiting a whole run
	w.changes.add(e.DeploymentID, e.ID, StatusRunning)
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("wfr.execution.attempt", int(e.Attempt)), attribute.Int("wfr.revision", int(e.Revision)))

	// From the claim on, the leases are renewed until the row records what happens next,
	// including while an outcome write is retried; held ends when one is lost.
	held, stopHold := lock.Hold(bg, w.locker, lease, w.cfg.LockTTL/3)
	stopHolds = append(stopHolds, stopHold)
	if gate != nil {
		var stopGate func()
		held, stopGate = lock.Hold(held, w.locker, gate, w.cfg.LockTTL/3)
		stopHolds = append(stopHolds, stopGate)
	}
	// record's context: the lease's, with the span of this delivery.
	rec := trace.ContextWithSpan(held, trace.SpanFromContext(ctx))

	if e.Deaths >= w.cfg.MaxProcessDeaths {
		// Each of its last runs ended with its process: running it again would likely end the
		// same way, so it is quarantined instead.
		log.Warn("execution quarantined after repeated process deaths", slog.Int("deaths", int(e.Deaths)))
		return w.finish(rec, log, e, lease.Fence, StatusFailed, nil, fmt.Sprintf("quarantined: the process running it died %d times", e.Deaths)), false
	}
	if cfg.OverlapPolicy == policy.OverlapCancelOther {
		if ids, err := w.waitlist.List(ctx, e.WorkflowID); err == nil && slices.ContainsFunc(ids, func(id string) bool { return newer(id, e.ID) }) {
			// A newer execution arrived before this one was RUNNING (see cancelOther).
			return w.finish(rec, log, e, lease.Fence, StatusCancelled, nil, "cancelled by a newer execution (overlap policy CANCEL_OTHER)"), false
		}
	}
	def, err := w.revisions.get(ctx, w.store, e.WorkflowID, e.Revision)
	if err != nil {
		log.Warn("load revision failed", slog.Any("error", err))
		return w.finish(rec, log, e, lease.Fence, StatusFailed, nil, fmt.Sprintf("load revision %d: %v", e.Revision, err)), false
	}
	trig, err := w.triggerContext(rec, log, e)
	if err != nil {
		log.Warn("lock lost before the run started; the new owner runs it", slog.Any("error", err))
		return false, false
	}

	runCtx, cancel := context.WithCancelCause(held)
	defer cancel(nil)
	runCtx, cancelTimeout := context.WithTimeoutCause(runCtx, cfg.ExecutionTimeout, errTimedOut)
	defer cancelTimeout()
	w.mu.Lock()
	h.cancel = cancel
	if h.cause != nil {
		cancel(h.cause) // stopped between the claim and now
	}
	if w.stopping {
		cancel(errShutdown)
	}
	w.mu.Unlock()
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
		Trigger:     trig,
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
	case errors.Is(cause, lock.ErrLost), cause == nil && errors.Is(err, lock.ErrLost):
		// The second: the engine found the lease's deadline behind it before a node (a
		// process frozen past its lease) before the renewal could say so (engine.ErrLeaseExpired).
		log.Warn("lock lost while running; the new owner records the outcome", slog.Int64("fence", lease.Fence))
		return false, false
	case errors.Is(cause, errShutdown):
		return w.handBack(rec, log, e, lease.Fence, releaseLeases, "worker shut down during the run"), false
	case errors.Is(cause, errCancelRequested):
		return w.finish(rec, log, e, lease.Fence, StatusCancelled, nil, "cancelled by request"), false
	case errors.Is(cause, errTimedOut):
		return w.finish(rec, log, e, lease.Fence, StatusTimedOut, nil, fmt.Sprintf("execution timeout of %s exceeded", cfg.ExecutionTimeout)), false
	case errors.Is(err, engine.ErrUnavailable):
		// The engine was not reached: the workflow did not fail, so no attempt is spent, and
		// this worker takes no more work until the engine answers.
		log.Warn("engine unreachable; execution handed back", slog.Any("error", err))
		w.pauseForEngine()
		return w.handBack(rec, log, e, lease.Fence, releaseLeases, "engine unreachable: "+err.Error()), false
	case err != nil:
		return w.failOrRetry(rec, log, e, cfg, lease.Fence, err.Error(), true), false
	case res.Failure != nil:
		msg := res.Failure.Message
		if res.Failure.NodeID != "" {
			msg = fmt.Sprintf("node %s: %s", res.Failure.NodeID, res.Failure.Message)
		}
		return w.failOrRetry(rec, log, e, cfg, lease.Fence, msg, res.Failure.Retryable), false
	default:
		return w.finish(rec, log, e, lease.Fence, StatusSucceeded, res.Output, ""), false
	}
}

// record makes one write of what happens next to a run's row, under its lease. The outcome is
// known, so a failed write is retried with backoff (100ms doubling to 5s) for as long as the
// lease is held (ctx ends when it is lost): the message is acknowledged only once the row says
// it, and a run whose result is known is never run again because the write failed once. A
// conflict is final: the row is not RUNNING under this fence any more.
func (w *Worker) record(ctx context.Context, log *slog.Logger, what string, write func(context.Context) error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	failures := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := write(context.WithoutCancel(ctx))
		switch {
		case err == nil:
			return struct{}{}, nil
		case errors.Is(err, errdefs.ErrConflict):
			return struct{}{}, backoff.Permanent(err)
		}
		failures++
		log.Warn(what+" failed; retrying while the lease is held", slog.Int("failures", failures), slog.Any("error", err))
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	if err != nil && ctx.Err() != nil && !errors.Is(err, errdefs.ErrConflict) {
		return fmt.Errorf("%s: lease lost before the write was made: %w", what, context.Cause(ctx))
	}
	if err == nil && failures > 0 {
		log.Info(what+" recorded after retries", slog.Int("failures", failures))
	}
	return err
}

// handBack returns the claimed execution to PENDING without counting the attempt (recorded
// under the lease), releases the leases and only then enqueues it, so the next worker finds
// them free and runs it at once.
func (w *Worker) handBack(ctx context.Context, log *slog.Logger, e *Execution, fence int64, releaseLeases func(), reason string) bool {
	err := w.record(ctx, log, "hand back", func(ctx context.Context) error {
		return w.store.ExecutionHandBack(ctx, e.ID, fence, w.cfg.Now().UTC(), reason)
	})
	switch {
	case errors.Is(err, errdefs.ErrConflict):
		return true
	case err != nil:
		log.Warn("hand back not recorded", slog.Any("error", err))
		return false
	}
	w.changes.add(e.DeploymentID, e.ID, StatusPending)
	releaseLeases()
	if err := w.queue.Enqueue(context.WithoutCancel(ctx), message(e, telemetry.Traceparent(ctx))); err != nil {
		log.Warn("enqueue handed-back execution failed; the sweeper will enqueue it", slog.Any("error", err))
	}
	return true
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
				case errors.Is(err, errdefs.ErrConflict):
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

func (w *Worker) failOrRetry(ctx context.Context, log *slog.Logger, e *Execution, cfg *deployments.Config, fence int64, msg string, retryable bool) bool {
	if retryable && uint32(e.Attempt) < cfg.Retry.MaxAttempts {
		now := w.cfg.Now().UTC()
		at := now.Add(Backoff(cfg.Retry, e.Attempt))
		err := w.record(ctx, log, "record retry", func(ctx context.Context) error {
			return w.store.ExecutionRetry(ctx, e.ID, fence, at, now, msg)
		})
		switch {
		case errors.Is(err, errdefs.ErrConflict):
			return true
		case err != nil:
			log.Warn("retry not recorded", slog.Any("error", err))
			return false
		}
		w.changes.add(e.DeploymentID, e.ID, StatusPending)
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("wfr.execution.status", "RETRY_SCHEDULED"))
		trace.SpanFromContext(ctx).SetStatus(codes.Error, msg)
		// The retry's span joins this trace.
		if err := w.queue.EnqueueAt(context.WithoutCancel(ctx), message(e, telemetry.Traceparent(ctx)), at); err != nil {
			log.Warn("enqueue retry failed; the sweeper will enqueue it", slog.Any("error", err))
		}
		return true
	}
	return w.finish(ctx, log, e, fence, StatusFailed, nil, msg)
}

// finish records a terminal outcome (see record) and reports whether the message may be
// acknowledged.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, e *Execution, fence int64, status Status, output []byte, msg string) bool {
	err := w.record(ctx, log, "record outcome "+string(status), func(ctx context.Context) error {
		return w.steps.finishExecution(ctx, &FinishParams{ID: e.ID, Fence: fence, Status: status, Output: output, Error: msg, Now: w.cfg.Now().UTC()})
	})
	switch {
	case errors.Is(err, errdefs.ErrConflict):
		log.Warn("outcome refused: a newer owner holds the execution", slog.Int64("fence", fence), slog.String("status", string(status)))
		return true
	case err != nil:
		log.Warn("outcome not recorded", slog.String("status", string(status)), slog.Any("error", err))
		return false
	default:
		w.changes.add(e.DeploymentID, e.ID, status)
		w.outcome(ctx, status, msg)
		return true
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

// RunStore is what a run writes besides its claim and its outcome (StepStore): heartbeats
// while the engine runs, a retry or a hand-back, and the abandon of an execution whose message
// was delivered too often (handle.go). Each write but the abandon is conditional on fence.
type RunStore interface {
	// ExecutionHeartbeat marks a RUNNING execution under fence as alive (updated_at = now) and
	// reports whether a cancellation was requested. errdefs.ErrConflict when the row is not
	// RUNNING under fence any more (another owner took it over).
	ExecutionHeartbeat(ctx context.Context, id string, fence int64, now time.Time) (cancelRequested bool, err error)
	// ExecutionRetry returns a RUNNING execution under fence to PENDING until availableAt,
	// recording the attempt's error, updated at now. errdefs.ErrConflict otherwise.
	ExecutionRetry(ctx context.Context, id string, fence int64, availableAt, now time.Time, errMsg string) error
	// ExecutionHandBack returns a RUNNING execution under fence to PENDING, available at once,
	// without counting the attempt it was in (attempt goes back by one): the run was stopped by
	// its worker (shutdown, engine unreachable), not failed by the workflow. reason is recorded
	// as the error. errdefs.ErrConflict when the row is not RUNNING under fence.
	ExecutionHandBack(ctx context.Context, id string, fence int64, now time.Time, reason string) error
	// ExecutionAbandon ends a non-terminal execution FAILED with reason, whatever its fence
	// (its message was delivered too often). errdefs.ErrConflict when it is terminal already.
	ExecutionAbandon(ctx context.Context, id, reason string, now time.Time) error
}
