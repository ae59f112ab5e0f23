package store

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

var _ scheduler.Store = (*DB)(nil)

// Page sizes of FireList.
const (
	defaultFireListLimit = 100
	maxFireListLimit     = 1000
)

// fireRow is a row of fire_ledger.
type fireRow struct {
	bun.BaseModel `bun:"table:fire_ledger"`

	ID           string    `bun:"id,pk"`
	WorkflowID   string    `bun:"workflow_id"`
	DeploymentID string    `bun:"deployment_id"`
	TriggerID    string    `bun:"trigger_id"`
	NominalAt    time.Time `bun:"nominal_at"`
	ScheduledAt  time.Time `bun:"scheduled_at"`
	FiredAt      time.Time `bun:"fired_at"`
	Outcome      string    `bun:"outcome"`
	ExecutionID  *string   `bun:"execution_id"`
	Reason       string    `bun:"reason"`
	CreatedAt    time.Time `bun:"created_at"`
	// BlackoutCalendar is NULL unless a blackout calendar skipped the time.
	BlackoutCalendar string `bun:"blackout_calendar,nullzero"`
}

// micro is t in UTC at the microsecond precision both dialects keep, so that what is written
// compares equal to what is asked for.
func micro(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

func toFireRow(f *scheduler.Fire) *fireRow {
	id := f.ID
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	return &fireRow{
		ID:               id,
		WorkflowID:       f.WorkflowID,
		DeploymentID:     f.DeploymentID,
		TriggerID:        f.TriggerID,
		NominalAt:        micro(f.NominalAt),
		ScheduledAt:      micro(f.ScheduledAt),
		FiredAt:          micro(f.FiredAt),
		Outcome:          string(f.Outcome),
		ExecutionID:      nilIfEmpty(f.ExecutionID),
		Reason:           f.Reason,
		BlackoutCalendar: f.BlackoutCalendar,
		// When the row is written: the writer's clock of the decision (FiredAt) when it gives
		// none, so that a writer on a test clock writes rows of that clock.
		CreatedAt: micro(cmp.Or(f.CreatedAt, f.FiredAt)),
	}
}

func (r *fireRow) toFire() scheduler.Fire {
	return scheduler.Fire{
		ID:               r.ID,
		WorkflowID:       r.WorkflowID,
		DeploymentID:     r.DeploymentID,
		TriggerID:        r.TriggerID,
		NominalAt:        utc(r.NominalAt),
		ScheduledAt:      utc(r.ScheduledAt),
		FiredAt:          utc(r.FiredAt),
		Outcome:          scheduler.Outcome(r.Outcome),
		ExecutionID:      deref(r.ExecutionID),
		Reason:           r.Reason,
		BlackoutCalendar: r.BlackoutCalendar,
		CreatedAt:        utc(r.CreatedAt),
	}
}

// FireRecord implements scheduler.Store: one multi-row INSERT ... ON CONFLICT DO NOTHING, so a
// row whose (workflow, trigger, scheduled time, outcome) exists is skipped.
func (db *DB) FireRecord(ctx context.Context, fires []scheduler.Fire) error {
	if len(fires) == 0 {
		return nil
	}
	rows := make([]*fireRow, len(fires))
	for i := range fires {
		rows[i] = toFireRow(&fires[i])
	}
	if _, err := db.bun.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("record %d fires of %s: %w", len(fires), fires[0].WorkflowID, interpretError(err))
	}
	return nil
}

// FireList implements scheduler.Store: one deployment's fires, or every deployment's, ordered
// by (scheduled_at, id) with the keyset bound "(scheduled_at, id) > (after)" as a row
// comparison, so that both dialects walk an index from the bound and stop after Limit rows:
// (deployment_id, scheduled_at, id) for one deployment, (outcome, scheduled_at, id) for one
// outcome across deployments ("which deployments missed fires today"), (scheduled_at, id)
// otherwise (migrations 000002 and 20261201000001). Several outcomes across deployments become
// one branch per outcome, each walking its part of (outcome, scheduled_at, id) for at most
// Limit rows, merged by a UNION ALL (as ExecutionHistoryList does): an IN list on the first
// column of that index would read and sort every matching row.
func (db *DB) FireList(ctx context.Context, p *scheduler.FireListParams) ([]scheduler.Fire, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = defaultFireListLimit
	}
	limit = min(limit, maxFireListLimit)
	var rows []fireRow
	var err error
	if raw := db.fireListUnion(p, limit); raw != nil {
		err = raw.Scan(ctx, &rows)
	} else {
		err = db.fireListQuery(p, p.Outcomes, limit).Model(&rows).Scan(ctx)
	}
	if err != nil {
		if p.DeploymentID == "" {
			return nil, fmt.Errorf("list fires: %w", interpretError(err))
		}
		return nil, fmt.Errorf("list fires of deployment %s: %w", p.DeploymentID, interpretError(err))
	}
	out := make([]scheduler.Fire, len(rows))
	for i := range rows {
		out[i] = rows[i].toFire()
	}
	return out, nil
}

// fireListUnion is FireList's statement for several outcomes across deployments: one branch
// per outcome, merged; nil for the other filters (fireListQuery).
func (db *DB) fireListUnion(p *scheduler.FireListParams, limit int) *bun.RawQuery {
	if len(p.Outcomes) < 2 || p.DeploymentID != "" {
		return nil
	}
	branches := make([]string, len(p.Outcomes))
	args := make([]any, 0, len(p.Outcomes)+1)
	for i, o := range p.Outcomes {
		branches[i] = fmt.Sprintf("SELECT * FROM (?) AS b%d", i)
		args = append(args, db.fireListQuery(p, []scheduler.Outcome{o}, limit))
	}
	args = append(args, limit)
	return db.bun.NewRaw("SELECT * FROM ("+strings.Join(branches, " UNION ALL ")+
		") AS fires ORDER BY scheduled_at ASC, id ASC LIMIT ?", args...)
}

// fireListQuery selects one page of p with outcomes (all when empty).
func (db *DB) fireListQuery(p *scheduler.FireListParams, outcomes []scheduler.Outcome, limit int) *bun.SelectQuery {
	q := db.bun.NewSelect().Model((*fireRow)(nil)).
		OrderExpr("scheduled_at ASC, id ASC").
		Limit(int64(limit))
	if p.DeploymentID != "" {
		q = q.Where("deployment_id = ?", p.DeploymentID)
	}
	switch len(outcomes) {
	case 0:
	case 1:
		q = q.Where("outcome = ?", outcomes[0])
	default:
		q = q.Where("outcome IN (?)", bun.List(outcomes))
	}
	switch len(p.WorkflowIDs) {
	case 0:
	case 1:
		q = q.Where("workflow_id = ?", p.WorkflowIDs[0])
	default:
		q = q.Where("workflow_id IN (?)", bun.List(p.WorkflowIDs))
	}
	if p.TriggerID != "" {
		q = q.Where("trigger_id = ?", p.TriggerID)
	}
	if !p.Start.IsZero() {
		q = q.Where("scheduled_at >= ?", micro(p.Start))
	}
	if !p.End.IsZero() {
		q = q.Where("scheduled_at < ?", micro(p.End))
	}
	if !p.AfterScheduledAt.IsZero() {
		q = q.Where("(scheduled_at, id) > (?, ?)", micro(p.AfterScheduledAt), p.AfterID)
	}
	return q
}

// FireLastScheduled implements scheduler.Store. It reads one entry of the unique index on
// (workflow_id, trigger_id, scheduled_at, outcome), backwards.
func (db *DB) FireLastScheduled(ctx context.Context, workflowID, triggerID string) (time.Time, error) {
	var rows []fireRow
	err := db.bun.NewSelect().Model(&rows).
		Column("id", "scheduled_at").
		Where("workflow_id = ?", workflowID).
		Where("trigger_id = ?", triggerID).
		OrderExpr("scheduled_at DESC").
		Limit(1).
		Scan(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("last fire of %s/%s: %w", workflowID, triggerID, interpretError(err))
	}
	if len(rows) == 0 {
		return time.Time{}, nil
	}
	return utc(rows[0].ScheduledAt), nil
}

// FireLastScheduledMany implements scheduler.Store: the latest scheduled time of every trigger
// of the workflows that has a ledger row, in one grouped read of the unique index.
func (db *DB) FireLastScheduledMany(ctx context.Context, workflowIDs []string) (map[scheduler.TriggerKey]time.Time, error) {
	out := map[scheduler.TriggerKey]time.Time{}
	if len(workflowIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		WorkflowID string    `bun:"workflow_id"`
		TriggerID  string    `bun:"trigger_id"`
		Last       time.Time `bun:"last"`
	}
	err := db.bun.NewSelect().Table("fire_ledger").
		Column("workflow_id", "trigger_id").
		ColumnExpr("max(scheduled_at) AS last").
		Where("workflow_id IN (?)", bun.List(workflowIDs)).
		GroupExpr("workflow_id, trigger_id").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("last fires of %d workflows: %w", len(workflowIDs), interpretError(err))
	}
	for _, r := range rows {
		out[scheduler.TriggerKey{WorkflowID: r.WorkflowID, TriggerID: r.TriggerID}] = utc(r.Last)
	}
	return out, nil
}

// FireLastScheduledBefore implements scheduler.Store: FireLastScheduled among the rows
// scheduled before before, read backwards from there on the same index.
func (db *DB) FireLastScheduledBefore(ctx context.Context, workflowID, triggerID string, before time.Time) (time.Time, error) {
	var rows []fireRow
	err := db.bun.NewSelect().Model(&rows).
		Column("id", "scheduled_at").
		Where("workflow_id = ?", workflowID).
		Where("trigger_id = ?", triggerID).
		Where("scheduled_at < ?", micro(before)).
		OrderExpr("scheduled_at DESC").
		Limit(1).
		Scan(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("last fire of %s/%s before %s: %w", workflowID, triggerID, before.UTC().Format(time.RFC3339Nano), interpretError(err))
	}
	if len(rows) == 0 {
		return time.Time{}, nil
	}
	return utc(rows[0].ScheduledAt), nil
}

// FireUnrecorded implements scheduler.Store: the trigger's CRON executions scheduled in
// (after, until] whose time has no ledger row (NOT EXISTS on the ledger's unique key), oldest
// first.
func (db *DB) FireUnrecorded(ctx context.Context, workflowID, triggerID string, after, until time.Time) ([]scheduler.Fire, error) {
	var rows []struct {
		ID           string     `bun:"id"`
		DeploymentID string     `bun:"deployment_id"`
		ScheduledAt  time.Time  `bun:"scheduled_at"`
		NominalAt    *time.Time `bun:"nominal_at"`
		CreatedAt    time.Time  `bun:"created_at"`
	}
	err := db.bun.NewRaw(`SELECT e.id, e.deployment_id, e.scheduled_at, e.nominal_at, e.created_at FROM executions AS e
		WHERE e.workflow_id = ? AND e.trigger_type = ? AND e.trigger_id = ? AND e.scheduled_at > ? AND e.scheduled_at <= ?
			AND NOT EXISTS (SELECT 1 FROM fire_ledger AS f WHERE f.workflow_id = e.workflow_id
				AND f.trigger_id = e.trigger_id AND f.scheduled_at = e.scheduled_at)
		ORDER BY e.scheduled_at`,
		workflowID, execution.TriggerCron, triggerID, micro(after), micro(until)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("unrecorded fires of %s/%s: %w", workflowID, triggerID, interpretError(err))
	}
	out := make([]scheduler.Fire, len(rows))
	for i, r := range rows {
		nominal := r.ScheduledAt
		if r.NominalAt != nil {
			nominal = *r.NominalAt
		}
		out[i] = scheduler.Fire{
			WorkflowID: workflowID, DeploymentID: r.DeploymentID, TriggerID: triggerID,
			NominalAt: utc(nominal), ScheduledAt: utc(r.ScheduledAt), FiredAt: utc(r.CreatedAt),
			ExecutionID: r.ID,
		}
	}
	return out, nil
}

// FireDecided implements scheduler.Store: two reads of the unique indexes on (workflow_id,
// trigger_id, scheduled_at), one of the executions and one of the ledger, merged.
func (db *DB) FireDecided(ctx context.Context, workflowID, triggerID string, after, until time.Time) (map[time.Time]bool, error) {
	out := map[time.Time]bool{}
	for _, table := range []string{"executions", "fire_ledger"} {
		var rows []struct {
			ScheduledAt time.Time `bun:"scheduled_at"`
		}
		err := db.bun.NewSelect().Table(table).
			ColumnExpr("DISTINCT scheduled_at").
			Where("workflow_id = ?", workflowID).
			Where("trigger_id = ?", triggerID).
			Where("scheduled_at > ?", micro(after)).
			Where("scheduled_at <= ?", micro(until)).
			Scan(ctx, &rows)
		if err != nil {
			return nil, fmt.Errorf("decided fires of %s/%s: %w", workflowID, triggerID, interpretError(err))
		}
		for _, r := range rows {
			out[utc(r.ScheduledAt)] = true
		}
	}
	return out, nil
}

// FireLatest returns the ledger rows of the trigger's latest scheduled time (one time may hold
// several outcomes); none when the trigger has no row. The scheduler decides an after-blackout
// fire from them (internal/scheduler/blackout.go).
func (db *DB) FireLatest(ctx context.Context, workflowID, triggerID string) ([]scheduler.Fire, error) {
	last, err := db.FireLastScheduled(ctx, workflowID, triggerID)
	if err != nil || last.IsZero() {
		return nil, err
	}
	var rows []fireRow
	err = db.bun.NewSelect().Model(&rows).
		Where("workflow_id = ?", workflowID).
		Where("trigger_id = ?", triggerID).
		Where("scheduled_at = ?", micro(last)).
		OrderExpr("id ASC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("latest fires of %s/%s: %w", workflowID, triggerID, interpretError(err))
	}
	out := make([]scheduler.Fire, len(rows))
	for i := range rows {
		out[i] = rows[i].toFire()
	}
	return out, nil
}
