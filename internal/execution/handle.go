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
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// handle processes one delivery. A message is acknowledged once the row says what happens next
// (terminal, buffered, re-enqueued); when anything fails before that, it stays unacknowledged
// and is delivered again.
func (w *Worker) handle(ctx context.Context, d queue.Delivery) {
	// Once received, a message is seen through: stopping the worker cancels running engine
	// calls explicitly (errShutdown), not the bookkeeping around them.
	ctx = context.WithoutCancel(ctx)
	// The span of this delivery continues the trace of whoever enqueued the execution.
	ctx, span := w.tracer.Start(telemetry.ContextWithTraceparent(ctx, d.Traceparent), "execution.run",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("wfr.execution.id", d.ExecutionID), attribute.Int64("wfr.delivery.count", d.Deliveries)))
	defer span.End()
	log := telemetry.WithTrace(ctx, w.log).With(slog.String("execution_id", d.ExecutionID))
	if w.handleDirect(ctx, log, d) {
		return
	}
	ack := func() { w.ack(ctx, log, d) }
	e, err := w.steps.getExecution(ctx, d.ExecutionID)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		log.Warn("message for an unknown execution dropped")
		ack()
		return
	case err != nil:
		log.Warn("load execution failed", slog.Any("error", err))
		return
	case e.Status.Terminal():
		ack()
		return
	}
	span.SetAttributes(attribute.String("wfr.workflow.id", e.WorkflowID), attribute.String("wfr.deployment.id", e.DeploymentID))
	if now := w.cfg.Now(); e.Status == StatusPending && e.AvailableAt.After(now) {
		w.requeue(ctx, log, e.ID, d, e.AvailableAt)
		return
	}
	// Fair shares: a deployment holding its share of this worker's slots leaves the others to
	// other deployments. Its message goes back at once as a new message (so it counts neither
	// as an attempt nor as a delivery) and is offered again after ShareRequeueDelay, behind
	// what is queued meanwhile.
	if !w.takeShare(e.DeploymentID) {
		w.requeue(ctx, log, e.ID, d, w.cfg.Now().Add(w.cfg.ShareRequeueDelay))
		return
	}
	defer w.giveShare(e.DeploymentID)
	// Two leases: the workflow lock is the overlap gate (not taken under ALLOW_ALL); the
	// execution's own lease carries the fencing token stored on the row, so tokens of one row
	// always come from one counter, whatever the policy was when an earlier attempt ran.
	//
	// The execution's lease is taken first: a second delivery of the same execution (the
	// sweeper's, a duplicate, an early requeue) must not find the gate held by its own first
	// delivery while the row is still PENDING and apply the overlap policy to itself (SKIP
	// would end it SKIPPED, CANCEL_OTHER would cancel it). Holding the execution's lease, the
	// gate's holder is another execution (or a dead earlier run of this one, row RUNNING).
	lease, err := w.acquireOwnLease(ctx, "execution:"+e.ID)
	if err != nil {
		if errors.Is(err, lock.ErrNotAcquired) {
			// Another worker runs it now; look again once that lease could have ended.
			w.requeue(ctx, log, e.ID, d, w.cfg.Now().Add(w.cfg.LockTTL))
		} else {
			log.Warn("acquire execution lease failed", slog.Any("error", err))
		}
		return
	}
	// Too many deliveries are judged only while holding the execution's lease: a message taken
	// over again and again while its run is alive (the run's outcome write waits for the
	// database) is not a poison message, and abandoning it would overwrite a known outcome.
	if d.Deliveries > w.cfg.MaxDeliveries {
		defer w.release(ctx, log, lease)
		reason := fmt.Sprintf("delivered %d times without finishing; moved to the dead-letter queue", d.Deliveries)
		err := w.store.ExecutionAbandon(ctx, e.ID, reason, w.cfg.Now().UTC())
		if err != nil && !errors.Is(err, errdefs.ErrConflict) {
			log.Warn("abandon failed", slog.Any("error", err))
			return
		}
		if err == nil {
			w.changes.add(e.DeploymentID, e.ID, StatusFailed)
		}
		w.outcome(ctx, StatusFailed, reason)
		if err := w.queue.DeadLetter(ctx, d, reason); err != nil {
			log.Warn("dead-letter failed", slog.Any("error", err))
		}
		return
	}
	cfg, err := w.configs.get(ctx, w.store, e.WorkflowID)
	if err != nil {
		w.release(ctx, log, lease)
		log.Warn("load deployment failed", slog.Any("error", err))
		return
	}
	overlap := cfg.OverlapPolicy.OrDefault()
	if !overlap.Valid() {
		// Deploy validates the policy and the store refuses to read an unknown one: this config
		// is corrupt. Like a deployment that cannot be loaded, the message stays unacknowledged
		// and comes back (and is dead-lettered after MaxDeliveries); nothing is skipped.
		w.release(ctx, log, lease)
		log.Error("unknown overlap policy", slog.String("overlap_policy", overlap.String()))
		return
	}
	var gate *lock.Lease
	if overlap != policy.OverlapAllowAll {
		gate, err = w.steps.acquireLease(ctx, "workflow:"+e.WorkflowID)
		if err != nil {
			// Released before the policy is applied: a buffered execution woken at once
			// (wakeNext) must find its lease free.
			w.release(ctx, log, lease)
			if errors.Is(err, lock.ErrNotAcquired) {
				w.admitWhileHeld(ctx, log, e, d, overlap)
			} else {
				log.Warn("acquire workflow lock failed", slog.Any("error", err))
			}
			return
		}
	}
	if settled, _ := w.run(ctx, log, e, d, cfg, gate, lease); settled {
		// Only once the row says what happens next. After a lost lease the message is not ours
		// to acknowledge either: another worker may have claimed it, and acknowledging would
		// delete its claim.
		w.ack(ctx, log, d)
	}
	if buffers(overlap) {
		w.wakeNext(ctx, log, e.WorkflowID)
	}
}

// handleDirect handles d without reading its row first, when it can: the message names the
// execution's workflow and deployment, the deployment's overlap policy is ALLOW_ALL (no
// workflow lock, no policy to apply while the row is PENDING) and the message is not due for
// the dead-letter queue. Then what handle does after its read is done with the message's ids,
// and the claim's own condition (PENDING and due, or RUNNING; the fence) stands in for the
// read: a row that is terminal, not due yet or missing is not claimed. It reports whether d
// was handled; false when it could not be, or when the claim found its condition false, after
// which handle reads the row and decides as for any message (the leases taken here are free
// again by then).
func (w *Worker) handleDirect(ctx context.Context, log *slog.Logger, d queue.Delivery) bool {
	if d.WorkflowID == "" || d.DeploymentID == "" || d.Deliveries > w.cfg.MaxDeliveries {
		return false
	}
	cfg, err := w.configs.get(ctx, w.store, d.WorkflowID)
	if err != nil || cfg.OverlapPolicy.OrDefault() != policy.OverlapAllowAll {
		return false // handle reads the row and loads the config again, or applies the policy
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("wfr.workflow.id", d.WorkflowID), attribute.String("wfr.deployment.id", d.DeploymentID))
	e := &Execution{ID: d.ExecutionID, WorkflowID: d.WorkflowID, DeploymentID: d.DeploymentID, Status: StatusPending}
	if !w.takeShare(e.DeploymentID) { // as in handle
		w.requeue(ctx, log, e.ID, d, w.cfg.Now().Add(w.cfg.ShareRequeueDelay))
		return true
	}
	defer w.giveShare(e.DeploymentID)
	lease, err := w.acquireOwnLease(ctx, "execution:"+e.ID)
	if err != nil { // as in handle
		if errors.Is(err, lock.ErrNotAcquired) {
			w.requeue(ctx, log, e.ID, d, w.cfg.Now().Add(w.cfg.LockTTL))
		} else {
			log.Warn("acquire execution lease failed", slog.Any("error", err))
		}
		return true
	}
	settled, unclaimed := w.run(ctx, log, e, d, cfg, nil, lease)
	if unclaimed {
		return false // run has released the lease
	}
	if settled {
		w.ack(ctx, log, d)
	}
	return true
}

func (w *Worker) requeue(ctx context.Context, log *slog.Logger, id string, d queue.Delivery, at time.Time) {
	// The next delivery's span continues this one's trace, as a retry's does.
	m := queue.Message{ExecutionID: id, Traceparent: telemetry.Traceparent(ctx)}
	if id == d.ExecutionID { // the same execution: its ids go along
		m.WorkflowID, m.DeploymentID = d.WorkflowID, d.DeploymentID
	}
	enqueue := func() error { return w.queue.EnqueueAt(ctx, m, at) }
	if !at.After(w.cfg.Now()) {
		enqueue = func() error { return w.queue.Enqueue(ctx, m) }
	}
	if err := enqueue(); err != nil {
		log.Warn("requeue failed", slog.Any("error", err))
		return
	}
	w.ack(ctx, log, d)
}

func (w *Worker) ack(ctx context.Context, log *slog.Logger, d queue.Delivery) {
	if err := w.steps.ackMessage(context.WithoutCancel(ctx), d.ID); err != nil {
		log.Warn("ack failed", slog.Any("error", err))
	}
}
