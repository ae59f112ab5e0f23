package execution_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/registry"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// syncBuffer is a log sink the sweeper's goroutine and the test share; written fires after
// each line.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written testenv.Signal
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	defer b.written.Fire()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSweeperPrunesConsumers: a running Sweeper removes, every PruneEvery, the consumer of a
// worker that is no longer live in the instance registry, keeps the one whose message is still
// pending and the one of a live worker however idle, and says which it removed.
func TestSweeperPrunesConsumers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	client, prefix := testenv.RedisPrefixed(t)
	q := queue.NewRedisQueue(client, queue.RedisConfig{Prefix: prefix})
	startStop(t, q)
	stream := prefix + "queue:{executions}:stream"
	names := func() []string {
		cs, err := client.XInfoConsumers(ctx, stream, "workers").Result()
		is.NoErr(err)
		out := make([]string, 0, len(cs))
		for _, c := range cs {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	// The registry of the live worker; "gone" and "holder" stopped (deregistered) or were
	// killed and their records expired.
	live := registry.New(client, registry.Config{
		Self:     registry.Instance{ID: "live", Role: "worker"},
		Interval: time.Hour,
		Prefix:   prefix,
		Logger:   slog.New(slog.DiscardHandler),
	})
	startStop(t, live)

	// "gone" ran a message and died; "holder" died holding one; "live" ran one and waits.
	for _, consumer := range []string{"gone", "live"} {
		is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e-" + consumer}))
		ds, err := q.Receive(ctx, consumer, 1, time.Second)
		is.NoErr(err)
		is.Equal(len(ds), 1)
		is.NoErr(q.Ack(ctx, ds[0].ID))
	}
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e2"}))
	ds, err := q.Receive(ctx, "holder", 1, time.Second)
	is.NoErr(err)
	is.Equal(len(ds), 1)
	is.Equal(names(), []string{"gone", "holder", "live"})

	logs := &syncBuffer{}
	sweeper := execution.NewSweeper(storetest.OpenSQLite(t), q, execution.SweeperConfig{
		Interval:      time.Hour, // no sweeps of executions here
		PruneEvery:    20 * time.Millisecond,
		LiveConsumers: live.LiveIDs,
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
	})
	startStop(t, sweeper)
	// The log line follows the removal: wait for both, or the check below races the logger.
	logs.written.Await(t, 5*time.Second, func() error {
		if slices.Contains(names(), "gone") || !strings.Contains(logs.String(), "consumers=[gone]") {
			return errors.New("the sweeper did not remove the consumer of a worker that is gone")
		}
		return nil
	})
	is.Equal(names(), []string{"holder", "live"}) // pending message; live worker: kept
	log := logs.String()
	is.True(strings.Contains(log, "level=INFO"))
	is.True(strings.Contains(log, "consumers=[gone]")) // says which
	is.True(!strings.Contains(log, "level=WARN"))      // no failed prune

	pending, err := client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: "workers", Start: "-", End: "+", Count: 10}).Result()
	is.NoErr(err)
	is.Equal(len(pending), 1)
	is.Equal(pending[0].Consumer, "holder")

	// Once the live worker stops, its consumer goes too.
	live.Stop()
	removed, err := sweeper.PruneConsumers(ctx)
	is.NoErr(err)
	is.Equal(removed, []string{"live"})
}

// TestSweeperPruneLocal: with the in-process queue there is nothing to prune.
func TestSweeperPruneLocal(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	q := queue.NewLocalQueue(queue.LocalConfig{})
	is.NoErr(q.Enqueue(t.Context(), queue.Message{ExecutionID: "e1"}))
	_, err := q.Receive(t.Context(), "gone", 1, -1)
	is.NoErr(err)
	sweeper := execution.NewSweeper(storetest.OpenSQLite(t), q, execution.SweeperConfig{
		Logger:        slog.New(slog.DiscardHandler),
		LiveConsumers: func(context.Context) (map[string]bool, error) { return nil, nil },
	})
	removed, err := sweeper.PruneConsumers(t.Context())
	is.NoErr(err)
	is.Equal(len(removed), 0)
}

// TestSweeperPruneWithoutRegistry: without a registry to say which workers are alive, no
// consumer is removed.
func TestSweeperPruneWithoutRegistry(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	client, prefix := testenv.RedisPrefixed(t)
	q := queue.NewRedisQueue(client, queue.RedisConfig{Prefix: prefix})
	is.NoErr(q.Enqueue(t.Context(), queue.Message{ExecutionID: "e1"}))
	ds, err := q.Receive(t.Context(), "w", 1, time.Second)
	is.NoErr(err)
	is.NoErr(q.Ack(t.Context(), ds[0].ID))
	sweeper := execution.NewSweeper(storetest.OpenSQLite(t), q, execution.SweeperConfig{Logger: slog.New(slog.DiscardHandler)})
	removed, err := sweeper.PruneConsumers(t.Context())
	is.NoErr(err)
	is.Equal(len(removed), 0)
	cs, err := client.XInfoConsumers(t.Context(), prefix+"queue:{executions}:stream", "workers").Result()
	is.NoErr(err)
	is.Equal(len(cs), 1) // kept
}
