package monitoring

import (
	"context"
	"fmt"
	"time"
)

// DefaultSchedulingRange is the range of SchedulingMetrics when the query gives no start.
const DefaultSchedulingRange = time.Hour

// SchedulingQuery asks for SchedulingMetrics.
type SchedulingQuery struct {
	// Start of the range (the fires' scheduled time). Default: End - DefaultSchedulingRange.
	Start time.Time
	// End of the range, exclusive. Default: now.
	End time.Time
	// WorkflowIDs: only these workflows' triggers and fires; empty means all.
	WorkflowIDs []string
}

// SchedulingMetrics is the answer of SchedulingMetrics.
type SchedulingMetrics struct {
	Start, End time.Time
	// ScheduledTriggers counts the cron triggers of DEPLOYED deployments now.
	ScheduledTriggers int64
	// FiresPerMinute is (Fired + CaughtUp) over the minutes of the range.
	FiresPerMinute float64
	// Lateness percentiles: fired_at - scheduled_at of FIRED and CAUGHT_UP fires.
	LatenessP50, LatenessP95, LatenessP99 time.Duration
	// Fire ledger rows by outcome.
	Fired, Deduplicated, Missed, CaughtUp, Skipped, Paused int64
}

// Fire ledger outcomes (scheduler.Outcome; repeated to keep this package off the scheduler's).
const (
	outcomeFired        = "FIRED"
	outcomeDeduplicated = "DEDUPLICATED"
	outcomeMissed       = "MISSED"
	outcomeCaughtUp     = "CAUGHT_UP"
	outcomeSkipped      = "SKIPPED"
	outcomePaused       = "PAUSED"
)

// SchedulingMetrics summarises the fire ledger over the query's range (of the query's workflows
// when it names any).
func (s *Service) SchedulingMetrics(ctx context.Context, q *SchedulingQuery) (*SchedulingMetrics, error) {
	end := q.End
	if end.IsZero() {
		end = s.now()
	}
	start := q.Start
	if start.IsZero() {
		start = end.Add(-DefaultSchedulingRange)
	}
	n, err := s.store.CronTriggerCountDeployed(ctx, q.WorkflowIDs)
	if err != nil {
		return nil, fmt.Errorf("scheduling metrics: %w", err)
	}
	fs, err := s.store.FireStatsGet(ctx, &FireStatsParams{Start: start, End: end, WorkflowIDs: q.WorkflowIDs})
	if err != nil {
		return nil, fmt.Errorf("scheduling metrics: %w", err)
	}
	m := &SchedulingMetrics{
		Start: start, End: end, ScheduledTriggers: n,
		LatenessP50: fs.LatenessP50, LatenessP95: fs.LatenessP95, LatenessP99: fs.LatenessP99,
		Fired:        fs.ByOutcome[outcomeFired],
		Deduplicated: fs.ByOutcome[outcomeDeduplicated],
		Missed:       fs.ByOutcome[outcomeMissed],
		CaughtUp:     fs.ByOutcome[outcomeCaughtUp],
		Skipped:      fs.ByOutcome[outcomeSkipped],
		Paused:       fs.ByOutcome[outcomePaused],
	}
	if minutes := end.Sub(start).Minutes(); minutes > 0 {
		m.FiresPerMinute = float64(m.Fired+m.CaughtUp) / minutes
	}
	return m, nil
}
