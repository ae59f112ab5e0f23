package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/backfill"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

var (
	_ backfill.Store            = (*DB)(nil)
	_ scheduler.ExecutionLookup = (*DB)(nil)
)

// backfillRow is a row of backfill_operations.
type backfillRow struct {
	bun.BaseModel `bun:"table:backfill_operations"`

	ID             string    `bun:"id,pk"`
	DeploymentID   string    `bun:"deployment_id"`
	WorkflowID     string    `bun:"workflow_id"`
	TriggerID      string    `bun:"trigger_id"`
	StartAt        time.Time `bun:"start_at"`
	EndAt          time.Time `bun:"end_at"`
	UntilAt        time.Time `bun:"until_at"`
	State          string    `bun:"state"`
	Total          int64     `bun:"total"`
	Created        int64     `bun:"created"`
	Deduplicated   int64     `bun:"deduplicated"`
	BlackedOut     int64     `bun:"blacked_out"`
	CursorAt       time.Time `bun:"cursor_at"`
	Error          string    `bun:"error"`
	LeaseOwner     *string   `bun:"lease_owner"`
	LeaseExpiresAt time.Time `bun:"lease_expires_at,nullzero"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

func toBackfillRow(op *backfill.Operation) *backfillRow {
	id := op.ID
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	return &backfillRow{
		ID:             id,
		DeploymentID:   op.DeploymentID,
		WorkflowID:     op.WorkflowID,
		TriggerID:      op.TriggerID,
		StartAt:        micro(op.Start),
		EndAt:          micro(op.End),
		UntilAt:        micro(op.Until),
		State:          string(op.State),
		Total:          op.Total,
		Created:        op.Created,
		Deduplicated:   op.Deduplicated,
		BlackedOut:     op.BlackedOut,
		CursorAt:       micro(op.Cursor),
		Error:          op.Error,
		LeaseOwner:     nilIfEmpty(op.LeaseOwner),
		LeaseExpiresAt: utc(op.LeaseExpires),
		CreatedAt:      micro(op.CreatedAt),
		UpdatedAt:      micro(op.UpdatedAt),
	}
}

func (r *backfillRow) toOperation() *backfill.Operation {
	return &backfill.Operation{
		ID:           r.ID,
		DeploymentID: r.DeploymentID,
		WorkflowID:   r.WorkflowID,
		TriggerID:    r.TriggerID,
		Start:        utc(r.StartAt),
		End:          utc(r.EndAt),
		Until:        utc(r.UntilAt),
		State:        backfill.State(r.State),
		Total:        r.Total,
		Created:      r.Created,
		Deduplicated: r.Deduplicated,
		BlackedOut:   r.BlackedOut,
		Cursor:       utc(r.CursorAt),
		Error:        r.Error,
		LeaseOwner:   deref(r.LeaseOwner),
		LeaseExpires: utc(r.LeaseExpiresAt),
		CreatedAt:    utc(r.CreatedAt),
		UpdatedAt:    utc(r.UpdatedAt),
	}
}

// BackfillCreate implements backfill.Store: INSERT ... ON CONFLICT DO NOTHING against the
// partial unique index of RUNNING operations, then, when nothing was inserted, a read of the
// RUNNING one. That one may finish between the two statements: the insert is tried again (a
// few times; each lost round means another operation of the range came and went).
func (db *DB) BackfillCreate(ctx context.Context, op *backfill.Operation) (*backfill.Operation, bool, error) {
	row := toBackfillRow(op)
	for range 3 {
		res, err := db.bun.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("create backfill operation of deployment %s: %w", op.DeploymentID, interpretError(err))
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return row.toOperation(), true, nil
		}
		got, err := db.BackfillRunning(ctx, op.DeploymentID, op.TriggerID, op.Start, op.End)
		if err == nil {
			return got, false, nil
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, false, err
		}
	}
	return nil, false, fmt.Errorf("create backfill operation of deployment %s: the range's operation keeps changing: %w", op.DeploymentID, errdefs.ErrConflict)
}

// BackfillRunning implements backfill.Store.
func (db *DB) BackfillRunning(ctx context.Context, deploymentID, triggerID string, start, end time.Time) (*backfill.Operation, error) {
	var row backfillRow
	err := db.bun.NewSelect().Model(&row).
		Where("deployment_id = ?", deploymentID).
		Where("trigger_id = ?", triggerID).
		Where("start_at = ?", micro(start)).
		Where("end_at = ?", micro(end)).
		Where("state = ?", backfill.StateRunning).
		Limit(1).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("running backfill operation of deployment %s: %w", deploymentID, interpretError(err))
	}
	return row.toOperation(), nil
}

// BackfillGet implements backfill.Store.
func (db *DB) BackfillGet(ctx context.Context, id string) (*backfill.Operation, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("get backfill operation %s: %w", id, errdefs.ErrNotFound)
	}
	var row backfillRow
	if err := db.bun.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get backfill operation %s: %w", id, interpretError(err))
	}
	return row.toOperation(), nil
}

// BackfillList implements backfill.Store: a walk of idx_backfill_operations_created (or its
// per-deployment twin) backwards from the keyset position.
func (db *DB) BackfillList(ctx context.Context, p *backfill.ListParams) ([]*backfill.Operation, error) {
	var rows []backfillRow
	q := db.bun.NewSelect().Model(&rows).
		OrderExpr("created_at DESC, id DESC").
		Limit(int64(max(p.Limit, 1)))
	if p.DeploymentID != "" {
		q = q.Where("deployment_id = ?", p.DeploymentID)
	}
	if len(p.States) > 0 {
		q = q.Where("state IN (?)", bun.List(p.States))
	}
	if !p.BeforeCreatedAt.IsZero() {
		at := micro(p.BeforeCreatedAt)
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("created_at < ?", at).
				WhereGroup(" OR ", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.Where("created_at = ?", at).Where("id < ?", p.BeforeID)
				})
		})
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list backfill operations: %w", interpretError(err))
	}
	out := make([]*backfill.Operation, len(rows))
	for i := range rows {
		out[i] = rows[i].toOperation()
	}
	return out, nil
}

// BackfillCancel implements backfill.Store. The lease stays with its owner, so that the batch
// it is making is still recorded (BackfillAdvance), and the runner stops when it sees the state.
func (db *DB) BackfillCancel(ctx context.Context, id string, now time.Time) (*backfill.Operation, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("cancel backfill operation %s: %w", id, errdefs.ErrNotFound)
	}
	_, err := db.bun.NewUpdate().Model((*backfillRow)(nil)).
		Set("state = ?", backfill.StateCancelled).
		Set("updated_at = ?", micro(now)).
		Where("id = ?", id).
		Where("state = ?", backfill.StateRunning).
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("cancel backfill operation %s: %w", id, interpretError(err))
	}
	return db.BackfillGet(ctx, id)
}

// claimCandidates is how many claimable operations BackfillClaim reads at once.
const claimCandidates = 8

// BackfillClaim implements backfill.Store: it reads the oldest claimable operations, then
// takes the first whose lease is still free or expired with a compare-and-set UPDATE (the
// same condition in its WHERE): of two claimers of one operation, one updates the row and the
// other updates nothing and tries the next. Portable to both dialects (no SKIP LOCKED).
func (db *DB) BackfillClaim(ctx context.Context, owner string, now, leaseExpires time.Time) (*backfill.Operation, error) {
	at := micro(now)
	claimable := func(q bun.QueryBuilder) bun.QueryBuilder {
		return q.Where("state = ?", backfill.StateRunning).
			WhereGroup(" AND ", func(q bun.QueryBuilder) bun.QueryBuilder {
				return q.Where("lease_owner IS NULL").WhereOr("lease_expires_at IS NULL").WhereOr("lease_expires_at < ?", at)
			})
	}
	var ids []string
	sel := db.bun.NewSelect().Model((*backfillRow)(nil)).Column("id").OrderExpr("created_at ASC, id ASC").Limit(claimCandidates)
	sel.ApplyQueryBuilder(claimable)
	if err := sel.Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("claim a backfill operation: %w", interpretError(err))
	}
	for _, id := range ids {
		var rows []backfillRow
		upd := db.bun.NewUpdate().Model(&rows).
			Set("lease_owner = ?", owner).
			Set("lease_expires_at = ?", micro(leaseExpires)).
			Set("updated_at = ?", at).
			Where("id = ?", id).
			Returning("*")
		upd.ApplyQueryBuilder(claimable)
		if _, err := upd.Exec(ctx, &rows); err != nil {
			return nil, fmt.Errorf("claim backfill operation %s: %w", id, interpretError(err))
		}
		if len(rows) == 1 {
			return rows[0].toOperation(), nil
		}
	}
	return nil, nil
}

// BackfillAdvance implements backfill.Store: one UPDATE guarded by the lease owner, which adds
// the batch's counts, moves the cursor and renews the lease (or, when done, turns a RUNNING
// operation SUCCEEDED and frees the lease), returning the row.
func (db *DB) BackfillAdvance(ctx context.Context, p *backfill.AdvanceParams) (*backfill.Operation, error) {
	var rows []backfillRow
	q := db.bun.NewUpdate().Model(&rows).
		Set("created = created + ?", p.Created).
		Set("deduplicated = deduplicated + ?", p.Deduplicated).
		Set("blacked_out = blacked_out + ?", p.BlackedOut).
		Set("cursor_at = ?", micro(p.Cursor)).
		Set("updated_at = ?", micro(p.Now)).
		Where("id = ?", p.ID).
		Where("lease_owner = ?", p.Owner).
		Returning("*")
	if p.Done {
		q = q.Set("state = CASE WHEN state = ? THEN ? ELSE state END", backfill.StateRunning, backfill.StateSucceeded).
			Set("lease_owner = NULL").
			Set("lease_expires_at = NULL")
	} else {
		q = q.Set("lease_expires_at = ?", micro(p.LeaseExpires))
	}
	if _, err := q.Exec(ctx, &rows); err != nil {
		return nil, fmt.Errorf("advance backfill operation %s: %w", p.ID, interpretError(err))
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("advance backfill operation %s: %w", p.ID, backfill.ErrLeaseLost)
	}
	return rows[0].toOperation(), nil
}

// BackfillFail implements backfill.Store.
func (db *DB) BackfillFail(ctx context.Context, id, owner, message string, now time.Time) error {
	res, err := db.bun.NewUpdate().Model((*backfillRow)(nil)).
		Set("state = ?", backfill.StateFailed).
		Set("error = ?", message).
		Set("lease_owner = NULL").
		Set("lease_expires_at = NULL").
		Set("updated_at = ?", micro(now)).
		Where("id = ?", id).
		Where("lease_owner = ?", owner).
		Where("state = ?", backfill.StateRunning).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("fail backfill operation %s: %w", id, interpretError(err))
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return fmt.Errorf("fail backfill operation %s: %w", id, backfill.ErrLeaseLost)
	}
	return nil
}

// ExecutionIDsScheduled implements scheduler.ExecutionLookup: one read of the executions'
// unique index on (workflow_id, trigger_id, scheduled_at) over the range.
func (db *DB) ExecutionIDsScheduled(ctx context.Context, workflowID string, triggerIDs []string, from, until time.Time) (map[scheduler.ScheduledKey]string, error) {
	out := map[scheduler.ScheduledKey]string{}
	if len(triggerIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		ID          string    `bun:"id"`
		TriggerID   string    `bun:"trigger_id"`
		ScheduledAt time.Time `bun:"scheduled_at"`
	}
	err := db.bun.NewSelect().Table("executions").
		Column("id", "trigger_id", "scheduled_at").
		Where("workflow_id = ?", workflowID).
		Where("trigger_id IN (?)", bun.List(triggerIDs)).
		Where("scheduled_at >= ?", micro(from)).
		Where("scheduled_at <= ?", micro(until)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("executions of %s scheduled in [%s, %s]: %w", workflowID,
			from.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339), interpretError(err))
	}
	for _, r := range rows {
		out[scheduler.ScheduledKey{TriggerID: r.TriggerID, ScheduledAt: micro(r.ScheduledAt)}] = r.ID
	}
	return out, nil
}
