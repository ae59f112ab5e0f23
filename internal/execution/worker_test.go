package execution_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
	"github.com/workflow-runtime/workflow-runtime/internal/waitlist"
)

// countingEngine is the reference engine with a probe: it counts the runs in flight per
// workflow, so overlap policies are checked where they matter, on the engine side.
type countingEngine struct {
	inner *engine.Engine
	mu    sync.Mutex
	now   map[string]int
	peak  map[string]int
	calls atomic.Int64
	ended testenv.Signal // fired when a run has ended
}

func newCountingEngine() *countingEngine {
	return &countingEngine{inner: engine.New(engine.Config{}), now: map[string]int{}, peak: map[string]int{}}
}

func (c *countingEngine) Execute(ctx context.Context, req *engine.Request) (*engine.Result, error) {
	c.calls.Add(1)
	c.mu.Lock()
	c.now[req.WorkflowID]++
	c.peak[req.WorkflowID] = max(c.peak[req.WorkflowID], c.now[req.WorkflowID])
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.now[req.WorkflowID]--
		c.mu.Unlock()
		c.ended.Fire()
	}()
	return c.inner.Execute(ctx, req)
}

func (c *countingEngine) peakOf(wf string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak[wf]
}

// testBundle is one runtime: store, coordination backends, services and a worker.
type testBundle struct {
	db       *store.DB
	deploys  *deployments.Service
	execs    *execution.Service
	queue    queue.Queue
	locker   lock.Manager
	waitlist execution.Waitlist
	notifier execution.Notifier
	engine   *countingEngine
	clock    *lock.LocalManager
}

type setupOpts struct {
	redis    bool // Redis lock/queue/waitlist/notify and PostgreSQL; else in-process and SQLite
	lockTTL  time.Duration
	maxDeliv int64
	noWorker bool
	lockNow  func() time.Time
	db       *store.DB // with redis: this database instead of a new schema
	// requeueAfter is the service's RequeueAfter (0: its default, 2 s).
	requeueAfter time.Duration
}

func setup(t testing.TB, o setupOpts) *testBundle {
	t.Helper()
	b := &testBundle{engine: newCountingEngine()}
	logger := slog.New(slog.DiscardHandler)
	if o.redis {
		b.db = o.db
		if b.db == nil {
			b.db = storetest.OpenPostgres(t)
		}
		client, prefix := testenv.RedisPrefixed(t)
		rq := queue.NewRedisQueue(client, queue.RedisConfig{Prefix: prefix, MoveInterval: 10 * time.Millisecond})
		startStop(t, rq)
		b.queue = &signallingQueue{Queue: rq, stats: rq}
		b.locker = lock.NewRedisManager(client, lock.RedisConfig{Prefix: prefix})
		b.waitlist = waitlist.NewRedis(client, prefix)
		b.notifier = notify.NewRedis(client, prefix)
	} else {
		b.db = storetest.OpenSQLite(t)
		lq := queue.NewLocalQueue(queue.LocalConfig{MoveInterval: 10 * time.Millisecond})
		startStop(t, lq)
		b.queue = &signallingQueue{Queue: lq, stats: lq}
		b.clock = lock.NewLocalManager(lock.LocalConfig{Now: o.lockNow})
		b.locker = b.clock
		b.waitlist = waitlist.NewLocal()
		b.notifier = notify.NewLocal()
	}
	b.deploys = deployments.NewService(b.db, deployments.ServiceConfig{KnownNodeTypes: engine.NodeTypes()})
	b.execs = execution.NewService(b.db, b.queue, b.notifier, execution.ServiceConfig{Logger: logger, RequeueAfter: o.requeueAfter})
	if !o.noWorker {
		b.startWorker(t, o)
	}
	return b
}

func (b *testBundle) startWorker(t testing.TB, o setupOpts) *execution.Worker {
	t.Helper()
	w := execution.NewWorker(b.db, b.queue, b.locker, b.engine, b.waitlist, b.notifier, execution.WorkerConfig{
		Concurrency:   16,
		LockTTL:       cmpOr(o.lockTTL, 2*time.Second),
		ClaimIdle:     200 * time.Millisecond,
		MaxDeliveries: cmpOr(o.maxDeliv, 10),
		ReceiveBlock:  100 * time.Millisecond,
		Logger:        slog.New(slog.DiscardHandler),
	})
	startStop(t, w)
	return w
}

func cmpOr[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

type lifecycle interface {
	Start(context.Context) error
	Stop()
}

func startStop(t testing.TB, l lifecycle) {
	t.Helper()
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
}

// deploy deploys a workflow of one node and returns its id.
func (b *testBundle) deploy(t testing.TB, node deployments.Node, cfg deployments.Config) string {
	t.Helper()
	wf := "wf-" + uuid.NewString()[:8]
	_, _, err := b.deploys.Deploy(context.Background(), &deployments.DeployParams{
		Definition: deployments.Definition{ID: wf, Nodes: []deployments.Node{node}},
		Config:     cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func (b *testBundle) trigger(t *testing.T, wf string) *execution.Execution {
	t.Helper()
	e, _, err := b.execs.Trigger(context.Background(), &execution.TriggerParams{WorkflowID: wf, TriggerData: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// waitStatus waits until the execution has one of the statuses (bounded: 15 s).
func (b *testBundle) waitStatus(t testing.TB, id string, want ...execution.Status) *execution.Execution {
	t.Helper()
	var e *execution.Execution
	b.awaitChange(t, func() error {
		var err error
		if e, err = b.execs.Get(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(want, e.Status) {
			return nil
		}
		return fmt.Errorf("execution %s is %s (error %q), want one of %v", id, e.Status, e.Error, want)
	})
	return e
}

// awaitChange calls cond until it returns nil, again after each change published on
// ChangedChannel (every status an execution is written with is: TestChangesPublished), and
// fails the test with cond's last error after 15 s. The subscription is taken on b.notifier
// before cond first looks, so no change is missed.
func (b *testBundle) awaitChange(t testing.TB, cond func() error) {
	t.Helper()
	b.awaitChangeFor(t, 15*time.Second, cond)
}

// awaitChangeFor is awaitChange bounded by timeout.
func (b *testBundle) awaitChangeFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	var changed testenv.Signal
	unsubscribe, err := b.notifier.Subscribe(context.Background(), execution.ChangedChannel, func(string) { changed.Fire() })
	if err != nil {
		t.Fatalf("subscribe to execution changes: %v", err)
	}
	defer unsubscribe()
	changed.Await(t, timeout, cond)
}

// signallingQueue is the queue the bundle's workers use, with a signal each time a message
// leaves it (acknowledged or dead-lettered), so a test waits for it to drain without polling.
type signallingQueue struct {
	queue.Queue
	stats queueStats
	left  testenv.Signal
}

func (q *signallingQueue) Ack(ctx context.Context, ids ...string) error {
	defer q.left.Fire()
	return q.Queue.Ack(ctx, ids...)
}

func (q *signallingQueue) DeadLetter(ctx context.Context, d queue.Delivery, reason string) error {
	defer q.left.Fire()
	return q.Queue.DeadLetter(ctx, d, reason)
}

func (q *signallingQueue) Stats(ctx context.Context) (queue.Stats, error) { return q.stats.Stats(ctx) }

var (
	noop  = deployments.Node{ID: "n", Type: "noop"}
	delay = func(d string) deployments.Node {
		return deployments.Node{ID: "wait", Type: "delay", Params: map[string]any{"duration": d}}
	}
)

var modes = []struct {
	name string
	opts setupOpts
}{
	{"embedded", setupOpts{}},
	{"redis+postgres", setupOpts{redis: true}},
}

func TestRunsToSuccess(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, m.opts)
			wf := b.deploy(t, deployments.Node{ID: "shape", Type: "transform", Params: map[string]any{"expression": "input.n + 1.0"}}, deployments.Config{})
			e := b.trigger(t, wf)
			is.Equal(e.Status, execution.StatusPending)
			done := b.waitStatus(t, e.ID, execution.StatusSucceeded)
			is.Equal(string(done.Output), `{"shape":2}`)
			is.Equal(done.Attempt, int32(1))
			is.True(done.FencingToken > 0) // the claim stored the lease's token
			is.True(!done.StartedAt.IsZero() && !done.FinishedAt.IsZero())
		})
	}
}

// TestHandlerGoroutinesAreReused runs executions one after another: each is handled by the
// goroutine that handled the one before, which waited for it, not by a new one.
func TestHandlerGoroutinesAreReused(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			o := m.opts
			o.noWorker = true
			b := setup(t, o)
			w := b.buildWorker(b.db, b.engine, execution.WorkerConfig{Concurrency: 4})
			var idle testenv.Signal
			var idles atomic.Int64
			w.OnHandlerIdle(func() { idles.Add(1); idle.Fire() })
			startStop(t, w)
			wf := b.deploy(t, deployments.Node{ID: "n", Type: "noop"}, deployments.Config{})
			const runs = 6
			for i := range runs {
				e := b.trigger(t, wf)
				b.waitStatus(t, e.ID, execution.StatusSucceeded)
				idle.Await(t, 15*time.Second, func() error {
					if n := idles.Load(); n < int64(i+1) {
						return fmt.Errorf("handler goroutines went idle %d times, want %d", n, i+1)
					}
					return nil
				})
			}
			is.Equal(w.HandlerGoroutines(), int64(1)) // one goroutine handled all six
		})
	}
}

// burst triggers n executions of wf at once and waits until all are terminal.
func (b *testBundle) burst(t *testing.T, wf string, n int) map[execution.Status]int {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i] = b.trigger(t, wf).ID })
	}
	wg.Wait()
	counts := map[execution.Status]int{}
	for _, id := range ids {
		e := b.waitStatus(t, id, execution.StatusSucceeded, execution.StatusSkipped, execution.StatusCancelled, execution.StatusFailed)
		counts[e.Status]++
	}
	return counts
}

func TestOverlapPolicies(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, m.opts)
			tests := []struct {
				policy policy.Overlap
				check  func(is *is.I, peak int, counts map[execution.Status]int)
			}{
				{policy.OverlapSkip, func(is *is.I, peak int, c map[execution.Status]int) {
					is.Equal(peak, 1)                       // never two runs at once
					is.True(c[execution.StatusSkipped] > 0) // newcomers skipped
					is.Equal(c[execution.StatusSucceeded]+c[execution.StatusSkipped], 10)
				}},
				{policy.OverlapAllowAll, func(is *is.I, peak int, c map[execution.Status]int) {
					is.True(peak > 1) // side by side
					is.Equal(c[execution.StatusSucceeded], 10)
				}},
				{policy.OverlapBufferAll, func(is *is.I, peak int, c map[execution.Status]int) {
					is.Equal(peak, 1)
					is.Equal(c[execution.StatusSucceeded], 10) // every one ran, in turn
				}},
				{policy.OverlapBufferOne, func(is *is.I, peak int, c map[execution.Status]int) {
					is.Equal(peak, 1)
					is.True(c[execution.StatusSkipped] > 0)
					is.True(c[execution.StatusSucceeded] >= 2) // the running one and the buffered one
				}},
				{policy.OverlapCancelOther, func(is *is.I, peak int, c map[execution.Status]int) {
					is.Equal(peak, 1)
					is.True(c[execution.StatusCancelled] > 0) // newcomers cancel the running one
					is.True(c[execution.StatusSucceeded] >= 1)
				}},
			}
			for _, tt := range tests {
				t.Run(tt.policy.String(), func(t *testing.T) {
					t.Parallel()
					// Long enough that a newcomer finds the run still going, even on a loaded machine.
					wf := b.deploy(t, delay("300ms"), deployments.Config{OverlapPolicy: tt.policy})
					counts := b.burst(t, wf, 10)
					peak := b.engine.peakOf(wf)
					t.Cleanup(func() {
						if t.Failed() { // what the check saw, for a failure that happens once under load
							t.Logf("peak %d, counts %v", peak, counts)
						}
					})
					tt.check(is.New(t), peak, counts)
				})
			}
		})
	}
}

func TestRetriesAndFailures(t *testing.T) {
	t.Parallel()
	retry := deployments.Config{Retry: deployments.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, BackoffCoefficient: 2}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/flaky" {
					w.WriteHeader(http.StatusNotFound)
					return
				}
				if hits.Add(1) < 3 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			t.Cleanup(srv.Close)
			b := setup(t, m.opts)
			flaky := b.deploy(t, deployments.Node{ID: "call", Type: "http", Params: map[string]any{"url": srv.URL + "/flaky"}}, retry)
			e := b.waitStatus(t, b.trigger(t, flaky).ID, execution.StatusSucceeded)
			is.Equal(e.Attempt, int32(3)) // two retryable failures, then success

			missing := b.deploy(t, deployments.Node{ID: "call", Type: "http", Params: map[string]any{"url": srv.URL + "/missing"}}, retry)
			e = b.waitStatus(t, b.trigger(t, missing).ID, execution.StatusFailed)
			is.Equal(e.Attempt, int32(1))                    // a 404 is not retried
			is.True(strings.HasPrefix(e.Error, "node call")) // the node id leads the error
		})
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, m.opts)
			slow := b.deploy(t, delay("1m"), deployments.Config{ExecutionTimeout: 200 * time.Millisecond})
			e := b.waitStatus(t, b.trigger(t, slow).ID, execution.StatusTimedOut)
			is.True(e.Error != "")

			long := b.deploy(t, delay("1m"), deployments.Config{})
			run := b.trigger(t, long)
			b.waitStatus(t, run.ID, execution.StatusRunning)
			got, err := b.execs.Cancel(context.Background(), run.ID, "operator said so")
			is.NoErr(err)
			is.Equal(got.Status, execution.StatusRunning) // the worker ends it
			e = b.waitStatus(t, run.ID, execution.StatusCancelled)
			is.Equal(e.Error, "cancelled by request")

			// Cancelling a pending execution ends it at once.
			paused := b.deploy(t, delay("1m"), deployments.Config{})
			first := b.trigger(t, paused)
			b.waitStatus(t, first.ID, execution.StatusRunning)
			second := b.trigger(t, paused) // SKIP: ends SKIPPED, or is still PENDING
			got, err = b.execs.Cancel(context.Background(), second.ID, "")
			if err == nil {
				is.True(got.Status == execution.StatusCancelled || got.Status == execution.StatusSkipped || got.Status == execution.StatusPending)
			}
			_, err = b.execs.Cancel(context.Background(), e.ID, "")
			is.NoErr(err) // cancelling a cancelled one is fine
		})
	}
}

func TestLostLeaseRefusesWrites(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	b := setup(t, setupOpts{lockTTL: 300 * time.Millisecond, lockNow: now})
	wf := b.deploy(t, delay("1m"), deployments.Config{OverlapPolicy: policy.OverlapAllowAll})
	e := b.trigger(t, wf)
	running := b.waitStatus(t, e.ID, execution.StatusRunning)

	// The worker "pauses": its lease expires, and a new owner takes the execution over.
	offset.Store(int64(time.Hour))
	lease, err := b.locker.Acquire(context.Background(), "execution:"+e.ID, time.Hour)
	is.NoErr(err)
	is.True(lease.Fence > running.FencingToken)
	claimed, err := b.db.ExecutionClaim(context.Background(), e.ID, lease.Fence, time.Now())
	is.NoErr(err)
	is.Equal(claimed.Attempt, int32(2))

	// The old worker notices the lost lease and stops; none of its writes land.
	b.engine.ended.Await(t, 10*time.Second, func() error {
		if n := b.engine.inFlight(wf); n > 0 {
			return fmt.Errorf("the old run was not cancelled after its lease was lost: %d in flight", n)
		}
		return nil
	})
	got, err := b.execs.Get(context.Background(), e.ID)
	is.NoErr(err)
	is.Equal(got.Status, execution.StatusRunning) // still the new owner's record
	is.Equal(got.FencingToken, lease.Fence)
	is.NoErr(b.db.ExecutionFinish(context.Background(), &execution.FinishParams{ID: e.ID, Fence: lease.Fence, Status: execution.StatusSucceeded, Now: time.Now()}))
}

func (c *countingEngine) inFlight(wf string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now[wf]
}

func TestSweeperEnqueuesLostMessages(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})
	wf := b.deploy(t, noop, deployments.Config{})
	d, err := b.deploys.GetByWorkflow(context.Background(), wf)
	is.NoErr(err)
	old := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	lost := &execution.Execution{ID: uuid.Must(uuid.NewV7()).String(), DeploymentID: d.ID, WorkflowID: wf, Revision: 1,
		Status: execution.StatusPending, TriggerType: execution.TriggerManual, ScheduledAt: old, AvailableAt: old, CreatedAt: old, UpdatedAt: old}
	_, _, err = b.db.ExecutionInsert(context.Background(), lost) // recorded, never enqueued
	is.NoErr(err)
	sweeper := execution.NewSweeper(b.db, b.queue, execution.SweeperConfig{StaleAfter: time.Minute})
	n, err := sweeper.Sweep(context.Background())
	is.NoErr(err)
	is.Equal(n, 1)
	b.waitStatus(t, lost.ID, execution.StatusSucceeded)
	n, err = sweeper.Sweep(context.Background())
	is.NoErr(err)
	is.Equal(n, 0) // nothing left to sweep
}

func TestDeadLetterAfterTooManyDeliveries(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{noWorker: true, maxDeliv: 1})
	wf := b.deploy(t, noop, deployments.Config{})
	e := b.trigger(t, wf)
	// A consumer takes the message and dies without acknowledging it.
	ds, err := b.queue.Receive(context.Background(), "dead-consumer", 1, time.Second)
	is.NoErr(err)
	is.Equal(len(ds), 1)
	b.startWorker(t, setupOpts{maxDeliv: 1})
	got := b.waitStatus(t, e.ID, execution.StatusFailed)
	is.True(got.Error != "") // says why
}

func TestStopHandsRunningExecutionsBack(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{noWorker: true})
	first := b.startWorker(t, setupOpts{})
	wf := b.deploy(t, delay("500ms"), deployments.Config{})
	e := b.trigger(t, wf)
	b.waitStatus(t, e.ID, execution.StatusRunning)
	first.Stop() // SIGTERM, no grace: the run is cancelled and handed back
	got, err := b.execs.Get(context.Background(), e.ID)
	is.NoErr(err)
	is.Equal(got.Status, execution.StatusPending)
	b.startWorker(t, setupOpts{})
	done := b.waitStatus(t, e.ID, execution.StatusSucceeded)
	is.Equal(done.Attempt, int32(1)) // the handed-back attempt is not counted
	is.Equal(done.Deaths, int32(0))  // nor is it a death: its process recorded the hand-back
}

func TestIdempotentTriggers(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, m.opts)
			wf := b.deploy(t, noop, deployments.Config{})
			var wg sync.WaitGroup
			ids := make([]string, 100)
			dedup := make([]bool, 100)
			for i := range 100 {
				wg.Go(func() {
					e, d, err := b.execs.Trigger(context.Background(), &execution.TriggerParams{WorkflowID: wf, IdempotencyKey: "once"})
					if err != nil {
						t.Error(err)
						return
					}
					ids[i], dedup[i] = e.ID, d
				})
			}
			wg.Wait()
			fresh := 0
			for i := range 100 {
				is.Equal(ids[i], ids[0])
				if !dedup[i] {
					fresh++
				}
			}
			is.Equal(fresh, 1)
			b.waitStatus(t, ids[0], execution.StatusSucceeded)
			is.Equal(b.engine.calls.Load(), int64(1)) // one execution, one run
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	p := deployments.RetryPolicy{InitialBackoff: time.Second, MaxBackoff: 10 * time.Second, BackoffCoefficient: 2}
	for attempt, want := range map[int32]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		is.Equal(execution.Backoff(p, attempt), want)
	}
}
