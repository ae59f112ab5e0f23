package execution

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/engine"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/queue"
	"github.com/workflow-runtime/workflow-runtime/server/telemetry"
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

// handle processes one delivery. A message is acknowledged once the row says what happens next
// (terminal, buffered, re-enqueued); when anything fails before that, it stays unacknowledged
// and is delivered again.
func (w *Worker) handle(ctx context.Context, d queue.Delivery) {
	// Once received, a message is seen through: stopping the worker cancels running engine
	// calls explicitly (errShutdown), not the bookkeeping around them.
	ctx = context.WithoutCancel(ctx)
	// The span of this delivery continues the trace of whoever enqueued the execution.
	ctx, span := w.tracer.Start(telemetry.ContextWithTraceparent(ctx, d.Traceparent), "execution.run",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("wfr.execution.id", d.ExecutionID), attribute.Int64("wfr.delivery.count", d.Deliveries)))
	defer span.End()
	log := telemetry.WithTrace(ctx, w.log).With(slog.String("execution_id", d.ExecutionID))
	ack := func() { w.ack(ctx, log, d) }
	e, err := w.steps.getExecution(ctx, d.ExecutionID)
	switch {
	case errors.Is(err, apperr.ErrNotFound):
		log.Warn("message for an unknown execution dropped")
		ack()
		return
	case err != nil:
		log.Warn("load execution failed", slog.Any("error", err))
		return
	case e.Status.Terminal():
		ack()
		return
	}
	span.SetAttributes(attribute.String("wfr.workflow.id", e.WorkflowID), attribute.String("wfr.deployment.id", e.DeploymentID))
	if d.Deliveries > w.cfg.MaxDeliveries {
		reason := fmt.Sprintf("delivered %d times without finishing; moved to the dead-letter queue", d.Deliveries)
		if err := w.store.ExecutionAbandon(ctx, e.ID, reason, w.cfg.Now().UTC()); err != nil && !errors.Is(err, apperr.ErrConflict) {
			log.Warn("abandon failed", slog.Any("error", err))
			return
		}
		w.outcome(ctx, StatusFailed, reason)
		if err := w.queue.DeadLetter(ctx, d, reason); err != nil {
			log.Warn("dead-letter failed", slog.Any("error", err))
		}
		return
	}
	if now := w.cfg.Now(); e.Status == StatusPending && e.AvailableAt.After(now) {
		w.requeue(ctx, log, e.ID, d, e.AvailableAt)
		return
	}
	cfg, err := w.configs.get(ctx, w.store, e.WorkflowID)
	if err != nil {
		log.Warn("load deployment failed", slog.Any("error", err))
		return
	}
	// Two leases: the workflow lock is the overlap gate (not taken under ALLOW_ALL); the
	// execution's own lease carries the fencing token stored on the row, so tokens of one row
	// always come from one counter, whatever the policy was when an earlier attempt ran.
	//
	// The execution's lease is taken first: a second delivery of the same execution (the
	// sweeper's, a duplicate, an early requeue) must not find the gate held by its own first
	// delivery while the row is still PENDING and apply the overlap policy to itself (SKIP
	// would end it SKIPPED, CANCEL_OTHER would cancel it). Holding the execution's lease, the
	// gate's holder is another execution (or a dead earlier run of this one, row RUNNING).
	lease, err := w.steps.acquireLease(ctx, "execution:"+e.ID)
	if err != nil {
		if errors.Is(err, lock.ErrNotAcquired) {
			// Another worker runs it now; look again once that lease could have ended.
			w.requeue(ctx, log, e.ID, d, w.cfg.Now().Add(w.cfg.LockTTL))
		} else {
			log.Warn("acquire execution lease failed", slog.Any("error", err))
		}
		return
	}
	policy := cfg.OverlapPolicy
	var gate *lock.Lease
	if policy != deployments.OverlapAllowAll {
		gate, err = w.steps.acquireLease(ctx, "workflow:"+e.WorkflowID)
		if err != nil {
			// Released before the policy is applied: a buffered execution woken at once
			// (wakeNext) must find its lease free.
			w.release(ctx, log, lease)
			if errors.Is(err, lock.ErrNotAcquired) {
				w.admitWhileHeld(ctx, log, e, d, policy)
			} else {
				log.Warn("acquire workflow lock failed", slog.Any("error", err))
			}
			return
		}
	}
	if lost := w.run(ctx, log, e, cfg, gate, lease); !lost {
		// After a lost lease the message is not ours to acknowledge: another worker may have
		// claimed it, and acknowledging would delete its claim.
		w.ack(ctx, log, d)
	}
	if buffers(policy) {
		w.wakeNext(ctx, log, e.WorkflowID)
	}
}

// buffers reports whether a policy puts executions on the waitlist, so that a finished run
// must wake the next one. SKIP never does: its release wakes nobody and costs nothing.
func buffers(policy string) bool {
	switch policy {
	case deployments.OverlapBufferOne, deployments.OverlapBufferAll, deployments.OverlapCancelOther:
		return true
	}
	return false
}

func (w *Worker) release(ctx context.Context, log *slog.Logger, l *lock.Lease) {
	if l == nil {
		return
	}
	if err := w.steps.releaseLease(context.WithoutCancel(ctx), l); err != nil && !errors.Is(err, lock.ErrLost) {
		log.Warn("release failed", slog.String("key", l.Key), slog.Any("error", err))
	}
}

// admitWhileHeld applies the overlap policy to an execution whose workflow lock is held.
func (w *Worker) admitWhileHeld(ctx context.Context, log *slog.Logger, e *Execution, d queue.Delivery, policy string) {
	if e.Status == StatusRunning {
		// Its own earlier run holds or held the lock: look again once that lease could have ended.
		w.requeue(ctx, log, e.ID, d, w.cfg.Now().Add(w.cfg.LockTTL))
		return
	}
	w.cfg.Metrics.LockWait(ctx, policy)
	trace.SpanFromContext(ctx).SetAttributes(attribute.Bool("wfr.lock.held", true), attribute.String("wfr.overlap_policy", policy))
	skip := func(reason string) {
		err := w.store.ExecutionSkip(ctx, e.ID, reason, w.cfg.Now().UTC())
		if err != nil && !errors.Is(err, apperr.ErrConflict) {
			log.Warn("skip failed", slog.Any("error", err))
			return
		}
		if err == nil {
			w.outcome(ctx, StatusSkipped, reason)
			if w.cfg.Ledger != nil && e.TriggerType == TriggerCron {
				if err := w.cfg.Ledger.RecordSkipped(ctx, e, reason); err != nil {
					log.Warn("fire ledger SKIPPED write failed", slog.Any("error", err))
				}
			}
		}
		w.ack(ctx, log, d)
	}
	buffer := func(limit int, front bool, full string) {
		ok, err := w.waitlist.Push(ctx, e.WorkflowID, e.ID, limit, front)
		if err != nil {
			log.Warn("buffer failed", slog.Any("error", err))
			return
		}
		if !ok {
			skip(full)
			return
		}
		w.ack(ctx, log, d)
		// The running execution may have released the lock between our Acquire and Push.
		w.wakeNext(ctx, log, e.WorkflowID)
	}
	switch policy {
	case deployments.OverlapBufferOne:
		buffer(1, false, "overlap policy BUFFER_ONE: another execution is running and one is already waiting")
	case deployments.OverlapBufferAll:
		buffer(0, false, "")
	case deployments.OverlapCancelOther:
		// The newest execution wins. Order matters: older waiting ones are cancelled and this
		// one is pushed BEFORE the running ones are listed, while a run checks the waitlist
		// AFTER its claim (in run), so a run that was not yet RUNNING when listed
		// sees this one waiting and cancels itself.
		superseded := fmt.Sprintf("cancelled by execution %s (overlap policy CANCEL_OTHER)", e.ID)
		for {
			id, ok, err := w.waitlist.Pop(ctx, e.WorkflowID)
			if err != nil || !ok {
				break
			}
			if _, err := w.store.ExecutionCancel(ctx, id, superseded, w.cfg.Now().UTC()); err != nil {
				log.Warn("cancel waiting execution failed", slog.String("other", id), slog.Any("error", err))
			}
		}
		if _, err := w.waitlist.Push(ctx, e.WorkflowID, e.ID, 0, true); err != nil {
			log.Warn("buffer failed", slog.Any("error", err))
			return
		}
		ids, err := w.store.ExecutionListRunning(ctx, e.WorkflowID)
		if err != nil {
			log.Warn("list running failed", slog.Any("error", err))
		}
		for _, id := range ids {
			if _, err := w.store.ExecutionCancel(ctx, id, superseded, w.cfg.Now().UTC()); err != nil {
				log.Warn("cancel other failed", slog.String("other", id), slog.Any("error", err))
				continue
			}
			if err := w.notifier.Publish(ctx, CancelChannel, id); err != nil {
				log.Warn("publish cancel failed", slog.Any("error", err))
			}
		}
		w.ack(ctx, log, d)
		w.wakeNext(ctx, log, e.WorkflowID)
	default: // SKIP
		skip("overlap policy SKIP: another execution of the workflow is running")
	}
}

// wakeNext enqueues the first buffered execution of the workflow when the lock is free. Taking
// the lock before popping makes sure no buffered execution is left behind after a release.
func (w *Worker) wakeNext(ctx context.Context, log *slog.Logger, workflowID string) {
	ctx = context.WithoutCancel(ctx)
	// While we hold the lock to pop, a newcomer that failed to take it may push and find the
	// lock still ours, so nobody would wake it: after popping nothing, look at the list again.
	for range 3 {
		lease, err := w.locker.Acquire(ctx, "workflow:"+workflowID, w.cfg.LockTTL)
		if err != nil {
			if !errors.Is(err, lock.ErrNotAcquired) {
				log.Warn("wake next: acquire failed", slog.Any("error", err))
			}
			return // the holder wakes the next one when it releases
		}
		id, ok, err := w.waitlist.Pop(ctx, workflowID)
		if rerr := w.locker.Release(ctx, lease); rerr != nil {
			log.Warn("wake next: release failed", slog.Any("error", rerr))
		}
		if err != nil {
			log.Warn("wake next: pop failed", slog.Any("error", err))
			return
		}
		if ok {
			if err := w.queue.Enqueue(ctx, queue.Message{ExecutionID: id}); err != nil {
				log.Warn("wake next: enqueue failed; the sweeper will enqueue it", slog.String("next", id), slog.Any("error", err))
			}
			return
		}
		if n, err := w.waitlist.Len(ctx, workflowID); err != nil || n == 0 {
			return
		}
	}
}

func (w *Worker) requeue(ctx context.Context, log *slog.Logger, id string, d queue.Delivery, at time.Time) {
	if err := w.queue.EnqueueAt(ctx, queue.Message{ExecutionID: id, Traceparent: cmp.Or(d.Traceparent, telemetry.Traceparent(ctx))}, at); err != nil {
		log.Warn("requeue failed", slog.Any("error", err))
		return
	}
	w.ack(ctx, log, d)
}

func (w *Worker) ack(ctx context.Context, log *slog.Logger, d queue.Delivery) {
	if err := w.steps.ackMessage(context.WithoutCancel(ctx), d.ID); err != nil {
		log.Warn("ack failed", slog.Any("error", err))
	}
}

// run claims the row under lease, runs the engine while renewing both leases, records the
// outcome and releases the leases. It reports whether the lease was lost during the run.
func (w *Worker) run(ctx context.Context, log *slog.Logger, e *Execution, cfg *deployments.Config, gate, lease *lock.Lease) (lost bool) {
	bg := context.WithoutCancel(ctx)
	defer w.release(ctx, log, gate)
	defer w.release(ctx, log, lease)
	e, err := w.steps.claimExecution(ctx, e.ID, lease.Fence, w.cfg.Now().UTC())
	if err != nil {
		if !errors.Is(err, apperr.ErrConflict) {
			log.Warn("claim failed", slog.Any("error", err))
		}
		return false
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("wfr.execution.attempt", int(e.Attempt)), attribute.Int("wfr.revision", int(e.Revision)))
	if cfg.OverlapPolicy == deployments.OverlapCancelOther {
		if n, err := w.waitlist.Len(ctx, e.WorkflowID); err == nil && n > 0 {
			// A newer execution arrived before this one was RUNNING (see admitWhileHeld).
			w.finish(bg, log, e, lease.Fence, StatusCancelled, nil, "cancelled by a newer execution (overlap policy CANCEL_OTHER)")
			return false
		}
	}
	def, err := w.revisions.get(ctx, w.store, e.WorkflowID, e.Revision)
	if err != nil {
		log.Warn("load revision failed", slog.Any("error", err))
		w.finish(bg, log, e, lease.Fence, StatusFailed, nil, fmt.Sprintf("load revision %d: %v", e.Revision, err))
		return false
	}

	held, stopHold := lock.Hold(bg, w.locker, lease, w.cfg.LockTTL/3)
	defer stopHold()
	if gate != nil {
		var stopGate func()
		held, stopGate = lock.Hold(held, w.locker, gate, w.cfg.LockTTL/3)
		defer stopGate()
	}
	runCtx, cancel := context.WithCancelCause(held)
	defer cancel(nil)
	runCtx, cancelTimeout := context.WithTimeoutCause(runCtx, cfg.ExecutionTimeout, errTimedOut)
	defer cancelTimeout()
	w.mu.Lock()
	w.running[e.ID] = cancel
	if w.stopping {
		cancel(errShutdown)
	}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, e.ID)
		w.mu.Unlock()
	}()
	if e.CancelRequested {
		cancel(errCancelRequested)
	}
	stopWatch := w.heartbeat(runCtx, cancel, e.ID, lease.Fence)
	res, err := w.engine.Execute(runCtx, &engine.Request{
		ExecutionID: e.ID,
		WorkflowID:  e.WorkflowID,
		Revision:    e.Revision,
		Definition:  *def,
		Input:       e.TriggerData,
		Attempt:     e.Attempt,
	})
	stopWatch()

	cause := context.Cause(runCtx)
	if cause == nil && errors.Is(err, context.DeadlineExceeded) {
		if _, ok := runCtx.Deadline(); ok {
			// The only deadline the engine gets is the execution timeout, propagated with the
			// call; a remote engine enforces it and may answer a moment before this process's
			// own timer fires. That is a timeout, not a failure.
			cause = errTimedOut
		}
	}
	switch {
	case errors.Is(cause, lock.ErrLost):
		lost = true
		log.Warn("lock lost while running; the new owner records the outcome", slog.Int64("fence", lease.Fence))
	case errors.Is(cause, errShutdown):
		// Hand it back at once so another worker runs it; the attempt stays counted.
		if err := w.store.ExecutionRetry(bg, e.ID, lease.Fence, w.cfg.Now().UTC(), "worker shut down during the run"); err == nil {
			_ = w.queue.Enqueue(bg, queue.Message{ExecutionID: e.ID})
		}
	case errors.Is(cause, errCancelRequested):
		w.finish(bg, log, e, lease.Fence, StatusCancelled, nil, "cancelled by request")
	case errors.Is(cause, errTimedOut):
		w.finish(bg, log, e, lease.Fence, StatusTimedOut, nil, fmt.Sprintf("execution timeout of %s exceeded", cfg.ExecutionTimeout))
	case err != nil:
		w.failOrRetry(bg, log, e, cfg, lease.Fence, err.Error(), true)
	case res.Failure != nil:
		msg := res.Failure.Message
		if res.Failure.NodeID != "" {
			msg = fmt.Sprintf("node %s: %s", res.Failure.NodeID, res.Failure.Message)
		}
		w.failOrRetry(bg, log, e, cfg, lease.Fence, msg, res.Failure.Retryable)
	default:
		w.finish(bg, log, e, lease.Fence, StatusSucceeded, res.Output, "")
	}
	return lost
}

// heartbeat marks the row alive while the engine runs (so the sweeper leaves it alone) and
// learns two things from the same write: a requested cancellation (the safety net under the
// cancel notification, which can be lost) and a lost claim (another owner's fence is on the
// row), either of which ends the run.
func (w *Worker) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, id string, fence int64) (stop func()) {
	ctx, stop = context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(max(min(w.cfg.LockTTL/3, 10*time.Second), 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				cancelRequested, err := w.store.ExecutionHeartbeat(ctx, id, fence, w.cfg.Now().UTC())
				switch {
				case errors.Is(err, apperr.ErrConflict):
					cancel(lock.ErrLost)
					return
				case err == nil && cancelRequested:
					cancel(errCancelRequested)
					return
				}
			}
		}
	}()
	return stop
}

func (w *Worker) failOrRetry(ctx context.Context, log *slog.Logger, e *Execution, cfg *deployments.Config, fence int64, msg string, retryable bool) {
	if retryable && uint32(e.Attempt) < cfg.Retry.MaxAttempts {
		at := w.cfg.Now().UTC().Add(Backoff(cfg.Retry, e.Attempt))
		if err := w.store.ExecutionRetry(ctx, e.ID, fence, at, msg); err != nil {
			if !errors.Is(err, apperr.ErrConflict) {
				log.Warn("record retry failed", slog.Any("error", err))
			}
			return
		}
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("wfr.execution.status", "RETRY_SCHEDULED"))
		trace.SpanFromContext(ctx).SetStatus(codes.Error, msg)
		// The retry's span joins this trace.
		if err := w.queue.EnqueueAt(ctx, queue.Message{ExecutionID: e.ID, Traceparent: telemetry.Traceparent(ctx)}, at); err != nil {
			log.Warn("enqueue retry failed; the sweeper will enqueue it", slog.Any("error", err))
		}
		return
	}
	w.finish(ctx, log, e, fence, StatusFailed, nil, msg)
}

func (w *Worker) finish(ctx context.Context, log *slog.Logger, e *Execution, fence int64, status Status, output []byte, msg string) {
	err := w.steps.finishExecution(ctx, &FinishParams{ID: e.ID, Fence: fence, Status: status, Output: output, Error: msg, Now: w.cfg.Now().UTC()})
	switch {
	case errors.Is(err, apperr.ErrConflict):
		log.Warn("outcome refused: a newer owner holds the execution", slog.Int64("fence", fence), slog.String("status", string(status)))
	case err != nil:
		log.Warn("record outcome failed", slog.Any("error", err))
	default:
		w.outcome(ctx, status, msg)
	}
}

// outcome reports a recorded outcome: the span's status and attribute, and the metric.
func (w *Worker) outcome(ctx context.Context, status Status, msg string) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("wfr.execution.status", string(status)))
	switch status {
	case StatusSucceeded, StatusSkipped:
		span.SetStatus(codes.Ok, "")
	default:
		span.SetStatus(codes.Error, msg)
	}
	w.cfg.Metrics.ExecutionFinished(ctx, string(status))
}

func (w *Worker) cancelRunning(id string, cause error) {
	w.mu.Lock()
	cancel := w.running[id]
	w.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

// Backoff is the delay before the retry that follows attempt (1-based): initial ×
// coefficient^(attempt-1), capped at the policy's maximum.
func Backoff(p deployments.RetryPolicy, attempt int32) time.Duration {
	d := float64(p.InitialBackoff) * math.Pow(p.BackoffCoefficient, float64(max(attempt-1, 0)))
	if d > float64(p.MaxBackoff) || math.IsInf(d, 0) || math.IsNaN(d) {
		return p.MaxBackoff
	}
	return time.Duration(d)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
