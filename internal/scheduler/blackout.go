package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// Blackout calendars in the fire path. A fire whose scheduled time a calendar of its trigger
// covers creates no execution: the ledger gets SKIPPED, with no execution, the reason
// "blackout calendar <name>" and BlackoutCalendar set. The live fire, a catch-up (after
// downtime or a store outage) and a backfill all decide so; previews mark such fires.
//
// After the window (policy FIRE_ONCE), the trigger fires once: scheduled at the window's end
// (calendars.Set.WindowEnd of the latest covered time) plus the jitter offset, with the latest
// covered nominal time. Whether it is owed is read from the ledger (AfterBlackout): the
// trigger's latest row is a blackout SKIPPED and nothing was recorded after it. So it is
// decided the same way by the replica whose live fire was covered (which arms a timer for the
// window's end), by every other replica, and by a replica that starts after a restart during
// or after the window (apply calls it after the catch-up); the executions' unique key
// (workflow_id, trigger_id, scheduled_at) makes it once, and the ledger's row for it (FIRED,
// or DEDUPLICATED for the losers) ends the debt. Made later than the deployment's catch-up
// window after the window's end, it is recorded MISSED instead. A regular fire between the
// window's end and the after-window time makes it unnecessary: that fire is the latest row.

// CalendarsChangedChannel is the notification channel of calendar changes; the payload is the
// calendar's name. The calendar service's OnChange publishes on it.
const CalendarsChangedChannel = "calendars.changed"

// BlackoutStore is what blackouts need from storage. internal/store implements it.
type BlackoutStore interface {
	// CalendarGetMany returns the calendars of these names that exist.
	CalendarGetMany(ctx context.Context, names []string) ([]*calendars.Calendar, error)
	// FireLatest returns the ledger rows of the trigger's latest scheduled time.
	FireLatest(ctx context.Context, workflowID, triggerID string) ([]Fire, error)
}

// calendarCache holds compiled calendars by name. Disabled (every read goes to the store)
// until the scheduler enables it with a notifier that invalidates it on every change; every
// full resync invalidates it too. A read that began before an invalidation is not stored.
type calendarCache struct {
	store   BlackoutStore
	mu      sync.Mutex
	enabled bool
	counter uint64
	entries map[string]*calendars.Matcher
}

func (c *calendarCache) enable() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enabled = true
}

func (c *calendarCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counter++
	clear(c.entries)
}

// set returns the compiled calendars of these names, in their order. Names no calendar has
// (a key in the database keeps a named calendar from being deleted) are left out.
func (c *calendarCache) set(ctx context.Context, names []string) (calendars.Set, error) {
	if len(names) == 0 || c.store == nil {
		return nil, nil
	}
	c.mu.Lock()
	if c.enabled {
		out := make(calendars.Set, 0, len(names))
		for _, n := range names {
			if m, ok := c.entries[n]; ok {
				out = append(out, m)
			}
		}
		if len(out) == len(names) {
			c.mu.Unlock()
			return out, nil
		}
	}
	seq := c.counter
	c.mu.Unlock()
	cs, err := c.store.CalendarGetMany(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("read blackout calendars: %w", err)
	}
	byName := make(map[string]*calendars.Matcher, len(cs))
	for _, cal := range cs {
		m, err := calendars.Compile(cal)
		if err != nil {
			return nil, err
		}
		byName[cal.Name] = m
	}
	c.mu.Lock()
	if c.enabled && c.counter == seq {
		if c.entries == nil {
			c.entries = map[string]*calendars.Matcher{}
		}
		for n, m := range byName {
			c.entries[n] = m
		}
	}
	c.mu.Unlock()
	out := make(calendars.Set, 0, len(names))
	for _, n := range names {
		if m, ok := byName[n]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// blackoutReason is the ledger reason of a time a calendar covered.
func blackoutReason(name string) string { return "blackout calendar " + name }

// blackoutRecord is the SKIPPED row of a covered time.
func blackoutRecord(d *deployments.Deployment, triggerID string, f cron.Fire, name string, at time.Time) Fire {
	return Fire{
		WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: triggerID,
		NominalAt: f.Nominal, ScheduledAt: f.Scheduled, FiredAt: at,
		Outcome: OutcomeSkipped, Reason: blackoutReason(name), BlackoutCalendar: name,
	}
}

// skipBlackouts records SKIPPED the fires of fire and missed that a calendar of the trigger
// covers, and returns the others, and the covered times: a catch-up's plan honours blackouts.
func (s *Service) skipBlackouts(ctx context.Context, d *deployments.Deployment, triggerID string, now time.Time, fire, missed []cron.Fire) ([]cron.Fire, []cron.Fire, []time.Time, error) {
	c := cronTrigger(d, triggerID)
	if c == nil || len(c.BlackoutCalendars) == 0 {
		return fire, missed, nil, nil
	}
	set, err := s.cal.set(ctx, c.BlackoutCalendars)
	if err != nil || len(set) == 0 {
		return fire, missed, nil, err
	}
	var rows []Fire
	var covered []time.Time
	keep := func(fs []cron.Fire) []cron.Fire {
		return slices.DeleteFunc(fs, func(f cron.Fire) bool {
			name := set.Covering(f.Scheduled)
			if name != "" {
				rows = append(rows, blackoutRecord(d, triggerID, f, name, now))
				covered = append(covered, f.Scheduled)
			}
			return name != ""
		})
	}
	fire, missed = keep(fire), keep(missed)
	if len(rows) > 0 {
		if err := s.store.FireRecord(ctx, rows); err != nil {
			return nil, nil, nil, fmt.Errorf("record blacked-out fires of %s/%s: %w", d.WorkflowID, triggerID, err)
		}
	}
	slices.SortFunc(covered, time.Time.Compare)
	return fire, missed, covered, nil
}

// blackout says whether a calendar of the trigger covers f, and records it SKIPPED when one
// does (live fires and backfill).
func (s *Service) blackout(ctx context.Context, d *deployments.Deployment, triggerID string, f cron.Fire) (bool, error) {
	name, err := s.Covering(ctx, d, triggerID, f.Scheduled)
	if err != nil || name == "" {
		return false, err
	}
	if err := s.store.FireRecord(ctx, []Fire{blackoutRecord(d, triggerID, f, name, s.now())}); err != nil {
		return false, fmt.Errorf("record blacked-out fire of %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	return true, nil
}

// Covering returns the name of the first calendar of the trigger that covers the scheduled
// time; "" when none does (or the trigger names none). For callers that plan fires without
// making them (a backfill's dry run marks its PlannedFire.blackout_calendar with it).
func (s *Service) Covering(ctx context.Context, d *deployments.Deployment, triggerID string, scheduled time.Time) (string, error) {
	c := cronTrigger(d, triggerID)
	if c == nil || len(c.BlackoutCalendars) == 0 {
		return "", nil
	}
	set, err := s.cal.set(ctx, c.BlackoutCalendars)
	if err != nil {
		return "", fmt.Errorf("blackouts of %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	return set.Covering(scheduled), nil
}

// AfterBlackoutResult is what AfterBlackout found or did.
type AfterBlackoutResult struct {
	// Due is when the after-window fire is due; zero when none is owed.
	Due time.Time
	// Calendar is the calendar that covered the latest fire.
	Calendar string
	// Fired: the fire was made now (or found made: Deduplicated). Missed: it was due longer
	// than the catch-up window ago and is recorded MISSED.
	Fired, Deduplicated, Missed bool
}

// AfterBlackout makes the after-window fire of a FIRE_ONCE trigger when it is owed and due at
// now, and says when it is due otherwise (see the top of this file). The scheduler calls it
// when a live fire was covered, at the window's end, and after a catch-up; tests call it with
// an explicit now.
func (s *Service) AfterBlackout(ctx context.Context, d *deployments.Deployment, triggerID string, now time.Time) (AfterBlackoutResult, error) {
	var res AfterBlackoutResult
	c := cronTrigger(d, triggerID)
	if c == nil || c.AfterBlackout.OrDefault() != policy.AfterBlackoutFireOnce || len(c.BlackoutCalendars) == 0 || s.cal.store == nil {
		return res, nil
	}
	latest, err := s.cal.store.FireLatest(ctx, d.WorkflowID, triggerID)
	if err != nil {
		return res, fmt.Errorf("after blackout %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	var skipped *Fire
	for i := range latest {
		if latest[i].Outcome != OutcomeSkipped || latest[i].BlackoutCalendar == "" {
			return res, nil // the latest time was decided otherwise: nothing owed
		}
		skipped = &latest[i]
	}
	if skipped == nil {
		return res, nil
	}
	set, err := s.cal.set(ctx, c.BlackoutCalendars)
	if err != nil {
		return res, fmt.Errorf("after blackout %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	trig, err := NewTrigger(d.WorkflowID, c)
	if err != nil {
		return res, fmt.Errorf("after blackout %s/%s: %w", d.WorkflowID, triggerID, err)
	}
	end := set.WindowEnd(skipped.ScheduledAt)
	for range 8 { // the offset may land in the next window: then after that one
		if end.IsZero() {
			return res, nil // a blackout without end: nothing is ever due
		}
		if set.Covering(end.Add(trig.Offset())) == "" {
			break
		}
		end = set.WindowEnd(end.Add(trig.Offset()))
	}
	res.Due, res.Calendar = end.Add(trig.Offset()).UTC(), skipped.BlackoutCalendar
	if res.Due.After(now) {
		return res, nil
	}
	f := cron.Fire{Nominal: skipped.NominalAt.In(trig.Location()), Scheduled: res.Due}
	if late := now.Sub(res.Due); late > d.Config.CatchUpWindow && d.Config.CatchUpWindow > 0 {
		res.Missed = true
		err := s.store.FireRecord(ctx, []Fire{{
			WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: triggerID,
			NominalAt: f.Nominal, ScheduledAt: f.Scheduled, FiredAt: now, Outcome: OutcomeMissed,
			Reason: fmt.Sprintf("after blackout calendar %s: due %s ago, outside the catch-up window %s", res.Calendar, late.Round(time.Second), d.Config.CatchUpWindow),
		}})
		if err != nil {
			return res, fmt.Errorf("after blackout %s/%s: %w", d.WorkflowID, triggerID, err)
		}
		return res, nil
	}
	_, dup, err := s.fire(ctx, d, triggerID, f, OutcomeFired, "after blackout calendar "+res.Calendar)
	if err != nil {
		return res, fmt.Errorf("after blackout: %w", err)
	}
	res.Fired, res.Deduplicated = true, dup
	return res, nil
}

// MarkBlackouts sets, for each fire of the previews, the calendar that covers it (Blackouts,
// parallel to Fires; "" for a fire that runs).
func (s *Service) MarkBlackouts(ctx context.Context, d *deployments.Deployment, previews []TriggerPreview) error {
	for i := range previews {
		c := cronTrigger(d, previews[i].TriggerID)
		if c == nil || len(c.BlackoutCalendars) == 0 {
			continue
		}
		set, err := s.cal.set(ctx, c.BlackoutCalendars)
		if err != nil {
			return fmt.Errorf("preview %s/%s: %w", d.WorkflowID, previews[i].TriggerID, err)
		}
		previews[i].Blackouts = make([]string, len(previews[i].Fires))
		for j, f := range previews[i].Fires {
			previews[i].Blackouts[j] = set.Covering(f.Scheduled)
		}
	}
	return nil
}

// BlackoutCalendar returns the calendar that covers the preview's i-th fire; "" when it runs.
func (p *TriggerPreview) BlackoutCalendar(i int) string {
	if i < len(p.Blackouts) {
		return p.Blackouts[i]
	}
	return ""
}

// afterTimers are the scheduler's pending after-window fires, one per trigger (jobName), on
// the real clock.
type afterTimers struct {
	mu      sync.Mutex
	ctx     context.Context //nolint:containedctx // the scheduler's run context, for the timers' fires
	timers  map[string]*time.Timer
	wg      sync.WaitGroup
	stopped bool
	unsub   func()
}

// arm (re)places the trigger's timer: fn runs after delay unless stopped first.
func (a *afterTimers) arm(name string, delay time.Duration, fn func(ctx context.Context)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped || a.ctx == nil {
		return
	}
	if a.timers == nil {
		a.timers = map[string]*time.Timer{}
	}
	if t := a.timers[name]; t != nil && t.Stop() {
		a.wg.Done()
	}
	a.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		defer a.wg.Done()
		a.mu.Lock()
		if a.timers[name] == t {
			delete(a.timers, name)
		}
		ctx := a.ctx
		a.mu.Unlock()
		if ctx.Err() == nil {
			fn(ctx)
		}
	})
	a.timers[name] = t
}

// stop drops the trigger's timer.
func (a *afterTimers) stop(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.timers[name]; t != nil {
		if t.Stop() {
			a.wg.Done()
		}
		delete(a.timers, name)
	}
}

// stopAll drops every timer and waits for the fires under way.
func (a *afterTimers) stopAll() {
	a.mu.Lock()
	a.stopped = true
	for name, t := range a.timers {
		if t.Stop() {
			a.wg.Done()
		}
		delete(a.timers, name)
	}
	unsub := a.unsub
	a.mu.Unlock()
	if unsub != nil {
		unsub()
	}
	a.wg.Wait()
}

// startBlackouts subscribes to calendar changes, which invalidate the calendar cache; with
// a notifier the cache is on (a lost notification lasts until the next full resync).
func (s *Scheduler) startBlackouts(runCtx context.Context) error {
	s.after.mu.Lock()
	s.after.ctx = runCtx
	s.after.mu.Unlock()
	if s.notifier == nil {
		return nil
	}
	unsub, err := s.notifier.Subscribe(runCtx, CalendarsChangedChannel, func(string) { s.svc.cal.invalidate() })
	if err != nil {
		return err
	}
	s.after.mu.Lock()
	s.after.unsub = unsub
	s.after.mu.Unlock()
	s.svc.cal.enable()
	return nil
}

// blackout is the live fire's check: a covered time is recorded SKIPPED and, for FIRE_ONCE,
// the after-window fire is armed. It reports whether f was covered.
func (s *Scheduler) blackout(ctx context.Context, j *fireJob, d *deployments.Deployment, f cron.Fire) (bool, error) {
	covered, err := s.svc.blackout(ctx, d, j.triggerID(), f)
	if err != nil || !covered {
		return false, err
	}
	s.afterBlackout(ctx, j, d)
	return true, nil
}

// afterBlackout makes the trigger's after-window fire when due, or arms a timer for it. A
// timer re-reads the deployment (it must still be live) and decides again: a window made
// longer in between arms it again.
func (s *Scheduler) afterBlackout(ctx context.Context, j *fireJob, d *deployments.Deployment) {
	c := cronTrigger(d, j.triggerID())
	if c == nil || c.AfterBlackout.OrDefault() != policy.AfterBlackoutFireOnce {
		return
	}
	now := s.cfg.Now()
	res, err := s.svc.AfterBlackout(ctx, d, j.triggerID(), now)
	log := s.cfg.Logger.With(slog.String("workflow_id", j.workflowID()), slog.String("trigger_id", j.triggerID()))
	switch {
	case err != nil:
		log.Warn("after-blackout fire failed; decided again at the next fire or start", slog.Any("error", err))
	case res.Fired || res.Missed:
		log.Info("after-blackout fire", slog.String("calendar", res.Calendar), slog.Time("scheduled_at", res.Due),
			slog.Bool("deduplicated", res.Deduplicated), slog.Bool("missed", res.Missed))
	case !res.Due.IsZero():
		s.after.arm(j.name, res.Due.Sub(now), func(ctx context.Context) {
			defer s.event(EventAfterBlackoutRan, j.workflowID(), j.triggerID(), res.Due)
			d, live, err := s.live(ctx, j)
			if err != nil || !live {
				return
			}
			s.afterBlackout(ctx, j, d)
		})
	}
}

// SilencedTrigger is a cron trigger whose blackout calendars cover every fire of the coming
// year.
type SilencedTrigger struct {
	// Index is the trigger's position in the deployment's triggers.
	Index     int
	TriggerID string
	Calendars []string
}

// silenceHorizon is how far ahead Silenced looks, and silenceSteps bounds its work: each step
// is one fire that runs (the answer) or one whole window jumped over.
const (
	silenceHorizon = 365 * 24 * time.Hour
	silenceSteps   = 10000
)

// Silenced returns the cron triggers of d none of whose fires in the year after now (the
// Service's clock) runs: each
// falls in a window of one of its calendars (DeployWorkflow warns "blackout.covers_all"). It
// walks the fires window by window (calendars.Set.WindowEnd), not fire by fire, so an
// every-minute trigger costs what its windows cost. A trigger that stops firing within the
// year, or whose walk takes more than silenceSteps, is not reported.
func (s *Service) Silenced(ctx context.Context, d *deployments.Deployment) ([]SilencedTrigger, error) {
	now := s.now()
	var out []SilencedTrigger
	for i, t := range d.Triggers {
		if t.Cron == nil || len(t.Cron.BlackoutCalendars) == 0 {
			continue
		}
		set, err := s.cal.set(ctx, t.Cron.BlackoutCalendars)
		if err != nil {
			return nil, fmt.Errorf("blackouts of %s/%s: %w", d.WorkflowID, t.ID, err)
		}
		trig, err := NewTrigger(d.WorkflowID, t.Cron)
		if err != nil || len(set) == 0 {
			continue
		}
		if silenced(trig, set, now) {
			out = append(out, SilencedTrigger{Index: i, TriggerID: t.ID, Calendars: t.Cron.BlackoutCalendars})
		}
	}
	return out, nil
}

func silenced(trig *cron.Trigger, set calendars.Set, now time.Time) bool {
	until := now.Add(silenceHorizon)
	after := now
	for range silenceSteps {
		f, err := trig.Next(after)
		if err != nil {
			return false // stops firing: not the calendars' doing
		}
		if f.Scheduled.After(until) {
			return true
		}
		if set.Covering(f.Scheduled) == "" {
			return false
		}
		end := set.WindowEnd(f.Scheduled)
		if end.IsZero() || end.After(until) {
			return true // the blackout lasts past the horizon
		}
		after = end.Add(-time.Nanosecond) // the next fire at or after the window's end
	}
	return false
}

// TriggerSilenced says whether the blackout calendars of the cron trigger c of workflowID
// cover every fire it would make in the coming year from now (as Silenced does for a
// deployment), for schedule health's SILENT. False when c names no calendar.
func (s *Service) TriggerSilenced(ctx context.Context, workflowID string, c *deployments.CronSchedule, now time.Time) (bool, error) {
	if c == nil || len(c.BlackoutCalendars) == 0 {
		return false, nil
	}
	set, err := s.cal.set(ctx, c.BlackoutCalendars)
	if err != nil {
		return false, fmt.Errorf("blackouts of %s: %w", workflowID, err)
	}
	trig, err := NewTrigger(workflowID, c)
	if err != nil || len(set) == 0 {
		return false, nil //nolint:nilerr // a trigger that cannot be built is not the calendars' doing
	}
	return silenced(trig, set, now), nil
}
