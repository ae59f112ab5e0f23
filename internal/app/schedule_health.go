package app

import (
	"context"
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/internal/schedulehealth"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// startScheduleHealth returns the schedule health service of the api roles (ListScheduleHealth)
// and starts its evaluator, which publishes the wfr_schedule_health_* metrics every
// WFR_SCHEDULE_HEALTH_INTERVAL; Stop stops it with the other background parts.
func (a *App) startScheduleHealth(ctx context.Context, db *store.DB, schedulerSvc *scheduler.Service) (*schedulehealth.Service, error) {
	cfg := schedulehealth.Config{Grace: a.cfg.ScheduleHealthGrace, PageTokens: a.pageTokens()}
	if schedulerSvc != nil {
		cfg.Silenced = schedulerSvc.TriggerSilenced
	}
	svc := schedulehealth.NewService(db, cfg)
	evCfg := schedulehealth.EvaluatorConfig{Interval: a.cfg.ScheduleHealthInterval, Logger: a.logger}
	metrics, err := a.obs.provider.Metrics().ScheduleHealth()
	if err != nil {
		return nil, err
	}
	if metrics != nil {
		evCfg.Recorder = metrics
	}
	ev := schedulehealth.NewEvaluator(svc, evCfg)
	if err := ev.Start(ctx); err != nil {
		return nil, fmt.Errorf("start schedule health evaluator: %w", err)
	}
	a.workers = append(a.workers, ev)
	return svc, nil
}
