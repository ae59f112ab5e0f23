package queue

import (
	"context"
	"fmt"
	"time"
)

// Start creates the consumer group if needed and starts the mover, which moves delayed messages
// to the stream when they are due: every MoveInterval, at the earliest due time it knows of, and
// right after an EnqueueAt in this process. Any number of movers may run against one queue
// (each message is moved once). It returns an error when Redis cannot be reached; on a running
// queue it does nothing. Cancelling ctx does not stop the mover.
//
// Stop (startstop.BaseStartStop's) stops the mover, abandoning a step in flight, and waits for
// it. It is idempotent; a stopped queue can be started again.
func (q *RedisQueue) Start(ctx context.Context) error {
	runCtx, shouldStart, started, stopped := q.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // already running: one start (River's startstop semantics)
	}
	if err := q.ensureGroup(ctx); err != nil {
		stopped() // not started: Start may be called again
		return err
	}
	go func() {
		defer stopped()
		started()
		q.runMover(runCtx)
	}()
	return nil
}

// runMover moves due messages until ctx (the lifecycle's, cancelled by Stop) ends.
func (q *RedisQueue) runMover(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-q.kick:
		}
		wait, err := q.moveDue(ctx)
		if err != nil && ctx.Err() == nil && !q.down.Load() { // an outage is logged once, by observe
			q.logger.ErrorContext(ctx, "move delayed messages", "queue", q.stream, "error", err)
		}
		timer.Reset(wait)
	}
}

// moveDue runs one mover step and says how long to wait before the next.
func (q *RedisQueue) moveDue(ctx context.Context) (time.Duration, error) {
	res, err := moveScript.Run(ctx, q.client, []string{q.delayed, q.stream}, q.now().UnixMilli(), q.batch).Int64Slice()
	q.observe(err)
	if err != nil {
		return q.interval, fmt.Errorf("move due messages: %w", err)
	}
	if len(res) != 2 {
		return q.interval, fmt.Errorf("move due messages: unexpected reply %v", res)
	}
	moved, next := res[0], res[1]
	switch {
	case moved == int64(q.batch):
		return 0, nil // more are due
	case next < 0:
		return q.interval, nil
	default:
		return min(q.interval, max(time.UnixMilli(next).Sub(q.now()), 0)), nil
	}
}
