package execution_test

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/server/execution"
	"github.com/workflow-runtime/workflow-runtime/server/queue"
	"github.com/workflow-runtime/workflow-runtime/server/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/server/testenv"
)

// syncBuffer is a log sink the sweeper's goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSweeperPrunesConsumers: a running Sweeper removes the consumer of a worker that is gone
// every PruneEvery, keeps the one whose message is still pending, and says which it removed.
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

	// "gone" ran a message and died; "holder" died holding one.
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e1"}))
	ds, err := q.Receive(ctx, "gone", 1, time.Second)
	is.NoErr(err)
	is.Equal(len(ds), 1)
	is.NoErr(q.Ack(ctx, ds[0].ID))
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "e2"}))
	ds, err = q.Receive(ctx, "holder", 1, time.Second)
	is.NoErr(err)
	is.Equal(len(ds), 1)
	is.Equal(names(), []string{"gone", "holder"})

	logs := &syncBuffer{}
	sweeper := execution.NewSweeper(storetest.OpenSQLite(t), q, execution.SweeperConfig{
		Interval:     time.Hour, // no sweeps of executions here
		PruneEvery:   20 * time.Millisecond,
		ConsumerIdle: 100 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
	})
	startStop(t, sweeper)
	deadline := time.Now().Add(5 * time.Second)
	// The log line follows the removal: wait for both, or the check below races the logger.
	for slices.Contains(names(), "gone") || !strings.Contains(logs.String(), "consumers=[gone]") {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not remove the consumer of a worker that is gone")
		}
		time.Sleep(10 * time.Millisecond)
	}
	is.Equal(names(), []string{"holder"}) // its message is pending: kept
	log := logs.String()
	is.True(strings.Contains(log, "level=INFO"))
	is.True(strings.Contains(log, "consumers=[gone]")) // says which
	is.True(!strings.Contains(log, "level=WARN"))      // no failed prune

	pending, err := client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: "workers", Start: "-", End: "+", Count: 10}).Result()
	is.NoErr(err)
	is.Equal(len(pending), 1)
	is.Equal(pending[0].Consumer, "holder")
}

// TestSweeperPruneLocal: with the in-process queue there is nothing to prune.
func TestSweeperPruneLocal(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	q := queue.NewLocalQueue(queue.LocalConfig{})
	is.NoErr(q.Enqueue(t.Context(), queue.Message{ExecutionID: "e1"}))
	_, err := q.Receive(t.Context(), "gone", 1, -1)
	is.NoErr(err)
	sweeper := execution.NewSweeper(storetest.OpenSQLite(t), q, execution.SweeperConfig{Logger: slog.New(slog.DiscardHandler)})
	removed, err := sweeper.PruneConsumers(t.Context())
	is.NoErr(err)
	is.Equal(len(removed), 0)
}
