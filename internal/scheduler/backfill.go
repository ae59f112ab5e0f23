package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// The parts of a backfill shared by the synchronous call (Backfill), its dry run
// (BackfillDryRun) and the backfill operation (internal/backfill, through BackfillRange and
// BackfillStep): which triggers a backfill covers, the fires of a stretch of its range in time
// order, and the making of a batch of them through fire, the code path of the scheduler's own
// fires.

// ScheduledKey names one scheduled time of one trigger of a workflow.
type ScheduledKey struct {
	TriggerID   string
	ScheduledAt time.Time // UTC, at the microsecond precision the store keeps
}

// ExecutionLookup finds existing executions by scheduled time. internal/store implements it; a
// Service over a store without it answers dry runs without existing execution ids.
type ExecutionLookup interface {
	// ExecutionIDsScheduled returns the ids of the workflow's executions of the triggers whose
	// scheduled time is in [from, until], in one query.
	ExecutionIDsScheduled(ctx context.Context, workflowID string, triggerIDs []string, from, until time.Time) (map[ScheduledKey]string, error)
}

// MinBackfillBatch is the smallest batch BackfillStep makes: more than a deployment's
// triggers (at most 32 fires share a scheduled time), so that a batch cut before the fires of
// the time that ends it still holds some.
const MinBackfillBatch = 64

// backfillScope is the cron triggers a backfill covers, of one DEPLOYED deployment.
type backfillScope struct {
	d        *deployments.Deployment
	triggers []scopedTrigger
}

type scopedTrigger struct {
	id   string
	trig *cron.Trigger
}

// backfillScope reads the deployment and its cron triggers (only triggerID when set): not
// found when either is missing, failed precondition when the deployment is not DEPLOYED or
// has no cron trigger.
func (s *Service) backfillScope(ctx context.Context, deploymentID, triggerID string) (*backfillScope, error) {
	d, err := s.store.DeploymentGet(ctx, deploymentID)
	if err != nil {
		return nil, fmt.Errorf("backfill deployment %s: %w", deploymentID, err)
	}
	if d.Status != deployments.StatusDeployed {
		return nil, fmt.Errorf("backfill deployment %s: it is %s, not DEPLOYED: %w", d.ID, d.Status, errdefs.ErrFailedPrecondition)
	}
	sc := &backfillScope{d: d}
	for _, t := range d.Triggers {
		if t.Cron == nil || (triggerID != "" && t.ID != triggerID) {
			continue
		}
		trig, err := NewTrigger(d.WorkflowID, t.Cron)
		if err != nil {
			return nil, fmt.Errorf("backfill %s/%s: %w", d.WorkflowID, t.ID, err)
		}
		sc.triggers = append(sc.triggers, scopedTrigger{id: t.ID, trig: trig})
	}
	if len(sc.triggers) == 0 {
		if triggerID != "" {
			return nil, fmt.Errorf("backfill deployment %s: no cron trigger %q: %w", d.ID, triggerID, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("backfill deployment %s: it has no cron trigger: %w", d.ID, errdefs.ErrFailedPrecondition)
	}
	return sc, nil
}

// plan returns the first n fires scheduled in [from, end), oldest first and by trigger id
// within one time; more says the range holds further fires, next is the scheduled time of the
// first of them.
func (sc *backfillScope) plan(from, end time.Time, n int) (fires []backfillFire, next time.Time, more bool, err error) {
	if !end.After(from) {
		return nil, time.Time{}, false, nil
	}
	for _, t := range sc.triggers {
		b, err := t.trig.Backfill(from, end, n+1)
		if err != nil {
			return nil, time.Time{}, false, fmt.Errorf("backfill %s/%s: %w", sc.d.WorkflowID, t.id, err)
		}
		for _, f := range b.Fires {
			fires = append(fires, backfillFire{triggerID: t.id, fire: f})
		}
	}
	slices.SortStableFunc(fires, func(a, b backfillFire) int {
		return cmp.Or(a.fire.Scheduled.Compare(b.fire.Scheduled), strings.Compare(a.triggerID, b.triggerID))
	})
	if len(fires) > n {
		return fires[:n], fires[n].fire.Scheduled, true, nil
	}
	return fires, time.Time{}, false, nil
}

// count is how many fires [from, end) holds over the scope's triggers.
func (sc *backfillScope) count(from, end time.Time) (int64, error) {
	var total int64
	for _, t := range sc.triggers {
		n, err := t.trig.Count(from, end)
		if err != nil {
			return 0, fmt.Errorf("backfill %s/%s: %w", sc.d.WorkflowID, t.id, err)
		}
		total += n
	}
	return total, nil
}

// backfillFires makes the fires, in order: their executions in one write (FireMany, each
// deduplicated by the executions' unique key on (workflow, trigger, scheduled time), as fire
// makes one), and their ledger rows, FIRED or DEDUPLICATED with reason "backfill", in one write
// after them (a failed ledger write is logged, as fire does: the executions are what matters).
// A time a blackout calendar covers makes no execution and is recorded SKIPPED with the
// calendar's name. On an error it returns what it made (the blacked-out times: the executions'
// write is one statement) with the error, and records that.
func (s *Service) backfillFires(ctx context.Context, d *deployments.Deployment, fires []backfillFire) (*BackfillResult, error) {
	res := &BackfillResult{Executions: make([]*execution.Execution, 0, len(fires))}
	ledger := make([]Fire, 0, len(fires))
	defer func() {
		if len(ledger) == 0 {
			return
		}
		// Written even when ctx ended mid-batch (a runner stopping): the executions made are.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerWriteTimeout)
		defer cancel()
		if err := s.store.FireRecord(wctx, ledger); err != nil {
			s.logger.WarnContext(ctx, "fire ledger write failed", slog.String("workflow_id", d.WorkflowID),
				slog.Int("fires", len(ledger)), slog.Any("error", err))
		}
	}()
	var (
		params []*execution.FireParams
		made   []backfillFire // the fires of params
	)
	for _, bf := range fires {
		name, err := s.Covering(ctx, d, bf.triggerID, bf.fire.Scheduled)
		if err != nil {
			return res, fmt.Errorf("backfill: %w", err)
		}
		if name != "" {
			res.BlackedOut++
			ledger = append(ledger, blackoutRecord(d, bf.triggerID, bf.fire, name, s.now()))
			continue
		}
		params = append(params, &execution.FireParams{Deployment: d, TriggerID: bf.triggerID, ScheduledAt: bf.fire.Scheduled, NominalAt: bf.fire.Nominal})
		made = append(made, bf)
	}
	if len(params) == 0 {
		return res, nil
	}
	got, err := s.executions.FireMany(ctx, params)
	if err != nil {
		return res, fmt.Errorf("backfill: fire %d times of %s from %s: %w", len(params), d.WorkflowID, made[0].fire.Scheduled.UTC().Format(time.RFC3339), err)
	}
	for i, g := range got {
		bf := made[i]
		outcome := OutcomeFired
		if g.Deduplicated {
			outcome = OutcomeDeduplicated
			res.Deduplicated++
		} else {
			res.Created++
		}
		res.Executions = append(res.Executions, g.Execution)
		ledger = append(ledger, Fire{
			WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: bf.triggerID,
			NominalAt: bf.fire.Nominal, ScheduledAt: bf.fire.Scheduled, FiredAt: s.now(),
			Outcome: outcome, ExecutionID: g.Execution.ID, Reason: "backfill",
		})
	}
	return res, nil
}

// ledgerWriteTimeout bounds the ledger write of a batch whose context ended.
const ledgerWriteTimeout = 5 * time.Second

// backfillUntil is where a backfill of [start, end) stops: end, or now when end is later
// (the scheduler fires the future when it comes).
func (s *Service) backfillUntil(end time.Time) time.Time {
	if now := s.now(); end.After(now) {
		return now
	}
	return end
}

// PlannedFire is one fire a backfill would make.
type PlannedFire struct {
	TriggerID string
	// Nominal is the cron expression's time; Scheduled adds the jitter offset.
	Nominal, Scheduled time.Time
	// ExistingExecutionID is the execution that exists for the time already; "" when the
	// backfill would create it.
	ExistingExecutionID string
	// BlackoutCalendar is the calendar that covers the time; "" when none does.
	BlackoutCalendar string
}

// BackfillPlan is the answer of BackfillDryRun.
type BackfillPlan struct {
	// Planned are the first limit fires of the range, oldest first.
	Planned []PlannedFire
	// Truncated says the range holds more fires than Planned.
	Truncated bool
}

// BackfillDryRun answers what Backfill would do with p, creating nothing: the first limit
// fires of the range, oldest first, each with the execution that exists for it already (read
// in one query for the page). It checks p as Backfill does.
func (s *Service) BackfillDryRun(ctx context.Context, p *BackfillParams) (*BackfillPlan, error) {
	sc, fires, more, err := s.backfillPage(ctx, p)
	if err != nil {
		return nil, err
	}
	plan := &BackfillPlan{Planned: make([]PlannedFire, len(fires)), Truncated: more}
	if len(fires) == 0 {
		return plan, nil
	}
	existing := map[ScheduledKey]string{}
	if lookup, ok := s.store.(ExecutionLookup); ok {
		ids := make([]string, len(sc.triggers))
		for i, t := range sc.triggers {
			ids[i] = t.id
		}
		existing, err = lookup.ExecutionIDsScheduled(ctx, sc.d.WorkflowID, ids, fires[0].fire.Scheduled, fires[len(fires)-1].fire.Scheduled)
		if err != nil {
			return nil, fmt.Errorf("backfill dry run of deployment %s: %w", sc.d.ID, err)
		}
	}
	for i, bf := range fires {
		name, err := s.Covering(ctx, sc.d, bf.triggerID, bf.fire.Scheduled)
		if err != nil {
			return nil, fmt.Errorf("backfill dry run of deployment %s: %w", sc.d.ID, err)
		}
		plan.Planned[i] = PlannedFire{
			TriggerID: bf.triggerID, Nominal: bf.fire.Nominal, Scheduled: bf.fire.Scheduled,
			ExistingExecutionID: existing[ScheduledKey{TriggerID: bf.triggerID, ScheduledAt: bf.fire.Scheduled.UTC().Truncate(time.Microsecond)}],
			BlackoutCalendar:    name,
		}
	}
	return plan, nil
}

// BackfillRange is a backfill's range as an operation runs it.
type BackfillRange struct {
	DeploymentID, WorkflowID string
	// TriggerID is the one cron trigger; "" for all of them.
	TriggerID string
	// Start and End are the range as requested; Until is where the fires stop: End, or the
	// time of the request when End is later.
	Start, End, Until time.Time
	// Total is how many fires [Start, Until) holds.
	Total int64
}

// BackfillRange checks p as Backfill does and counts the fires of its range: what a backfill
// operation starts from.
func (s *Service) BackfillRange(ctx context.Context, p *BackfillParams) (*BackfillRange, error) {
	if _, err := s.backfillLimit(p); err != nil {
		return nil, err
	}
	sc, err := s.backfillScope(ctx, p.DeploymentID, p.TriggerID)
	if err != nil {
		return nil, err
	}
	r := &BackfillRange{
		DeploymentID: sc.d.ID, WorkflowID: sc.d.WorkflowID, TriggerID: p.TriggerID,
		Start: p.Start, End: p.End, Until: s.backfillUntil(p.End),
	}
	if r.Until.Before(r.Start) {
		r.Until = r.Start
	}
	if r.Total, err = sc.count(r.Start, r.Until); err != nil {
		return nil, err
	}
	return r, nil
}

// BackfillStepParams is one batch of a backfill operation.
type BackfillStepParams struct {
	DeploymentID string
	// TriggerID is the one cron trigger; "" for all of them.
	TriggerID string
	// Cursor is where the batch begins: every fire scheduled before it is made.
	Cursor time.Time
	// Until ends the range (exclusive).
	Until time.Time
	// BatchSize is the most fires the batch makes; at least MinBackfillBatch.
	BatchSize int
}

// BackfillStepResult is what one batch made.
type BackfillStepResult struct {
	Created, Deduplicated, BlackedOut int
	// Cursor is where the next batch begins: every fire scheduled before it is made (Until
	// once Done).
	Cursor time.Time
	// Done says the range holds no fire at or after Cursor.
	Done bool
}

// BackfillStep makes the next batch of a backfill operation: the oldest BatchSize fires at or
// after p.Cursor, less those of the scheduled time the batch would split (they begin the next
// batch, so that the cursor is a time before which every fire is made), through the code path
// of Backfill. A batch made again (after a takeover) creates nothing twice: its fires are
// deduplicated. An error leaves the cursor where it was.
func (s *Service) BackfillStep(ctx context.Context, p *BackfillStepParams) (*BackfillStepResult, error) {
	sc, err := s.backfillScope(ctx, p.DeploymentID, p.TriggerID)
	if err != nil {
		return nil, err
	}
	n := max(p.BatchSize, MinBackfillBatch)
	fires, next, more, err := sc.plan(p.Cursor, p.Until, n)
	if err != nil {
		return nil, err
	}
	if more {
		// The fires of next's time that made the batch begin the next one.
		fires = slices.DeleteFunc(fires, func(bf backfillFire) bool { return !bf.fire.Scheduled.Before(next) })
	}
	made, err := s.backfillFires(ctx, sc.d, fires)
	if err != nil {
		return nil, err
	}
	res := &BackfillStepResult{Created: made.Created, Deduplicated: made.Deduplicated, BlackedOut: made.BlackedOut, Cursor: p.Until, Done: !more}
	if more {
		res.Cursor = next
	}
	return res, nil
}
