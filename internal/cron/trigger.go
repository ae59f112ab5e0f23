package cron

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// TriggerConfig describes one cron trigger of a workflow.
type TriggerConfig struct {
	// WorkflowID is hashed for the jitter offset. Required.
	WorkflowID string
	// Expression is a standard 5-field, Quartz 6- or 7-field expression or an @-macro. Required.
	Expression string
	// TimeZone is an IANA name. Default: "" (UTC).
	TimeZone string
	// JitterWindowSeconds is the window the offset is drawn from. Default: nil
	// (DefaultJitterWindowSeconds, 300); 0 turns jitter off; negative is an error.
	JitterWindowSeconds *int32
	// RepeatedHour is the policy for wall-clock times that happen twice. Default: classic cron.
	RepeatedHour policy.RepeatedHour
	// SkippedHour is the policy for wall-clock times that never happen. Default: classic cron.
	SkippedHour policy.SkippedHour
}

// Trigger is a quartz.Trigger that fires at the cron expression's times in its location, each
// moved later by the workflow's jitter offset, with the DST policies of the package doc. It is
// immutable and safe for concurrent use.
//
// What does not depend on the workflow (the parsed expression, the zone, the policies) is a
// schedule, which the triggers of a Schedules set share: a trigger of its own costs 32 bytes.
type Trigger struct {
	*schedule
	workflowID string
	offset     time.Duration
}

// schedule is the part of a Trigger every workflow with the same expression, zone, jitter window
// and policies shares. It is immutable.
type schedule struct {
	expression string              // Quartz form
	cron       *quartz.CronTrigger // the fields, matched against wall-clock time (see dst.go)
	calendar   calendarCheck       // works around a go-quartz rollover bug (see calendar.go)
	loc        *time.Location
	window     int
	repeated   policy.RepeatedHour         // resolved, never Default
	skipped    policy.SkippedHour          // resolved, never Default
	fixedHour  bool                        // the hour field is one value or a list: what the defaults follow
	defaulted  [2]bool                     // whether repeated, skipped came from the classic-cron default
	steps      [2]atomic.Pointer[wallStep] // wallNext's last answers (dst.go)
}

var _ quartz.Trigger = (*Trigger)(nil)

// Fire is one fire of a trigger.
type Fire struct {
	// Nominal is the cron's time, in the trigger's location.
	Nominal time.Time
	// Scheduled is Nominal plus the jitter offset: when the fire happens, and the execution's
	// scheduled_at.
	Scheduled time.Time
}

// NewTrigger validates cfg and builds its trigger.
func NewTrigger(cfg TriggerConfig) (*Trigger, error) {
	if cfg.WorkflowID == "" {
		return nil, errors.New("new trigger: workflow id is empty")
	}
	sc, err := newSchedule(cfg)
	if err != nil {
		return nil, err
	}
	t := sc.trigger(cfg.WorkflowID)
	return &t, nil
}

// trigger returns the trigger of workflowID on sc.
func (sc *schedule) trigger(workflowID string) Trigger {
	return Trigger{schedule: sc, workflowID: workflowID, offset: JitterOffset(workflowID, sc.window)}
}

// newSchedule validates cfg but its workflow id and builds its schedule.
func newSchedule(cfg TriggerConfig) (*schedule, error) {
	window := DefaultJitterWindowSeconds
	if cfg.JitterWindowSeconds != nil {
		window = int(*cfg.JitterWindowSeconds)
	}
	if window < 0 {
		return nil, fmt.Errorf("new trigger: jitter window %ds is negative", window)
	}
	if !cfg.RepeatedHour.Valid() {
		return nil, fmt.Errorf("new trigger: unknown repeated-hour policy %s", cfg.RepeatedHour)
	}
	if !cfg.SkippedHour.Valid() {
		return nil, fmt.Errorf("new trigger: unknown skipped-hour policy %s", cfg.SkippedHour)
	}
	loc, err := LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("new trigger: %w", err)
	}
	expr, err := NormalizeCron(cfg.Expression)
	if err != nil {
		return nil, fmt.Errorf("new trigger: %w", err)
	}
	cron, err := ParseCron(cfg.Expression, time.UTC) // wall-clock time; the location is applied in dst.go
	if err != nil {
		return nil, fmt.Errorf("new trigger: %w", err)
	}
	sc := &schedule{
		expression: expr,
		cron:       cron,
		calendar:   newCalendarCheck(expr),
		loc:        loc,
		window:     window,
		repeated:   cfg.RepeatedHour,
		skipped:    cfg.SkippedHour,
	}
	// go-quartz accepts dates that never come (February 30th) and answers with rolled-over ones.
	// Whether a time comes does not depend on the offset: ask with none.
	if _, err := sc.wallNext(time.Now().Unix()); err != nil {
		return nil, fmt.Errorf("new trigger: %q never fires: %w", cfg.Expression, err)
	}
	// Classic cron: a job at a fixed hour is a "fixed-time" job, anything else runs by real time.
	fixedHour := !strings.ContainsAny(strings.Fields(expr)[2], "*?-/")
	sc.fixedHour = fixedHour
	sc.defaulted = [2]bool{sc.repeated == policy.RepeatedHourDefault, sc.skipped == policy.SkippedHourDefault}
	if sc.repeated == policy.RepeatedHourDefault {
		sc.repeated = policy.RepeatedHourTwice
		if fixedHour {
			sc.repeated = policy.RepeatedHourOnce
		}
	}
	if sc.skipped == policy.SkippedHourDefault {
		sc.skipped = policy.SkippedHourSkip
		if fixedHour {
			sc.skipped = policy.SkippedHourShift
		}
	}
	return sc, nil
}

// NextFireTime implements quartz.Trigger: the first scheduled (jittered) time strictly after
// prev, in Unix nanoseconds.
func (t *Trigger) NextFireTime(prev int64) (int64, error) {
	f, err := t.Next(time.Unix(0, prev))
	if err != nil {
		return 0, err
	}
	if f.Scheduled.After(time.Unix(0, math.MaxInt64)) {
		return 0, quartz.ErrTriggerExpired // beyond what Unix nanoseconds can hold
	}
	return f.Scheduled.UnixNano(), nil
}

// Description implements quartz.Trigger.
func (t *Trigger) Description() string {
	return strings.Join([]string{
		"JitteredCronTrigger", t.expression, t.loc.String(),
		"jitter=" + t.offset.String(),
		"repeated=" + t.repeated.String(), "skipped=" + t.skipped.String(),
	}, quartz.Sep)
}

// Next returns the first fire whose scheduled time is strictly after after. It wraps
// quartz.ErrTriggerExpired when the expression never fires again.
func (t *Trigger) Next(after time.Time) (Fire, error) {
	// Scheduled > after  <=>  nominal > after-offset  <=>  nominal > floor(after-offset), since
	// nominal times are whole seconds.
	n, err := t.nextNominal(after.Add(-t.offset).Unix())
	if err != nil {
		return Fire{}, fmt.Errorf("next fire of %q after %s: %w", t.expression, after.Format(time.RFC3339), err)
	}
	nominal := time.Unix(n, 0).In(t.loc)
	return Fire{Nominal: nominal, Scheduled: nominal.Add(t.offset)}, nil
}

// WorkflowID returns the id the offset is hashed from.
func (t *Trigger) WorkflowID() string { return t.workflowID }

// Expression returns the expression in the Quartz form go-quartz parses.
func (t *Trigger) Expression() string { return t.expression }

// Location returns the trigger's time zone.
func (t *Trigger) Location() *time.Location { return t.loc }

// JitterWindowSeconds returns the window the offset was drawn from; 0 when jitter is off.
func (t *Trigger) JitterWindowSeconds() int { return t.window }

// Offset returns the jitter offset added to every nominal time.
func (t *Trigger) Offset() time.Duration { return t.offset }

// RepeatedHour returns the policy in force for repeated wall-clock times (never Default).
func (t *Trigger) RepeatedHour() policy.RepeatedHour { return t.repeated }

// SkippedHour returns the policy in force for skipped wall-clock times (never Default).
func (t *Trigger) SkippedHour() policy.SkippedHour { return t.skipped }
