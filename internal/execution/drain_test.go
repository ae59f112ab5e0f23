package execution_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// newWorker starts a worker of b on store s and engine eng, with cfg over the test defaults.
func (b *testBundle) newWorker(t *testing.T, s execution.WorkerStore, eng execution.Engine, cfg execution.WorkerConfig) *execution.Worker {
	t.Helper()
	w := b.buildWorker(s, eng, cfg)
	startStop(t, w)
	return w
}

// buildWorker is newWorker's worker, not started yet (for a test hook set before Start).
func (b *testBundle) buildWorker(s execution.WorkerStore, eng execution.Engine, cfg execution.WorkerConfig) *execution.Worker {
	cfg.Concurrency = cmpOr(cfg.Concurrency, 16)
	cfg.LockTTL = cmpOr(cfg.LockTTL, 2*time.Second)
	cfg.ClaimIdle = cmpOr(cfg.ClaimIdle, 200*time.Millisecond)
	cfg.ReceiveBlock = cmpOr(cfg.ReceiveBlock, 100*time.Millisecond)
	cfg.Logger = slog.New(slog.DiscardHandler)
	return execution.NewWorker(s, b.queue, b.locker, eng, b.waitlist, b.notifier, cfg)
}

func TestStopLetsRunningExecutionsFinishWithinGrace(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{redis: true, noWorker: true})
	// The runs last until the test releases them, once the worker is stopping: with a fixed
	// delay, a loaded machine let the first run end before the test saw the last one RUNNING.
	eng := &gateEngine{inner: b.engine, started: make(chan struct{}), release: make(chan struct{})}
	w := b.newWorker(t, b.db, eng, execution.WorkerConfig{ShutdownGrace: time.Minute})
	wf := b.deploy(t, noop, deployments.Config{OverlapPolicy: policy.OverlapAllowAll})
	ids := []string{b.trigger(t, wf).ID, b.trigger(t, wf).ID, b.trigger(t, wf).ID}
	for _, id := range ids {
		b.waitStatus(t, id, execution.StatusRunning)
	}
	stopped := make(chan struct{})
	go func() { w.Stop(); close(stopped) }() // SIGTERM with a grace: the runs finish, nothing is handed back
	<-w.Quit()                               // stopping, the three runs still in the engine
	close(eng.release)
	<-stopped
	for _, id := range ids {
		got, err := b.execs.Get(context.Background(), id)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusSucceeded) // finished before Stop returned
		is.Equal(got.Attempt, int32(1))
	}
	is.Equal(eng.calls.Load(), int64(3))          // one engine run each
	w.Stop()                                      // idempotent
	is.True(w.Start(context.Background()) != nil) // a stopped worker does not start again
	t.Logf("grace drain: %d running at the signal, %d succeeded, %d engine calls", len(ids), len(ids), eng.calls.Load())
}

func TestHandBackReleasesLeasesAndSpendsNoAttempt(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{redis: true, noWorker: true})
	// A lock TTL far above waitStatus's bound: a next worker that found a lease still held
	// would wait for it and the test would fail.
	first := b.newWorker(t, b.db, b.engine, execution.WorkerConfig{LockTTL: time.Minute})
	wf := b.deploy(t, delay("2s"), deployments.Config{}) // SKIP, one attempt
	e := b.trigger(t, wf)
	b.waitStatus(t, e.ID, execution.StatusRunning)
	first.Stop() // no grace: handed back at once

	got, err := b.execs.Get(context.Background(), e.ID)
	is.NoErr(err)
	is.Equal(got.Status, execution.StatusPending)
	is.Equal(got.Attempt, int32(0)) // the stopped run is not an attempt
	for _, key := range []string{"execution:" + e.ID, "workflow:" + wf} {
		l, err := b.locker.Acquire(context.Background(), key, time.Second)
		is.NoErr(err) // released by the stopped worker
		is.NoErr(b.locker.Release(context.Background(), l))
	}
	b.newWorker(t, b.db, b.engine, execution.WorkerConfig{LockTTL: time.Minute})
	done := b.waitStatus(t, e.ID, execution.StatusSucceeded)
	is.Equal(done.Attempt, int32(1)) // under maxAttempts 1 the hand-back cost nothing
}

// flakyStore fails the first failures outcome writes, as a store that went away would.
type flakyStore struct {
	*store.DB
	failures atomic.Int64
	failed   atomic.Int64
}

func (s *flakyStore) ExecutionFinish(ctx context.Context, p *execution.FinishParams) error {
	if s.failures.Add(-1) >= 0 {
		s.failed.Add(1)
		return errors.New("connection refused")
	}
	return s.DB.ExecutionFinish(ctx, p)
}

func (s *flakyStore) ExecutionFinishMany(ctx context.Context, ps []*execution.FinishParams) ([]bool, error) {
	if s.failures.Add(-1) >= 0 {
		s.failed.Add(1)
		return nil, errors.New("connection refused")
	}
	return s.DB.ExecutionFinishMany(ctx, ps)
}

func TestOutcomeWriteRetriedUntilRecorded(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{redis: true, noWorker: true})
	fs := &flakyStore{DB: b.db}
	fs.failures.Store(5) // about 3 s of failing writes, far beyond ClaimIdle (200ms)
	b.newWorker(t, fs, b.engine, execution.WorkerConfig{})
	wf := b.deploy(t, noop, deployments.Config{})
	e := b.trigger(t, wf)
	done := b.waitStatus(t, e.ID, execution.StatusSucceeded)
	is.Equal(fs.failed.Load(), int64(5))      // the write failed five times
	is.Equal(b.engine.calls.Load(), int64(1)) // and the run was not run again meanwhile
	is.Equal(done.Attempt, int32(1))
	stats := b.waitQueueDrained(t)
	is.Equal(stats.Pending, int64(0)) // acknowledged once recorded
	t.Logf("outcome write: %d failures, recorded, %d engine call", fs.failed.Load(), b.engine.calls.Load())
}

// downEngine answers engine.ErrUnavailable while down is positive, counting down; then runs.
type downEngine struct {
	inner execution.Engine
	down  atomic.Int64
	calls atomic.Int64
}

func (d *downEngine) Execute(ctx context.Context, req *engine.Request) (*engine.Result, error) {
	d.calls.Add(1)
	if d.down.Load() > 0 {
		return nil, fmt.Errorf("execute %s: dial tcp: connection refused: %w", req.ExecutionID, engine.ErrUnavailable)
	}
	return d.inner.Execute(ctx, req)
}

func TestEngineUnavailableSpendsNoAttempt(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{redis: true, noWorker: true})
	eng := &downEngine{inner: b.engine}
	eng.down.Store(1)
	var probes atomic.Int64
	b.newWorker(t, b.db, eng, execution.WorkerConfig{EngineProbe: func(context.Context) error {
		if probes.Add(1) < 3 {
			return errors.New("engine /livez: connection refused")
		}
		eng.down.Store(0) // the engine is back
		return nil
	}})
	wf := b.deploy(t, noop, deployments.Config{}) // one attempt
	e := b.trigger(t, wf)
	done := b.waitStatus(t, e.ID, execution.StatusSucceeded, execution.StatusFailed)
	is.Equal(done.Status, execution.StatusSucceeded) // not FAILED by the outage
	is.Equal(done.Attempt, int32(1))                 // the unreachable call spent nothing
	is.True(eng.calls.Load() >= 2)                   // refused, then run once the probe answered
	is.True(probes.Load() >= 3)                      // paused until the engine answered
	t.Logf("engine outage: %d engine calls, %d probes, attempt %d", eng.calls.Load(), probes.Load(), done.Attempt)
}

func TestSkipJudgesTheScheduleNotTheDelivery(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	b := setup(t, setupOpts{redis: true})
	wf := b.deploy(t, delay("300ms"), deployments.Config{OverlapPolicy: policy.OverlapSkip})
	d, err := b.db.DeploymentGetByWorkflow(ctx, wf)
	is.NoErr(err)
	fire := func(at time.Time) *execution.Execution {
		e, _, err := b.execs.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "cron-1", ScheduledAt: at})
		is.NoErr(err)
		return e
	}

	// Delivered late and together (a queue outage): none was running at the others' times.
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	late := []*execution.Execution{fire(base), fire(base.Add(time.Minute)), fire(base.Add(2 * time.Minute))}
	for _, e := range late {
		got := b.waitStatus(t, e.ID, execution.StatusSucceeded, execution.StatusSkipped)
		is.Equal(got.Status, execution.StatusSucceeded) // waited for the late-started holder
	}
	is.Equal(b.engine.peakOf(wf), 1) // still one at a time

	// On time: the running one had started by the newcomer's time, so it is skipped.
	running := fire(time.Now().Add(-time.Second))
	b.waitStatus(t, running.ID, execution.StatusRunning)
	newcomer := fire(time.Now())
	got := b.waitStatus(t, newcomer.ID, execution.StatusSucceeded, execution.StatusSkipped)
	is.Equal(got.Status, execution.StatusSkipped)
	b.waitStatus(t, running.ID, execution.StatusSucceeded)
}

// heldGetStore holds the first ExecutionGet until release closes, so a message is received
// and not yet started when the worker is stopped.
type heldGetStore struct {
	*store.DB
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (s *heldGetStore) ExecutionGet(ctx context.Context, id string) (*execution.Execution, error) {
	s.once.Do(func() {
		close(s.entered)
		<-s.release
	})
	return s.DB.ExecutionGet(ctx, id)
}

func TestStopReturnsUnstartedMessagesAtOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{redis: true, noWorker: true})
	gs := &heldGetStore{DB: b.db, entered: make(chan struct{}), release: make(chan struct{})}
	// Lock TTL and ClaimIdle far above waitStatus's bound: a message left pending, or a
	// lease left held, would not be taken over in time.
	first := b.newWorker(t, gs, b.engine, execution.WorkerConfig{LockTTL: time.Minute, ClaimIdle: time.Hour, ShutdownGrace: time.Minute})
	wf := b.deploy(t, noop, deployments.Config{})
	e := b.trigger(t, wf)
	<-gs.entered // received, not started
	stopped := make(chan struct{})
	go func() { first.Stop(); close(stopped) }()
	<-first.Quit() // Stop has begun: no work is started any more
	close(gs.release)
	<-stopped
	got, err := b.execs.Get(context.Background(), e.ID)
	is.NoErr(err)
	is.Equal(got.Status, execution.StatusPending) // not started by the stopping worker
	is.Equal(got.Attempt, int32(0))
	is.Equal(b.engine.calls.Load(), int64(0))

	b.newWorker(t, b.db, b.engine, execution.WorkerConfig{LockTTL: time.Minute, ClaimIdle: time.Hour})
	done := b.waitStatus(t, e.ID, execution.StatusSucceeded)
	is.Equal(done.Attempt, int32(1))
	is.Equal(b.engine.calls.Load(), int64(1))
}

// countingFinishStore counts the outcome writes and their failures, and closes failedEnough
// at the enoughth failure.
type countingFinishStore struct {
	*store.DB
	calls, failures atomic.Int64
	enough          int64
	failedEnough    chan struct{}
}

func (s *countingFinishStore) ExecutionFinish(ctx context.Context, p *execution.FinishParams) error {
	s.calls.Add(1)
	err := s.DB.ExecutionFinish(ctx, p)
	if err != nil && s.failures.Add(1) == s.enough {
		close(s.failedEnough)
	}
	return err
}

// gateEngine signals started when a run begins and lets it succeed once release closes.
type gateEngine struct {
	inner            execution.Engine
	started, release chan struct{}
	calls            atomic.Int64
}

func (g *gateEngine) Execute(ctx context.Context, req *engine.Request) (*engine.Result, error) {
	if g.calls.Add(1) == 1 {
		close(g.started)
	}
	<-g.release
	return g.inner.Execute(ctx, req)
}

// TestOutcomeWrittenAfterDatabaseOutage stops a PostgreSQL of the test's own between the
// engine's success and the outcome write: the worker keeps the known outcome, retries the
// write while it holds the lease, and records it once the database is back; the run is not
// run again.
func TestOutcomeWrittenAfterDatabaseOutage(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	pg := testenv.StartPostgres(t)
	db, err := store.Open(context.Background(), pg.URL(), store.Options{MaxOpenConns: 10})
	is.NoErr(err)
	t.Cleanup(func() { _ = db.Close() })
	is.NoErr(db.Migrate(context.Background()))
	b := setup(t, setupOpts{redis: true, noWorker: true, db: db})
	cs := &countingFinishStore{DB: db, enough: 5, failedEnough: make(chan struct{})}
	eng := &gateEngine{inner: b.engine, started: make(chan struct{}), release: make(chan struct{})}
	// Few deliveries allowed: while the write waits, the message is taken over again and again
	// (ClaimIdle 200ms), far more often than that; it must not be dead-lettered meanwhile.
	b.newWorker(t, cs, eng, execution.WorkerConfig{MaxDeliveries: 2})
	wf := b.deploy(t, noop, deployments.Config{})
	e := b.trigger(t, wf)

	<-eng.started
	pg.Stop()
	close(eng.release) // the engine succeeds while the database is away
	select {           // the worker's fifth failed write (about 3 s)
	case <-cs.failedEnough:
	case <-time.After(30 * time.Second):
		t.Fatal("fewer than 5 failed outcome writes within 30s")
	}
	pg.Start()
	done := b.waitStatus(t, e.ID, execution.StatusSucceeded)
	is.Equal(done.Attempt, int32(1))
	is.Equal(eng.calls.Load(), int64(1)) // run once: the known outcome was kept, not re-run
	stats := b.waitQueueDrained(t)
	is.Equal(stats.Pending, int64(0)) // acknowledged after the write
	t.Logf("database outage: %d outcome writes failed, then recorded; %d engine call", cs.failures.Load(), eng.calls.Load())
}
