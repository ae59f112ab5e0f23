package execution

import (
	"context"
	"log/slog"

	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// triggerBatcher records concurrent triggers together (a group): the calls that are waiting
// when a batch starts are recorded by one statement (TriggerStore.ExecutionTriggerBatch) and
// their new executions handed to the outbox, which enqueues them in the background (one round
// trip of XADDs per batch); a lone call is the single-row statement. The answers do not wait
// for the enqueue: the rows are the truth.
//
// Guarantees are ExecutionTrigger's, row by row: the statement checks each row's deployment and
// uniqueness as the single-row one does, and the rows it did not insert are looked at one by
// one to say why (not found, not DEPLOYED, or the execution that holds the idempotency key).
// A caller whose ctx ends gets ctx.Err() at once; its execution may still be recorded and
// enqueued (as when a ctx ends after the INSERT of a single call).
type triggerBatcher struct {
	store  TriggerStore
	outbox *outbox
	*group[triggerRequest, TriggerResult]
}

// TriggerStore records triggered executions: what the trigger batcher calls.
type TriggerStore interface {
	// ExecutionTrigger records e (a MANUAL or, with webhookPath, a WEBHOOK trigger) against the
	// workflow's current revision, only if its deployment is DEPLOYED, filling in the
	// deployment id, revision and trigger id. A taken idempotency key returns the existing
	// execution with inserted false. errdefs.ErrNotFound for an unknown workflow or webhook,
	// errdefs.ErrFailedPrecondition when the deployment is not DEPLOYED.
	ExecutionTrigger(ctx context.Context, e *Execution, webhookPath string) (got *Execution, inserted bool, err error)
	// ExecutionTriggerBatch is ExecutionTrigger for many rows in one statement: result i answers
	// row i as ExecutionTrigger would have (its Err holds what ExecutionTrigger would return).
	// Two rows with the same workflow and idempotency key record one execution; the other gets
	// it with Inserted false. The error is for the batch as a whole (the statement failed).
	ExecutionTriggerBatch(ctx context.Context, rows []TriggerRow) ([]TriggerResult, error)
}

// triggerRequest is one Trigger waiting for its batch. The batch runs on a context of its own,
// so each request keeps its caller's trace context, in the form the queue message carries.
type triggerRequest struct {
	row         TriggerRow
	traceparent string // telemetry.Traceparent of the caller's ctx
}

func newTriggerBatcher(store TriggerStore, out *outbox, logger *slog.Logger, max int) *triggerBatcher {
	b := &triggerBatcher{store: store, outbox: out}
	b.group = newGroup("record executions", max, logger, b.run)
	return b
}

// trigger records row (and enqueues it when it is new, with ctx's trace context) in the next
// batch.
func (b *triggerBatcher) trigger(ctx context.Context, row TriggerRow) (TriggerResult, error) {
	return b.do(ctx, triggerRequest{row: row, traceparent: telemetry.Traceparent(ctx)})
}

// run records one batch and hands its new executions to the outbox.
func (b *triggerBatcher) run(ctx context.Context, batch []triggerRequest) ([]TriggerResult, error) {
	if len(batch) == 1 { // nothing to share: the single-row statement and a plain XADD
		c := batch[0]
		e, inserted, err := b.store.ExecutionTrigger(ctx, c.row.Execution, c.row.WebhookPath)
		if err == nil && inserted {
			b.outbox.add(message(e, c.traceparent))
		}
		return []TriggerResult{{Execution: e, Inserted: inserted, Err: err}}, nil
	}
	rows := make([]TriggerRow, len(batch))
	for i, c := range batch {
		rows[i] = c.row
	}
	results, err := b.store.ExecutionTriggerBatch(ctx, rows)
	if err != nil {
		return nil, err
	}
	var msgs []queue.Message
	for i, c := range batch {
		if r := results[i]; r.Err == nil && r.Inserted {
			msgs = append(msgs, message(r.Execution, c.traceparent))
		}
	}
	b.outbox.add(msgs...)
	return results, nil
}
