package execution

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river/rivershared/startstop"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
)

// SweeperConfig configures a Sweeper. Every field has a default.
type SweeperConfig struct {
	// Interval between sweeps. Default 5s.
	Interval time.Duration
	// StaleAfter is how long a due PENDING execution may sit untouched before it is enqueued
	// again. Default 30s: longer than any enqueue takes, shorter than anyone waits.
	StaleAfter time.Duration
	// Batch is the most executions one sweep enqueues. Default 500.
	Batch int
	// PruneEvery is how often the queue's consumers of workers that are gone are removed
	// (SweeperQueue.PruneConsumers). Default 10m: they only cost memory and XINFO output, and every
	// worker process prunes, so the group is cleaned far more often than this in a fleet.
	PruneEvery time.Duration
	// LiveConsumers names the consumers of live workers: the instance registry's live
	// instances (a worker's consumer is its instance id). The consumers it does not name and
	// that have no pending message are removed; a live worker's consumer never is. Default
	// nil: no consumer is removed.
	LiveConsumers queue.LiveConsumers
	// Wake makes the sweeper sweep at once every due execution that is not terminal and has
	// not changed since the time received (SweepAll): the queue says through it that Redis
	// answers again after an outage or lost its stream, and since when messages may be lost
	// (queue.RedisQueue.Recovered), so that they are replaced now rather than after
	// StaleAfter. Default nil: never.
	Wake <-chan time.Time
	// RecoverAtStart makes Start recover every non-terminal execution at once (Recover): the
	// embedded mode, where this process is the only worker and nothing that was PENDING or
	// RUNNING before it started has a message or a live run. Default false.
	RecoverAtStart bool
	// Notifier publishes the executions Recover returns to PENDING on ChangedChannel, for the
	// watchers. Default nil: not published (the watchers' resync finds them).
	Notifier Notifier
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// SweeperStore is what a Sweeper needs of storage: it finds the executions whose message may
// be lost, and at start-up returns those of a dead embedded process to PENDING.
type SweeperStore interface {
	// ExecutionTouchDue finds up to limit executions not updated since staleBefore that are
	// PENDING and available at due, or RUNNING (a live run heartbeats, so a silent one lost its
	// worker), sets their updated_at to now (so concurrent sweepers do not take the same rows)
	// and returns their ids, oldest first: executions whose message was lost.
	ExecutionTouchDue(ctx context.Context, due, staleBefore, now time.Time, limit int) ([]string, error)
	// ExecutionTouchRunning is ExecutionTouchDue for RUNNING executions only: those not updated
	// since staleBefore, however recently that was (their leases may have vanished with Redis).
	ExecutionTouchRunning(ctx context.Context, staleBefore, now time.Time, limit int) ([]string, error)
	// ExecutionGetMany is StepStore.ExecutionGetMany.
	ExecutionGetMany(ctx context.Context, ids []string) (map[string]*Execution, error)
	// ExecutionRecover returns a RUNNING execution under fence whose process died (found at
	// start-up of the only worker) to PENDING, available at now, recording reason as the error
	// and counting the death (deaths + 1; the attempt stays counted). errdefs.ErrConflict when
	// the row is not RUNNING under fence.
	ExecutionRecover(ctx context.Context, id string, fence int64, now time.Time, reason string) error
}

// SweeperQueue is what a Sweeper needs of the queue: it enqueues what it finds and prunes the
// consumers of workers that are gone.
type SweeperQueue interface {
	Enqueue(ctx context.Context, m queue.Message) error
	EnqueueBatch(ctx context.Context, ms []queue.Message) error
	PruneConsumers(ctx context.Context, live queue.LiveConsumers) (removed []string, err error)
}

// Sweeper enqueues PENDING executions whose message was lost (the process died between the
// insert and the enqueue, Redis lost a write, a buffered execution missed its wake-up). The row
// is the truth; the queue is only delivery, and a duplicate message is harmless because every
// worker checks the row before it runs anything. Every PruneEvery it also removes the queue's
// consumers whose workers are gone (SweeperQueue.PruneConsumers).
type Sweeper struct {
	store   SweeperStore
	queue   SweeperQueue
	cfg     SweeperConfig
	changes *changeFeed

	startstop.BaseStartStop
}

// NewSweeper returns a Sweeper; Start runs it.
func NewSweeper(store SweeperStore, q SweeperQueue, cfg SweeperConfig) *Sweeper {
	cfg.Interval = cmp.Or(cfg.Interval, 5*time.Second)
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, 30*time.Second)
	cfg.Batch = cmp.Or(cfg.Batch, 500)
	cfg.PruneEvery = cmp.Or(cfg.PruneEvery, 10*time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Sweeper{store: store, queue: q, cfg: cfg, changes: newChangeFeed(cfg.Notifier, cfg.Logger)}
}

// Start runs sweeps in the background until Stop. Calling it on a running Sweeper does nothing;
// after Stop it starts again. Cancelling ctx does not stop it.
//
// Stop (startstop.BaseStartStop's) ends the sweeps and waits for the current one. Idempotent.
func (s *Sweeper) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := s.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // running already
	}
	go func() {
		defer stopped()
		started()
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		prune := time.NewTicker(s.cfg.PruneEvery)
		defer prune.Stop()
		if s.cfg.RecoverAtStart {
			if n, err := s.Recover(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("start-up recovery failed; the periodic sweeps carry on", slog.Int("enqueued", n), slog.Any("error", err))
			} else if n > 0 {
				s.cfg.Logger.Info("recovered the executions left unfinished by the previous run of this process", slog.Int("count", n))
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case lostBefore := <-s.cfg.Wake:
				s.sweepAll(ctx, lostBefore, "the queue is back: re-enqueued the executions whose messages it may have lost")
			case <-t.C:
				if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
					s.cfg.Logger.Warn("sweep failed", slog.Any("error", err))
				}
			case <-prune.C:
				if _, err := s.PruneConsumers(ctx); err != nil && ctx.Err() == nil {
					s.cfg.Logger.Warn("prune queue consumers failed", slog.Any("error", err))
				}
			}
		}
	}()
	return nil
}

// Sweep runs one sweep and returns how many executions it enqueued.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.Now().UTC()
	ids, err := s.store.ExecutionTouchDue(ctx, now, now.Add(-s.cfg.StaleAfter), now, s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if err := s.queue.Enqueue(ctx, queue.Message{ExecutionID: id}); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		s.cfg.Logger.Info("re-enqueued executions whose message was lost", slog.Int("count", n))
	}
	return n, nil
}

// sweepAll runs SweepAll and logs its outcome as what.
func (s *Sweeper) sweepAll(ctx context.Context, before time.Time, what string) {
	n, err := s.SweepAll(ctx, before)
	switch {
	case err != nil && ctx.Err() == nil:
		s.cfg.Logger.Warn("sweep of every due execution failed; the periodic sweeps carry on", slog.Int("enqueued", n), slog.Any("error", err))
	case n > 0:
		s.cfg.Logger.Info(what, slog.Int("count", n))
	}
}

// SweepAll enqueues every due execution that is PENDING and has not changed since before, and
// every RUNNING one, and returns how many: for when every message enqueued before a time may be
// lost (the queue came back empty). PENDING ones changed later were enqueued after the outage
// began, so their producers still hold their messages; a RUNNING one may have lost its lease
// and message with Redis (its run is cancelled when it notices), so it is enqueued whatever its
// heartbeat says. A duplicate message is harmless: the worker reads the row, a RUNNING one
// whose lease is alive is looked at again later, one whose lease is gone is taken over with a
// larger fencing token (the fences follow the clock). In batches of Batch.
func (s *Sweeper) SweepAll(ctx context.Context, before time.Time) (int, error) {
	// One cut-off for every batch: the rows touched by a batch (updated_at = now) are not
	// taken again by the next.
	before = before.UTC()
	cutoff := s.cfg.Now().UTC()
	total := 0
	for _, touch := range []func(now time.Time) ([]string, error){
		func(now time.Time) ([]string, error) {
			return s.store.ExecutionTouchDue(ctx, now, before, now, s.cfg.Batch)
		},
		func(now time.Time) ([]string, error) {
			return s.store.ExecutionTouchRunning(ctx, cutoff, now, s.cfg.Batch)
		},
	} {
		for {
			ids, err := touch(s.cfg.Now().UTC())
			if err != nil {
				return total, err
			}
			msgs := make([]queue.Message, len(ids))
			for i, id := range ids {
				msgs[i] = queue.Message{ExecutionID: id}
			}
			if len(msgs) > 0 {
				if err := s.queue.EnqueueBatch(ctx, msgs); err != nil {
					return total, err
				}
			}
			total += len(ids)
			if len(ids) < s.cfg.Batch {
				break
			}
		}
	}
	return total, nil
}

// interruptedReason is the error recorded on an execution whose run was interrupted by the
// end of the process (Recover).
const interruptedReason = "the process running it stopped; run again after its restart"

// Recover hands back every due execution that is not terminal, for when none of them can have
// a message or a live run (start-up of the embedded mode, the only worker): a RUNNING one goes
// back to PENDING under its fence (ExecutionRecover, the interrupted attempt's error recorded
// and its death counted towards MaxProcessDeaths; the next claim counts a new attempt), and
// all are enqueued. Handed back rather than taken
// over while RUNNING, each goes through admission like any PENDING execution, so a workflow's
// interrupted run and the executions buffered behind it are ordered by its overlap policy.
// It returns how many it enqueued.
func (s *Sweeper) Recover(ctx context.Context) (int, error) {
	before := s.cfg.Now().UTC()
	total := 0
	for {
		now := s.cfg.Now().UTC()
		ids, err := s.store.ExecutionTouchDue(ctx, now, before, now, s.cfg.Batch)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		es, err := s.store.ExecutionGetMany(ctx, ids)
		if err != nil {
			return total, err
		}
		msgs := make([]queue.Message, 0, len(ids))
		for _, id := range ids {
			if e := es[id]; e != nil && e.Status == StatusRunning {
				err := s.store.ExecutionRecover(ctx, id, e.FencingToken, now, interruptedReason)
				if err != nil && !errors.Is(err, errdefs.ErrConflict) {
					return total, err
				}
				if err == nil {
					s.changes.add(e.DeploymentID, id, StatusPending)
				}
			}
			msgs = append(msgs, queue.Message{ExecutionID: id})
		}
		if err := s.queue.EnqueueBatch(ctx, msgs); err != nil {
			return total, err
		}
		total += len(ids)
		if len(ids) < s.cfg.Batch {
			return total, nil
		}
	}
}

// maxLoggedConsumers is the most consumer names one log line lists.
const maxLoggedConsumers = 100

// PruneConsumers removes the queue's consumers that LiveConsumers does not name and that have
// no pending message, logs their names and returns them. Without LiveConsumers it removes none.
func (s *Sweeper) PruneConsumers(ctx context.Context) ([]string, error) {
	if s.cfg.LiveConsumers == nil {
		return nil, nil
	}
	removed, err := s.queue.PruneConsumers(ctx, s.cfg.LiveConsumers)
	if len(removed) > 0 {
		names := removed[:min(len(removed), maxLoggedConsumers)]
		s.cfg.Logger.Info("removed queue consumers of workers that are gone",
			slog.Int("count", len(removed)), slog.Any("consumers", names), slog.Bool("truncated", len(names) < len(removed)))
	}
	return removed, err
}
