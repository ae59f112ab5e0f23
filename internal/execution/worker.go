package execution

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river/rivershared/startstop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/stack"
)

// WorkerConfig configures a Worker. Every field has a default.
type WorkerConfig struct {
	// Concurrency is the most executions this process runs at once. Default 128.
	Concurrency int
	// LockTTL is the lease time of a lock; it is renewed every LockTTL/3 while the engine runs.
	// Default 30s.
	LockTTL time.Duration
	// ClaimIdle is how long a delivered, unacknowledged message waits before another worker
	// takes it over (a dead worker's messages). Default 2 × LockTTL.
	ClaimIdle time.Duration
	// MaxDeliveries is how often a message may be delivered before it goes to the dead-letter
	// stream and its execution ends FAILED. Default 10.
	MaxDeliveries int64
	// MaxShare is the fraction of Concurrency one deployment may hold at once in this process,
	// so that a deployment with many long runs cannot take every slot while another's wait.
	// A message whose deployment holds its share goes back to the queue at once, available
	// after ShareRequeueDelay (not an attempt, not a delivery counted against MaxDeliveries).
	// The share is per process: across N workers a deployment may hold MaxShare × Concurrency
	// on each. At least one slot is always allowed. Default 1: off.
	MaxShare float64
	// ShareRequeueDelay is how long a message refused by MaxShare waits before it is delivered
	// again. Default 1s.
	ShareRequeueDelay time.Duration
	// MaxProcessDeaths is how many runs of one execution may end with their process (claimed,
	// and never recorded what happened next: the next claim found the row still RUNNING)
	// before the execution ends FAILED as quarantined instead of running again: an execution
	// that kills every process running it (out of memory) must not crash-loop them. Default 3.
	MaxProcessDeaths int32
	// ReceiveBlock is how long one Receive waits for messages. Default 1s.
	ReceiveBlock time.Duration
	// Consumer names this worker in the queue's consumer group: its instance id in the
	// instance registry (registry.NewID), so that the sweeper knows a live worker's consumer.
	// Default host-pid-random.
	Consumer string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// TracerProvider makes the span of each execution ("execution.run", child of the trigger's
	// span through the message's traceparent). Default: the global provider.
	TracerProvider trace.TracerProvider
	// Metrics counts outcomes and lock waits. Default: none.
	Metrics WorkerMetrics
	// Ledger records the cron executions the overlap policy skips in the fire ledger
	// (scheduler.SkipLedger implements it). Default nil: not recorded.
	Ledger Ledger
	// ShutdownGrace is how long Stop lets running executions finish before it stops their
	// engine calls and hands them back. Default 0: handed back at once.
	ShutdownGrace time.Duration
	// EngineProbe tells whether the engine answers again after an execution could not reach
	// it (engine.ErrUnavailable); until it does, the worker takes no work. Default nil: the
	// worker waits one backoff step (from 100ms, doubling, at most 5s) and tries again.
	EngineProbe func(ctx context.Context) error
	// Readiness says whether what the worker needs to do its job answers (storage, queue,
	// engine): nil when it does (health.Checker.DependenciesReady). While it says no, the
	// worker takes no work, neither Receive nor ClaimStale, and running executions go on; it
	// takes work again by itself once Readiness says yes. Asked at Start and every
	// ReadinessInterval. Default nil: always ready. See gate.go.
	Readiness func(ctx context.Context) error
	// ReadinessInterval is how often Readiness is asked. Default 1s.
	ReadinessInterval time.Duration
}

// Ledger records what became of cron fires on the execution side.
type Ledger interface {
	// RecordSkipped records that e, created by a cron fire, was skipped by the overlap policy
	// for reason.
	RecordSkipped(ctx context.Context, e *Execution, reason string) error
}

// WorkerMetrics is what the worker reports (telemetry.Metrics implements it).
type WorkerMetrics interface {
	// ExecutionFinished counts an execution that reached status.
	ExecutionFinished(ctx context.Context, status string)
	// LockWait counts an admission that found the workflow lock held.
	LockWait(ctx context.Context, policy string)
	// TakingWork reports whether the worker takes work from the queue: false while it is not
	// ready (Readiness) or the engine is unreachable, true again when it resumes; also once at
	// Start.
	TakingWork(ctx context.Context, taking bool)
}

// noMetrics is the default WorkerMetrics.
type noMetrics struct{}

func (noMetrics) ExecutionFinished(context.Context, string) {}
func (noMetrics) LockWait(context.Context, string)          {}
func (noMetrics) TakingWork(context.Context, bool)          {}

// WorkerStore is what a Worker needs of storage, by the part of its path that calls it.
// Conditional writes that find their condition false return errdefs.ErrConflict.
type WorkerStore interface {
	StepStore      // load, claim, finish (steps.go)
	AdmissionStore // the overlap policy (admit.go)
	RunStore       // heartbeat, retry, hand-back, abandon (run.go, handle.go)
	WatermarkStore // the slot's watermark (slot.go)
	RevisionStore  // definitions and configs (revisions.go)
}

// WorkerQueue is what a Worker needs of the queue: it receives messages and takes over those of
// silent workers, acknowledges or dead-letters them, and enqueues executions again (a retry, a
// hand-back, a buffered one woken, a message given back).
type WorkerQueue interface {
	Receive(ctx context.Context, consumer string, max int, block time.Duration) ([]queue.Delivery, error)
	ClaimStale(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]queue.Delivery, error)
	Ack(ctx context.Context, ids ...string) error
	DeadLetter(ctx context.Context, d queue.Delivery, reason string) error
	Enqueue(ctx context.Context, m queue.Message) error
	EnqueueAt(ctx context.Context, m queue.Message, t time.Time) error
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	c.Concurrency = cmp.Or(c.Concurrency, 128)
	c.LockTTL = cmp.Or(c.LockTTL, 30*time.Second)
	c.ClaimIdle = cmp.Or(c.ClaimIdle, 2*c.LockTTL)
	c.MaxDeliveries = cmp.Or(c.MaxDeliveries, 10)
	c.ReceiveBlock = cmp.Or(c.ReceiveBlock, time.Second)
	c.ReadinessInterval = cmp.Or(c.ReadinessInterval, time.Second)
	if c.MaxShare <= 0 || c.MaxShare > 1 {
		c.MaxShare = 1
	}
	c.ShareRequeueDelay = cmp.Or(c.ShareRequeueDelay, time.Second)
	c.MaxProcessDeaths = cmp.Or(c.MaxProcessDeaths, 3)
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	return c
}

// Worker takes executions from the queue and runs them: it applies the deployment's overlap
// policy with the workflow lock, runs the revision on the engine under a renewed lease, and
// records the outcome with writes conditional on the lease's fencing token. See doc.go.
type Worker struct {
	store    WorkerStore
	queue    WorkerQueue
	locker   lock.Manager
	engine   Engine
	waitlist Waitlist
	notifier Notifier
	changes  *changeFeed
	cfg      WorkerConfig
	log      *slog.Logger
	tracer   trace.Tracer

	revisions *revisionCache
	configs   *configCache
	steps     *steps
	own       ownLeases // this worker's execution leases and what their holders do (release.go)

	mu       sync.Mutex
	running  map[string]*runHandle // execution id -> its run in this worker (run.go)
	held     map[string]int        // deployment id -> slots its executions hold
	maxHeld  int                   // most slots one deployment may hold (MaxShare)
	stopping bool                  // set when the grace ends; runs that start later are cancelled
	paused   chan struct{}         // non-nil while the engine is unreachable; closed on resume
	unready  chan struct{}         // non-nil while Readiness says no; closed on resume
	since    time.Time             // when unready was made
	taking   bool                  // what TakingWork last reported
	reported bool                  // whether TakingWork was reported yet

	// gate is held for reading across each Receive and ClaimStale, and for writing to pause:
	// once paused, no queue call that takes work is in flight. See gate.go.
	gate sync.RWMutex
	busy atomic.Int64 // slots in use: deliveries being handled

	startstop.BaseStartStop
	quit     chan struct{} // closed by Stop: take no more work
	slots    chan struct{}
	idle     chan delivery // handler goroutines waiting for their next delivery (handler)
	inflight sync.WaitGroup

	handlers      atomic.Int64 // handler goroutines started
	onHandlerIdle func()       // tests: called as a handler goroutine begins to wait
}

// NewWorker returns a Worker; Start runs it.
func NewWorker(store WorkerStore, q WorkerQueue, locker lock.Manager, eng Engine, waitlist Waitlist, notifier Notifier, cfg WorkerConfig) *Worker {
	cfg = cfg.withDefaults()
	return &Worker{
		store: store, queue: q, locker: locker, engine: eng, waitlist: waitlist, notifier: notifier,
		changes: newChangeFeed(notifier, cfg.Logger),
		cfg:     cfg, log: cfg.Logger,
		tracer:    cfg.TracerProvider.Tracer("github.com/workflow-runtime/workflow-runtime/internal/execution"),
		revisions: newRevisionCache(4096),
		configs:   newConfigCache(time.Second, cfg.Now),
		steps:     newSteps(store, locker, q, cfg.LockTTL, cfg.Logger),
		running:   map[string]*runHandle{},
		held:      map[string]int{},
		maxHeld:   max(1, int(cfg.MaxShare*float64(cfg.Concurrency))),
		quit:      make(chan struct{}),
		slots:     make(chan struct{}, cfg.Concurrency),
		idle:      make(chan delivery),
	}
}

// Errors that end an engine call; they are the causes of its context.
var (
	errCancelRequested = errors.New("cancelled by request")
	errTimedOut        = errors.New("execution timeout")
	errShutdown        = errors.New("worker shutting down")
)

// Start subscribes to cancellation requests and starts the receive and takeover loops. Calling
// it on a running Worker does nothing; a stopped Worker does not start again (build a new one):
// Stop's quit is a one-way signal its deliveries read. Cancelling ctx does not stop it.
//
// Stop (startstop.BaseStartStop's) drains the worker: it takes no more work (messages received
// from now on go back to the queue at once), lets running executions finish within
// ShutdownGrace, then stops the engine calls still running and hands those executions back
// (PENDING, attempt not counted, leases released, enqueued) so another worker runs them. It
// returns when every execution it held is settled. Idempotent.
func (w *Worker) Start(ctx context.Context) error {
	select {
	case <-w.quit:
		return errors.New("start worker: stopped already; a Worker does not start again")
	default:
	}
	stopCtx, shouldStart, started, stopped := w.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // running already
	}
	unsubscribe, err := w.notifier.Subscribe(ctx, CancelChannel, func(id string) { w.cancelRunning(id, errCancelRequested) })
	if err != nil {
		stopped() // not started: Start may be called again
		return fmt.Errorf("subscribe to cancellations: %w", err)
	}
	// The loops' context is not the lifecycle's, which Stop cancels at once: a Receive cut off
	// in flight could leave messages delivered to this consumer that nobody handles until
	// ClaimIdle. Stop closes quit instead, and each loop ends after the call it is in (at most
	// ReceiveBlock); drain cancels the loops' context only then.
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	if w.cfg.Readiness != nil {
		w.checkReadiness() // a worker that is not ready starts paused
		loops.Go(w.readinessLoop)
	}
	w.reportTaking()
	loops.Go(func() { w.receiveLoop(loopCtx) })
	loops.Go(func() { w.takeoverLoop(loopCtx) })
	go func() {
		defer stopped()
		started()
		<-stopCtx.Done() // Stop
		w.drain(&loops, cancel)
		unsubscribe()
		// The last outcomes' changes go out before the notifier's connection closes; what does
		// not within the bound is found by the watchers' resync.
		fctx, fcancel := context.WithTimeout(context.Background(), changePublishTimeout)
		defer fcancel()
		_ = w.changes.flush(fctx)
	}()
	return nil
}

// drain is Stop's work until every execution the worker held is settled: no more work, the
// loops ended, running executions finished within ShutdownGrace or handed back.
func (w *Worker) drain(loops *sync.WaitGroup, cancelLoops context.CancelFunc) {
	close(w.quit)
	loops.Wait()
	cancelLoops()
	drained := make(chan struct{})
	go func() {
		w.inflight.Wait()
		close(drained)
	}()
	grace := time.NewTimer(w.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-drained:
	case <-grace.C:
		w.mu.Lock()
		w.stopping = true
		n := len(w.running)
		for _, h := range w.running {
			h.stop(errShutdown)
		}
		w.mu.Unlock()
		if n > 0 {
			w.log.Info("shutdown grace over; handing running executions back", slog.Int("running", n), slog.Duration("grace", w.cfg.ShutdownGrace))
		}
		<-drained
	}
}

// takeShare counts one more slot held by deployment, unless it holds its share (MaxShare)
// already; it reports whether it did. giveShare undoes it.
func (w *Worker) takeShare(deployment string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held[deployment] >= w.maxHeld {
		return false
	}
	w.held[deployment]++
	return true
}

func (w *Worker) giveShare(deployment string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held[deployment]--; w.held[deployment] <= 0 {
		delete(w.held, deployment)
	}
}

// quitting reports whether Stop was called.
func (w *Worker) quitting() bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}

func (w *Worker) receiveLoop(ctx context.Context) {
	for !w.quitting() {
		// While paused (not ready, engine unreachable), take no work: it would only go back.
		if !w.waitTaking() {
			return
		}
		// Wait for a free slot before asking for work, so a message is never held unrun.
		select {
		case w.slots <- struct{}{}:
		case <-w.quit:
			return
		}
		free := 1 + cap(w.slots) - len(w.slots)
		<-w.slots
		w.gate.RLock()
		if w.pausedBy() != nil { // paused while waiting for the slot
			w.gate.RUnlock()
			continue
		}
		ds, err := w.queue.Receive(ctx, w.cfg.Consumer, free, w.cfg.ReceiveBlock)
		if err != nil { // logged under the gate: a pause reported after it follows it in the log
			w.log.Warn("receive failed", slog.Any("error", err))
		}
		w.gate.RUnlock()
		if err != nil {
			select {
			case <-time.After(200 * time.Millisecond):
			case <-w.quit:
			}
			continue
		}
		w.dispatch(ctx, ds)
	}
}

// takeoverLoop hands this worker the messages of workers that went silent.
func (w *Worker) takeoverLoop(ctx context.Context) {
	every := max(w.cfg.ClaimIdle/4, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
		free := cap(w.slots) - len(w.slots)
		if free == 0 {
			continue
		}
		w.gate.RLock()
		if w.pausedBy() != nil {
			w.gate.RUnlock()
			continue
		}
		ds, err := w.queue.ClaimStale(ctx, w.cfg.Consumer, w.cfg.ClaimIdle, free)
		if err != nil {
			w.log.Warn("claim stale messages failed", slog.Any("error", err))
		}
		w.gate.RUnlock()
		if err != nil {
			continue
		}
		w.dispatch(ctx, ds)
	}
}

// dispatch starts the handling of each delivery as a slot frees. Deliveries that find the
// worker stopping go back to the queue at once rather than waiting for ClaimIdle.
func (w *Worker) dispatch(ctx context.Context, ds []queue.Delivery) {
	for i, d := range ds {
		select {
		case w.slots <- struct{}{}:
		case <-w.quit:
			w.giveBack(ctx, ds[i:])
			return
		}
		if w.quitting() {
			<-w.slots
			w.giveBack(ctx, ds[i:])
			return
		}
		w.inflight.Add(1)
		w.busy.Add(1)
		select {
		case w.idle <- delivery{ctx, d}: // a handler goroutine waiting for work takes it
		default:
			go w.handler(ctx, d)
		}
	}
}

// handlerIdle is how long a handler goroutine waits for its next delivery before it ends.
const handlerIdle = 2 * time.Second

// delivery is a message handed to a handler goroutine, with the context to handle it in.
type delivery struct {
	ctx context.Context
	d   queue.Delivery
}

// handler handles d, then the deliveries dispatch hands it while it waits (w.idle), until none
// comes within handlerIdle or the worker stops. A goroutine per delivery would grow a new stack
// each time through the same deep calls (go-redis hooks, OTel attribute sets, pgx): 3% of the
// service's CPU on the flat-out trigger-to-done run was stack copying under Worker.handle. A
// reused goroutine keeps the stack it grew.
func (w *Worker) handler(ctx context.Context, d queue.Delivery) {
	w.handlers.Add(1)
	stack.Reserve() // for a burst's new handlers; a reused one keeps its stack
	idle := time.NewTimer(handlerIdle)
	defer idle.Stop()
	for {
		w.handle(ctx, d)
		w.busy.Add(-1)
		<-w.slots
		w.inflight.Done()
		idle.Reset(handlerIdle)
		if w.onHandlerIdle != nil {
			w.onHandlerIdle()
		}
		select {
		case next := <-w.idle:
			ctx, d = next.ctx, next.d
		case <-idle.C:
			return
		case <-w.quit:
			return
		}
	}
}

// giveBack returns deliveries this worker will not handle: each is enqueued again (available
// at once, to any worker) and then acknowledged. One that fails stays pending and is taken
// over after ClaimIdle.
func (w *Worker) giveBack(ctx context.Context, ds []queue.Delivery) {
	ctx = context.WithoutCancel(ctx)
	for _, d := range ds {
		w.requeue(ctx, w.log.With(slog.String("execution_id", d.ExecutionID)), d.ExecutionID, d, time.Time{})
	}
	if len(ds) > 0 {
		w.log.Info("worker stopping; messages returned to the queue", slog.Int("messages", len(ds)))
	}
}

func (w *Worker) cancelRunning(id string, cause error) {
	w.mu.Lock()
	if h := w.running[id]; h != nil {
		h.stop(cause)
	}
	w.mu.Unlock()
}
