package execution

import (
	"context"
	"log/slog"

	"github.com/workflow-runtime/workflow-runtime/server/queue"
)

// triggerBatcher records concurrent triggers together (a group): the calls that are waiting
// when a batch starts are recorded by one statement (Store.ExecutionTriggerBatch) and their new
// executions enqueued by one round trip (Queue.EnqueueBatch); a lone call is the single-row
// statement and one XADD.
//
// Guarantees are ExecutionTrigger's, row by row: the statement checks each row's deployment and
// uniqueness as the single-row one does, and the rows it did not insert are looked at one by
// one to say why (not found, not DEPLOYED, or the execution that holds the idempotency key).
// A caller whose ctx ends gets ctx.Err() at once; its execution may still be recorded and
// enqueued (as when a ctx ends after the INSERT of a single call).
type triggerBatcher struct {
	store  Store
	queue  Queue
	logger *slog.Logger
	*group[triggerRequest, TriggerResult]
}

// triggerRequest is one Trigger waiting for its batch.
type triggerRequest struct {
	row         TriggerRow
	traceparent string
}

func newTriggerBatcher(store Store, q Queue, logger *slog.Logger, max int) *triggerBatcher {
	b := &triggerBatcher{store: store, queue: q, logger: logger}
	b.group = newGroup("record executions", max, logger, b.run)
	return b
}

// trigger records row (and enqueues it when it is new) in the next batch.
func (b *triggerBatcher) trigger(ctx context.Context, row TriggerRow, traceparent string) (TriggerResult, error) {
	return b.do(ctx, triggerRequest{row: row, traceparent: traceparent})
}

// run records and enqueues one batch.
func (b *triggerBatcher) run(ctx context.Context, batch []triggerRequest) ([]TriggerResult, error) {
	if len(batch) == 1 { // nothing to share: the single-row statement and a plain XADD
		c := batch[0]
		e, inserted, err := b.store.ExecutionTrigger(ctx, c.row.Execution, c.row.WebhookPath)
		if err == nil && inserted {
			b.enqueue(ctx, []queue.Message{{ExecutionID: e.ID, Traceparent: c.traceparent}})
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
	b.enqueue(ctx, msgs)
	return results, nil
}

// enqueue hands recorded executions to the queue. The rows are the truth: when the enqueue
// fails the sweeper enqueues them later.
func (b *triggerBatcher) enqueue(ctx context.Context, msgs []queue.Message) {
	if len(msgs) == 0 {
		return
	}
	var err error
	if len(msgs) == 1 {
		err = b.queue.Enqueue(ctx, msgs[0])
	} else {
		err = b.queue.EnqueueBatch(ctx, msgs)
	}
	if err != nil {
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ExecutionID
		}
		b.logger.WarnContext(ctx, "enqueue failed; the sweeper will enqueue the executions",
			slog.Any("execution_ids", ids), slog.Any("error", err))
	}
}
