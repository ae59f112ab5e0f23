package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// ExecutionLastSuccessNominal implements execution.WatermarkStore: one backward step of the
// partial index idx_executions_trigger_succeeded_nominal (workflow_id, trigger_id, nominal_at)
// WHERE status = 'SUCCEEDED'. The predicate is written as a literal so that the planner matches
// it to the index's.
func (db *DB) ExecutionLastSuccessNominal(ctx context.Context, workflowID, triggerID string, before time.Time) (time.Time, bool, error) {
	var got time.Time
	err := db.lastSuccessQuery(workflowID, triggerID, before).Scan(ctx, &got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("read the last success of %s/%s: %w", workflowID, triggerID, interpretError(err))
	}
	return got.UTC(), true, nil
}

func (db *DB) lastSuccessQuery(workflowID, triggerID string, before time.Time) *bun.SelectQuery {
	return db.bun.NewSelect().Model((*executionRow)(nil)).Column("nominal_at").
		Where("workflow_id = ?", workflowID).
		Where("trigger_id = ?", triggerID).
		Where("status = 'SUCCEEDED'").
		Where("nominal_at < ?", micro(before)).
		OrderExpr("nominal_at DESC").
		Limit(1)
}
