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
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
)

// Executions creates the execution of one cron fire, once per (workflow, trigger, scheduled
// time). execution.Service implements it.
type Executions interface {
	Fire(ctx context.Context, p *execution.FireParams) (e *execution.Execution, deduplicated bool, err error)
	// FireMany is Fire for many times of one deployment, in one write: a backfill's batch.
	FireMany(ctx context.Context, ps []*execution.FireParams) ([]execution.FireResult, error)
}

// ServiceConfig configures a Service. Every field has a default.
type ServiceConfig struct {
	// Now is the clock of fire records, previews, backfill bounds and misfire plans. Default
	// time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// PageTokens signs ListFires' page tokens. Default pagetoken.New(nil), the development key:
	// the app passes the one built from WFR_PAGE_TOKEN_KEY.
	PageTokens *pagetoken.Codec
	// MaxBackfill is the most executions one Backfill may create (WFR_MAX_BACKFILL): a larger
	// limit is refused, and the default limit is cut to it. Default and at most MaxBackfillLimit.
	MaxBackfill int
	// MaxBackfillRange is the longest [start, end) one Backfill may span (WFR_MAX_BACKFILL_RANGE).
	// Default and at most MaxBackfillRange.
	MaxBackfillRange time.Duration
	// Blackouts reads blackout calendars and the ledger's latest rows (blackout.go). Default
	// nil: no trigger is ever blacked out.
	Blackouts BlackoutStore
}

// Service is the scheduling work shared by the scheduler role and the API: make one fire (the
// execution and its ledger record), catch up misfires, backfill a range, preview, list the
// ledger.
type Service struct {
	store      Store
	executions Executions
	now        func() time.Time
	logger     *slog.Logger
	tokens     *pagetoken.Codec
	maxFill    int           // ServiceConfig.MaxBackfill
	maxRange   time.Duration // ServiceConfig.MaxBackfillRange
	cal        *calendarCache
}

// NewService returns a Service.
func NewService(store Store, executions Executions, cfg ServiceConfig) *Service {
	s := &Service{store: store, executions: executions, now: cfg.Now, logger: cfg.Logger, tokens: cfg.PageTokens,
		cal: &calendarCache{store: cfg.Blackouts}}
	if s.tokens == nil {
		s.tokens = pagetoken.New(nil)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.maxFill = MaxBackfillLimit
	if cfg.MaxBackfill > 0 {
		s.maxFill = min(cfg.MaxBackfill, MaxBackfillLimit)
	}
	s.maxRange = MaxBackfillRange
	if cfg.MaxBackfillRange > 0 {
		s.maxRange = min(cfg.MaxBackfillRange, MaxBackfillRange)
	}
	return s
}

// NewTrigger builds the scheduling trigger of one cron schedule of a workflow.
func NewTrigger(workflowID string, c *deployments.CronSchedule) (*cron.Trigger, error) {
	return c.Trigger(workflowID) // the parser deploy validated it with
}

// cronTrigger returns the deployment's cron trigger with this id, or nil.
func cronTrigger(d *deployments.Deployment, triggerID string) *deployments.CronSchedule {
	for _, t := range d.Triggers {
		if t.ID == triggerID && t.Cron != nil {
			return t.Cron
		}
	}
	return nil
}

// fire makes one fire of a trigger: the execution (deduplicated by its unique key) and the
// ledger record, outcome (FIRED or CAUGHT_UP) when this call created the execution,
// DEDUPLICATED when it existed already. A ledger write that fails is logged, not returned: the
// execution is what matters.
func (s *Service) fire(ctx context.Context, d *deployments.Deployment, triggerID string, f cron.Fire, outcome Outcome, reason string) (*execution.Execution, bool, error) {
	e, dup, err := s.executions.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: triggerID, ScheduledAt: f.Scheduled, NominalAt: f.Nominal})
	if err != nil {
		return nil, false, fmt.Errorf("fire %s/%s at %s: %w", d.WorkflowID, triggerID, f.Scheduled.UTC().Format(time.RFC3339), err)
	}
	if dup {
		outcome = OutcomeDeduplicated
	}
	rec := Fire{
		WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: triggerID,
		NominalAt: f.Nominal, ScheduledAt: f.Scheduled, FiredAt: s.now(),
		Outcome: outcome, ExecutionID: e.ID, Reason: reason,
	}
	if err := s.store.FireRecord(ctx, []Fire{rec}); err != nil {
		s.logger.WarnContext(ctx, "fire ledger write failed", slog.String("workflow_id", d.WorkflowID),
			slog.String("trigger_id", triggerID), slog.Any("error", err))
	}
	return e, dup, nil
}

// CatchUpResult is what CatchUp did for one trigger.
type CatchUpResult struct {
	// Fired are the scheduled times fired now (ledger CAUGHT_UP, or DEDUPLICATED when another
	// replica had made them).
	Fired []time.Time
	// Missed are the scheduled times recorded MISSED.
	Missed []time.Time
	// Paused are the scheduled times between a pause and the resume recorded PAUSED
	// (paused.go).
	Paused []time.Time
	// Deferred are the scheduled times the plan found missed but a live fire of another
	// replica may still make (a catch-up after downtime, of times less than the scheduler's
	// SettleAfter old): not recorded yet. The Scheduler records them MISSED once those fires
	// are done, if they still have no execution and no ledger row (outage.go).
	Deferred []time.Time
	// BlackedOut are the scheduled times a blackout calendar covered: recorded SKIPPED.
	BlackedOut []time.Time
	// Recorded are the scheduled times that had an execution and no ledger row (a scheduler
	// stopped between the two writes of a fire): recorded FIRED now, with the execution's id.
	Recorded []time.Time

	deferred []Fire // the MISSED rows of Deferred
}

// CatchUp fires what a trigger missed while no scheduler ran, as of now: the scheduled times
// after the latest one on record (or after the deployment was last deployed, whichever is
// later) up to now, per the deployment's misfire policy and catch-up window
// (cron.PlanMisfires). The scheduler calls it when it schedules a trigger; tests call it
// with an explicit now.
func (s *Service) CatchUp(ctx context.Context, d *deployments.Deployment, triggerID string, now time.Time) (CatchUpResult, error) {
	var res CatchUpResult
	c := cronTrigger(d, triggerID)
	if c == nil {
		return res, fmt.Errorf("catch up %s/%s: no such cron trigger: %w", d.WorkflowID, triggerID, errdefs.ErrNotFound)
	}
	trig, err := NewTrigger(d.WorkflowID, c)
	if err != nil {
		return res, fmt.Errorf("catch up %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	last, err := s.store.FireLastScheduled(ctx, d.WorkflowID, triggerID)
	if err != nil {
		return res, fmt.Errorf("catch up %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	return s.catchUpFrom(ctx, d, triggerID, trig, gap{last: last, now: now, cause: causeDowntime})
}

// Causes of a gap, the start of the reasons its ledger rows give.
const (
	causeDowntime = "no scheduler ran"
	causeOutage   = "the store was unavailable"
	// causeStalled: go-quartz found the fire more than OutdatedThreshold late (the process
	// was stalled or starved of CPU) and skipped it.
	causeStalled = "the scheduler fell behind"
)

// reasonUnrecorded is the reason of the FIRED row a catch-up writes for an execution whose fire
// did not write its ledger row.
const reasonUnrecorded = "recorded by a catch-up: the fire made the execution, but its scheduler stopped before writing this row"

// gap is a stretch of a trigger's scheduled times that nobody fired: (last, until].
type gap struct {
	// last is the latest scheduled time on record before the gap; zero: none.
	last time.Time
	// until ends the gap; zero: now. The times after it are the live fires'.
	until time.Time
	// now is the time of the plan: the catch-up window is measured from it.
	now time.Time
	// cause says why the times were missed, in words (causeDowntime, causeOutage, causeStalled).
	cause string
	// decided are times inside the gap that have an execution or a ledger row already (made by
	// another replica, or by a live fire while the gap was open): left alone, neither fired nor
	// recorded MISSED. Nil: none looked up.
	decided map[time.Time]bool
	// liveAfter: the times after it may still be made by another replica's live fire (one
	// fires up to SettleAfter late: a standby waiting out the fire lock of a replica that died
	// holding it). The MISSED ones among them are not recorded but returned in
	// CatchUpResult.Deferred. Zero: every MISSED time is recorded now.
	liveAfter time.Time
}

// catchUpFrom settles a gap of one trigger: the plan of cron.PlanMisfires over (g.last,
// g.until], with the deployment's misfire policy and catch-up window measured from g.now. The
// times it fires are recorded CAUGHT_UP (DEDUPLICATED when another replica made them), the
// others MISSED, each with a reason that starts with g.cause. A catch-up after downtime and the
// settlement of a store outage both come here.
func (s *Service) catchUpFrom(ctx context.Context, d *deployments.Deployment, triggerID string, trig *cron.Trigger, g gap) (CatchUpResult, error) {
	var res CatchUpResult
	if g.until.IsZero() { // a catch-up, not a settlement: the times of a pause are PAUSED
		paused, err := s.recordPaused(ctx, d, triggerID, trig, g.last)
		if err != nil {
			return res, fmt.Errorf("catch up: %w", err)
		}
		res.Paused = paused
	}
	// Nothing before the deployment (re)started counts as missed: not a paused stretch, not the
	// time before the first deploy. Never fired and never deployed: nothing to catch up.
	last := g.last
	if d.DeployedAt.After(last) {
		last = d.DeployedAt
	}
	// An unknown policy (a corrupt config: Deploy validates it) fails the plan and this catch-up.
	misfire := d.Config.MisfirePolicy.OrDefault()
	plan, err := cron.PlanMisfires(trig, cron.MisfireParams{
		LastFire:      last,
		Now:           g.now,
		Until:         g.until,
		CatchUpWindow: d.Config.CatchUpWindow,
		Policy:        misfire,
	})
	if err != nil {
		return res, fmt.Errorf("catch up %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	if g.decided == nil && len(plan.Missed)+len(plan.Fire) > 0 {
		// A catch-up after downtime starts after the latest ledger time, so no time of its
		// plan has a ledger row; one may have an execution, made by a fire whose ledger row
		// was not written before its scheduler stopped. Such a time is recorded FIRED and left
		// out of the plan: neither fired again nor recorded MISSED.
		// A time after liveAfter may have a live fire of another replica under way, between its
		// two writes: its own row comes.
		end := g.until
		if end.IsZero() {
			end = g.now
		}
		if !g.liveAfter.IsZero() && g.liveAfter.Before(end) {
			end = g.liveAfter
		}
		made, err := s.store.FireUnrecorded(ctx, d.WorkflowID, triggerID, last, end)
		if err != nil {
			return res, fmt.Errorf("catch up %s/%s: %w", d.WorkflowID, triggerID, err)
		}
		if len(made) > 0 {
			g.decided = make(map[time.Time]bool, len(made))
			for i := range made {
				made[i].Outcome, made[i].Reason = OutcomeFired, reasonUnrecorded
				g.decided[made[i].ScheduledAt.UTC()] = true
				res.Recorded = append(res.Recorded, made[i].ScheduledAt)
			}
			if err := s.store.FireRecord(ctx, made); err != nil {
				return res, fmt.Errorf("catch up %s/%s: %w", d.WorkflowID, triggerID, err)
			}
		}
	}
	undecided := func(fs []cron.Fire) []cron.Fire {
		if len(g.decided) == 0 {
			return fs
		}
		return slices.DeleteFunc(fs, func(f cron.Fire) bool { return g.decided[f.Scheduled.UTC()] })
	}
	plan.Missed, plan.Fire = undecided(plan.Missed), undecided(plan.Fire)
	if plan.Fire, plan.Missed, res.BlackedOut, err = s.skipBlackouts(ctx, d, triggerID, g.now, plan.Fire, plan.Missed); err != nil {
		return res, fmt.Errorf("catch up %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	var reason string // built when there are fires: a load catches up every trigger
	if len(plan.Missed) > 0 {
		reason = fmt.Sprintf("%s; misfire policy %s, catch-up window %s", g.cause, misfire, d.Config.CatchUpWindow)
	}
	var missed []Fire
	for _, f := range plan.Missed {
		rec := Fire{
			WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: triggerID,
			NominalAt: f.Nominal, ScheduledAt: f.Scheduled, FiredAt: g.now,
			Outcome: OutcomeMissed, Reason: reason,
		}
		if !g.liveAfter.IsZero() && f.Scheduled.After(g.liveAfter) {
			res.deferred = append(res.deferred, rec)
			res.Deferred = append(res.Deferred, f.Scheduled)
			continue
		}
		missed = append(missed, rec)
		res.Missed = append(res.Missed, f.Scheduled)
	}
	if len(missed) > 0 {
		if err := s.store.FireRecord(ctx, missed); err != nil {
			return res, fmt.Errorf("catch up %s/%s: %w", d.WorkflowID, triggerID, err)
		}
	}
	if len(plan.Fire) > 0 {
		reason = "fired late, inside the catch-up window " + d.Config.CatchUpWindow.String()
		if g.cause != causeDowntime {
			reason = "fired late (" + g.cause + "), inside the catch-up window " + d.Config.CatchUpWindow.String()
		}
	}
	for _, f := range plan.Fire {
		if _, _, err := s.fire(ctx, d, triggerID, f, OutcomeCaughtUp, reason); err != nil {
			return res, fmt.Errorf("catch up: %w", err)
		}
		res.Fired = append(res.Fired, f.Scheduled)
	}
	if plan.FiresCapped || plan.MissedTruncated {
		s.logger.WarnContext(ctx, "catch-up capped", slog.String("workflow_id", d.WorkflowID), slog.String("trigger_id", triggerID),
			slog.Bool("fires_capped", plan.FiresCapped), slog.Bool("missed_truncated", plan.MissedTruncated))
	}
	return res, nil
}

// TriggerPreview is the coming fires of one cron trigger.
type TriggerPreview struct {
	TriggerID string
	cron.Preview
	// Blackouts, parallel to Fires, name the calendar covering each ("" when it runs); set
	// by MarkBlackouts.
	Blackouts []string
}

// PreviewFires is how many fires Preview lists per trigger.
const PreviewFires = 5

// Preview returns the next PreviewFires fires after now of each of d's cron triggers, in the
// order of d.Triggers.
func (s *Service) Preview(d *deployments.Deployment) ([]TriggerPreview, error) {
	now := s.now()
	var out []TriggerPreview
	for _, t := range d.Triggers {
		if t.Cron == nil {
			continue
		}
		trig, err := NewTrigger(d.WorkflowID, t.Cron)
		if err != nil {
			return nil, fmt.Errorf("preview %s/%s: %w", d.WorkflowID, t.ID, err)
		}
		p, err := trig.Preview(now, PreviewFires)
		if err != nil {
			return nil, fmt.Errorf("preview %s/%s: %w", d.WorkflowID, t.ID, err)
		}
		out = append(out, TriggerPreview{TriggerID: t.ID, Preview: p})
	}
	return out, nil
}

// Backfill limits. MaxBackfillLimit and MaxBackfillRange are the hard maxima, the API's own
// (BackfillDeploymentRequest's rules); a server may set lower ceilings (ServiceConfig).
const (
	DefaultBackfillLimit = 1000
	MaxBackfillLimit     = 10000
	MaxBackfillRange     = 31 * 24 * time.Hour
)

// BackfillParams is the input of Backfill.
type BackfillParams struct {
	DeploymentID string
	// TriggerID limits the backfill to one cron trigger; "" means all of them.
	TriggerID string
	// Start and End bound the scheduled times: [Start, End). End is cut at now.
	Start, End time.Time
	// Limit caps the fires over all triggers. Default DefaultBackfillLimit (or
	// ServiceConfig.MaxBackfill when lower); at most ServiceConfig.MaxBackfill.
	Limit int
}

// BackfillResult is what Backfill did.
type BackfillResult struct {
	// Executions, one per scheduled time, oldest first.
	Executions []*execution.Execution
	// Created and Deduplicated count Executions by whether this call made them.
	Created, Deduplicated int
	// Truncated says the range holds more fires than the limit: nothing was created.
	Truncated bool
	// BlackedOut counts the times a blackout calendar covered: recorded SKIPPED, no execution.
	BlackedOut int
}

type backfillFire struct {
	triggerID string
	fire      cron.Fire
}

// Backfill creates the executions of every scheduled time in [p.Start, min(p.End, now)) of a
// DEPLOYED deployment's cron triggers, deduplicated by the same key as the scheduler's fires,
// so a repeat (or a fire the scheduler made) creates nothing new. Each is recorded in the
// ledger, FIRED or DEDUPLICATED, with reason "backfill". A range that holds more fires than the
// limit creates nothing: the result is Truncated, and the caller runs the range as a backfill
// operation (internal/backfill). The fires are made by backfillFires (backfill.go), which the
// operation's batches share.
func (s *Service) Backfill(ctx context.Context, p *BackfillParams) (*BackfillResult, error) {
	sc, fires, more, err := s.backfillPage(ctx, p)
	if err != nil {
		return nil, err
	}
	if more {
		return &BackfillResult{Truncated: true}, nil
	}
	return s.backfillFires(ctx, sc.d, fires)
}

// backfillPage checks p and plans the first limit fires of its range (up to now): what
// Backfill makes and BackfillDryRun lists; more says the range holds further fires.
func (s *Service) backfillPage(ctx context.Context, p *BackfillParams) (sc *backfillScope, fires []backfillFire, more bool, err error) {
	limit, err := s.backfillLimit(p)
	if err != nil {
		return nil, nil, false, err
	}
	if sc, err = s.backfillScope(ctx, p.DeploymentID, p.TriggerID); err != nil {
		return nil, nil, false, err
	}
	fires, _, more, err = sc.plan(p.Start, s.backfillUntil(p.End), limit)
	if err != nil {
		return nil, nil, false, err
	}
	return sc, fires, more, nil
}

// backfillLimit checks p against the API's rules and this server's ceilings and returns the
// limit it asks for, or the default.
func (s *Service) backfillLimit(p *BackfillParams) (int, error) {
	v := &errdefs.ValidationError{}
	if !p.End.After(p.Start) {
		v.Add("end_time", "time_range.ordered", "end_time must be after start_time")
	}
	if span := p.End.Sub(p.Start); span > s.maxRange {
		v.Add("end_time", "limits.max_backfill_range",
			"the range spans %s; this server allows at most %s (WFR_MAX_BACKFILL_RANGE)", span, s.maxRange)
	}
	if p.Limit < 0 {
		v.Add("limit", "limit.range", "limit must not be negative")
	} else if p.Limit > s.maxFill {
		v.Add("limit", "limits.max_backfill",
			"%d is more than this server allows (%d, WFR_MAX_BACKFILL)", p.Limit, s.maxFill)
	}
	if err := v.OrNil(); err != nil {
		return 0, err
	}
	return cmp.Or(p.Limit, min(DefaultBackfillLimit, s.maxFill)), nil
}

// Page sizes of ListFires.
const (
	DefaultFirePageSize = 100
	MaxFirePageSize     = 1000
)

// ListFiresQuery selects a page of ListFires.
type ListFiresQuery struct {
	// DeploymentID: only this deployment's fires; "" for every deployment's.
	DeploymentID string
	// WorkflowIDs: only these workflows' fires; empty means all.
	WorkflowIDs []string
	// TriggerID: only this trigger's fires; "" means all.
	TriggerID string
	// Start and End bound the scheduled times: [Start, End); zero means unbounded.
	Start, End time.Time
	// Outcomes filters; empty means all.
	Outcomes []Outcome
	// PageSize defaults to DefaultFirePageSize and is capped at MaxFirePageSize.
	PageSize int
	// PageToken is the previous page's next token; "" for the first page.
	PageToken string
}

// firesTokenKind names ListFires' tokens for internal/pagetoken.
const firesTokenKind = "scheduler.fires"

// fireCursor is the payload of a ListFires page token: the last fire of the page.
type fireCursor struct {
	ScheduledAt time.Time `json:"t"`
	ID          string    `json:"i"`
}

// firesBinding is the canonical form of the filters a ListFires token is bound to.
func firesBinding(q *ListFiresQuery) []byte {
	outcomes := make([]string, len(q.Outcomes))
	for i, o := range q.Outcomes {
		outcomes[i] = string(o)
	}
	outcomes = slices.Compact(slices.Sorted(slices.Values(outcomes)))
	return fmt.Appendf(nil, "d=%q\no=%s\nfrom=%d\nto=%d%s", q.DeploymentID, strings.Join(outcomes, ","),
		unixOrZero(q.Start), unixOrZero(q.End), firesBindingMore(q))
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// ListFires returns one page of the fire ledger (one deployment's, or every deployment's),
// oldest scheduled time first, and the token of the next page ("" on the last one).
func (s *Service) ListFires(ctx context.Context, q ListFiresQuery) ([]Fire, string, error) {
	size := q.PageSize
	if size <= 0 {
		size = DefaultFirePageSize
	}
	size = min(size, MaxFirePageSize)
	p := &FireListParams{DeploymentID: q.DeploymentID, WorkflowIDs: slices.Clone(q.WorkflowIDs), TriggerID: q.TriggerID,
		Start: q.Start, End: q.End, Outcomes: slices.Clone(q.Outcomes), Limit: size + 1}
	if q.PageToken != "" {
		var c fireCursor
		if err := s.tokens.Decode(q.PageToken, firesTokenKind, firesBinding(&q), &c); err != nil {
			return nil, "", err
		}
		if c.ID == "" || c.ScheduledAt.Year() < 1 || c.ScheduledAt.Year() > 9999 {
			return nil, "", pagetoken.Invalid()
		}
		p.AfterScheduledAt, p.AfterID = c.ScheduledAt.UTC(), c.ID
	}
	if q.DeploymentID != "" {
		if _, err := s.store.DeploymentGet(ctx, q.DeploymentID); err != nil {
			return nil, "", fmt.Errorf("list fires of deployment %s: %w", q.DeploymentID, err)
		}
	}
	fires, err := s.store.FireList(ctx, p)
	if err != nil {
		return nil, "", err // says "list fires"
	}
	next := ""
	if len(fires) > size {
		fires = fires[:size]
		last := fires[size-1]
		if next, err = s.tokens.Encode(firesTokenKind, firesBinding(&q), fireCursor{ScheduledAt: last.ScheduledAt.UTC(), ID: last.ID}); err != nil {
			return nil, "", err
		}
	}
	return fires, next, nil
}
