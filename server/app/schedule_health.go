package app

import (
	"context"
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/server/schedulehealth"
	"github.com/workflow-runtime/workflow-runtime/server/store"
)

// startScheduleHealth returns the schedule health service of the api roles (ListScheduleHealth)
// and starts its evaluator, which publishes the wfr_schedule_health_* metrics every
// WFR_SCHEDULE_HEALTH_INTERVAL; Stop stops it with the other background parts.
func (a *App) startScheduleHealth(ctx context.Context, db *store.DB) (*schedulehealth.Service, error) {
	svc := schedulehealth.NewService(db, schedulehealth.Config{Grace: a.cfg.ScheduleHealthGrace, PageTokens: a.pageTokens()})
	cfg := schedulehealth.EvaluatorConfig{Interval: a.cfg.ScheduleHealthInterval, Logger: a.logger}
	metrics, err := a.obs.provider.Metrics().ScheduleHealth()
	if err != nil {
		return nil, err
	}
	if metrics != nil {
		cfg.Recorder = metrics
	}
	ev := schedulehealth.NewEvaluator(svc, cfg)
	if err := ev.Start(ctx); err != nil {
		return nil, fmt.Errorf("start schedule health evaluator: %w", err)
	}
	a.workers = append(a.workers, ev)
	return svc, nil
}
