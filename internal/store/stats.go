package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
)

// finishedStatuses are the runs whose duration counts in the percentiles, and whose outcome
// counts in the success rate.
var finishedStatuses = bun.List([]execution.Status{execution.StatusSucceeded, execution.StatusFailed, execution.StatusTimedOut})

// DeploymentCountByStatus implements monitoring.Store.
func (db *DB) DeploymentCountByStatus(ctx context.Context, deploymentID string) (map[deployments.Status]int64, error) {
	var rows []struct {
		Status string `bun:"deployment_status"`
		Count  int64  `bun:"count"`
	}
	q := db.bun.NewSelect().Model((*workflowRow)(nil)).
		ColumnExpr("deployment_status, count(*) AS count").
		GroupExpr("deployment_status")
	if deploymentID != "" {
		q = q.Where("deployment_id = ?", deploymentID)
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count deployments by status: %w", interpretError(err))
	}
	out := make(map[deployments.Status]int64, len(rows))
	for _, r := range rows {
		out[deployments.Status(r.Status)] = r.Count
	}
	return out, nil
}

// ExecutionStatsGet implements monitoring.Store with two statements over the created_at range:
// counts grouped by (deployment, status, trigger type), and the run-time percentiles per
// deployment. The percentiles are percentile_cont on PostgreSQL; on SQLite, which has none, the
// durations are read in order and interpolated the same way in Go (monitoring.Percentile).
func (db *DB) ExecutionStatsGet(ctx context.Context, p *monitoring.StatsParams) (*monitoring.ExecutionStats, error) {
	var counts []struct {
		DeploymentID string `bun:"deployment_id"`
		WorkflowID   string `bun:"workflow_id"`
		Status       string `bun:"status"`
		TriggerType  string `bun:"trigger_type"`
		Count        int64  `bun:"count"`
	}
	q := db.bun.NewSelect().Model((*executionRow)(nil)).
		ColumnExpr("deployment_id, workflow_id, status, trigger_type, count(*) AS count").
		GroupExpr("deployment_id, workflow_id, status, trigger_type")
	q = statsRange(q, p)
	if err := q.Scan(ctx, &counts); err != nil {
		return nil, fmt.Errorf("count executions: %w", interpretError(err))
	}
	out := &monitoring.ExecutionStats{
		ByStatus:      map[execution.Status]int64{},
		ByTriggerType: map[execution.TriggerType]int64{},
	}
	byDeployment := map[string]*monitoring.DeploymentExecutionStats{}
	for _, c := range counts {
		out.ByStatus[execution.Status(c.Status)] += c.Count
		out.ByTriggerType[execution.TriggerType(c.TriggerType)] += c.Count
		d := byDeployment[c.DeploymentID]
		if d == nil {
			d = &monitoring.DeploymentExecutionStats{DeploymentID: c.DeploymentID, WorkflowID: c.WorkflowID}
			byDeployment[c.DeploymentID] = d
		}
		d.Total += c.Count
		switch execution.Status(c.Status) {
		case execution.StatusSucceeded:
			d.Succeeded += c.Count
		case execution.StatusFailed, execution.StatusTimedOut:
			d.Failed += c.Count
		}
	}

	var err error
	if db.dialect == DialectPostgres {
		err = db.percentilesPostgres(ctx, p, byDeployment)
	} else {
		err = db.percentilesInGo(ctx, p, byDeployment)
	}
	if err != nil {
		return nil, err
	}
	for _, d := range byDeployment {
		d.SuccessRate = monitoring.SuccessRate(d.Succeeded, d.Failed)
		out.Deployments = append(out.Deployments, *d)
	}
	slices.SortFunc(out.Deployments, func(a, b monitoring.DeploymentExecutionStats) int {
		return cmp.Compare(a.DeploymentID, b.DeploymentID)
	})
	return out, nil
}

func statsRange[Q interface {
	Where(string, ...any) Q
}](q Q, p *monitoring.StatsParams) Q {
	q = q.Where("created_at >= ?", micro(p.Start)).Where("created_at < ?", micro(p.End))
	if p.DeploymentID != "" {
		q = q.Where(workflowOfDeployment, p.DeploymentID)
	}
	return q
}

func (db *DB) percentilesPostgres(ctx context.Context, p *monitoring.StatsParams, into map[string]*monitoring.DeploymentExecutionStats) error {
	var rows []struct {
		DeploymentID string   `bun:"deployment_id"`
		P50          *float64 `bun:"p50"`
		P95          *float64 `bun:"p95"`
		P99          *float64 `bun:"p99"`
	}
	const seconds = "extract(epoch FROM finished_at - started_at)::float8"
	q := db.bun.NewSelect().Model((*executionRow)(nil)).
		ColumnExpr("deployment_id").
		ColumnExpr("percentile_cont(0.5) WITHIN GROUP (ORDER BY "+seconds+") AS p50").
		ColumnExpr("percentile_cont(0.95) WITHIN GROUP (ORDER BY "+seconds+") AS p95").
		ColumnExpr("percentile_cont(0.99) WITHIN GROUP (ORDER BY "+seconds+") AS p99").
		Where("status IN (?)", finishedStatuses).
		Where("started_at IS NOT NULL").
		Where("finished_at IS NOT NULL").
		GroupExpr("deployment_id")
	q = statsRange(q, p)
	if err := q.Scan(ctx, &rows); err != nil {
		return fmt.Errorf("execution run-time percentiles: %w", interpretError(err))
	}
	for _, r := range rows {
		d := into[r.DeploymentID]
		if d == nil {
			continue
		}
		d.DurationP50, d.DurationP95, d.DurationP99 = seconds2duration(r.P50), seconds2duration(r.P95), seconds2duration(r.P99)
	}
	return nil
}

func (db *DB) percentilesInGo(ctx context.Context, p *monitoring.StatsParams, into map[string]*monitoring.DeploymentExecutionStats) error {
	var rows []struct {
		DeploymentID string    `bun:"deployment_id"`
		StartedAt    time.Time `bun:"started_at"`
		FinishedAt   time.Time `bun:"finished_at"`
	}
	q := db.bun.NewSelect().Model((*executionRow)(nil)).
		Column("deployment_id", "started_at", "finished_at").
		Where("status IN (?)", finishedStatuses).
		Where("started_at IS NOT NULL").
		Where("finished_at IS NOT NULL")
	q = statsRange(q, p)
	if err := q.Scan(ctx, &rows); err != nil {
		return fmt.Errorf("execution run times: %w", interpretError(err))
	}
	durations := map[string][]float64{}
	for _, r := range rows {
		durations[r.DeploymentID] = append(durations[r.DeploymentID], r.FinishedAt.Sub(r.StartedAt).Seconds())
	}
	for id, ds := range durations {
		d := into[id]
		if d == nil {
			continue
		}
		slices.Sort(ds)
		p50, p95, p99 := monitoring.Percentile(ds, 0.5), monitoring.Percentile(ds, 0.95), monitoring.Percentile(ds, 0.99)
		d.DurationP50, d.DurationP95, d.DurationP99 = seconds2duration(&p50), seconds2duration(&p95), seconds2duration(&p99)
	}
	return nil
}

// seconds2duration rounds seconds to the microsecond both dialects keep.
func seconds2duration(s *float64) time.Duration {
	if s == nil {
		return 0
	}
	return time.Duration(math.Round(*s*1e6)) * time.Microsecond
}

// CronTriggerListDeployed implements monitoring.Store.
func (db *DB) CronTriggerListDeployed(ctx context.Context) ([]monitoring.CronTrigger, error) {
	var rows []struct {
		DeploymentID        string  `bun:"deployment_id"`
		WorkflowID          string  `bun:"workflow_id"`
		ID                  string  `bun:"id"`
		CronExpression      *string `bun:"cron_expression"`
		Timezone            *string `bun:"timezone"`
		JitterWindowSeconds int64   `bun:"jitter_window_seconds"`
		RepeatedHour        string  `bun:"repeated_hour"`
		SkippedHour         string  `bun:"skipped_hour"`
	}
	err := db.bun.NewSelect().
		TableExpr("triggers AS t").
		Join("JOIN workflows AS w ON w.id = t.workflow_id").
		ColumnExpr("w.deployment_id, t.workflow_id, t.id, t.cron_expression, t.timezone").
		ColumnExpr("t.jitter_window_seconds, t.repeated_hour, t.skipped_hour").
		Where("t.kind = ?", kindCron).
		Where("w.deployment_status = ?", deployments.StatusDeployed).
		OrderExpr("t.workflow_id ASC, t.id ASC").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("list deployed cron triggers: %w", interpretError(err))
	}
	out := make([]monitoring.CronTrigger, len(rows))
	for i, r := range rows {
		repeated, skipped, err := dstPolicies(r.RepeatedHour, r.SkippedHour)
		if err != nil {
			return nil, fmt.Errorf("list deployed cron triggers: trigger %s of workflow %s: %w", r.ID, r.WorkflowID, err)
		}
		out[i] = monitoring.CronTrigger{
			DeploymentID:        r.DeploymentID,
			WorkflowID:          r.WorkflowID,
			TriggerID:           r.ID,
			Expression:          deref(r.CronExpression),
			Timezone:            deref(r.Timezone),
			JitterWindowSeconds: int(r.JitterWindowSeconds),
			RepeatedHour:        repeated,
			SkippedHour:         skipped,
		}
	}
	if err := setCronTriggerCalendars(ctx, db.bun, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CronTriggerCountDeployed implements monitoring.Store.
func (db *DB) CronTriggerCountDeployed(ctx context.Context, workflowIDs []string) (int64, error) {
	var n int64
	q := db.bun.NewSelect().
		TableExpr("triggers AS t").
		Join("JOIN workflows AS w ON w.id = t.workflow_id").
		ColumnExpr("count(*)").
		Where("t.kind = ?", kindCron).
		Where("w.deployment_status = ?", deployments.StatusDeployed)
	if len(workflowIDs) > 0 {
		q = q.Where("t.workflow_id IN (?)", bun.List(workflowIDs))
	}
	err := q.Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("count deployed cron triggers: %w", interpretError(err))
	}
	return n, nil
}

// firedOutcomes are the fire ledger outcomes whose lateness counts.
var firedOutcomes = bun.List([]string{"FIRED", "CAUGHT_UP"})

// FireStatsGet implements monitoring.Store through idx_fire_ledger_scheduled_id
// (20261201000001; the unique key's (workflow_id, ...) when it names workflows): counts by
// outcome, and lateness percentiles (percentile_cont on PostgreSQL, monitoring.Percentile on
// SQLite).
func (db *DB) FireStatsGet(ctx context.Context, p *monitoring.FireStatsParams) (*monitoring.FireStats, error) {
	start, end := p.Start, p.End
	inWorkflows := func(q *bun.SelectQuery) *bun.SelectQuery {
		if len(p.WorkflowIDs) > 0 {
			q = q.Where("workflow_id IN (?)", bun.List(p.WorkflowIDs))
		}
		return q
	}
	var counts []struct {
		Outcome string `bun:"outcome"`
		Count   int64  `bun:"count"`
	}
	err := db.bun.NewSelect().Model((*fireRow)(nil)).
		ColumnExpr("outcome, count(*) AS count").
		Where("scheduled_at >= ?", micro(start)).
		Where("scheduled_at < ?", micro(end)).
		Apply(inWorkflows).
		GroupExpr("outcome").
		Scan(ctx, &counts)
	if err != nil {
		return nil, fmt.Errorf("count fires: %w", interpretError(err))
	}
	out := &monitoring.FireStats{ByOutcome: map[string]int64{}}
	for _, c := range counts {
		out.ByOutcome[c.Outcome] = c.Count
	}
	lateness := db.bun.NewSelect().Model((*fireRow)(nil)).
		Where("scheduled_at >= ?", micro(start)).
		Where("scheduled_at < ?", micro(end)).
		Where("outcome IN (?)", firedOutcomes).
		Apply(inWorkflows)
	if db.dialect == DialectPostgres {
		var p struct {
			P50 *float64 `bun:"p50"`
			P95 *float64 `bun:"p95"`
			P99 *float64 `bun:"p99"`
		}
		const seconds = "extract(epoch FROM fired_at - scheduled_at)::float8"
		err := lateness.
			ColumnExpr("percentile_cont(0.5) WITHIN GROUP (ORDER BY "+seconds+") AS p50").
			ColumnExpr("percentile_cont(0.95) WITHIN GROUP (ORDER BY "+seconds+") AS p95").
			ColumnExpr("percentile_cont(0.99) WITHIN GROUP (ORDER BY "+seconds+") AS p99").
			Scan(ctx, &p)
		if err != nil {
			return nil, fmt.Errorf("fire lateness percentiles: %w", interpretError(err))
		}
		out.LatenessP50, out.LatenessP95, out.LatenessP99 = seconds2duration(p.P50), seconds2duration(p.P95), seconds2duration(p.P99)
		return out, nil
	}
	var rows []struct {
		ScheduledAt time.Time `bun:"scheduled_at"`
		FiredAt     time.Time `bun:"fired_at"`
	}
	if err := lateness.Column("scheduled_at", "fired_at").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("fire lateness: %w", interpretError(err))
	}
	ls := make([]float64, len(rows))
	for i, r := range rows {
		ls[i] = r.FiredAt.Sub(r.ScheduledAt).Seconds()
	}
	slices.Sort(ls)
	if len(ls) > 0 {
		p50, p95, p99 := monitoring.Percentile(ls, 0.5), monitoring.Percentile(ls, 0.95), monitoring.Percentile(ls, 0.99)
		out.LatenessP50, out.LatenessP95, out.LatenessP99 = seconds2duration(&p50), seconds2duration(&p95), seconds2duration(&p99)
	}
	return out, nil
}
