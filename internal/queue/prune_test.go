package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// liveSet is a LiveConsumers that names the given consumers.
func liveSet(names ...string) queue.LiveConsumers {
	return func(context.Context) (map[string]bool, error) {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m, nil
	}
}

// consumers returns the group's consumers by name.
func consumers(t *testing.T, client redis.UniversalClient, stream, group string) map[string]redis.XInfoConsumer {
	t.Helper()
	cs, err := client.XInfoConsumers(t.Context(), stream, group).Result()
	if err != nil {
		t.Fatalf("xinfo consumers: %v", err)
	}
	out := map[string]redis.XInfoConsumer{}
	for _, c := range cs {
		out[c.Name] = c
	}
	return out
}

// work has consumer receive and ack a message with execution id id, the way a worker that ran
// it does. (A read that finds nothing leaves no consumer behind in Redis before 7.2.)
func work(t *testing.T, q queue.Queue, consumer, id string) {
	t.Helper()
	ctx := t.Context()
	if err := q.Enqueue(ctx, queue.Message{ExecutionID: id}); err != nil {
		t.Fatal(err)
	}
	ds, err := q.Receive(ctx, consumer, 1, time.Second)
	if err != nil || len(ds) != 1 || ds[0].ExecutionID != id {
		t.Fatalf("receive %s for %s: %v %v", id, consumer, ds, err)
	}
	if err := q.Ack(ctx, ds[0].ID); err != nil {
		t.Fatal(err)
	}
}

func TestRedisPruneConsumers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q, client, prefix := newRedis(t, queue.RedisConfig{Group: "g"})
	stream := prefix + "queue:{executions}:stream"

	work(t, q, "gone", "e0") // runs e0, then its worker dies
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e1"}))
	held, err := q.Receive(ctx, "holder", 1, -1) // takes e1 and dies without acking
	is.NoErr(err)
	is.Equal(len(held), 1)
	work(t, q, "live", "e2")  // a live worker
	work(t, q, "quiet", "e3") // a live worker with nothing to do since
	is.Equal(len(consumers(t, client, stream, "g")), 4)

	live := liveSet("live", "quiet")
	removed, err := q.PruneConsumers(ctx, live)
	is.NoErr(err)
	is.Equal(removed, []string{"gone"}) // not live and nothing pending
	cs := consumers(t, client, stream, "g")
	is.Equal(len(cs), 3)
	is.Equal(cs["holder"].Pending, int64(1)) // not live, but its message is pending: kept, with it
	_, ok := cs["live"]
	is.True(ok) // live: kept
	_, ok = cs["quiet"]
	is.True(ok) // live, however idle: kept

	// The holder's message is still there to be claimed; once it is, the holder is an empty
	// entry and goes too.
	claimed, err := q.ClaimStale(ctx, "live", 0, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 1)
	is.Equal(claimed[0].ID, held[0].ID)
	is.Equal(claimed[0].Deliveries, int64(2))
	removed, err = q.PruneConsumers(ctx, live)
	is.NoErr(err)
	is.Equal(removed, []string{"holder"})
	cs = consumers(t, client, stream, "g")
	is.Equal(len(cs), 2)
	is.Equal(cs["live"].Pending, int64(1)) // the claimer, with the message

	// A pruned consumer that is alive after all comes back with its next read.
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e4"}))
	ds, err := q.Receive(ctx, "gone", 1, time.Second)
	is.NoErr(err)
	is.Equal(len(ds), 1)
	is.Equal(consumers(t, client, stream, "g")["gone"].Pending, int64(1))

	// A failed listing of the live workers prunes nothing.
	work(t, q, "another", "e5")
	_, err = q.PruneConsumers(ctx, func(context.Context) (map[string]bool, error) { return nil, errors.New("registry down") })
	is.True(err != nil)
	_, ok = consumers(t, client, stream, "g")["another"]
	is.True(ok) // kept
}

// TestRedisPruneConsumersManyBatches: more dead consumers than one script call takes are all
// removed, and the busy ones among them kept.
func TestRedisPruneConsumersManyBatches(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q, client, prefix := newRedis(t, queue.RedisConfig{})
	stream := prefix + "queue:{executions}:stream"
	var want []string
	for i := range 250 {
		name := fmt.Sprintf("w%03d", i)
		if i%50 == 7 {
			is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: name}))
			ds, err := q.Receive(ctx, name, 1, -1)
			is.NoErr(err)
			is.Equal(len(ds), 1)
			continue
		}
		is.NoErr(client.XGroupCreateConsumer(ctx, stream, "workers", name).Err())
		want = append(want, name)
	}
	removed, err := q.PruneConsumers(ctx, nil) // none live
	is.NoErr(err)
	slices.Sort(removed)
	is.Equal(removed, want)
	is.Equal(len(consumers(t, client, stream, "workers")), 5) // the ones with a pending message
}

// scriptHook runs f (once) just before the first script call goes out.
type scriptHook struct {
	once sync.Once
	f    func(ctx context.Context)
}

func (h *scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := strings.ToLower(cmd.Name()); name == "evalsha" || name == "eval" {
			h.once.Do(func() { h.f(ctx) })
		}
		return next(ctx, cmd)
	}
}

// TestRedisPruneConsumersReadInBetween: a consumer listed as dead and empty that reads a message
// before the delete keeps that message pending; the check and the delete are one step.
func TestRedisPruneConsumersReadInBetween(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q, client, prefix := newRedis(t, queue.RedisConfig{})
	stream := prefix + "queue:{executions}:stream"
	reader := queue.NewRedisQueue(testenv.Redis(t), queue.RedisConfig{Prefix: prefix}) // a client without the hook

	work(t, q, "slow", "e0")
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e1"}))
	var (
		read    []queue.Delivery
		readErr error
	)
	client.AddHook(&scriptHook{f: func(ctx context.Context) {
		// After XINFO CONSUMERS listed "slow" as not live with nothing pending, it reads.
		read, readErr = reader.Receive(ctx, "slow", 1, -1)
	}})

	removed, err := q.PruneConsumers(ctx, liveSet("other"))
	is.NoErr(err)
	is.NoErr(readErr)
	is.Equal(len(read), 1) // the hook ran and "slow" took e1 in between
	is.Equal(len(removed), 0)
	is.Equal(consumers(t, client, stream, "workers")["slow"].Pending, int64(1))
	s, err := q.Stats(ctx)
	is.NoErr(err)
	is.Equal(s.Pending, int64(1))
	claimed, err := q.ClaimStale(ctx, "rescuer", 0, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 1) // the pending entry survived: e1 can be taken over
	is.Equal(claimed[0].ID, read[0].ID)
}

func TestRedisPruneConsumersNoStream(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q, client, prefix := newRedis(t, queue.RedisConfig{})
	is.NoErr(client.Del(ctx, prefix+"queue:{executions}:stream").Err())
	removed, err := q.PruneConsumers(ctx, nil)
	is.NoErr(err)
	is.Equal(len(removed), 0)
}

func TestLocalPruneConsumers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	q := newLocal(t, nil)
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e1"}))
	_, err := q.Receive(ctx, "a", 1, -1)
	is.NoErr(err)
	_, err = q.Receive(ctx, "b", 1, -1)
	is.NoErr(err)
	removed, err := q.PruneConsumers(ctx, nil)
	is.NoErr(err)
	is.True(removed == nil) // no consumer entries to leak
}
