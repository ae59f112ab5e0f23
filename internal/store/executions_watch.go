package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/watch"
)

var _ watch.Store = (*DB)(nil)

// ExecutionListUpdated implements watch.Store: one walk of idx_executions_deployment_updated
// (deployment_id, updated_at, id) from the later of Since and the keyset bound After, stopping
// after Limit rows.
func (db *DB) ExecutionListUpdated(ctx context.Context, p *watch.UpdatedListParams) ([]*execution.Execution, error) {
	q := db.bun.NewSelect().Model((*executionRow)(nil)).
		Where("deployment_id = ?", p.DeploymentID).
		Where("updated_at >= ?", micro(p.Since)).
		OrderExpr("updated_at ASC, id ASC").
		Limit(int64(p.Limit))
	if !p.After.IsZero() {
		q = q.Where("(updated_at, id) > (?, ?)", micro(p.After.UpdatedAt), p.After.ID)
	}
	return db.listExecutions(ctx, q, "list executions of deployment %s updated since %s", p.DeploymentID, p.Since)
}

// ExecutionListUnfinished implements watch.Store: the deployment's PENDING and RUNNING rows
// (idx_executions_workflow_status_created of the deployment's workflow finds them), by id after
// AfterID.
func (db *DB) ExecutionListUnfinished(ctx context.Context, p *watch.UnfinishedListParams) ([]*execution.Execution, error) {
	q := db.bun.NewSelect().Model((*executionRow)(nil)).
		Where(workflowOfDeployment, p.DeploymentID).
		Where("status IN (?)", bun.List([]execution.Status{execution.StatusPending, execution.StatusRunning})).
		OrderExpr("id ASC").
		Limit(int64(p.Limit))
	if p.AfterID != "" {
		q = q.Where("id > ?", p.AfterID)
	}
	return db.listExecutions(ctx, q, "list unfinished executions of deployment %s", p.DeploymentID)
}

// listExecutions scans the rows q selects; what names the read in the error.
func (db *DB) listExecutions(ctx context.Context, q *bun.SelectQuery, what string, args ...any) ([]*execution.Execution, error) {
	var rows []executionRow
	if err := q.Model(&rows).Scan(ctx); err != nil {
		return nil, fmt.Errorf(what+": %w", append(args, interpretError(err))...)
	}
	out := make([]*execution.Execution, len(rows))
	for i := range rows {
		out[i] = rows[i].toExecution()
	}
	return out, nil
}
