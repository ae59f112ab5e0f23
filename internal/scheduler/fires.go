package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// Outcome is what became of one scheduled time of a cron trigger (fire_ledger.outcome).
type Outcome string

const (
	// OutcomeFired: this scheduler created the execution on time.
	OutcomeFired Outcome = "FIRED"
	// OutcomeDeduplicated: the execution existed already (another replica, or a backfill).
	OutcomeDeduplicated Outcome = "DEDUPLICATED"
	// OutcomeMissed: not fired; outside the catch-up window or dropped by the misfire policy.
	OutcomeMissed Outcome = "MISSED"
	// OutcomeCaughtUp: fired late, after downtime, inside the catch-up window.
	OutcomeCaughtUp Outcome = "CAUGHT_UP"
	// OutcomeSkipped: the execution was created, and the overlap policy skipped it (written by
	// the execution side); or a blackout calendar covered the time, and no execution was
	// created (BlackoutCalendar names it; blackout.go).
	OutcomeSkipped Outcome = "SKIPPED"
	// OutcomePaused: not fired, the deployment was PAUSED at the time. Recorded by a scheduler
	// that saw the time pass, or by the catch-up after the resume (paused.go).
	OutcomePaused Outcome = "PAUSED"
)

// Fire is one row of the fire ledger.
type Fire struct {
	// ID is a UUID; FireRecord assigns one when empty.
	ID           string
	WorkflowID   string
	DeploymentID string
	TriggerID    string
	// NominalAt is the cron expression's time; ScheduledAt adds the jitter offset and is the
	// execution's scheduled_at.
	NominalAt   time.Time
	ScheduledAt time.Time
	// FiredAt is when the outcome was decided.
	FiredAt time.Time
	Outcome Outcome
	// ExecutionID is empty for MISSED.
	ExecutionID string
	// Reason says why, in words.
	Reason string
	// BlackoutCalendar names the blackout calendar that skipped the time (SKIPPED); "" otherwise.
	BlackoutCalendar string
	// CreatedAt is when the row was written (the retention janitor ages rows by it). FireRecord
	// takes FiredAt when it is zero.
	CreatedAt time.Time
}

// FireListParams selects a page of FireList: fires ordered by (ScheduledAt, ID).
type FireListParams struct {
	// DeploymentID: only this deployment's fires; "" for every deployment's.
	DeploymentID string
	// WorkflowIDs: only these workflows' fires; empty means all.
	WorkflowIDs []string
	// TriggerID: only this trigger's fires; "" means all.
	TriggerID string
	// Start and End bound ScheduledAt: [Start, End). Zero means unbounded.
	Start, End time.Time
	// Outcomes filters; empty means all.
	Outcomes []Outcome
	// After is the keyset position: rows strictly after (AfterScheduledAt, AfterID). Zero
	// AfterScheduledAt means from the start.
	AfterScheduledAt time.Time
	AfterID          string
	// Limit defaults to 100 and is capped at 1000.
	Limit int
}

// TriggerKey names one cron trigger of one workflow.
type TriggerKey struct {
	WorkflowID, TriggerID string
}

// Store is what the scheduler needs from storage. internal/store implements it for PostgreSQL and
// SQLite.
type Store interface {
	// FireRecord inserts the ledger rows; a row whose (workflow, trigger, scheduled time,
	// outcome) is recorded already is left as it is, so a retry changes nothing.
	FireRecord(ctx context.Context, fires []Fire) error
	// FireList returns one page of fires (one deployment's, or every deployment's), oldest
	// scheduled time first.
	FireList(ctx context.Context, p *FireListParams) ([]Fire, error)
	// FireLastScheduled returns the latest scheduled time recorded for the trigger, whatever the
	// outcome; the zero time when there is none.
	FireLastScheduled(ctx context.Context, workflowID, triggerID string) (time.Time, error)
	// FireLastScheduledBefore is FireLastScheduled among the rows scheduled before before: where
	// the gap of a store outage begins.
	FireLastScheduledBefore(ctx context.Context, workflowID, triggerID string, before time.Time) (time.Time, error)
	// FireDecided returns the scheduled times in (after, until] of the trigger that have an
	// execution or a ledger row (in UTC): the times a settlement must leave alone.
	FireDecided(ctx context.Context, workflowID, triggerID string, after, until time.Time) (map[time.Time]bool, error)
	// FireUnrecorded returns the trigger's cron executions scheduled in (after, until] whose
	// time has no ledger row, oldest first, as Fires with ExecutionID, DeploymentID, the times
	// and FiredAt (the execution's creation) set: fires whose ledger row was never written (the
	// scheduler stopped between the execution and the row).
	FireUnrecorded(ctx context.Context, workflowID, triggerID string, after, until time.Time) ([]Fire, error)
	// FireLastScheduledMany is FireLastScheduled for every trigger of the workflows at once
	// (the scheduler's start reads one page of deployments at a time); a trigger with no row
	// is absent from the map.
	FireLastScheduledMany(ctx context.Context, workflowIDs []string) (map[TriggerKey]time.Time, error)
	// DeploymentGet, DeploymentList and DeploymentGetByWorkflow are deployments.Store's.
	DeploymentGet(ctx context.Context, id string) (*deployments.Deployment, error)
	DeploymentList(ctx context.Context, p *deployments.ListParams) ([]*deployments.Deployment, error)
	DeploymentGetByWorkflow(ctx context.Context, workflowID string) (*deployments.Deployment, error)
}

// SkipLedger is the execution side's fire ledger (execution.Ledger): it records SKIPPED when
// the overlap policy skips a cron execution. The row carries the execution's scheduled time
// and id; its nominal time is the scheduled time less the trigger's jitter offset when the
// deployment still has the trigger, the scheduled time itself otherwise.
type SkipLedger struct {
	store Store
	now   func() time.Time
}

var _ execution.Ledger = (*SkipLedger)(nil)

// NewSkipLedger returns a SkipLedger over store.
func NewSkipLedger(store Store) *SkipLedger {
	return &SkipLedger{store: store, now: time.Now}
}

// RecordSkipped implements execution.Ledger.
func (l *SkipLedger) RecordSkipped(ctx context.Context, e *execution.Execution, reason string) error {
	nominal := e.ScheduledAt
	if d, err := l.store.DeploymentGet(ctx, e.DeploymentID); err == nil {
		if c := cronTrigger(d, e.TriggerID); c != nil {
			if trig, err := NewTrigger(e.WorkflowID, c); err == nil {
				nominal = e.ScheduledAt.Add(-trig.Offset())
			}
		}
	}
	err := l.store.FireRecord(ctx, []Fire{{
		WorkflowID: e.WorkflowID, DeploymentID: e.DeploymentID, TriggerID: e.TriggerID,
		NominalAt: nominal, ScheduledAt: e.ScheduledAt, FiredAt: l.now(),
		Outcome: OutcomeSkipped, ExecutionID: e.ID, Reason: reason,
	}})
	if err != nil {
		return fmt.Errorf("record skipped fire of execution %s: %w", e.ID, err)
	}
	return nil
}
