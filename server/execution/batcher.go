package execution

import (
	"context"
	"log/slog"

	"github.com/workflow-runtime/workflow-runtime/server/queue"
)

// triggerBatcher records concurrent triggers together (a group): the calls that are waiting
// when a batch starts are recorded by one statement (Store.ExecutionTriggerBatch) and their new
// executions handed to the outbox, which enqueues them in the background (one round trip of
// XADDs per batch); a lone call is the single-row statement. The answers do not wait for the
// enqueue: the rows are the truth.
//
// Guarantees are ExecutionTrigger's, row by row: the statement checks each row's deployment and
// uniqueness as the single-row one does, and the rows it did not insert are looked at one by
// one to say why (not found, not DEPLOYED, or the execution that holds the idempotency key).
// A caller whose ctx ends gets ctx.Err() at once; its execution may still be recorded and
// enqueued (as when a ctx ends after the INSERT of a single call).
type triggerBatcher struct {
	store  Store
	outbox *outbox
	*group[triggerRequest, TriggerResult]
}

// triggerRequest is one Trigger waiting for its batch.
type triggerRequest struct {
	row         TriggerRow
	traceparent string
}

func newTriggerBatcher(store Store, out *outbox, logger *slog.Logger, max int) *triggerBatcher {
	b := &triggerBatcher{store: store, outbox: out}
	b.group = newGroup("record executions", max, logger, b.run)
	return b
}

// trigger records row (and enqueues it when it is new) in the next batch.
func (b *triggerBatcher) trigger(ctx context.Context, row TriggerRow, traceparent string) (TriggerResult, error) {
	return b.do(ctx, triggerRequest{row: row, traceparent: traceparent})
}

// run records one batch and hands its new executions to the outbox.
func (b *triggerBatcher) run(ctx context.Context, batch []triggerRequest) ([]TriggerResult, error) {
	if len(batch) == 1 { // nothing to share: the single-row statement and a plain XADD
		c := batch[0]
		e, inserted, err := b.store.ExecutionTrigger(ctx, c.row.Execution, c.row.WebhookPath)
		if err == nil && inserted {
			b.outbox.add(queue.Message{ExecutionID: e.ID, Traceparent: c.traceparent})
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
			msgs = append(msgs, queue.Message{ExecutionID: r.Execution.ID, Traceparent: c.traceparent})
		}
	}
	b.outbox.add(msgs...)
	return results, nil
}
