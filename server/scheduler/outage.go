package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
)

// debt is what one trigger owes after fires that failed on this replica (the store did not
// answer): the scheduled times from the latest one on record before since up to until. It is
// settled, by the misfire policy and the catch-up window, once the store answers again and the
// live fires of every replica are done with those times (Config.SettleAfter). See doc.go.
type debt struct {
	job          *fireJob
	since, until time.Time // scheduled times of the first and the last failed fire
	due          time.Time // next settlement attempt, on Config.Now
	backoff      *backoff.ExponentialBackOff
	attempts     int
}

// errSettleBusy: another replica holds the trigger's fire lock; the settlement is tried again.
var errSettleBusy = errors.New("the trigger's fire lock is held")

// owe remembers that the fire of j at scheduled failed, and schedules the settlement.
func (s *Scheduler) owe(j *fireJob, scheduled time.Time) {
	name := jobName(j.workflowID, j.triggerID)
	s.debtMu.Lock()
	d, ok := s.debts[name]
	if !ok || d.job.signature != j.signature {
		b := &backoff.ExponentialBackOff{
			InitialInterval: s.cfg.SettleRetryInitial, RandomizationFactor: 0.5,
			Multiplier: 2, MaxInterval: s.cfg.SettleRetryMax,
		}
		b.Reset()
		// The first attempt as soon as the horizon allows; the backoff runs from its failure.
		d = &debt{job: j, since: scheduled, until: scheduled, backoff: b, due: s.cfg.Now()}
		s.debts[name] = d
	}
	if scheduled.Before(d.since) {
		d.since = scheduled
	}
	if scheduled.After(d.until) {
		d.until = scheduled
	}
	s.debtMu.Unlock()
	s.kickSettle()
}

// storeAnswered says a fire of the trigger reached the store: its debt, if any, is settled as
// soon as Config.SettleAfter allows, without waiting for its backoff.
func (s *Scheduler) storeAnswered(j *fireJob) {
	s.debtMu.Lock()
	d, ok := s.debts[jobName(j.workflowID, j.triggerID)]
	if ok {
		d.due = s.cfg.Now()
	}
	s.debtMu.Unlock()
	if ok {
		s.kickSettle()
	}
}

// forgive drops the debt of a job that is removed or replaced: its old schedule's times are
// not owed any more (a pause is not a misfire).
func (s *Scheduler) forgive(name string) {
	s.debtMu.Lock()
	delete(s.debts, name)
	s.debtMu.Unlock()
}

func (s *Scheduler) kickSettle() {
	select {
	case s.settleKick <- struct{}{}:
	default:
	}
}

// Owed returns the names ("workflow/trigger") of the triggers with failed fires not settled yet.
func (s *Scheduler) Owed() []string {
	s.debtMu.Lock()
	defer s.debtMu.Unlock()
	out := make([]string, 0, len(s.debts))
	for name := range s.debts {
		out = append(out, name)
	}
	return out
}

// settleLoop settles the debts as they fall due, until ctx ends.
func (s *Scheduler) settleLoop(ctx context.Context) {
	defer close(s.settleDone)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := time.Hour
		if next := s.SettleDue(ctx); !next.IsZero() {
			wait = max(next.Sub(s.cfg.Now()), 10*time.Millisecond)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.settleKick:
		case <-t.C:
		}
	}
}

// SettleDue settles every debt due as of Config.Now and returns when the next one falls due
// (zero: none left). A settlement that fails is tried again after the debt's backoff. The
// scheduler's own loop calls it; tests call it with a controlled clock.
func (s *Scheduler) SettleDue(ctx context.Context) time.Time {
	now := s.cfg.Now()
	type due struct {
		name         string
		d            *debt
		since, until time.Time
	}
	var ready []due
	s.debtMu.Lock()
	for name, d := range s.debts {
		if !now.Before(s.dueAt(d)) {
			ready = append(ready, due{name, d, d.since, d.until})
		}
	}
	s.debtMu.Unlock()

	for _, r := range ready {
		if ctx.Err() != nil {
			return time.Time{}
		}
		err := s.settle(ctx, r.d.job, r.since, r.until)
		s.debtMu.Lock()
		if cur, ok := s.debts[r.name]; ok && cur == r.d {
			switch {
			case err != nil:
				r.d.attempts++
				r.d.due = s.cfg.Now().Add(r.d.backoff.NextBackOff())
			case r.d.until.After(r.until):
				// Fires failed again meanwhile: what follows r.until is owed still.
				r.d.since = r.until.Add(time.Nanosecond)
				r.d.backoff.Reset()
				r.d.attempts = 0
			default:
				delete(s.debts, r.name)
			}
		}
		attempts := r.d.attempts
		s.debtMu.Unlock()
		if err != nil && ctx.Err() == nil {
			level := slog.LevelWarn
			if errors.Is(err, errSettleBusy) {
				level = slog.LevelDebug
			}
			s.cfg.Logger.Log(ctx, level, "settling fires missed while the store was unavailable failed; retrying",
				slog.String("workflow_id", r.d.job.workflowID), slog.String("trigger_id", r.d.job.triggerID),
				slog.Int("attempts", attempts), slog.Any("error", err))
		}
	}

	var next time.Time
	s.debtMu.Lock()
	defer s.debtMu.Unlock()
	for _, d := range s.debts {
		if at := s.dueAt(d); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

// dueAt is when d may be settled: at its next attempt, and not before the live fires of every
// replica are done with its last time (Config.SettleAfter after it). Called with debtMu held.
func (s *Scheduler) dueAt(d *debt) time.Time {
	if horizon := d.until.Add(s.cfg.SettleAfter); horizon.After(d.due) {
		return horizon
	}
	return d.due
}

// settle settles the scheduled times (last on record before since, until] of j's trigger, under
// the trigger's fire lock, exactly as a catch-up after downtime: the misfire policy and the
// catch-up window decide which are fired (CAUGHT_UP) and which are recorded MISSED. Times that
// have an execution or a ledger row already are left alone, so a settlement that another
// replica made first, or that is repeated, changes nothing. A trigger no longer DEPLOYED, or
// changed, owes nothing (nil).
func (s *Scheduler) settle(ctx context.Context, j *fireJob, since, until time.Time) error {
	name := jobName(j.workflowID, j.triggerID)
	if s.locker != nil {
		lease, err := s.locker.Acquire(ctx, "fire:"+name, s.cfg.FireLockTTL)
		switch {
		case err == nil:
			defer func() { _ = s.locker.Release(context.WithoutCancel(ctx), lease) }()
		case errors.Is(err, lock.ErrNotAcquired):
			return errSettleBusy
		default:
			s.cfg.Logger.Warn("fire lock unavailable; settling without it", slog.String("workflow_id", j.workflowID),
				slog.String("trigger_id", j.triggerID), slog.Any("error", err))
		}
	}
	d, err := s.store.DeploymentGetByWorkflow(ctx, j.workflowID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("settle %s: %w", name, err)
	}
	if d.Status != deployments.StatusDeployed {
		return nil
	}
	if c := cronTrigger(d, j.triggerID); c == nil || signature(c) != j.signature {
		return nil
	}
	last, err := s.store.FireLastScheduledBefore(ctx, j.workflowID, j.triggerID, since)
	if err != nil {
		return fmt.Errorf("settle %s: %w", name, err)
	}
	from := last
	if d.DeployedAt.After(from) {
		from = d.DeployedAt
	}
	decided, err := s.store.FireDecided(ctx, j.workflowID, j.triggerID, from, until)
	if err != nil {
		return fmt.Errorf("settle %s: %w", name, err)
	}
	res, err := s.svc.catchUpFrom(ctx, d, j.triggerID, j.trigger, gap{last: last, until: until, now: s.cfg.Now(), cause: causeOutage, decided: decided})
	s.cfg.Metrics.Misfire(ctx, int64(len(res.Missed)))
	if err != nil {
		return fmt.Errorf("settle %s: %w", name, err)
	}
	s.cfg.Logger.Info("settled fires missed while the store was unavailable", slog.String("workflow_id", j.workflowID),
		slog.String("trigger_id", j.triggerID), slog.Time("since", since), slog.Time("until", until),
		slog.Int("caught_up", len(res.Fired)), slog.Int("missed", len(res.Missed)), slog.Int("decided_already", len(decided)))
	return nil
}
