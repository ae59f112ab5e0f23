package schedulehealth

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// Store is what the package reads. internal/store implements it for PostgreSQL and SQLite.
type Store interface {
	// ScheduleHealthTriggers returns the cron triggers of up to p.Limit DEPLOYED or PAUSED
	// deployments with workflow id > p.AfterWorkflowID (only p.DeploymentID's when set), by
	// workflow id then trigger id, each with the ledger's row of its latest scheduled time;
	// and the workflow id to read on after when p.Limit deployments were read ("" when the
	// read reached the end).
	ScheduleHealthTriggers(ctx context.Context, p *TriggerParams) (triggers []Trigger, next string, err error)
	// ScheduleHealthRuns returns, per trigger, its latest finished runs (at most
	// p.PerTrigger, scheduled at or after p.Since), newest first, and the ledger's settled and
	// SKIPPED counts from the oldest of them on. A trigger with no run is absent.
	ScheduleHealthRuns(ctx context.Context, p *RunParams) (map[scheduler.TriggerKey]*RunStats, error)
	// DeploymentGet is deployments.Store's: the deployment filter's not_found.
	DeploymentGet(ctx context.Context, id string) (*deployments.Deployment, error)
}

// TriggerParams selects a page of ScheduleHealthTriggers.
type TriggerParams struct {
	DeploymentID    string
	AfterWorkflowID string
	// Limit counts deployments, not triggers. Default and at most 1000.
	Limit int
}

// RunParams selects ScheduleHealthRuns.
type RunParams struct {
	Keys       []scheduler.TriggerKey
	Since      time.Time
	PerTrigger int
}

// Config configures a Service. Every field has a default.
type Config struct {
	// Grace is how late a fire may be and still be on time (see the package doc). Default
	// DefaultGrace.
	Grace time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// PageTokens signs the list's page tokens. Default pagetoken.New(nil).
	PageTokens *pagetoken.Codec
	// Silenced says whether the trigger's blackout calendars cover every fire of the coming
	// year (scheduler.Service.TriggerSilenced): such a trigger is SILENT. Optional: without
	// it, only an expression that does not fire again is SILENT.
	Silenced func(ctx context.Context, workflowID string, c *deployments.CronSchedule, now time.Time) (bool, error)
}

// Service computes schedule health from the database alone.
type Service struct {
	store  Store
	grace  time.Duration
	now    func() time.Time
	tokens *pagetoken.Codec
	owed   *owedCache
	// silenced is Config.Silenced.
	silenced func(ctx context.Context, workflowID string, c *deployments.CronSchedule, now time.Time) (bool, error)
}

// NewService returns a Service over store.
func NewService(store Store, cfg Config) *Service {
	s := &Service{store: store, grace: cmp.Or(cfg.Grace, DefaultGrace), now: cfg.Now, tokens: cfg.PageTokens, owed: newOwedCache(), silenced: cfg.Silenced}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokens == nil {
		s.tokens = pagetoken.New(nil)
	}
	return s
}

// Grace is the service's grace.
func (s *Service) Grace() time.Duration { return s.grace }

// storePage is how many deployments one read of the store covers.
const storePage = 1000

// Evaluate returns the verdict of every cron trigger of every DEPLOYED or PAUSED deployment
// (only deploymentID's when set) at now, in the order of the list.
func (s *Service) Evaluate(ctx context.Context, deploymentID string, now time.Time) ([]Verdict, []*Trigger, error) {
	var (
		verdicts []Verdict
		triggers []*Trigger
	)
	var gen uint64
	if deploymentID == "" {
		gen = s.owed.begin()
	}
	p := &TriggerParams{DeploymentID: deploymentID, Limit: storePage}
	for {
		page, next, err := s.store.ScheduleHealthTriggers(ctx, p)
		if err != nil {
			return nil, nil, fmt.Errorf("schedule health: %w", err)
		}
		for i := range page {
			v := evaluate(&page[i], now, s.grace, s.owed.count)
			if err := s.blackedOut(ctx, &page[i], &v, now); err != nil {
				return nil, nil, fmt.Errorf("schedule health: %w", err)
			}
			verdicts = append(verdicts, v)
			triggers = append(triggers, &page[i])
		}
		if next == "" {
			break
		}
		p.AfterWorkflowID = next
	}
	if gen > 0 {
		s.owed.end(gen)
	}
	order := make([]int, len(verdicts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compare(&verdicts[a], &verdicts[b]) })
	sortedV := make([]Verdict, len(order))
	sortedT := make([]*Trigger, len(order))
	for i, j := range order {
		sortedV[i], sortedT[i] = verdicts[j], triggers[j]
	}
	return sortedV, sortedT, nil
}

// blackedOut makes SILENT a trigger that owes nothing and whose blackout calendars cover every
// fire of the coming year.
func (s *Service) blackedOut(ctx context.Context, t *Trigger, v *Verdict, now time.Time) error {
	if s.silenced == nil || len(t.Cron.BlackoutCalendars) == 0 || (v.State != StateOnTime && v.State != StateLate) {
		return nil
	}
	silent, err := s.silenced(ctx, t.WorkflowID, &t.Cron, now)
	if err != nil || !silent {
		return err
	}
	v.State = StateSilent
	v.Reason = "blackout calendars " + strings.Join(t.Cron.BlackoutCalendars, ", ") + " cover every fire of the coming year"
	return nil
}

// compare orders verdicts as the list does: by state, workflow id, trigger id.
func compare(a, b *Verdict) int {
	return cmp.Or(cmp.Compare(a.State, b.State), strings.Compare(a.WorkflowID, b.WorkflowID), strings.Compare(a.TriggerID, b.TriggerID))
}

// Page sizes of List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ListQuery selects a page of List.
type ListQuery struct {
	// DeploymentID: only its triggers; "" for every deployment.
	DeploymentID string
	// States: only these; empty for all.
	States []State
	// PageSize defaults to DefaultPageSize and is capped at MaxPageSize.
	PageSize  int
	PageToken string
}

// ListResult is one page of List.
type ListResult struct {
	Verdicts []Verdict
	// Next is the next page's token; "" on the last page.
	Next string
	// Counts are the triggers per state over every page (the states filter applied).
	Counts map[State]int64
}

// tokenKind names List's tokens for internal/pagetoken.
const tokenKind = "schedulehealth.list"

// cursor is the payload of a page token: the last verdict of the page.
type cursor struct {
	State      State  `json:"s"`
	WorkflowID string `json:"w"`
	TriggerID  string `json:"t"`
}

func binding(q *ListQuery) []byte {
	states := make([]string, len(q.States))
	for i, st := range q.States {
		states[i] = st.String()
	}
	states = slices.Compact(slices.Sorted(slices.Values(states)))
	return fmt.Appendf(nil, "d=%q\ns=%s", q.DeploymentID, strings.Join(states, ","))
}

// List returns one page of verdicts: unhealthy first, then by workflow id and trigger id; the
// page's triggers carry their cadence advice.
func (s *Service) List(ctx context.Context, q ListQuery) (*ListResult, error) {
	size := q.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	var after *cursor
	if q.PageToken != "" {
		var c cursor
		if err := s.tokens.Decode(q.PageToken, tokenKind, binding(&q), &c); err != nil {
			return nil, err
		}
		if c.State < StateOverdue || c.State > StateOnTime || c.WorkflowID == "" {
			return nil, pagetoken.Invalid()
		}
		after = &c
	}
	if q.DeploymentID != "" {
		if _, err := s.store.DeploymentGet(ctx, q.DeploymentID); err != nil {
			return nil, fmt.Errorf("schedule health of deployment %s: %w", q.DeploymentID, err)
		}
	}
	now := s.now()
	verdicts, triggers, err := s.Evaluate(ctx, q.DeploymentID, now)
	if err != nil {
		return nil, err
	}
	res := &ListResult{Counts: map[State]int64{}}
	var pageTriggers []*Trigger
	more := false
	for i := range verdicts {
		v := &verdicts[i]
		if len(q.States) > 0 && !slices.Contains(q.States, v.State) {
			continue
		}
		res.Counts[v.State]++
		if after != nil && compare(v, &Verdict{State: after.State, WorkflowID: after.WorkflowID, TriggerID: after.TriggerID}) <= 0 {
			continue
		}
		if len(res.Verdicts) == size {
			more = true
			continue
		}
		res.Verdicts = append(res.Verdicts, *v)
		pageTriggers = append(pageTriggers, triggers[i])
	}
	if more {
		last := res.Verdicts[len(res.Verdicts)-1]
		res.Next, err = s.tokens.Encode(tokenKind, binding(&q), cursor{State: last.State, WorkflowID: last.WorkflowID, TriggerID: last.TriggerID})
		if err != nil {
			return nil, err
		}
	}
	if err := s.advise(ctx, res.Verdicts, pageTriggers, now); err != nil {
		return nil, err
	}
	return res, nil
}

// advise fills the cadence advice of the verdicts.
func (s *Service) advise(ctx context.Context, verdicts []Verdict, triggers []*Trigger, now time.Time) error {
	if len(verdicts) == 0 {
		return nil
	}
	keys := make([]scheduler.TriggerKey, len(triggers))
	for i, t := range triggers {
		keys[i] = t.Key()
	}
	stats, err := s.store.ScheduleHealthRuns(ctx, &RunParams{Keys: keys, Since: now.Add(-RunWindow), PerTrigger: MaxRuns})
	if err != nil {
		return fmt.Errorf("schedule health: %w", err)
	}
	for i, t := range triggers {
		c := Advise(Interval(&t.Cron, t.WorkflowID, now), t.Config.OverlapPolicy, stats[keys[i]])
		verdicts[i].Cadence = &c
	}
	return nil
}
