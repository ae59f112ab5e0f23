package execution_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// receiveIDs receives until it has n messages (or ctx ends) and returns their execution ids.
func receiveIDs(ctx context.Context, t *testing.T, q queue.Queue, n int) []string {
	t.Helper()
	var ids []string
	for len(ids) < n && ctx.Err() == nil {
		ds, err := q.Receive(ctx, "test", n-len(ids), 200*time.Millisecond)
		if err != nil && ctx.Err() == nil {
			t.Fatalf("receive: %v", err)
		}
		for _, d := range ds {
			ids = append(ids, d.ExecutionID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestTriggerWhileRedisDown: with Redis down, Trigger answers as soon as the row is written
// (the enqueue never holds it up); what it recorded is kept and enqueued once Redis answers
// again, although Redis came back empty.
func TestTriggerWhileRedisDown(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	db := storetest.OpenPostgres(t)
	srv := testenv.StartRedis(t)
	opts, err := redis.ParseURL(srv.URL())
	is.NoErr(err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	q := queue.NewRedisQueue(client, queue.RedisConfig{})
	startStop(t, q)
	deploys := deployments.NewService(db, deployments.ServiceConfig{KnownNodeTypes: engine.NodeTypes()})
	wf := "wf-outage"
	_, _, err = deploys.Deploy(ctx, &deployments.DeployParams{Definition: deployments.Definition{ID: wf, Nodes: []deployments.Node{noop}}})
	is.NoErr(err)
	svc := execution.NewService(db, q, notify.NewLocal(), execution.ServiceConfig{Logger: slog.New(slog.DiscardHandler)})

	srv.Stop()
	const n = 40
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     []string
		slowest time.Duration
	)
	for range n {
		wg.Go(func() {
			start := time.Now()
			e, _, err := svc.Trigger(ctx, &execution.TriggerParams{WorkflowID: wf})
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("trigger with Redis down: %v", err)
				return
			}
			ids = append(ids, e.ID)
			slowest = max(slowest, took)
		})
	}
	wg.Wait()
	t.Logf("%d triggers with Redis down, slowest %s", n, slowest)
	is.Equal(len(ids), n) // every trigger answered with its execution

	srv.Start()              // empty
	is.NoErr(svc.Flush(ctx)) // the kept executions go out once Redis answers
	slices.Sort(ids)
	is.Equal(receiveIDs(ctx, t, q, n), ids) // each enqueued once, none lost
}

// TestDeduplicatedPendingRequeued: a deduplicated Trigger enqueues its PENDING execution again
// when the execution has not changed for RequeueAfter (its message may be lost), and not when
// it is fresh (its message is on its way).
func TestDeduplicatedPendingRequeued(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := setup(t, setupOpts{noWorker: true})
	wf := b.deploy(t, noop, deployments.Config{})
	p := &execution.TriggerParams{WorkflowID: wf, IdempotencyKey: "k"}

	first, dedup, err := b.execs.Trigger(ctx, p)
	is.NoErr(err)
	is.True(!dedup)
	is.Equal(receiveIDs(ctx, t, b.queue, 1), []string{first.ID}) // and consumed: "lost"

	again, dedup, err := b.execs.Trigger(ctx, p)
	is.NoErr(err)
	is.True(dedup)
	is.Equal(again.ID, first.ID)
	is.NoErr(b.execs.Flush(ctx))
	ds, err := b.queue.Receive(ctx, "test", 10, -1)
	is.NoErr(err)
	is.Equal(len(ds), 0) // fresh: no second message

	// Some seconds later, still PENDING: its message may be gone.
	_, err = b.db.Bun().NewUpdate().Table("executions").Set("updated_at = ?", time.Now().UTC().Add(-time.Minute)).
		Where("id = ?", first.ID).Exec(ctx)
	is.NoErr(err)
	_, dedup, err = b.execs.Trigger(ctx, p)
	is.NoErr(err)
	is.True(dedup)
	is.Equal(receiveIDs(ctx, t, b.queue, 1), []string{first.ID}) // enqueued again
}

// TestSweepAll: SweepAll enqueues every due PENDING and every RUNNING execution not changed
// since a time, which a periodic Sweep leaves alone until StaleAfter; the sweeper does it on
// every Wake. RecoverAtStart hands RUNNING ones back to PENDING and enqueues all at start-up.
func TestSweepAll(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := setup(t, setupOpts{noWorker: true})
	wf := b.deploy(t, noop, deployments.Config{})
	pending := b.trigger(t, wf)
	running := b.trigger(t, wf)
	is.NoErr(b.execs.Flush(ctx))
	_ = receiveIDs(ctx, t, b.queue, 2) // the messages are gone
	_, err := b.db.ExecutionClaim(ctx, running.ID, time.Now().UnixMicro(), time.Now().UTC())
	is.NoErr(err)
	want := []string{pending.ID, running.ID}
	slices.Sort(want)

	sweeper := execution.NewSweeper(b.db, b.queue, execution.SweeperConfig{Logger: slog.New(slog.DiscardHandler)})
	n, err := sweeper.Sweep(ctx)
	is.NoErr(err)
	is.Equal(n, 0)                                    // fresh: not stale yet
	n, err = sweeper.SweepAll(ctx, pending.CreatedAt) // PENDING, changed later: its producer holds it
	is.NoErr(err)
	is.Equal(n, 1)
	is.Equal(receiveIDs(ctx, t, b.queue, 1), []string{running.ID}) // RUNNING: its lease may be gone
	n, err = sweeper.SweepAll(ctx, time.Now())
	is.NoErr(err)
	is.Equal(n, 2)
	is.Equal(receiveIDs(ctx, t, b.queue, 2), want)

	wake := make(chan time.Time, 1)
	startStop(t, execution.NewSweeper(b.db, b.queue, execution.SweeperConfig{
		Interval:       time.Hour, // no periodic sweep here
		RecoverAtStart: true,
		Wake:           wake,
		Logger:         slog.New(slog.DiscardHandler),
	}))
	is.Equal(receiveIDs(ctx, t, b.queue, 2), want) // at start-up
	back, err := b.db.ExecutionGet(ctx, running.ID)
	is.NoErr(err)
	is.Equal(back.Status, execution.StatusPending) // handed back, to be admitted again
	is.Equal(back.Attempt, int32(1))               // the interrupted attempt; the next claim counts the next
	is.Equal(back.Deaths, int32(1))                // its run died with the process
	wake <- time.Now()
	is.Equal(receiveIDs(ctx, t, b.queue, 2), want) // on a wake
}
