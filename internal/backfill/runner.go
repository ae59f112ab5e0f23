package backfill

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river/rivershared/startstop"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// Runner defaults.
const (
	DefaultLease     = 30 * time.Second
	DefaultPoll      = 5 * time.Second
	DefaultBatchSize = 500
)

// RunnerConfig configures a Runner. Every field but Owner has a default.
type RunnerConfig struct {
	// Owner names this process in the leases it takes: the instance id (internal/registry).
	// Required.
	Owner string
	// Lease is how long a claim or a batch keeps an operation this runner's; another process
	// takes it over once that has passed without a batch. Default DefaultLease (30 s).
	Lease time.Duration
	// Poll is how often the runner looks for operations to take when it has none
	// (WFR_BACKFILL_POLL). Operations created in this process wake it at once (Wake). Default
	// DefaultPoll (5 s).
	Poll time.Duration
	// BatchSize is the most fires one batch makes. Default DefaultBatchSize (500); at least
	// scheduler.MinBackfillBatch.
	BatchSize int
	// Now is the clock of leases. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Ended, when set, is called with each operation this runner saw end (SUCCEEDED, FAILED,
	// CANCELLED), from the runner's goroutine.
	Ended func(op *Operation)
}

// Runner makes the fires of RUNNING backfill operations, one operation and one batch at a time
// (doc.go). Start runs it in the background; tests drive Step.
type Runner struct {
	store Store
	sched Scheduling
	cfg   RunnerConfig
	wake  chan struct{}
	held  *Operation // the operation this runner holds; only the loop (or a test) touches it

	startstop.BaseStartStop
}

// NewRunner returns a Runner.
func NewRunner(store Store, sched Scheduling, cfg RunnerConfig) *Runner {
	cfg.Lease = cmp.Or(cfg.Lease, DefaultLease)
	cfg.Poll = cmp.Or(cfg.Poll, DefaultPoll)
	cfg.BatchSize = max(cmp.Or(cfg.BatchSize, DefaultBatchSize), scheduler.MinBackfillBatch)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Ended == nil {
		cfg.Ended = func(*Operation) {}
	}
	return &Runner{store: store, sched: sched, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Wake makes the runner look for operations now rather than at its next poll. It never blocks.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Held returns the id of the operation the runner holds; "" when none.
func (r *Runner) Held() string {
	if r.held == nil {
		return ""
	}
	return r.held.ID
}

// Step does the runner's next piece of work: when it holds no operation, it claims one (the
// oldest RUNNING operation whose lease is free or expired); then it makes one batch of it and
// records it (counts, cursor, lease renewed) in one statement. It drops the operation when that
// finished it, when it was cancelled meanwhile, when another process took it over, and when
// the batch failed for good (the operation is then FAILED). progressed says there may be more
// to do at once; false means nothing to claim, or a failure worth waiting before a retry (the
// store or the queue did not answer: the same batch is made again, and what it made already is
// deduplicated).
func (r *Runner) Step(ctx context.Context) (progressed bool, err error) {
	if r.held == nil {
		now := r.cfg.Now()
		op, err := r.store.BackfillClaim(ctx, r.cfg.Owner, now, now.Add(r.cfg.Lease))
		if err != nil || op == nil {
			return false, err
		}
		r.held = op
		r.cfg.Logger.InfoContext(ctx, "backfill operation claimed", slog.String("operation_id", op.ID),
			slog.String("deployment_id", op.DeploymentID), slog.Time("cursor", op.Cursor), slog.Int64("total", op.Total))
	}
	// Between batches: the operation may have been cancelled, or taken over after a stall.
	op, err := r.store.BackfillGet(ctx, r.held.ID)
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return false, err
	}
	if op == nil || op.State != StateRunning || op.LeaseOwner != r.cfg.Owner {
		r.drop(ctx, r.held.ID, op)
		return true, nil
	}
	res, err := r.sched.BackfillStep(ctx, &scheduler.BackfillStepParams{
		DeploymentID: op.DeploymentID, TriggerID: op.TriggerID,
		Cursor: op.Cursor, Until: op.Until, BatchSize: r.cfg.BatchSize,
	})
	if err != nil {
		if transient(err) {
			return false, err
		}
		r.cfg.Logger.WarnContext(ctx, "backfill operation failed", slog.String("operation_id", op.ID), slog.Any("error", err))
		if ferr := r.store.BackfillFail(ctx, op.ID, r.cfg.Owner, err.Error(), r.cfg.Now()); ferr != nil && !errors.Is(ferr, ErrLeaseLost) {
			r.held = nil
			return false, ferr // the lease expires, and a runner tries again
		}
		failed, _ := r.store.BackfillGet(ctx, op.ID)
		r.drop(ctx, op.ID, failed)
		return true, nil
	}
	now := r.cfg.Now()
	next, err := r.store.BackfillAdvance(ctx, &AdvanceParams{
		ID: op.ID, Owner: r.cfg.Owner,
		Created: int64(res.Created), Deduplicated: int64(res.Deduplicated), BlackedOut: int64(res.BlackedOut),
		Cursor: res.Cursor, Done: res.Done, LeaseExpires: now.Add(r.cfg.Lease), Now: now,
	})
	switch {
	case errors.Is(err, ErrLeaseLost):
		r.drop(ctx, op.ID, &Operation{ID: op.ID, State: StateRunning})
		return true, nil
	case err != nil:
		return false, err // the batch is made again, deduplicated
	}
	if next.State != StateRunning {
		r.drop(ctx, op.ID, next)
		return true, nil
	}
	r.held = next
	return true, nil
}

// drop lets go of the held operation: it ended (op's state), or it is gone or another
// process's (op nil or not leased to this runner).
func (r *Runner) drop(ctx context.Context, id string, op *Operation) {
	r.held = nil
	switch {
	case op == nil:
		r.cfg.Logger.InfoContext(ctx, "backfill operation gone", slog.String("operation_id", id))
	case op.State == StateRunning:
		r.cfg.Logger.InfoContext(ctx, "backfill operation taken over by another process", slog.String("operation_id", id),
			slog.String("owner", op.LeaseOwner))
	default:
		r.cfg.Logger.InfoContext(ctx, "backfill operation ended", slog.String("operation_id", id), slog.String("state", string(op.State)),
			slog.Int64("total", op.Total), slog.Int64("created", op.Created), slog.Int64("deduplicated", op.Deduplicated))
		r.cfg.Ended(op)
	}
}

// transient says a batch failed for a reason that may pass: the store or the queue did not
// answer, a concurrent writer won, or the runner is stopping.
func transient(err error) bool {
	return errors.Is(err, errdefs.ErrUnavailable) || errors.Is(err, errdefs.ErrConflict) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Start runs the runner in the background until Stop: Step while it progresses, then wait for
// Wake or the next poll. Calling it on a running Runner does nothing; after Stop it starts
// again. Cancelling ctx does not stop it.
//
// Stop (startstop.BaseStartStop's) stops the runner and waits for it; a batch under way is cut
// short (what it made stays, and is deduplicated when the batch is made again). Idempotent. The
// operation it held keeps its lease until that expires; then a runner (another process's, or
// this one's after a restart) takes it over from its cursor.
func (r *Runner) Start(ctx context.Context) error {
	if r.cfg.Owner == "" {
		return errors.New("start backfill runner: no owner (instance id)")
	}
	ctx, shouldStart, started, stopped := r.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // running already
	}
	go func() {
		defer stopped()
		started()
		r.loop(ctx)
	}()
	return nil
}

func (r *Runner) loop(ctx context.Context) {
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-poll.C:
		}
		for ctx.Err() == nil {
			progressed, err := r.Step(ctx)
			if err != nil && ctx.Err() == nil {
				r.cfg.Logger.WarnContext(ctx, "backfill runner step failed; trying again at the next poll", slog.Any("error", err))
			}
			if !progressed {
				break
			}
		}
		poll.Reset(r.cfg.Poll)
	}
}
