package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// Bounds of the PAUSED times a resume records (see doc.go, "Paused deployments").
const (
	// MaxPausedRecords is the most PAUSED rows one trigger's resume writes: the latest ones.
	MaxPausedRecords = 1000
	// MaxPausedCount is how far the times left out are counted; beyond it the reason says
	// "more than".
	MaxPausedCount = 1_000_000
)

// Reasons of PAUSED rows.
const (
	reasonPausedLive   = "the deployment was PAUSED"
	reasonPausedResume = "the deployment was PAUSED (recorded when it was resumed)"
)

// pausedRange is the stretch of a trigger's scheduled times a catch-up after a resume records
// PAUSED: (max(last, PausedAt), DeployedAt], when the deployment was paused before it was last
// deployed. ok is false when there is none (never paused, or the ledger is past the resume).
func pausedRange(d *deployments.Deployment, last time.Time) (lo, hi time.Time, ok bool) {
	if d.PausedAt.IsZero() || !d.DeployedAt.After(d.PausedAt) {
		return time.Time{}, time.Time{}, false
	}
	lo = d.PausedAt
	if last.After(lo) {
		lo = last
	}
	return lo, d.DeployedAt, d.DeployedAt.After(lo)
}

// pausedPlan lists the scheduled times of trig in (lo, hi]: the latest maxRecords of them,
// oldest first, and how many earlier ones there are (counted up to maxCount; more says the
// count stopped there).
func pausedPlan(trig *cron.Trigger, lo, hi time.Time, maxRecords, maxCount int) (fires []cron.Fire, earlier int, more bool, err error) {
	// The latest maxRecords times: PlanMisfires' FIRE_ALL over a window that spans the
	// whole range finds them without walking it.
	plan, err := cron.PlanMisfires(trig, cron.MisfireParams{
		LastFire: lo, Now: hi, CatchUpWindow: hi.Sub(lo), Policy: policy.MisfireFireAll,
		MaxFires: maxRecords, MaxMissed: 1,
	})
	if err != nil {
		return nil, 0, false, err
	}
	fires = plan.Fire
	if !plan.FiresCapped || len(fires) == 0 {
		return fires, 0, false, nil
	}
	first := fires[0].Scheduled
	for after := lo; ; {
		f, err := trig.Next(after)
		if err != nil || !f.Scheduled.Before(first) {
			break // an expired trigger has no more times
		}
		if earlier == maxCount {
			return fires, earlier, true, nil
		}
		earlier++
		after = f.Scheduled
	}
	return fires, earlier, false, nil
}

// recordPaused records PAUSED, when d was resumed after a pause, the scheduled times of the
// trigger between the pause and the resume that no scheduler recorded (their jobs were
// removed while the deployment was paused): (max(last, PausedAt), DeployedAt], the latest
// MaxPausedRecords of them, but those that have an execution or a ledger row already. The
// ledger's unique key makes a repeat (a second replica, a second catch-up) write nothing new.
// It returns the times recorded.
func (s *Service) recordPaused(ctx context.Context, d *deployments.Deployment, triggerID string, trig *cron.Trigger, last time.Time) ([]time.Time, error) {
	lo, hi, ok := pausedRange(d, last)
	if !ok {
		return nil, nil
	}
	fires, earlier, more, err := pausedPlan(trig, lo, hi, MaxPausedRecords, MaxPausedCount)
	if err != nil {
		return nil, fmt.Errorf("record paused fires of %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	if len(fires) == 0 {
		return nil, nil
	}
	// A time that has an execution (a fire in flight at the pause whose ledger write failed) or
	// a ledger row already is left alone.
	decided, err := s.store.FireDecided(ctx, d.WorkflowID, triggerID, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("record paused fires of %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	now := s.now()
	recs := make([]Fire, 0, len(fires))
	out := make([]time.Time, 0, len(fires))
	for _, f := range fires {
		if decided[f.Scheduled.UTC()] {
			continue
		}
		recs = append(recs, Fire{
			WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: triggerID,
			NominalAt: f.Nominal, ScheduledAt: f.Scheduled, FiredAt: now,
			Outcome: OutcomePaused, Reason: reasonPausedResume,
		})
		out = append(out, f.Scheduled)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	switch {
	case more:
		recs[0].Reason = fmt.Sprintf("%s; more than %d earlier times of the pause are not recorded", reasonPausedResume, earlier)
	case earlier > 0:
		recs[0].Reason = fmt.Sprintf("%s; %d earlier times of the pause are not recorded", reasonPausedResume, earlier)
	}
	if err := s.store.FireRecord(ctx, recs); err != nil {
		return nil, fmt.Errorf("record paused fires of %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	return out, nil
}

// recordPausedFire records PAUSED for a live fire that found its deployment PAUSED at its
// first look, with the trigger it was scheduled for unchanged: a scheduler that still held the
// job when the time passed. It takes the trigger's fire lock first, as a fire does: a replica
// holding it (one that read the deployment before the pause and is firing the time) decides
// the time, and this one records nothing; the standby's second look does not record either.
// Under the lock, a time that has an execution or a ledger row already is left alone. Every
// replica that records the time writes the same row; the unique key keeps one. A failed read or
// write is logged: the resume's catch-up records the time if nothing after it is on record.
func (s *Scheduler) recordPausedFire(ctx context.Context, j *fireJob, d *deployments.Deployment, f cron.Fire) {
	if d == nil || d.Status != deployments.StatusPaused {
		return
	}
	if c := cronTrigger(d, j.triggerID()); c == nil || signature(c) != j.signature {
		return
	}
	log := s.cfg.Logger.With(slog.String("workflow_id", j.workflowID()), slog.String("trigger_id", j.triggerID()))
	if s.locker != nil {
		lease, err := s.locker.Acquire(ctx, "fire:"+j.name, s.cfg.FireLockTTL)
		switch {
		case err == nil:
			defer func() { _ = s.locker.Release(context.WithoutCancel(ctx), lease) }()
		case errors.Is(err, lock.ErrNotAcquired):
			return // another replica is deciding this time
		default:
			log.WarnContext(ctx, "fire lock unavailable; recording PAUSED without it", slog.Any("error", err))
		}
	}
	decided, err := s.store.FireDecided(ctx, j.workflowID(), j.triggerID(), f.Scheduled.Add(-time.Microsecond), f.Scheduled)
	if err != nil {
		log.WarnContext(ctx, "fire ledger read failed", slog.Any("error", err))
		return
	}
	if len(decided) > 0 {
		return
	}
	err = s.store.FireRecord(ctx, []Fire{{
		WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: j.triggerID(),
		NominalAt: f.Nominal, ScheduledAt: f.Scheduled, FiredAt: s.svc.now(),
		Outcome: OutcomePaused, Reason: reasonPausedLive,
	}})
	if err != nil {
		log.WarnContext(ctx, "fire ledger write failed", slog.Any("error", err))
	}
}
