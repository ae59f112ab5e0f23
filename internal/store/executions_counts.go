package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// Reads of one workflow's executions as a whole, for the bench command (internal/bench), which
// counts and times the executions of its own workflow on the service's database instead of
// asking the API. Each is one plain statement on the workflow's index.

// ExecutionCountTerminalStatement is how the statement ExecutionCountTerminal sends begins, as
// pg_stat_statements shows it: a caller that counts the statements of the service leaves its
// own out by it.
const ExecutionCountTerminalStatement = "SELECT count(*) FROM executions WHERE workflow_id ="

// ExecutionCountTerminal counts the workflow's executions in a terminal status (history.go's
// terminalStatuses).
func (db *DB) ExecutionCountTerminal(ctx context.Context, workflowID string) (int, error) {
	var n int
	err := db.bun.NewRaw(ExecutionCountTerminalStatement+" ? AND status IN (?)", workflowID, terminalStatuses).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("count finished executions of %s: %w", workflowID, interpretError(err))
	}
	return n, nil
}

// ExecutionCountUnfinished counts the workflow's executions created at or after createdSince
// that are PENDING or RUNNING: a walk of the (workflow_id, status, created_at) index over those
// two statuses alone, so that a caller polling until a run is done costs the database little
// however many rows have finished (ExecutionCountByStatus walks them all).
func (db *DB) ExecutionCountUnfinished(ctx context.Context, workflowID string, createdSince time.Time) (int, error) {
	var n int
	err := db.bun.NewRaw("SELECT count(*) FROM executions WHERE workflow_id = ? AND status IN (?) AND created_at >= ?",
		workflowID, bun.List([]execution.Status{execution.StatusPending, execution.StatusRunning}), createdSince.UTC()).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("count unfinished executions of %s: %w", workflowID, interpretError(err))
	}
	return n, nil
}

// ExecutionCountByStatus counts the workflow's executions by status: those created at or after
// createdSince, or all of them when it is zero.
func (db *DB) ExecutionCountByStatus(ctx context.Context, workflowID string, createdSince time.Time) (map[execution.Status]int, error) {
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	q := db.bun.NewRaw("SELECT status, count(*) AS n FROM executions WHERE workflow_id = ? GROUP BY status", workflowID)
	if !createdSince.IsZero() {
		q = db.bun.NewRaw("SELECT status, count(*) AS n FROM executions WHERE workflow_id = ? AND created_at >= ? GROUP BY status",
			workflowID, createdSince.UTC())
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count executions of %s by status: %w", workflowID, interpretError(err))
	}
	out := make(map[execution.Status]int, len(rows))
	for _, r := range rows {
		out[execution.Status(r.Status)] = r.N
	}
	return out, nil
}

// ExecutionTiming is when one execution was created, started and finished.
type ExecutionTiming struct {
	ID        string
	Status    execution.Status
	CreatedAt time.Time
	// StartedAt and FinishedAt are zero until the execution started, finished.
	StartedAt  time.Time
	FinishedAt time.Time
}

// ExecutionTimings returns the timings of the workflow's executions created at or after
// createdSince, in no particular order.
func (db *DB) ExecutionTimings(ctx context.Context, workflowID string, createdSince time.Time) ([]ExecutionTiming, error) {
	var rows []struct {
		ID         string       `bun:"id"`
		Status     string       `bun:"status"`
		CreatedAt  time.Time    `bun:"created_at"`
		StartedAt  bun.NullTime `bun:"started_at"`
		FinishedAt bun.NullTime `bun:"finished_at"`
	}
	err := db.bun.NewRaw("SELECT id, status, created_at, started_at, finished_at FROM executions WHERE workflow_id = ? AND created_at >= ?",
		workflowID, createdSince.UTC()).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read execution times of %s: %w", workflowID, interpretError(err))
	}
	out := make([]ExecutionTiming, len(rows))
	for i, r := range rows {
		out[i] = ExecutionTiming{ID: r.ID, Status: execution.Status(r.Status), CreatedAt: r.CreatedAt, StartedAt: r.StartedAt.Time, FinishedAt: r.FinishedAt.Time}
	}
	return out, nil
}
