package queue

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Noticing that Redis is back.
//
// While Redis is down, nothing reaches the queue; when it comes back it may have lost what it
// held (a restart without persistence: no stream, no group, no delayed messages). The queue
// re-creates the stream and the group by itself (retryNoGroup), but the messages are gone, and
// their executions, PENDING in the database, wait for the sweeper. Recovered tells the sweeper
// to sweep at once instead of after its stale age.
//
// Every call to Redis reports its outcome to observe: a failure to reach Redis marks it down;
// the first answer after that (any reply, an error reply included) marks it up and signals
// Recovered. A missing group (NOGROUP) signals Recovered too: the stream vanished, with its
// messages. The mover (every MoveInterval in a worker) and the workers' reads keep the queue
// talking to Redis, so it notices within about a second of Redis answering again.

// observe records the outcome of one call to Redis.
func (q *RedisQueue) observe(err error) {
	switch {
	case err == nil, isReply(err):
		if q.down.CompareAndSwap(true, false) {
			q.logger.Info("redis answers again", "queue", q.stream)
			q.signalRecovered()
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller's deadline or cancellation says nothing about Redis.
	default:
		if !q.down.Swap(true) {
			q.logger.Warn("redis does not answer", "queue", q.stream, "error", err)
		}
	}
}

// isReply reports whether err is Redis's answer (an error reply, or nil for a missing key)
// rather than a failure to get one.
func isReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}

// isNoGroup reports whether err says the stream or the consumer group does not exist.
func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

func (q *RedisQueue) signalRecovered() {
	select {
	case q.recovered <- struct{}{}:
	default: // one is pending already
	}
}

// Recovered receives a value when Redis answers again after the queue could not reach it, or
// when the stream or its group had vanished: messages may have been lost, and the executions
// they carried should be enqueued again now (execution.SweeperConfig.Wake). Signals that come
// while one is pending are merged into it.
func (q *RedisQueue) Recovered() <-chan struct{} { return q.recovered }
