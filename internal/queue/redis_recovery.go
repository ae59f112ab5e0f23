package queue

import (
	"context"
	"errors"
	"strings"
	"time"

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
// Recovered with the time the outage began: what was enqueued before may be lost, what came
// later was refused and is still with its producers. A missing group (NOGROUP) signals
// Recovered too: the stream vanished, with its messages. The mover (every MoveInterval in a worker) and the workers' reads keep the queue
// talking to Redis, so it notices within about a second of Redis answering again.

// lossMargin widens what counts as possibly lost: the moment this process noticed the outage
// comes a little after Redis stopped answering, and the rows' times come from other
// processes' clocks.
const lossMargin = time.Second

// recoveryMemory is how long after Redis answered again a vanished stream is taken for the
// same outage (the workers' first reads find the group gone) rather than a new loss.
const recoveryMemory = time.Minute

// observe records the outcome of one call to Redis.
func (q *RedisQueue) observe(err error) {
	switch {
	case err == nil, isReply(err):
		if q.down.Load() {
			q.recoveryMu.Lock()
			if q.down.CompareAndSwap(true, false) {
				q.upAt = time.Now()
				q.logger.Info("redis answers again", "queue", q.stream, "down_for", q.upAt.Sub(q.downAt).String())
				q.signalRecovered(q.downAt.Add(lossMargin))
			}
			q.recoveryMu.Unlock()
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller's deadline or cancellation says nothing about Redis.
	default:
		if !q.down.Load() {
			q.recoveryMu.Lock()
			if q.down.CompareAndSwap(false, true) {
				q.downAt = time.Now()
				q.logger.Warn("redis does not answer", "queue", q.stream, "error", err)
			}
			q.recoveryMu.Unlock()
		}
	}
}

// groupVanished signals that the stream or its group was found missing: what was enqueued
// before the outage this process saw end recently, or, without one, before now, may be lost.
func (q *RedisQueue) groupVanished() {
	q.recoveryMu.Lock()
	defer q.recoveryMu.Unlock()
	lostBefore := time.Now()
	if !q.upAt.IsZero() && time.Since(q.upAt) < recoveryMemory {
		lostBefore = q.downAt.Add(lossMargin)
	}
	q.signalRecovered(lostBefore)
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

// signalRecovered sends lostBefore on recovered, merged with a signal still pending (the later
// time wins). q.recoveryMu must be held.
func (q *RedisQueue) signalRecovered(lostBefore time.Time) {
	select {
	case old := <-q.recovered:
		if old.After(lostBefore) {
			lostBefore = old
		}
	default:
	}
	q.recovered <- lostBefore // cap 1, emptied above, and only senders hold recoveryMu
}

// Recovered receives a time when Redis answers again after the queue could not reach it, or
// when the stream or its group had vanished: messages enqueued before that time may have been
// lost, and their executions should be enqueued again now (execution.SweeperConfig.Wake).
// Messages enqueued later were either refused (their producers keep them and send them again)
// or are in the new stream. A signal that comes while one is pending is merged into it.
func (q *RedisQueue) Recovered() <-chan time.Time { return q.recovered }
