package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// schedulerService returns the scheduler's Service (fires, catch-up, backfill, previews, the
// fire ledger) over db and the execution service.
func (a *App) schedulerService(db *store.DB, executions *execution.Service) *scheduler.Service {
	return scheduler.NewService(db, executions, scheduler.ServiceConfig{
		Logger:           a.logger,
		PageTokens:       a.pageTokens(),
		MaxBackfill:      a.cfg.MaxBackfill,
		MaxBackfillRange: a.cfg.MaxBackfillRange,
		Blackouts:        db,
	})
}

// startScheduler starts the scheduler role's part in roles all and scheduler, and adds it to
// the background parts so that Stop stops it (first: it starts last).
func (a *App) startScheduler(ctx context.Context, svc *scheduler.Service) error {
	if a.cfg.Role != config.RoleAll && a.cfg.Role != config.RoleScheduler {
		return nil
	}
	s := scheduler.New(svc, a.db, a.backends.locker, a.backends.notifier, scheduler.Config{
		Logger:         a.logger,
		Metrics:        a.obs.provider.Metrics(),
		TracerProvider: a.tracerProvider(),
		Sharding:       a.schedulerSharding(),
	})
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	a.workers = append(a.workers, s)
	a.logger.Info("scheduler started", "cron_jobs", len(s.Scheduled()))
	return nil
}

// schedulerSharding shares the cron triggers among the live schedulers of the shared instance
// registry (WFR_SCHEDULER_SHARDING); nil, every trigger, without Redis (one scheduler) or with
// sharding off.
func (a *App) schedulerSharding() *scheduler.Sharding {
	if a.redis == nil || !a.cfg.SchedulerSharding {
		return nil
	}
	return &scheduler.Sharding{
		Self:     a.registry.Self().ID,
		Members:  a.liveSchedulers,
		Interval: a.registry.Interval(),
	}
}

// liveSchedulers returns the instance ids of the live processes that run a scheduler.
func (a *App) liveSchedulers(ctx context.Context) ([]string, error) {
	list, err := a.registry.List(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, in := range list {
		if r := config.Role(in.Role); r == config.RoleAll || r == config.RoleScheduler {
			ids = append(ids, in.ID)
		}
	}
	return ids, nil
}

// publishChange is the deployment service's OnChange: it tells every scheduler (this process's
// and the other replicas') that a workflow's deployment changed. A lost notification costs at
// most one resync interval.
func (a *App) publishChange(ctx context.Context, workflowID string) {
	if err := a.backends.notifier.Publish(ctx, scheduler.ChangedChannel, workflowID); err != nil {
		a.logger.WarnContext(ctx, "deployment change notification failed; schedulers learn of it at their next resync",
			slog.String("workflow_id", workflowID), slog.Any("error", err))
	}
}
