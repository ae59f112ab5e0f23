package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/retention"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// monitoringParts are the monitoring RPCs' service and the retention janitor of one process.
type monitoringParts struct {
	// service answers GetExecutionHistory, GetDeploymentStats, GetSchedulingMetrics,
	// GetJitterDistribution and GetLoadDistribution.
	service *monitoring.Service
	// janitor deletes expired executions and fire ledger rows; a lifecycle (Start/Stop).
	janitor *retention.Janitor
}

// newMonitoring builds the monitoring parts over db with their defaults: history pages of 50
// (at most 1000), the janitor every 10 minutes keeping 30 days and at least the last 100
// executions per deployment (per-deployment overrides: deployment_config retention_age and
// retention_keep_last), 500 rows per DELETE, partitions of partitionPeriod (PostgreSQL). onPass,
// when not nil, receives each janitor pass's counts (metrics).
func newMonitoring(db *store.DB, logger *slog.Logger, onPass func(retention.JanitorResult), tokens *pagetoken.Codec, partitionPeriod time.Duration) *monitoringParts {
	return &monitoringParts{
		service: monitoring.NewService(db, monitoring.ServiceConfig{Logger: logger, PageTokens: tokens, Calendars: db}),
		janitor: retention.NewJanitor(db, retention.JanitorConfig{Logger: logger, OnPass: onPass, PartitionPeriod: partitionPeriod}),
	}
}

// janitorMetrics counts each janitor pass's deletions.
func (a *App) janitorMetrics(r retention.JanitorResult) {
	m := a.obs.provider.Metrics()
	ctx := context.Background()
	m.JanitorDeleted(ctx, "executions", r.ExecutionsDeleted)
	m.JanitorDeleted(ctx, "fire_ledger", r.FiresDeleted)
}
