package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/execution"
)

// ExecutionTouchRunning implements execution.Store: ExecutionTouchDue for RUNNING rows only,
// however recently their run heartbeated. On PostgreSQL, FOR UPDATE SKIP LOCKED lets concurrent
// sweepers take disjoint rows; SQLite has one writer at a time.
func (db *DB) ExecutionTouchRunning(ctx context.Context, staleBefore, now time.Time, limit int) ([]string, error) {
	sub := db.bun.NewSelect().Model((*executionRow)(nil)).Column("id").
		Where("status = ?", execution.StatusRunning).
		Where("updated_at < ?", staleBefore.UTC()).
		OrderExpr("updated_at ASC").
		Limit(int64(limit))
	if db.dialect == DialectPostgres {
		sub = sub.For("UPDATE SKIP LOCKED")
	}
	var ids []string
	err := db.bun.NewUpdate().Model((*executionRow)(nil)).
		Set("updated_at = ?", now.UTC()).
		Where("id IN (?)", sub).
		Returning("id").
		Scan(ctx, &ids)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("touch running executions: %w", interpretError(err))
	}
	return ids, nil
}
