package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/retention"
)

var (
	_ monitoring.Store = (*DB)(nil)
	_ retention.Store  = (*DB)(nil)
)

// terminalStatuses are the statuses the janitor may delete.
var terminalStatuses = bun.List([]execution.Status{
	execution.StatusSucceeded, execution.StatusFailed, execution.StatusCancelled,
	execution.StatusTimedOut, execution.StatusSkipped,
})

// workflowOfDeployment selects the executions of one deployment (its id the one parameter)
// through the executions' workflow_id indexes. A deployment is one workflow for good
// (workflows.deployment_id is unique and never changes), so its executions are its workflow's,
// and executions has no index of its own by deployment for history, retention and stats: two
// such indexes, copies of the (workflow_id, …) ones, were about a sixth of the WAL each
// execution wrote (migration 20261204000001). The subquery is an init plan on PostgreSQL and a
// constant on SQLite: the walk is of the workflow's index either way. The deployment's changes
// feed keeps its own (deployment_id, updated_at, id) index (executions_watch.go).
const workflowOfDeployment = "workflow_id = (SELECT id FROM workflows WHERE deployment_id = ?)"

// ExecutionHistoryList implements monitoring.Store. The order (created_at DESC, id DESC) and the
// keyset bound "(created_at, id) < (after)" as a row comparison let both dialects walk one of
// the (…, created_at DESC, id DESC) indexes from the bound and stop after Limit rows, however
// deep the page (see migrations 000001 and 000003 for the indexes). Several statuses become one
// branch per status, each walking (workflow_id|·, status, created_at DESC, …) for
// at most Limit rows, merged by a UNION ALL: an IN list on the middle column of an index would
// otherwise read and sort every matching row.
//
// On PostgreSQL the statement is prepared (historyPostgres): its plan holds an index scan per
// partition, and planning it took ten times as long as running it.
func (db *DB) ExecutionHistoryList(ctx context.Context, p *monitoring.HistoryListParams) ([]*execution.Execution, error) {
	var rows []executionRow
	var err error
	if db.dialect == DialectPostgres {
		err = db.historyPostgres(ctx, p, &rows)
	} else if len(p.Statuses) > 1 {
		branches := make([]string, len(p.Statuses))
		args := make([]any, 0, len(p.Statuses)+1)
		for i, s := range p.Statuses {
			branches[i] = fmt.Sprintf("SELECT * FROM (?) AS b%d", i)
			args = append(args, db.historyQuery(p, s))
		}
		args = append(args, p.Limit)
		err = db.bun.NewRaw("SELECT * FROM ("+strings.Join(branches, " UNION ALL ")+
			") AS executions ORDER BY created_at DESC, id DESC LIMIT ?", args...).Scan(ctx, &rows)
	} else {
		var status execution.Status
		if len(p.Statuses) == 1 {
			status = p.Statuses[0]
		}
		err = db.historyQuery(p, status).Model(&rows).Scan(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("list execution history: %w", interpretError(err))
	}
	out := make([]*execution.Execution, len(rows))
	for i := range rows {
		out[i] = rows[i].toExecution()
	}
	return out, nil
}

// historyQuery selects one page of p with status (all when "").
func (db *DB) historyQuery(p *monitoring.HistoryListParams, status execution.Status) *bun.SelectQuery {
	q := db.bun.NewSelect().Model((*executionRow)(nil)).
		OrderExpr("created_at DESC, id DESC").
		Limit(int64(p.Limit))
	if p.DeploymentID != "" {
		q = q.Where(workflowOfDeployment, p.DeploymentID)
	}
	if p.WorkflowID != "" {
		q = q.Where("workflow_id = ?", p.WorkflowID)
	}
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if len(p.TriggerTypes) == 1 {
		q = q.Where("trigger_type = ?", p.TriggerTypes[0])
	} else if len(p.TriggerTypes) > 1 {
		q = q.Where("trigger_type IN (?)", bun.List(p.TriggerTypes))
	}
	if !p.Start.IsZero() {
		q = q.Where("created_at >= ?", micro(p.Start))
	}
	if !p.End.IsZero() {
		q = q.Where("created_at < ?", micro(p.End))
	}
	if !p.After.IsZero() {
		q = q.Where("(created_at, id) < (?, ?)", micro(p.After.CreatedAt), p.After.ID)
	}
	return q
}

// historyPostgres is ExecutionHistoryList's statement on PostgreSQL: the same query, its
// values as parameters of a prepared statement (queryPrepared). Its text depends only on which
// filters are set, how many statuses and trigger types there are and the page size, so a few
// texts serve every call.
func (db *DB) historyPostgres(ctx context.Context, p *monitoring.HistoryListParams, rows *[]executionRow) error {
	var args pgParams
	var where []string
	if p.DeploymentID != "" {
		where = append(where, strings.Replace(workflowOfDeployment, "?", args.add(p.DeploymentID), 1))
	}
	if p.WorkflowID != "" {
		where = append(where, "workflow_id = "+args.add(p.WorkflowID))
	}
	if len(p.TriggerTypes) == 1 {
		where = append(where, "trigger_type = "+args.add(string(p.TriggerTypes[0])))
	} else if len(p.TriggerTypes) > 1 {
		types := make([]string, len(p.TriggerTypes))
		for i, t := range p.TriggerTypes {
			types[i] = string(t)
		}
		where = append(where, "trigger_type = ANY("+args.add(types)+"::text[])")
	}
	if !p.Start.IsZero() {
		where = append(where, "created_at >= "+args.add(micro(p.Start)))
	}
	if !p.End.IsZero() {
		where = append(where, "created_at < "+args.add(micro(p.End)))
	}
	if !p.After.IsZero() {
		where = append(where, "(created_at, id) < ("+args.add(micro(p.After.CreatedAt))+", "+args.add(p.After.ID)+"::uuid)")
	}
	// The limit is in the text, not a parameter: a generic plan of LIMIT $n assumes a tenth of
	// the rows, and at millions of rows its cost then passes jit_above_cost, so every call
	// compiled the plan's expressions (20 ms, against 0.1 ms to run, at 10,000,000 rows). The
	// page sizes are few, and so are the texts.
	limit := strconv.Itoa(p.Limit)
	branch := func(status string) string {
		w := where
		if status != "" {
			w = append(slices.Clip(w), "status = "+status)
		}
		q := "SELECT " + executionColumns + " FROM executions"
		if len(w) > 0 {
			q += " WHERE " + strings.Join(w, " AND ")
		}
		return q + " ORDER BY created_at DESC, id DESC LIMIT " + limit
	}
	var query string
	switch len(p.Statuses) {
	case 0:
		query = branch("")
	case 1:
		query = branch(args.add(string(p.Statuses[0])))
	default:
		branches := make([]string, len(p.Statuses))
		for i, s := range p.Statuses {
			branches[i] = fmt.Sprintf("SELECT * FROM (%s) AS b%d", branch(args.add(string(s))), i)
		}
		query = "SELECT * FROM (" + strings.Join(branches, " UNION ALL ") + ") AS executions ORDER BY created_at DESC, id DESC LIMIT " + limit
	}
	return db.scanPrepared(ctx, rows, query, args)
}

// RetentionTargetList implements retention.Store.
func (db *DB) RetentionTargetList(ctx context.Context) ([]retention.Target, error) {
	var rows []workflowRow
	err := db.bun.NewSelect().Model(&rows).
		Column("id", "deployment_id", "deployment_config").
		OrderExpr("id ASC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list deployments for retention: %w", interpretError(err))
	}
	out := make([]retention.Target, len(rows))
	for i, r := range rows {
		out[i] = retention.Target{DeploymentID: r.DeploymentID, WorkflowID: r.ID}
		if r.DeploymentConfig != "" {
			if err := json.Unmarshal([]byte(r.DeploymentConfig), &out[i].Config); err != nil {
				return nil, fmt.Errorf("decode deployment_config of workflow %s: %w", r.ID, err)
			}
		}
	}
	return out, nil
}

// ExecutionKeepCutoff implements retention.Store: one step down the
// (workflow_id, created_at DESC, id DESC) index of the deployment's workflow, keepLast-1 entries
// deep.
func (db *DB) ExecutionKeepCutoff(ctx context.Context, deploymentID string, keepLast int) (retention.Position, bool, error) {
	var row executionRow
	err := db.bun.NewSelect().Model(&row).
		Column("created_at", "id").
		Where(workflowOfDeployment, deploymentID).
		OrderExpr("created_at DESC, id DESC").
		Offset(int64(keepLast - 1)).
		Limit(1).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return retention.Position{}, false, nil
	}
	if err != nil {
		return retention.Position{}, false, fmt.Errorf("find the %dth newest execution of deployment %s: %w", keepLast, deploymentID, interpretError(err))
	}
	return retention.Position{CreatedAt: utc(row.CreatedAt), ID: row.ID}, true, nil
}

// ExecutionDeleteExpired implements retention.Store. The subquery picks at most Limit
// ids (oldest first), so the DELETE locks no more rows than that.
func (db *DB) ExecutionDeleteExpired(ctx context.Context, p *retention.DeleteExpiredParams) (int64, error) {
	sub := db.bun.NewSelect().Model((*executionRow)(nil)).Column("id").
		Where(workflowOfDeployment, p.DeploymentID).
		Where("status IN (?)", terminalStatuses).
		Where("created_at < ?", micro(p.CreatedBefore)).
		OrderExpr("created_at ASC, id ASC").
		Limit(int64(p.Limit))
	if !p.KeepFrom.IsZero() {
		sub = sub.Where("(created_at, id) < (?, ?)", micro(p.KeepFrom.CreatedAt), p.KeepFrom.ID)
	}
	res, err := db.bun.NewDelete().Model((*executionRow)(nil)).Where("id IN (?)", sub).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired executions of deployment %s: %w", p.DeploymentID, interpretError(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// FireDeleteExpired implements retention.Store: rows written (created_at) before
// before, oldest first, through the (deployment_id, created_at, id) index of fire_ledger
// (20261201000001). Not by scheduled_at: a backfill of an old range writes rows whose scheduled
// times are older than the retention age, and they must live as long as any other.
func (db *DB) FireDeleteExpired(ctx context.Context, deploymentID string, before time.Time, limit int) (int64, error) {
	sub := db.bun.NewSelect().Model((*fireRow)(nil)).Column("id").
		Where("deployment_id = ?", deploymentID).
		Where("created_at < ?", micro(before)).
		OrderExpr("created_at ASC, id ASC").
		Limit(int64(limit))
	res, err := db.bun.NewDelete().Model((*fireRow)(nil)).Where("id IN (?)", sub).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired fires of deployment %s: %w", deploymentID, interpretError(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}
