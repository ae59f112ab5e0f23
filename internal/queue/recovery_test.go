package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// TestRedisQueueRestartedEmpty: Redis restarted without its data. The queue says so
// (Recovered), re-creates the stream and the group by itself, and delivers what is enqueued
// afterwards.
func TestRedisQueueRestartedEmpty(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := testenv.StartRedis(t)
	opts, err := redis.ParseURL(srv.URL())
	is.NoErr(err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	q := queue.NewRedisQueue(client, queue.RedisConfig{MaxBlock: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	is.NoErr(q.Start(ctx))
	t.Cleanup(q.Stop)

	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "before"}))
	srv.Stop()
	is.True(q.Enqueue(ctx, queue.Message{ExecutionID: "during"}) != nil) // Redis is down
	select {
	case <-q.Recovered():
		t.Fatal("recovered while Redis is down")
	default:
	}

	srv.Start() // empty: no stream, no group
	// The mover's next step reaches Redis again.
	select {
	case <-q.Recovered():
	case <-ctx.Done():
		t.Fatal("no recovery signal after Redis came back")
	}
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "after"}))
	ds, err := q.Receive(ctx, "c", 10, 5*time.Second)
	is.NoErr(err) // the group is re-created
	is.Equal(len(ds), 1)
	is.Equal(ds[0].ExecutionID, "after") // "before" vanished with Redis; the sweeper re-enqueues it
}
