package execution

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/workflow-runtime/workflow-runtime/server/queue"
)

// triggerBatcher records concurrent triggers together (group commit): the calls that are waiting
// when a batch starts are recorded by one statement (Store.ExecutionTriggerBatch) and their new
// executions enqueued by one round trip (Queue.EnqueueBatch).
//
// No call waits for company: a call that finds the batcher idle starts it, and it runs the
// calls waiting at that moment (at most max), then the calls that arrived meanwhile, and so on
// until none is waiting; then it stops. A lone call is therefore one goroutine hop slower than
// calling the store itself, and under load each batch holds the calls that arrived while the
// previous one ran.
//
// Guarantees are ExecutionTrigger's, row by row: the statement checks each row's deployment and
// uniqueness as the single-row one does, and the rows it did not insert are looked at one by
// one to say why (not found, not DEPLOYED, or the execution that holds the idempotency key).
// Each caller's ctx is honoured: a caller whose ctx ends gets ctx.Err() at once; its execution
// may still be recorded and enqueued (as when a ctx ends after the INSERT of a single call). A
// batch runs until every caller in it has gone.
type triggerBatcher struct {
	store  Store
	queue  Queue
	logger *slog.Logger
	max    int

	mu      sync.Mutex
	waiting []*triggerCall
	running bool
}

// triggerCall is one Trigger waiting for its batch.
type triggerCall struct {
	ctx         context.Context
	row         TriggerRow
	traceparent string
	done        chan struct{} // closed when res is set
	res         TriggerResult
}

// trigger records row (and enqueues it when it is new) in the next batch.
func (b *triggerBatcher) trigger(ctx context.Context, row TriggerRow, traceparent string) (TriggerResult, error) {
	c := &triggerCall{ctx: ctx, row: row, traceparent: traceparent, done: make(chan struct{})}
	b.mu.Lock()
	b.waiting = append(b.waiting, c)
	if !b.running {
		b.running = true
		go b.loop()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.res, nil
	case <-ctx.Done():
		return TriggerResult{}, ctx.Err()
	}
}

// loop runs batches while calls are waiting.
func (b *triggerBatcher) loop() {
	for {
		b.mu.Lock()
		n := min(len(b.waiting), b.max)
		if n == 0 {
			b.running = false
			b.waiting = nil // do not keep a large buffer from a burst
			b.mu.Unlock()
			return
		}
		batch := make([]*triggerCall, 0, n)
		for _, c := range b.waiting[:n] {
			if c.ctx.Err() == nil { // a caller that has gone needs no answer
				batch = append(batch, c)
			}
		}
		rest := copy(b.waiting, b.waiting[n:])
		clear(b.waiting[rest:])
		b.waiting = b.waiting[:rest]
		b.mu.Unlock()
		if len(batch) > 0 {
			b.run(batch)
		}
	}
}

// run records and enqueues one batch and answers its callers.
func (b *triggerBatcher) run(batch []*triggerCall) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	defer func() {
		// A panic here would take the process down (it is no request's goroutine, so the
		// recover interceptor does not see it); each caller gets it as an error instead.
		if v := recover(); v != nil {
			b.logger.ErrorContext(ctx, "trigger batch panicked", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			for _, c := range batch {
				if c.res == (TriggerResult{}) {
					c.res.Err = fmt.Errorf("record execution: panic: %v", v)
				}
			}
		}
		for _, c := range batch {
			close(c.done)
		}
	}()
	if len(batch) == 1 { // nothing to share: the single-row statement and a plain XADD
		c := batch[0]
		e, inserted, err := b.store.ExecutionTrigger(ctx, c.row.Execution, c.row.WebhookPath)
		c.res = TriggerResult{Execution: e, Inserted: inserted, Err: err}
		if err == nil && inserted {
			b.enqueue(ctx, []queue.Message{{ExecutionID: e.ID, Traceparent: c.traceparent}})
		}
		return
	}
	rows := make([]TriggerRow, len(batch))
	for i, c := range batch {
		rows[i] = c.row
	}
	results, err := b.store.ExecutionTriggerBatch(ctx, rows)
	if err != nil {
		for _, c := range batch {
			c.res = TriggerResult{Err: err}
		}
		return
	}
	var msgs []queue.Message
	for i, c := range batch {
		c.res = results[i]
		if r := results[i]; r.Err == nil && r.Inserted {
			msgs = append(msgs, queue.Message{ExecutionID: r.Execution.ID, Traceparent: c.traceparent})
		}
	}
	b.enqueue(ctx, msgs)
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

// batchContext returns the context a batch runs under: the first caller's values (its trace,
// for the statement's span), ended when every caller's ctx has ended, since then nobody waits
// for the answer.
func batchContext(batch []*triggerCall) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	var left atomic.Int64
	left.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, c := range batch {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
