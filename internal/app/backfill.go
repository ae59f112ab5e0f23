package app

import (
	"context"
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/internal/backfill"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// startBackfills starts the backfill operations' runner of roles api and all, leased to this
// instance (owner = the instance id, so that a takeover in the logs names the process), and
// adds it to the background parts so that Stop stops it. It returns the service the API
// answers with, wired to wake the runner for the operations this process creates.
func (a *App) startBackfills(ctx context.Context, db *store.DB, schedulerSvc *scheduler.Service, instanceID string) (*backfill.Service, error) {
	runner := backfill.NewRunner(db, schedulerSvc, backfill.RunnerConfig{
		Owner:  instanceID,
		Poll:   a.cfg.BackfillPoll,
		Logger: a.logger,
	})
	if err := runner.Start(ctx); err != nil {
		return nil, fmt.Errorf("start backfill runner: %w", err)
	}
	a.workers = append(a.workers, runner)
	return backfill.NewService(db, schedulerSvc, backfill.ServiceConfig{PageTokens: a.pageTokens(), Wake: runner.Wake}), nil
}
