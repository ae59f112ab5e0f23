package execution

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/server/queue"
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
	// ReceiveBlock is how long one Receive waits for messages. Default 1s.
	ReceiveBlock time.Duration
	// Consumer names this worker in the queue's consumer group. Default host-pid-random.
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
}

// noMetrics is the default WorkerMetrics.
type noMetrics struct{}

func (noMetrics) ExecutionFinished(context.Context, string) {}
func (noMetrics) LockWait(context.Context, string)          {}

func (c WorkerConfig) withDefaults() WorkerConfig {
	c.Concurrency = cmp.Or(c.Concurrency, 128)
	c.LockTTL = cmp.Or(c.LockTTL, 30*time.Second)
	c.ClaimIdle = cmp.Or(c.ClaimIdle, 2*c.LockTTL)
	c.MaxDeliveries = cmp.Or(c.MaxDeliveries, 10)
	c.ReceiveBlock = cmp.Or(c.ReceiveBlock, time.Second)
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
	store    Store
	queue    Queue
	locker   Locker
	engine   Engine
	waitlist Waitlist
	notifier Notifier
	cfg      WorkerConfig
	log      *slog.Logger
	tracer   trace.Tracer

	revisions *revisionCache
	configs   *configCache
	steps     *steps

	mu       sync.Mutex
	running  map[string]context.CancelCauseFunc // execution id -> cancel of its engine call
	stopping bool                               // set by Stop; runs that start later are cancelled

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	slots    chan struct{}
	inflight sync.WaitGroup
}

// NewWorker returns a Worker; Start runs it.
func NewWorker(store Store, q Queue, locker Locker, eng Engine, waitlist Waitlist, notifier Notifier, cfg WorkerConfig) *Worker {
	cfg = cfg.withDefaults()
	return &Worker{
		store: store, queue: q, locker: locker, engine: eng, waitlist: waitlist, notifier: notifier,
		cfg: cfg, log: cfg.Logger,
		tracer:    cfg.TracerProvider.Tracer("github.com/workflow-runtime/workflow-runtime/server/execution"),
		revisions: newRevisionCache(4096),
		configs:   newConfigCache(time.Second, cfg.Now),
		steps:     newSteps(store, locker, q, cfg.LockTTL, cfg.Logger),
		running:   map[string]context.CancelCauseFunc{},
		slots:     make(chan struct{}, cfg.Concurrency),
	}
}

// Errors that end an engine call; they are the causes of its context.
var (
	errCancelRequested = errors.New("cancelled by request")
	errTimedOut        = errors.New("execution timeout")
	errShutdown        = errors.New("worker shutting down")
)

// Start subscribes to cancellation requests and starts the receive and takeover loops.
func (w *Worker) Start(ctx context.Context) error {
	unsubscribe, err := w.notifier.Subscribe(ctx, CancelChannel, func(id string) { w.cancelRunning(id, errCancelRequested) })
	if err != nil {
		return fmt.Errorf("subscribe to cancellations: %w", err)
	}
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.done = make(chan struct{})
	var loops sync.WaitGroup
	loops.Go(func() { w.receiveLoop(ctx) })
	loops.Go(func() { w.takeoverLoop(ctx) })
	go func() {
		loops.Wait()
		unsubscribe()
		close(w.done)
	}()
	return nil
}

// Stop stops taking work and waits for running executions: each one's engine call is cancelled
// and the execution handed back (PENDING, enqueued) so another worker runs it. Idempotent.
func (w *Worker) Stop() {
	w.stopOnce.Do(func() {
		if w.cancel == nil {
			return
		}
		w.cancel()
		<-w.done
		w.mu.Lock()
		w.stopping = true
		for _, cancel := range w.running {
			cancel(errShutdown)
		}
		w.mu.Unlock()
		w.inflight.Wait()
	})
}

func (w *Worker) receiveLoop(ctx context.Context) {
	for ctx.Err() == nil {
		// Wait for a free slot before asking for work, so a message is never held unrun.
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		free := 1 + cap(w.slots) - len(w.slots)
		<-w.slots
		ds, err := w.queue.Receive(ctx, w.cfg.Consumer, free, w.cfg.ReceiveBlock)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("receive failed", slog.Any("error", err))
				sleep(ctx, 200*time.Millisecond)
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
		case <-ctx.Done():
			return
		case <-t.C:
		}
		free := cap(w.slots) - len(w.slots)
		if free == 0 {
			continue
		}
		ds, err := w.queue.ClaimStale(ctx, w.cfg.Consumer, w.cfg.ClaimIdle, free)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("claim stale messages failed", slog.Any("error", err))
			}
			continue
		}
		w.dispatch(ctx, ds)
	}
}

func (w *Worker) dispatch(ctx context.Context, ds []queue.Delivery) {
	for _, d := range ds {
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return // unacknowledged: another worker takes it over
		}
		w.inflight.Add(1)
		go func() {
			defer func() { <-w.slots; w.inflight.Done() }()
			w.handle(ctx, d)
		}()
	}
}

func (w *Worker) cancelRunning(id string, cause error) {
	w.mu.Lock()
	cancel := w.running[id]
	w.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
