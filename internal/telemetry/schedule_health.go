package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScheduleHealthMetrics are the schedule health evaluator's instruments (internal/schedulehealth).
// A nil *ScheduleHealthMetrics records nothing.
type ScheduleHealthMetrics struct {
	triggers metric.Int64Gauge
	owed     metric.Int64Gauge
	overdue  metric.Int64Counter
}

// ScheduleHealth creates the schedule health instruments: wfr_schedule_health_triggers{state},
// wfr_schedule_health_owed_fires and wfr_schedule_health_overdue_fires_total. Nil for a nil m.
func (m *Metrics) ScheduleHealth() (*ScheduleHealthMetrics, error) {
	if m == nil {
		return nil, nil
	}
	var (
		s   = &ScheduleHealthMetrics{}
		err error
		e   error
	)
	s.triggers, e = m.meter.Int64Gauge("wfr.schedule_health.triggers",
		metric.WithDescription("Cron triggers of DEPLOYED or PAUSED deployments per schedule health state (ON_TIME, LATE, OVERDUE, SILENT, PAUSED)."),
		metric.WithUnit("{trigger}"))
	err = firstErr(err, e)
	s.owed, e = m.meter.Int64Gauge("wfr.schedule_health.owed_fires",
		metric.WithDescription("Scheduled times owed and not settled in the fire ledger, over every trigger (each counted up to 100000)."),
		metric.WithUnit("{fire}"))
	err = firstErr(err, e)
	s.overdue, e = m.meter.Int64Counter("wfr.schedule_health.overdue_fires",
		metric.WithDescription("Scheduled times found owed, each counted once."), metric.WithUnit("{fire}"))
	err = firstErr(err, e)
	if err != nil {
		return nil, fmt.Errorf("create schedule health instruments: %w", err)
	}
	return s, nil
}

// Record sets the gauges to one evaluation's figures (triggers per state name, owed fires) and
// adds the newly overdue fires to the counter.
func (s *ScheduleHealthMetrics) Record(ctx context.Context, triggers map[string]int64, owed, newlyOverdue int64) {
	if s == nil {
		return
	}
	for state, n := range triggers {
		s.triggers.Record(ctx, n, metric.WithAttributes(attribute.String("state", state)))
	}
	s.owed.Record(ctx, owed)
	if newlyOverdue > 0 {
		s.overdue.Add(ctx, newlyOverdue)
	}
}
