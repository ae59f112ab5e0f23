package execution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
)

// buffers reports whether a policy puts executions on the waitlist, so that a finished run
// must wake the next one. SKIP never does: its release wakes nobody and costs nothing.
func buffers(overlap policy.Overlap) bool {
	switch overlap {
	case policy.OverlapBufferOne, policy.OverlapBufferAll, policy.OverlapCancelOther:
		return true
	}
	return false
}

// admitWhileHeld applies the overlap policy (resolved: never OverlapUnspecified) to an
// execution whose workflow lock is held.
func (w *Worker) admitWhileHeld(ctx context.Context, log *slog.Logger, e *Execution, d queue.Delivery, overlap policy.Overlap) {
	if e.Status == StatusRunning {
		// Its own earlier run holds or held the lock: look again once that lease could have ended.
		w.requeue(ctx, log, e.ID, d, w.cfg.Now().Add(w.cfg.LockTTL))
		return
	}
	w.cfg.Metrics.LockWait(ctx, overlap.String())
	trace.SpanFromContext(ctx).SetAttributes(attribute.Bool("wfr.lock.held", true), attribute.String("wfr.overlap_policy", overlap.String()))
	skip := func(reason string) {
		err := w.store.ExecutionSkip(ctx, e.ID, reason, w.cfg.Now().UTC())
		if err != nil && !errors.Is(err, errdefs.ErrConflict) {
			log.Warn("skip failed", slog.Any("error", err))
			return
		}
		if err == nil {
			w.changes.add(e.DeploymentID, e.ID, StatusSkipped)
			w.outcome(ctx, StatusSkipped, reason)
			if w.cfg.Ledger != nil && e.TriggerType == TriggerCron {
				if err := w.cfg.Ledger.RecordSkipped(ctx, e, reason); err != nil {
					log.Warn("fire ledger SKIPPED write failed", slog.Any("error", err))
				}
			}
		}
		w.ack(ctx, log, d)
	}
	buffer := func(limit int, front bool, full string) {
		ok, err := w.waitlist.Push(ctx, e.WorkflowID, e.ID, limit, front)
		if err != nil {
			log.Warn("buffer failed", slog.Any("error", err))
			return
		}
		if !ok {
			skip(full)
			return
		}
		w.ack(ctx, log, d)
		// The running execution may have released the lock between our Acquire and Push.
		w.wakeNext(ctx, log, e.WorkflowID)
	}
	switch overlap {
	case policy.OverlapBufferOne:
		buffer(1, false, "overlap policy BUFFER_ONE: another execution is running and one is already waiting")
	case policy.OverlapBufferAll:
		buffer(0, false, "")
	case policy.OverlapCancelOther:
		w.cancelOther(ctx, log, e, d)
	case policy.OverlapSkip:
		overlapped, err := w.overlapScheduled(ctx, e)
		switch {
		case err != nil:
			log.Warn("list running executions failed", slog.Any("error", err))
		case overlapped:
			skip("overlap policy SKIP: another execution of the workflow is running")
		default:
			// The holder started after this one was due: the overlap comes from late delivery
			// (a queue outage bunched them), not from the schedule. Wait for it to end.
			w.requeue(ctx, log, e.ID, d, w.cfg.Now().Add(w.skipRecheck()))
		}
	default:
		// handle refuses an unknown policy before it takes the gate; one here is a bug. The
		// message stays unacknowledged and comes back: nothing is skipped silently.
		log.Error("unknown overlap policy", slog.String("overlap_policy", overlap.String()))
	}
}

// overlapScheduled reports whether a RUNNING execution of e's workflow (not e) had started by
// the time e was due (ScheduledAt): only then would e have found it running had e been
// delivered on time, and SKIP skips e. One that started later holds the lock only because
// delivery was late; e waits for it instead.
//
// Only cron executions are judged so: their ScheduledAt is a time on the schedule. A manual or
// webhook trigger that finds the lock held is skipped, as SKIP says.
func (w *Worker) overlapScheduled(ctx context.Context, e *Execution) (bool, error) {
	if e.TriggerType != TriggerCron {
		return true, nil
	}
	ids, err := w.store.ExecutionListRunning(ctx, e.WorkflowID)
	if err != nil || len(ids) == 0 {
		return false, err
	}
	rows, err := w.store.ExecutionGetMany(ctx, ids)
	if err != nil {
		return false, err
	}
	for id, r := range rows {
		if id != e.ID && r.Status == StatusRunning && !r.StartedAt.IsZero() && !r.StartedAt.After(e.ScheduledAt) {
			return true, nil
		}
	}
	return false, nil
}

// skipRecheck is how long a SKIP execution that waits for a late-started holder waits before
// it looks again: a tenth of the lock TTL, between 10ms and 1s.
func (w *Worker) skipRecheck() time.Duration {
	return max(min(w.cfg.LockTTL/10, time.Second), 10*time.Millisecond)
}

// wakeNext enqueues the first buffered execution of the workflow when the lock is free. Taking
// the lock before popping makes sure no buffered execution is left behind after a release.
func (w *Worker) wakeNext(ctx context.Context, log *slog.Logger, workflowID string) {
	ctx = context.WithoutCancel(ctx)
	// While we hold the lock to pop, a newcomer that failed to take it may push and find the
	// lock still ours, so nobody would wake it: after popping nothing, look at the list again.
	for empty := 0; empty < 3; {
		lease, err := w.locker.Acquire(ctx, "workflow:"+workflowID, w.cfg.LockTTL)
		if err != nil {
			if !errors.Is(err, lock.ErrNotAcquired) {
				log.Warn("wake next: acquire failed", slog.Any("error", err))
			}
			return // the holder wakes the next one when it releases
		}
		id, ok, err := w.waitlist.Pop(ctx, workflowID)
		if rerr := w.locker.Release(ctx, lease); rerr != nil {
			log.Warn("wake next: release failed", slog.Any("error", rerr))
		}
		if err != nil {
			log.Warn("wake next: pop failed", slog.Any("error", err))
			return
		}
		if ok {
			if next, err := w.store.ExecutionGet(ctx, id); err == nil && next.Status.Terminal() {
				continue // ended while it waited (superseded under CANCEL_OTHER): the next one
			}
			if err := w.queue.Enqueue(ctx, queue.Message{ExecutionID: id}); err != nil {
				log.Warn("wake next: enqueue failed; the sweeper will enqueue it", slog.String("next", id), slog.Any("error", err))
			}
			return
		}
		empty++
		if n, err := w.waitlist.Len(ctx, workflowID); err != nil || n == 0 {
			return
		}
	}
}

// newer reports whether execution a was created after b. Execution ids are UUIDv7, whose text
// sorts by creation time (and, within a millisecond, by a random or counted tail): any two
// ids compare one way, so "the newest" is one execution however deliveries interleave.
func newer(a, b string) bool { return a > b }

// cancelOther admits e under CANCEL_OTHER while the workflow lock is held: the newest execution
// wins. e cancels the waiting and running executions older than itself and waits first in line;
// when a newer one is already waiting or running, e is the one superseded and ends CANCELLED.
// Deciding by creation order (not by which delivery came first) means the newest execution is
// never cancelled, whatever the interleaving of admissions, claims and wake-ups.
//
// Order matters: older waiting ones are cancelled and e is pushed BEFORE the running ones are
// listed, while a run looks at the waitlist AFTER its claim (in run), so a run that was not yet
// RUNNING when listed sees e waiting and cancels itself.
func (w *Worker) cancelOther(ctx context.Context, log *slog.Logger, e *Execution, d queue.Delivery) {
	superseded := fmt.Sprintf("cancelled by execution %s (overlap policy CANCEL_OTHER)", e.ID)
	var keep []string // waiting executions newer than e
	for {
		id, ok, err := w.waitlist.Pop(ctx, e.WorkflowID)
		if err != nil || !ok {
			break
		}
		if id == e.ID {
			// e itself, pushed by an earlier delivery of it (one whose acknowledgement had not
			// landed when its message was taken over): it goes back in front below, never
			// cancelled by itself.
			continue
		}
		if newer(id, e.ID) {
			keep = append(keep, id)
			continue
		}
		w.cancelWaiting(ctx, log, id, superseded)
	}
	front := e.ID
	if len(keep) > 0 {
		front = keep[0]
		for _, id := range keep[1:] {
			w.cancelWaiting(ctx, log, id, fmt.Sprintf("cancelled by execution %s (overlap policy CANCEL_OTHER)", front))
		}
	}
	if _, err := w.waitlist.Push(ctx, e.WorkflowID, front, 0, true); err != nil {
		log.Warn("buffer failed", slog.Any("error", err))
		return
	}
	if front != e.ID {
		w.supersede(ctx, log, e, d, front)
		return
	}
	ids, err := w.store.ExecutionListRunning(ctx, e.WorkflowID)
	if err != nil {
		log.Warn("list running failed", slog.Any("error", err))
	}
	for _, id := range ids {
		if newer(id, e.ID) {
			// A newer one runs already: it wins. e's place in the waitlist goes stale, and
			// wakeNext passes over ended executions.
			w.supersede(ctx, log, e, d, id)
			return
		}
	}
	for _, id := range ids {
		if id == e.ID {
			continue // another delivery of e runs it: not e's to cancel
		}
		other, err := w.store.ExecutionCancel(ctx, id, superseded, w.cfg.Now().UTC())
		if err != nil {
			log.Warn("cancel other failed", slog.String("other", id), slog.Any("error", err))
			continue
		}
		w.changes.add(other.DeploymentID, other.ID, other.Status)
		if err := w.notifier.Publish(ctx, CancelChannel, id); err != nil {
			log.Warn("publish cancel failed", slog.Any("error", err))
		}
	}
	w.ack(ctx, log, d)
	w.wakeNext(ctx, log, e.WorkflowID)
}

// cancelWaiting cancels id, an execution waiting behind the workflow lock (PENDING), for reason.
func (w *Worker) cancelWaiting(ctx context.Context, log *slog.Logger, id, reason string) {
	e, err := w.store.ExecutionCancel(ctx, id, reason, w.cfg.Now().UTC())
	if err != nil {
		log.Warn("cancel waiting execution failed", slog.String("other", id), slog.Any("error", err))
		return
	}
	w.changes.add(e.DeploymentID, e.ID, e.Status)
}

// supersede ends e CANCELLED because by, a newer execution of its workflow, wins.
func (w *Worker) supersede(ctx context.Context, log *slog.Logger, e *Execution, d queue.Delivery, by string) {
	reason := fmt.Sprintf("cancelled by execution %s (overlap policy CANCEL_OTHER)", by)
	got, err := w.store.ExecutionCancel(ctx, e.ID, reason, w.cfg.Now().UTC())
	if err != nil && !errors.Is(err, errdefs.ErrFailedPrecondition) {
		log.Warn("cancel superseded execution failed", slog.Any("error", err))
		return
	}
	if got != nil {
		w.changes.add(got.DeploymentID, got.ID, got.Status)
	}
	w.outcome(ctx, StatusCancelled, reason)
	w.ack(ctx, log, d)
	w.wakeNext(ctx, log, e.WorkflowID)
}

// AdmissionStore is what admission needs of storage: the overlap policy reads the workflow's
// running executions and ends a newcomer SKIPPED or a superseded one CANCELLED; waking the next
// buffered execution reads it first.
type AdmissionStore interface {
	// ExecutionGet returns one execution; errdefs.ErrNotFound when there is none.
	ExecutionGet(ctx context.Context, id string) (*Execution, error)
	// ExecutionGetMany is StepStore.ExecutionGetMany.
	ExecutionGetMany(ctx context.Context, ids []string) (map[string]*Execution, error)
	// ExecutionListRunning returns the ids of the workflow's RUNNING executions.
	ExecutionListRunning(ctx context.Context, workflowID string) ([]string, error)
	// ExecutionSkip ends a PENDING execution SKIPPED with reason. errdefs.ErrConflict when it is
	// not PENDING any more.
	ExecutionSkip(ctx context.Context, id, reason string, now time.Time) error
	// ExecutionCancel is ServiceStore.ExecutionCancel.
	ExecutionCancel(ctx context.Context, id, reason string, now time.Time) (*Execution, error)
}
