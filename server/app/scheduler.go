package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/workflow-runtime/workflow-runtime/server/config"
	"github.com/workflow-runtime/workflow-runtime/server/execution"
	"github.com/workflow-runtime/workflow-runtime/server/scheduler"
	"github.com/workflow-runtime/workflow-runtime/server/store"
)

// schedulingService returns the scheduling service (fires, catch-up, backfill, previews, the
// fire ledger) over db and the execution service.
func (a *App) schedulingService(db *store.DB, executions *execution.Service) *scheduler.Service {
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
	})
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	a.workers = append(a.workers, s)
	a.logger.Info("scheduler started", "cron_jobs", len(s.Scheduled()))
	return nil
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
