package execution_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// recordingEngine is the reference engine keeping every request's attempt and trigger context.
type recordingEngine struct {
	inner *engine.Engine
	mu    sync.Mutex
	seen  map[string][]engine.Request // by execution id, in order
}

func (r *recordingEngine) Execute(ctx context.Context, req *engine.Request) (*engine.Result, error) {
	r.mu.Lock()
	r.seen[req.ExecutionID] = append(r.seen[req.ExecutionID], engine.Request{Attempt: req.Attempt, Trigger: req.Trigger})
	r.mu.Unlock()
	return r.inner.Execute(ctx, req)
}

func (r *recordingEngine) requests(id string) []engine.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]engine.Request(nil), r.seen[id]...)
}

// setupRecording is setup with a worker on a recordingEngine.
func setupRecording(t *testing.T, o setupOpts) (*testBundle, *recordingEngine) {
	t.Helper()
	o.noWorker = true
	b := setup(t, o)
	rec := &recordingEngine{inner: engine.New(engine.Config{}), seen: map[string][]engine.Request{}}
	w := execution.NewWorker(b.db, b.queue, b.locker, rec, b.waitlist, b.notifier, execution.WorkerConfig{
		Concurrency: 4, LockTTL: 2 * time.Second, ClaimIdle: 200 * time.Millisecond, MaxDeliveries: 10,
		ReceiveBlock: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	startStop(t, w)
	return b, rec
}

var slotNode = deployments.Node{ID: "slot", Type: "transform", Params: map[string]any{
	"expression": `{"nominal": string(trigger.nominal_time), "last": trigger.?last_success_nominal_time.orValue(null)}`,
}}

// TestTriggerContextReachesEngine: each execution's request carries its type, trigger id, times
// and the watermark as of its attempt: none for a manual trigger or before the first success,
// then the latest earlier success, never a later slot's.
func TestTriggerContextReachesEngine(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			b, rec := setupRecording(t, m.opts)
			wf := b.deploy(t, slotNode, deployments.Config{})
			d, err := b.db.DeploymentGetByWorkflow(ctx, wf)
			is.NoErr(err)

			manual := b.waitStatus(t, b.trigger(t, wf).ID, execution.StatusSucceeded)
			is.Equal(manual.NominalAt, manual.ScheduledAt)
			is.Equal(*rec.requests(manual.ID)[0].Trigger, engine.Trigger{
				Type: engine.TriggerManual, NominalTime: manual.ScheduledAt, ScheduledTime: manual.ScheduledAt,
			})

			slot := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
			fire := func(nominal time.Time) *execution.Execution {
				t.Helper()
				e, _, err := b.execs.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "hourly",
					NominalAt: nominal, ScheduledAt: nominal.Add(17 * time.Second)})
				is.NoErr(err)
				is.Equal(e.NominalAt, nominal)
				return b.waitStatus(t, e.ID, execution.StatusSucceeded)
			}
			want := func(nominal, last time.Time) engine.Trigger {
				return engine.Trigger{Type: engine.TriggerCron, ID: "hourly", NominalTime: nominal,
					ScheduledTime: nominal.Add(17 * time.Second), LastSuccessNominalTime: last}
			}
			first := fire(slot)
			is.Equal(*rec.requests(first.ID)[0].Trigger, want(slot, time.Time{})) // the manual run is another trigger's
			is.Equal(string(first.Output), `{"slot":{"last":null,"nominal":"2026-11-30T10:00:00Z"}}`)
			next := fire(slot.Add(time.Hour))
			is.Equal(*rec.requests(next.ID)[0].Trigger, want(slot.Add(time.Hour), slot))
			is.Equal(string(next.Output), `{"slot":{"last":"2026-11-30T10:00:00Z","nominal":"2026-11-30T11:00:00Z"}}`)
			older := fire(slot.Add(-time.Hour)) // a backfill of an earlier slot: no success before it
			is.Equal(*rec.requests(older.ID)[0].Trigger, want(slot.Add(-time.Hour), time.Time{}))
			between := fire(slot.Add(30 * time.Minute))
			is.Equal(*rec.requests(between.ID)[0].Trigger, want(slot.Add(30*time.Minute), slot)) // not 11:00
		})
	}
}

// TestRetrySeesTheSameSlot: every attempt of one execution is told the same slot; the first
// attempt fails retryably, the second succeeds with the same nominal time in its output.
func TestRetrySeesTheSameSlot(t *testing.T) {
	t.Parallel()
	retry := deployments.Config{Retry: deployments.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, BackoffCoefficient: 2}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if hits.Add(1) == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			t.Cleanup(srv.Close)
			b, rec := setupRecording(t, m.opts)
			wf := "wf-retry-" + m.name[:5]
			_, _, err := b.deploys.Deploy(ctx, &deployments.DeployParams{
				Definition: deployments.Definition{ID: wf, Nodes: []deployments.Node{
					slotNode,
					{ID: "gate", Type: "http", Params: map[string]any{"url": srv.URL}, DependsOn: []string{"slot"}},
				}},
				Config: retry,
			})
			is.NoErr(err)
			d, err := b.db.DeploymentGetByWorkflow(ctx, wf)
			is.NoErr(err)
			slot := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
			e, _, err := b.execs.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "hourly", NominalAt: slot, ScheduledAt: slot})
			is.NoErr(err)
			done := b.waitStatus(t, e.ID, execution.StatusSucceeded)
			is.Equal(done.Attempt, int32(2)) // a 503, then success
			reqs := rec.requests(e.ID)
			is.Equal(len(reqs), 2)
			is.Equal(reqs[0].Attempt, int32(1))
			is.Equal(reqs[1].Attempt, int32(2))
			is.Equal(*reqs[0].Trigger, *reqs[1].Trigger) // the same slot, the same watermark
			is.Equal(reqs[1].Trigger.NominalTime, slot)
			is.Equal(done.NominalAt, slot)
		})
	}
}

// flakyWatermarkStore fails the first reads of the watermark, as a store outage would.
type flakyWatermarkStore struct {
	*store.DB
	fails atomic.Int32
}

func (f *flakyWatermarkStore) ExecutionLastSuccessNominal(ctx context.Context, wf, trigger string, before time.Time) (time.Time, bool, error) {
	if f.fails.Add(-1) >= 0 {
		return time.Time{}, false, fmt.Errorf("read: %w", errdefs.ErrUnavailable)
	}
	return f.DB.ExecutionLastSuccessNominal(ctx, wf, trigger, before)
}

// TestWatermarkReadRetried: a failed read of the watermark is retried while the lease is held;
// the run starts once it answers, with the watermark, and spends one attempt.
func TestWatermarkReadRetried(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	b := setup(t, setupOpts{noWorker: true})
	flaky := &flakyWatermarkStore{DB: b.db}
	rec := &recordingEngine{inner: engine.New(engine.Config{}), seen: map[string][]engine.Request{}}
	w := execution.NewWorker(flaky, b.queue, b.locker, rec, b.waitlist, b.notifier, execution.WorkerConfig{
		Concurrency: 4, LockTTL: 2 * time.Second, ClaimIdle: 200 * time.Millisecond, MaxDeliveries: 10,
		ReceiveBlock: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	startStop(t, w)
	wf := b.deploy(t, slotNode, deployments.Config{})
	d, err := b.db.DeploymentGetByWorkflow(ctx, wf)
	is.NoErr(err)
	slot := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	first, _, err := b.execs.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "hourly", NominalAt: slot, ScheduledAt: slot})
	is.NoErr(err)
	b.waitStatus(t, first.ID, execution.StatusSucceeded)

	flaky.fails.Store(2)
	next, _, err := b.execs.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "hourly", NominalAt: slot.Add(time.Hour), ScheduledAt: slot.Add(time.Hour)})
	is.NoErr(err)
	done := b.waitStatus(t, next.ID, execution.StatusSucceeded)
	is.Equal(done.Attempt, int32(1))
	is.True(flaky.fails.Load() < 0) // both failures seen, then an answer
	reqs := rec.requests(next.ID)
	is.Equal(len(reqs), 1)
	is.Equal(reqs[0].Trigger.LastSuccessNominalTime, slot)
}
