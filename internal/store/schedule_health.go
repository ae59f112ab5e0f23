package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/schedulehealth"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

var _ schedulehealth.Store = (*DB)(nil)

// healthWorkflowRow is a DEPLOYED or PAUSED workflow as ScheduleHealthTriggers reads it.
type healthWorkflowRow struct {
	ID               string     `bun:"id"`
	DeploymentID     string     `bun:"deployment_id"`
	DeploymentStatus string     `bun:"deployment_status"`
	DeployedAt       *time.Time `bun:"deployed_at"`
	DeploymentConfig string     `bun:"deployment_config"`
}

// healthTriggerRow is a cron trigger with one ledger row of its latest scheduled time (NULL
// when none).
type healthTriggerRow struct {
	WorkflowID          string     `bun:"workflow_id"`
	TriggerID           string     `bun:"trigger_id"`
	CronExpression      *string    `bun:"cron_expression"`
	Timezone            *string    `bun:"timezone"`
	JitterWindowSeconds int64      `bun:"jitter_window_seconds"`
	RepeatedHour        string     `bun:"repeated_hour"`
	SkippedHour         string     `bun:"skipped_hour"`
	LastScheduledAt     *time.Time `bun:"last_scheduled_at"`
	LastFiredAt         *time.Time `bun:"last_fired_at"`
	LastOutcome         *string    `bun:"last_outcome"`
}

// ScheduleHealthTriggers implements schedulehealth.Store in two reads of one snapshot: a page
// of DEPLOYED or PAUSED workflows (by id), then in one query their cron triggers, each with the
// ledger rows at its latest scheduled time, found by a correlated max() that reads one entry of
// the unique index (workflow_id, trigger_id, scheduled_at, outcome) backwards, so the ledger's
// length does not count. Of the rows sharing that time (FIRED and a standby's DEDUPLICATED, a
// SKIPPED) the first decided is kept: it says how late the time was made.
func (db *DB) ScheduleHealthTriggers(ctx context.Context, p *schedulehealth.TriggerParams) ([]schedulehealth.Trigger, string, error) {
	limit := p.Limit
	if limit <= 0 || limit > maxListLimit {
		limit = maxListLimit
	}
	var (
		workflows []healthWorkflowRow
		rows      []healthTriggerRow
		cals      []triggerCalendarRow
	)
	err := db.inReadTx(ctx, func(ctx context.Context, rtx bun.Tx) error {
		q := rtx.NewSelect().Table("workflows").
			Column("id", "deployment_id", "deployment_status", "deployed_at", "deployment_config").
			Where("deployment_status IN (?)", bun.List([]string{string(deployments.StatusDeployed), string(deployments.StatusPaused)})).
			Where("id > ?", p.AfterWorkflowID).
			OrderExpr("id ASC").
			Limit(int64(limit))
		if p.DeploymentID != "" {
			q = q.Where("deployment_id = ?", p.DeploymentID)
		}
		if err := q.Scan(ctx, &workflows); err != nil {
			return interpretError(err)
		}
		if len(workflows) == 0 {
			return nil
		}
		ids := make([]string, len(workflows))
		for i := range workflows {
			ids[i] = workflows[i].ID
		}
		// The latest time per trigger first (a correlated max() on the unique index), then its
		// rows by equality on the index's prefix: the ledger's length does not count.
		latest := rtx.NewSelect().TableExpr("triggers AS c").
			ColumnExpr("c.workflow_id, c.id, c.cron_expression, c.timezone, c.jitter_window_seconds, c.repeated_hour, c.skipped_hour").
			ColumnExpr("(SELECT max(l.scheduled_at) FROM fire_ledger AS l WHERE l.workflow_id = c.workflow_id AND l.trigger_id = c.id) AS last_at").
			Where("c.workflow_id IN (?)", bun.List(ids)).
			Where("c.kind = ?", kindCron)
		err := rtx.NewSelect().TableExpr("(?) AS t", latest).
			ColumnExpr("t.workflow_id, t.id AS trigger_id, t.cron_expression, t.timezone, t.jitter_window_seconds, t.repeated_hour, t.skipped_hour").
			ColumnExpr("f.scheduled_at AS last_scheduled_at, f.fired_at AS last_fired_at, f.outcome AS last_outcome").
			Join("LEFT JOIN fire_ledger AS f ON f.workflow_id = t.workflow_id AND f.trigger_id = t.id AND f.scheduled_at = t.last_at").
			OrderExpr("t.workflow_id ASC, t.id ASC, f.fired_at ASC, f.outcome ASC").
			Scan(ctx, &rows)
		if err != nil {
			return interpretError(err)
		}
		// The blackout calendars the triggers name (a calendar that covers every coming fire
		// makes the trigger SILENT).
		err = rtx.NewSelect().Model(&cals).
			Where("workflow_id IN (?)", bun.List(ids)).
			OrderExpr("workflow_id ASC, trigger_id ASC, position ASC").
			Scan(ctx)
		return interpretError(err)
	})
	if err != nil {
		return nil, "", fmt.Errorf("schedule health triggers: %w", err)
	}
	next := ""
	if len(workflows) == limit {
		next = workflows[len(workflows)-1].ID
	}
	byID := make(map[string]*healthWorkflowRow, len(workflows))
	for i := range workflows {
		byID[workflows[i].ID] = &workflows[i]
	}
	calendarsOf := map[scheduler.TriggerKey][]string{}
	for _, c := range cals {
		k := scheduler.TriggerKey{WorkflowID: c.WorkflowID, TriggerID: c.TriggerID}
		calendarsOf[k] = append(calendarsOf[k], c.CalendarName)
	}
	out := make([]schedulehealth.Trigger, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		if n := len(out); n > 0 && out[n-1].WorkflowID == r.WorkflowID && out[n-1].TriggerID == r.TriggerID {
			continue // a later-decided row of the same latest time
		}
		w := byID[r.WorkflowID]
		repeated, skipped, err := dstPolicies(r.RepeatedHour, r.SkippedHour)
		if err != nil {
			return nil, "", fmt.Errorf("decode trigger %s of workflow %s: %w", r.TriggerID, r.WorkflowID, err)
		}
		t := schedulehealth.Trigger{
			DeploymentID: w.DeploymentID,
			WorkflowID:   r.WorkflowID,
			TriggerID:    r.TriggerID,
			Status:       deployments.Status(w.DeploymentStatus),
			Cron: deployments.CronSchedule{
				Expression:          deref(r.CronExpression),
				Timezone:            deref(r.Timezone),
				JitterWindowSeconds: uint32(r.JitterWindowSeconds), //nolint:gosec // written from a uint32
				RepeatedHour:        repeated,
				SkippedHour:         skipped,
				BlackoutCalendars:   calendarsOf[scheduler.TriggerKey{WorkflowID: r.WorkflowID, TriggerID: r.TriggerID}],
			},
		}
		if w.DeployedAt != nil {
			t.DeployedAt = utc(*w.DeployedAt)
		}
		if w.DeploymentConfig != "" {
			if err := json.Unmarshal([]byte(w.DeploymentConfig), &t.Config); err != nil {
				return nil, "", fmt.Errorf("decode deployment_config of workflow %s: %w", r.WorkflowID, err)
			}
		}
		if r.LastScheduledAt != nil && r.LastFiredAt != nil && r.LastOutcome != nil {
			t.Last = &schedulehealth.LastFire{
				ScheduledAt: utc(*r.LastScheduledAt),
				FiredAt:     utc(*r.LastFiredAt),
				Outcome:     scheduler.Outcome(*r.LastOutcome),
			}
		}
		out = append(out, t)
	}
	return out, next, nil
}

// healthKeys is a CTE of (workflow_id, trigger_id[, since]) tuples: VALUES rows bound as
// parameters. PostgreSQL is told the time column's type (a VALUES column of untyped literals
// is text); SQLite compares the text as it is stored.
func (db *DB) healthKeys(keys []scheduler.TriggerKey, since []time.Time) (string, []any) {
	var (
		b    strings.Builder
		args []any
	)
	cast := "?"
	if db.dialect == DialectPostgres {
		cast = "CAST(? AS TIMESTAMPTZ)"
	}
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if since == nil {
			b.WriteString("(?, ?)")
			args = append(args, k.WorkflowID, k.TriggerID)
			continue
		}
		b.WriteString("(?, ?, " + cast + ")")
		args = append(args, k.WorkflowID, k.TriggerID, micro(since[i]))
	}
	return b.String(), args
}

// ScheduleHealthRuns implements schedulehealth.Store in three reads, each of the unique
// indexes on (workflow_id, trigger_id, scheduled_at) only: per trigger the scheduled time of
// its p.PerTrigger-th latest finished run (a correlated LIMIT 1 OFFSET n-1, read backwards),
// then the runs from there on, then the ledger's counts over the same span.
func (db *DB) ScheduleHealthRuns(ctx context.Context, p *schedulehealth.RunParams) (map[scheduler.TriggerKey]*schedulehealth.RunStats, error) {
	out := map[scheduler.TriggerKey]*schedulehealth.RunStats{}
	if len(p.Keys) == 0 {
		return out, nil
	}
	per := max(p.PerTrigger, 1)
	since := micro(p.Since)
	finished := "e.trigger_type = 'CRON' AND e.started_at IS NOT NULL AND e.finished_at IS NOT NULL"

	// 1. Where each trigger's sample begins.
	values, args := db.healthKeys(p.Keys, nil)
	var starts []struct {
		WorkflowID string     `bun:"workflow_id"`
		TriggerID  string     `bun:"trigger_id"`
		Start      *time.Time `bun:"start"`
	}
	query := `WITH k(workflow_id, trigger_id) AS (VALUES ` + values + `)
		SELECT k.workflow_id, k.trigger_id, (
			SELECT e.scheduled_at FROM executions AS e
			WHERE e.workflow_id = k.workflow_id AND e.trigger_id = k.trigger_id AND ` + finished + ` AND e.scheduled_at >= ?
			ORDER BY e.scheduled_at DESC LIMIT 1 OFFSET ?) AS start
		FROM k`
	if err := db.bun.NewRaw(query, append(args, since, per-1)...).Scan(ctx, &starts); err != nil {
		return nil, fmt.Errorf("schedule health runs: %w", interpretError(err))
	}
	from := make([]time.Time, len(starts))
	keys := make([]scheduler.TriggerKey, len(starts))
	for i, s := range starts {
		keys[i] = scheduler.TriggerKey{WorkflowID: s.WorkflowID, TriggerID: s.TriggerID}
		from[i] = since
		if s.Start != nil {
			from[i] = utc(*s.Start)
		}
	}

	// 2. The runs.
	values, args = db.healthKeys(keys, from)
	var runs []struct {
		WorkflowID  string    `bun:"workflow_id"`
		TriggerID   string    `bun:"trigger_id"`
		ScheduledAt time.Time `bun:"scheduled_at"`
		StartedAt   time.Time `bun:"started_at"`
		FinishedAt  time.Time `bun:"finished_at"`
	}
	query = `WITH k(workflow_id, trigger_id, since) AS (VALUES ` + values + `)
		SELECT e.workflow_id, e.trigger_id, e.scheduled_at, e.started_at, e.finished_at
		FROM k JOIN executions AS e ON e.workflow_id = k.workflow_id AND e.trigger_id = k.trigger_id AND e.scheduled_at >= k.since
		WHERE ` + finished + `
		ORDER BY e.workflow_id, e.trigger_id, e.scheduled_at DESC`
	if err := db.bun.NewRaw(query, args...).Scan(ctx, &runs); err != nil {
		return nil, fmt.Errorf("schedule health runs: %w", interpretError(err))
	}
	oldest := map[scheduler.TriggerKey]time.Time{}
	for _, r := range runs {
		k := scheduler.TriggerKey{WorkflowID: r.WorkflowID, TriggerID: r.TriggerID}
		s := out[k]
		if s == nil {
			s = &schedulehealth.RunStats{}
			out[k] = s
		}
		if len(s.Runs) == per {
			continue
		}
		s.Runs = append(s.Runs, schedulehealth.Run{ScheduledAt: utc(r.ScheduledAt), StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt)})
		oldest[k] = utc(r.ScheduledAt)
	}
	if len(out) == 0 {
		return out, nil
	}

	// 3. The ledger over each sample's span.
	keys, from = keys[:0], from[:0]
	for k, at := range oldest {
		keys, from = append(keys, k), append(from, at)
	}
	values, args = db.healthKeys(keys, from)
	var counts []struct {
		WorkflowID string `bun:"workflow_id"`
		TriggerID  string `bun:"trigger_id"`
		Settled    int64  `bun:"settled"`
		Skipped    int64  `bun:"skipped"`
	}
	query = `WITH k(workflow_id, trigger_id, since) AS (VALUES ` + values + `)
		SELECT f.workflow_id, f.trigger_id, COUNT(DISTINCT f.scheduled_at) AS settled,
			SUM(CASE WHEN f.outcome = 'SKIPPED' THEN 1 ELSE 0 END) AS skipped
		FROM k JOIN fire_ledger AS f ON f.workflow_id = k.workflow_id AND f.trigger_id = k.trigger_id AND f.scheduled_at >= k.since
		GROUP BY f.workflow_id, f.trigger_id`
	if err := db.bun.NewRaw(query, args...).Scan(ctx, &counts); err != nil {
		return nil, fmt.Errorf("schedule health runs: %w", interpretError(err))
	}
	for _, c := range counts {
		if s := out[scheduler.TriggerKey{WorkflowID: c.WorkflowID, TriggerID: c.TriggerID}]; s != nil {
			s.Settled, s.Skipped = c.Settled, c.Skipped
		}
	}
	return out, nil
}
