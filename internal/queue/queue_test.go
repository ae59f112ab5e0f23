package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/queue/queuetest"
)

func newLocal(t testing.TB, clock *queuetest.FakeClock) *queue.LocalQueue {
	cfg := queue.LocalConfig{MoveInterval: 5 * time.Millisecond}
	if clock != nil {
		cfg.Now = clock.Now
	}
	q := queue.NewLocalQueue(cfg)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Stop)
	return q
}

func newRedis(t testing.TB, cfg queue.RedisConfig) (*queue.RedisQueue, redis.UniversalClient, string) {
	client, prefix := queuetest.Redis(t)
	cfg.Prefix = prefix
	q := queue.NewRedisQueue(client, cfg)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Stop)
	return q, client, prefix
}

func TestLocalQueue(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T) (queue.Queue, queuetest.Clock) {
		clock := queuetest.NewFakeClock()
		return newLocal(t, clock), clock
	})
}

func TestLocalQueueRealClock(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T) (queue.Queue, queuetest.Clock) {
		return newLocal(t, nil), queuetest.RealClock{}
	})
}

func TestRedisQueue(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T) (queue.Queue, queuetest.Clock) {
		q, _, _ := newRedis(t, queue.RedisConfig{MaxBlock: 200 * time.Millisecond})
		return q, queuetest.RealClock{}
	})
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	l := queue.NewLocalQueue(queue.LocalConfig{})
	l.Stop() // stopping a queue never started is fine
	is.NoErr(l.Start(ctx))
	is.NoErr(l.Start(ctx)) // started twice: a no-op
	l.Stop()
	l.Stop()               // idempotent
	is.NoErr(l.Start(ctx)) // restartable
	l.Stop()

	r, _, _ := newRedis(t, queue.RedisConfig{})
	is.NoErr(r.Start(ctx)) // started twice: a no-op
	r.Stop()
	r.Stop()
	is.NoErr(r.Start(ctx))
}

func TestLocalDeadLetters(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q := queue.NewLocalQueue(queue.LocalConfig{DeadLetterMaxLen: 2})
	for i := range 3 {
		is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: string(rune('a' + i))}))
	}
	ds, err := q.Receive(ctx, "w", 3, -1)
	is.NoErr(err)
	for _, d := range ds {
		is.NoErr(q.DeadLetter(ctx, d, "reason "+d.ExecutionID))
	}
	dead := q.DeadLetters()
	is.Equal(len(dead), 2) // capped, oldest dropped
	is.Equal(dead[0].ExecutionID, "b")
	is.Equal(dead[1].Reason, "reason c")
}

func TestLocalCancelledContext(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	q := queue.NewLocalQueue(queue.LocalConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m := queue.Message{ExecutionID: "x"}
	is.True(errors.Is(q.Enqueue(ctx, m), context.Canceled))
	is.True(errors.Is(q.EnqueueAt(ctx, m, time.Now().Add(time.Hour)), context.Canceled))
	_, err := q.Receive(ctx, "w", 1, -1)
	is.True(errors.Is(err, context.Canceled))
	is.True(errors.Is(q.Ack(ctx, "1-1"), context.Canceled))
	_, err = q.ClaimStale(ctx, "w", 0, 1)
	is.True(errors.Is(err, context.Canceled))
	is.True(errors.Is(q.DeadLetter(ctx, queue.Delivery{ID: "1-1"}, ""), context.Canceled))
	_, err = q.Stats(ctx)
	is.True(errors.Is(err, context.Canceled))
}

// TestRedisStreamLayout checks what operators see in Redis.
func TestRedisStreamLayout(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q, client, prefix := newRedis(t, queue.RedisConfig{Name: "jobs", Group: "g"})
	stream := prefix + "queue:{jobs}:stream"
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e1", Traceparent: "tp"}))
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e2"}))
	groups, err := client.XInfoGroups(ctx, stream).Result()
	is.NoErr(err)
	is.Equal(len(groups), 1)
	is.Equal(groups[0].Name, "g") // the group exists, created by Start
	ds, err := q.Receive(ctx, "w", 2, time.Second)
	is.NoErr(err)
	is.NoErr(q.Ack(ctx, ds[0].ID))
	n, err := client.XLen(ctx, stream).Result()
	is.NoErr(err)
	is.Equal(n, int64(1)) // acked entries are deleted; the pending one stays
	is.NoErr(q.DeadLetter(ctx, ds[1], "poison"))
	dead, err := client.XRange(ctx, prefix+"queue:{jobs}:dead", "-", "+").Result()
	is.NoErr(err)
	is.Equal(len(dead), 1)
	is.Equal(dead[0].Values["execution_id"], "e2")
	is.Equal(dead[0].Values["reason"], "poison")
	is.Equal(dead[0].Values["deliveries"], "1")
	is.Equal(dead[0].Values["id"], ds[1].ID)

	// A second queue on the same stream and group: creating the group again is fine.
	q2 := queue.NewRedisQueue(client, queue.RedisConfig{Prefix: prefix, Name: "jobs", Group: "g"})
	is.NoErr(q2.Start(ctx))
	q2.Stop()
}

// TestRedisStreamDeleted: the queue recreates its group when the stream vanished.
func TestRedisStreamDeleted(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q, client, prefix := newRedis(t, queue.RedisConfig{})
	is.NoErr(client.Del(ctx, prefix+"queue:{executions}:stream").Err())
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e1"})) // XADD makes a stream without the group
	ds, err := q.Receive(ctx, "w", 1, time.Second)
	is.NoErr(err)
	is.Equal(len(ds), 1) // group recreated from 0: nothing lost
	is.NoErr(client.Del(ctx, prefix+"queue:{executions}:stream").Err())
	is.NoErr(q.Ack(ctx, ds[0].ID))
	s, err := q.Stats(ctx)
	is.NoErr(err)
	is.Equal(s, queue.Stats{})
}

// TestRedisMoverBatches: more due messages than one step moves all arrive.
func TestRedisMoverBatches(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q, _, _ := newRedis(t, queue.RedisConfig{MoveBatch: 3, MoveInterval: time.Hour})
	due := time.Now().Add(30 * time.Millisecond)
	for i := range 10 {
		is.NoErr(q.EnqueueAt(ctx, queue.Message{ExecutionID: string(rune('a' + i))}, due))
	}
	var got []queue.Delivery
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 10 && time.Now().Before(deadline) {
		ds, err := q.Receive(ctx, "w", 10, time.Second)
		is.NoErr(err)
		got = append(got, ds...)
	}
	is.Equal(len(got), 10) // moved at the due time known to the mover, in batches, despite the hour interval
	is.True(!time.Now().Before(due))
	for i, d := range got {
		is.Equal(d.ExecutionID, string(rune('a'+i))) // in order
	}
}

func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	q := queue.NewRedisQueue(client, queue.RedisConfig{})
	is.True(q.Start(ctx) != nil)
	m := queue.Message{ExecutionID: "x"}
	is.True(q.Enqueue(ctx, m) != nil)
	is.True(q.EnqueueAt(ctx, m, time.Now().Add(time.Hour)) != nil)
	_, err := q.Receive(ctx, "w", 1, time.Second)
	is.True(err != nil)
	is.True(q.Ack(ctx, "1-1") != nil)
	_, err = q.ClaimStale(ctx, "w", 0, 1)
	is.True(err != nil)
	err = q.DeadLetter(ctx, queue.Delivery{ID: "1-1"}, "x")
	is.True(err != nil && !errors.Is(err, queue.ErrNotPending))
	_, err = q.Stats(ctx)
	is.True(err != nil)
}

func BenchmarkLocalRoundTrip(b *testing.B) { queuetest.BenchRoundTrip(b, newLocal(b, nil)) }
func BenchmarkLocalPickup(b *testing.B)    { queuetest.BenchPickup(b, newLocal(b, nil)) }

func BenchmarkRedisRoundTrip(b *testing.B) {
	q, _, _ := newRedis(b, queue.RedisConfig{})
	queuetest.BenchRoundTrip(b, q)
}

func BenchmarkRedisPickup(b *testing.B) {
	q, _, _ := newRedis(b, queue.RedisConfig{})
	queuetest.BenchPickup(b, q)
}
