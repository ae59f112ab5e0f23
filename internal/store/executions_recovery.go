package store

import (
	"context"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// ExecutionTouchRunning implements execution.SweeperStore: ExecutionTouchDue for RUNNING rows
// only, however recently their run heartbeated. On PostgreSQL, FOR UPDATE SKIP LOCKED lets
// concurrent sweepers take disjoint rows; SQLite has one writer at a time.
func (db *DB) ExecutionTouchRunning(ctx context.Context, staleBefore, now time.Time, limit int) ([]string, error) {
	sub := db.bun.NewSelect().Model((*executionRow)(nil)).Column("id").
		Where("status = ?", execution.StatusRunning).
		Where("updated_at < ?", staleBefore.UTC()).
		OrderExpr("updated_at ASC").
		Limit(int64(limit))
	return db.touch(ctx, sub, now, "touch running executions")
}
