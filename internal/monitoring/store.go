package monitoring

import (
	"context"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// Store is what monitoring reads and deletes. internal/store implements it for PostgreSQL and
// SQLite.
type Store interface {
	// ExecutionHistoryList returns up to p.Limit executions matching p, newest first by
	// (created_at, id), strictly older than p.After when it is set.
	ExecutionHistoryList(ctx context.Context, p *HistoryListParams) ([]*execution.Execution, error)
	// ExecutionStatsGet counts the executions created in [p.Start, p.End).
	ExecutionStatsGet(ctx context.Context, p *StatsParams) (*ExecutionStats, error)
	// DeploymentCountByStatus counts deployments (only p.DeploymentID's when set) by status.
	DeploymentCountByStatus(ctx context.Context, deploymentID string) (map[deployments.Status]int64, error)
	// CronTriggerListDeployed returns the cron triggers of DEPLOYED deployments.
	CronTriggerListDeployed(ctx context.Context) ([]CronTrigger, error)
	// CronTriggerCountDeployed counts them: those of the workflows when workflowIDs is not
	// empty.
	CronTriggerCountDeployed(ctx context.Context, workflowIDs []string) (int64, error)
	// FireStatsGet summarises the fire ledger rows scheduled in [p.Start, p.End), of p's
	// workflows when it names any.
	FireStatsGet(ctx context.Context, p *FireStatsParams) (*FireStats, error)
}

// FireStatsParams selects the fire ledger rows FireStatsGet summarises.
type FireStatsParams struct {
	// Start and End bound scheduled_at: [Start, End).
	Start, End time.Time
	// WorkflowIDs: only these workflows' rows; empty means all.
	WorkflowIDs []string
}

// FireStats summarises fire ledger rows.
type FireStats struct {
	// ByOutcome counts rows by outcome (scheduler.Outcome values: FIRED, DEDUPLICATED, MISSED,
	// CAUGHT_UP, SKIPPED, PAUSED).
	ByOutcome map[string]int64
	// LatenessP50, P95, P99 are percentiles (as Percentile) of fired_at - scheduled_at over the
	// FIRED and CAUGHT_UP rows; 0 when there is none.
	LatenessP50, LatenessP95, LatenessP99 time.Duration
}

// Position is a place in the (created_at, id) order of executions.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// IsZero reports whether p is unset.
func (p Position) IsZero() bool { return p.ID == "" }

// HistoryFilter selects executions. Zero fields select everything.
type HistoryFilter struct {
	DeploymentID string
	WorkflowID   string
	Statuses     []execution.Status
	TriggerTypes []execution.TriggerType
	// Start and End bound created_at: [Start, End). Zero means unbounded.
	Start, End time.Time
}

// HistoryListParams is one page's query.
type HistoryListParams struct {
	HistoryFilter
	// After is the last row of the previous page; zero for the first page.
	After Position
	// Limit is the most rows returned; the caller bounds it.
	Limit int
}

// StatsParams selects the executions counted by ExecutionStatsGet.
type StatsParams struct {
	// DeploymentID restricts the counts to one deployment; "" counts all.
	DeploymentID string
	// Start and End bound created_at: [Start, End).
	Start, End time.Time
}

// ExecutionStats are the counts of ExecutionStatsGet.
type ExecutionStats struct {
	ByStatus      map[execution.Status]int64
	ByTriggerType map[execution.TriggerType]int64
	// Deployments is sorted by DeploymentID.
	Deployments []DeploymentExecutionStats
}

// DeploymentExecutionStats are one deployment's execution counts over a range.
type DeploymentExecutionStats struct {
	DeploymentID string
	WorkflowID   string
	// Total counts executions created in the range.
	Total int64
	// Succeeded counts SUCCEEDED; Failed counts FAILED and TIMED_OUT.
	Succeeded, Failed int64
	// SuccessRate is Succeeded / (Succeeded + Failed); 0 when both are 0.
	SuccessRate float64
	// DurationP50, P95, P99 are percentiles (linear interpolation, as PostgreSQL's
	// percentile_cont) of finished_at - started_at over the SUCCEEDED, FAILED and TIMED_OUT
	// executions; 0 when there is none.
	DurationP50, DurationP95, DurationP99 time.Duration
}

// CronTrigger is a cron trigger of a DEPLOYED deployment.
type CronTrigger struct {
	DeploymentID string
	WorkflowID   string
	TriggerID    string
	Expression   string
	Timezone     string
	// JitterWindowSeconds: 0 is jitter off.
	JitterWindowSeconds int
	// RepeatedHour and SkippedHour are the DST policies.
	RepeatedHour policy.RepeatedHour
	SkippedHour  policy.SkippedHour
	// BlackoutCalendars names the trigger's blackout calendars, in its order.
	BlackoutCalendars []string
}
