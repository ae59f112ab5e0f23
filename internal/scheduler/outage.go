package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
)

// debt is what one trigger owes after fires that failed on this replica (the store did not
// answer): the scheduled times from the latest one on record before since up to until. It is
// settled, by the misfire policy and the catch-up window, once the store answers again and the
// live fires of every replica are done with those times (Config.SettleAfter). See doc.go.
type debt struct {
	job          *fireJob
	cause        string    // causeOutage or causeStalled: the start of the rows' reasons
	since, until time.Time // scheduled times of the first and the last failed fire
	due          time.Time // next settlement attempt, on Config.Now
	backoff      *backoff.ExponentialBackOff
	attempts     int
}

// deferredMissed is what a catch-up after downtime found missed among the times a live fire of
// another replica may still make (its scheduled times less than SettleAfter old): MISSED rows
// recorded once SettleAfter has passed since the latest of them, for those that have no
// execution and no ledger row by then. See doc.go, "Misfires".
type deferredMissed struct {
	job   *fireJob
	fires []Fire // MISSED rows, oldest first
	due   time.Time
}

// errSettleBusy: another replica holds the trigger's fire lock; the settlement is tried again.
var errSettleBusy = errors.New("the trigger's fire lock is held")

// owe remembers that the fire of j at scheduled failed, and schedules the settlement.
func (s *Scheduler) owe(j *fireJob, scheduled time.Time) {
	s.oweSpan(j, scheduled, scheduled, causeOutage)
}

// oweSpan remembers that the fires of j scheduled from since to until were not made, for cause,
// and schedules the settlement. A debt of both causes keeps the first one's words.
func (s *Scheduler) oweSpan(j *fireJob, since, until time.Time, cause string) {
	name := j.name
	s.debtMu.Lock()
	d, ok := s.debts[name]
	if !ok || d.job.signature != j.signature {
		b := &backoff.ExponentialBackOff{
			InitialInterval: s.cfg.SettleRetryInitial, RandomizationFactor: 0.5,
			Multiplier: 2, MaxInterval: s.cfg.SettleRetryMax,
		}
		b.Reset()
		// The first attempt as soon as the horizon allows; the backoff runs from its failure.
		d = &debt{job: j, cause: cause, since: since, until: until, backoff: b, due: s.cfg.Now()}
		s.debts[name] = d
	}
	if since.Before(d.since) {
		d.since = since
	}
	if until.After(d.until) {
		d.until = until
	}
	s.debtMu.Unlock()
	s.kickSettle()
}

// deferMissed remembers a catch-up's MISSED rows that must wait for the live fires (none: nothing
// to do) and schedules their recording.
func (s *Scheduler) deferMissed(j *fireJob, fires []Fire) {
	if len(fires) == 0 {
		return
	}
	name := j.name
	s.debtMu.Lock()
	p, ok := s.deferred[name]
	if !ok || p.job.signature != j.signature {
		p = &deferredMissed{job: j}
		s.deferred[name] = p
	}
	p.fires = append(p.fires, fires...)
	p.due = p.fires[len(p.fires)-1].ScheduledAt.Add(s.cfg.SettleAfter)
	s.debtMu.Unlock()
	s.kickSettle()
}

// storeAnswered says a fire of the trigger reached the store: its debt, if any, is settled as
// soon as Config.SettleAfter allows, without waiting for its backoff.
func (s *Scheduler) storeAnswered(j *fireJob) {
	s.debtMu.Lock()
	d, ok := s.debts[j.name]
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
	delete(s.deferred, name)
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
		cause        string
	}
	var ready []due
	s.debtMu.Lock()
	for name, d := range s.debts {
		if !now.Before(s.dueAt(d)) {
			ready = append(ready, due{name, d, d.since, d.until, d.cause})
		}
	}
	s.debtMu.Unlock()

	for _, r := range ready {
		if ctx.Err() != nil {
			return time.Time{}
		}
		err := s.settle(ctx, r.d.job, r.since, r.until, r.cause)
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
			s.cfg.Logger.Log(ctx, level, "settling missed fires failed; retrying", slog.String("cause", r.cause),
				slog.String("workflow_id", r.d.job.workflowID()), slog.String("trigger_id", r.d.job.triggerID()),
				slog.Int("attempts", attempts), slog.Any("error", err))
		}
	}

	s.recordDeferredDue(ctx, now)

	var next time.Time
	s.debtMu.Lock()
	defer s.debtMu.Unlock()
	for _, d := range s.debts {
		if at := s.dueAt(d); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	for _, p := range s.deferred {
		if next.IsZero() || p.due.Before(next) {
			next = p.due
		}
	}
	return next
}

// recordDeferredDue records the deferred MISSED rows due as of now; those it cannot record yet
// (the store does not answer, the fire lock is held) are tried again after SettleRetryInitial.
func (s *Scheduler) recordDeferredDue(ctx context.Context, now time.Time) {
	type due struct {
		name string
		p    *deferredMissed
		n    int // rows taken
	}
	var ready []due
	s.debtMu.Lock()
	for name, p := range s.deferred {
		if !now.Before(p.due) {
			ready = append(ready, due{name, p, len(p.fires)})
		}
	}
	s.debtMu.Unlock()
	for _, r := range ready {
		if ctx.Err() != nil {
			return
		}
		s.debtMu.Lock()
		fires := slices.Clone(r.p.fires[:r.n])
		s.debtMu.Unlock()
		recorded, err := s.recordDeferred(ctx, r.p.job, fires)
		s.debtMu.Lock()
		if cur, ok := s.deferred[r.name]; ok && cur == r.p {
			switch {
			case err != nil:
				r.p.due = s.cfg.Now().Add(s.cfg.SettleRetryInitial)
			case len(r.p.fires) > r.n:
				r.p.fires = r.p.fires[r.n:] // deferred again meanwhile: still due when they are
				r.p.due = r.p.fires[len(r.p.fires)-1].ScheduledAt.Add(s.cfg.SettleAfter)
			default:
				delete(s.deferred, r.name)
			}
		}
		s.debtMu.Unlock()
		if err != nil && ctx.Err() == nil {
			level := slog.LevelWarn
			if errors.Is(err, errSettleBusy) {
				level = slog.LevelDebug
			}
			s.cfg.Logger.Log(ctx, level, "recording fires missed while no scheduler ran failed; retrying",
				slog.String("workflow_id", r.p.job.workflowID()), slog.String("trigger_id", r.p.job.triggerID()), slog.Any("error", err))
			continue
		}
		s.cfg.Metrics.Misfire(ctx, r.p.job.workflowID(), int64(recorded))
	}
}

// recordDeferred records MISSED those of fires (one trigger's deferred rows, oldest first) whose
// times still have no execution and no ledger row, under the trigger's fire lock, as a
// settlement does: a settlement of another replica deciding the same times goes before or
// after, not in between. It returns how many it recorded.
func (s *Scheduler) recordDeferred(ctx context.Context, j *fireJob, fires []Fire) (int, error) {
	name := j.name
	if s.locker != nil {
		lease, err := s.locker.Acquire(ctx, "fire:"+name, s.cfg.FireLockTTL)
		switch {
		case err == nil:
			defer func() { _ = s.locker.Release(context.WithoutCancel(ctx), lease) }()
		case errors.Is(err, lock.ErrNotAcquired):
			return 0, errSettleBusy
		default:
			s.cfg.Logger.Warn("fire lock unavailable; recording missed fires without it", slog.String("workflow_id", j.workflowID()),
				slog.String("trigger_id", j.triggerID()), slog.Any("error", err))
		}
	}
	decided, err := s.store.FireDecided(ctx, j.workflowID(), j.triggerID(), fires[0].ScheduledAt.Add(-time.Nanosecond), fires[len(fires)-1].ScheduledAt)
	if err != nil {
		return 0, fmt.Errorf("record missed fires of %s: %w", name, err)
	}
	missed := slices.DeleteFunc(fires, func(f Fire) bool { return decided[f.ScheduledAt.UTC()] })
	if len(missed) == 0 {
		return 0, nil
	}
	if err := s.store.FireRecord(ctx, missed); err != nil {
		return 0, fmt.Errorf("record missed fires of %s: %w", name, err)
	}
	s.cfg.Logger.Info("recorded fires missed while no scheduler ran", slog.String("workflow_id", j.workflowID()),
		slog.String("trigger_id", j.triggerID()), slog.Int("missed", len(missed)), slog.Int("fired_live", len(fires)-len(missed)))
	return len(missed), nil
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
func (s *Scheduler) settle(ctx context.Context, j *fireJob, since, until time.Time, cause string) error {
	name := j.name
	if s.locker != nil {
		lease, err := s.locker.Acquire(ctx, "fire:"+name, s.cfg.FireLockTTL)
		switch {
		case err == nil:
			defer func() { _ = s.locker.Release(context.WithoutCancel(ctx), lease) }()
		case errors.Is(err, lock.ErrNotAcquired):
			return errSettleBusy
		default:
			s.cfg.Logger.Warn("fire lock unavailable; settling without it", slog.String("workflow_id", j.workflowID()),
				slog.String("trigger_id", j.triggerID()), slog.Any("error", err))
		}
	}
	d, err := s.store.DeploymentGetByWorkflow(ctx, j.workflowID())
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("settle %s: %w", name, err)
	}
	if d.Status != deployments.StatusDeployed {
		return nil
	}
	if c := cronTrigger(d, j.triggerID()); c == nil || signature(c) != j.signature {
		return nil
	}
	last, err := s.store.FireLastScheduledBefore(ctx, j.workflowID(), j.triggerID(), since)
	if err != nil {
		return fmt.Errorf("settle %s: %w", name, err)
	}
	from := last
	if d.DeployedAt.After(from) {
		from = d.DeployedAt
	}
	decided, err := s.store.FireDecided(ctx, j.workflowID(), j.triggerID(), from, until)
	if err != nil {
		return fmt.Errorf("settle %s: %w", name, err)
	}
	res, err := s.svc.catchUpFrom(ctx, d, j.triggerID(), &j.trigger, gap{last: last, until: until, now: s.cfg.Now(), cause: cause, decided: decided})
	s.cfg.Metrics.Misfire(ctx, j.workflowID(), int64(len(res.Missed)))
	if err != nil {
		return fmt.Errorf("settle %s: %w", name, err)
	}
	s.cfg.Logger.Info("settled missed fires", slog.String("cause", cause), slog.String("workflow_id", j.workflowID()),
		slog.String("trigger_id", j.triggerID()), slog.Time("since", since), slog.Time("until", until),
		slog.Int("caught_up", len(res.Fired)), slog.Int("missed", len(res.Missed)), slog.Int("decided_already", len(decided)))
	return nil
}
