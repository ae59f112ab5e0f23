package schedulehealth

import (
	"errors"
	"fmt"
	"time"

	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// State is the verdict on one cron trigger. The order of the constants is the order of the
// list: unhealthy first.
type State int

const (
	// StateOverdue: times are owed (their scheduled time plus the grace has passed) and the
	// ledger has nothing for them.
	StateOverdue State = iota
	// StateLate: nothing is owed, but the latest settled time was fired more than the grace
	// late, caught up or missed.
	StateLate
	// StateSilent: the expression does not fire again.
	StateSilent
	// StatePaused: the deployment is paused; nothing is owed.
	StatePaused
	// StateOnTime: everything owed is settled and the latest fire was on time.
	StateOnTime
)

// States are every state, in the order of the list.
var States = []State{StateOverdue, StateLate, StateSilent, StatePaused, StateOnTime}

// String is the state's name as the API and the metrics spell it (ON_TIME, LATE, ...).
func (s State) String() string {
	switch s {
	case StateOverdue:
		return "OVERDUE"
	case StateLate:
		return "LATE"
	case StateSilent:
		return "SILENT"
	case StatePaused:
		return "PAUSED"
	case StateOnTime:
		return "ON_TIME"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MaxOwed caps the owed fires counted for one trigger: an every-second trigger left alone for
// a week owes 604,800 times, and counting them all would cost the list its speed.
const MaxOwed = 100_000

// DefaultGrace is how late a fire may be and still count as on time, and how long after its
// scheduled time a time is owed. See the package doc for why 30 s.
const DefaultGrace = 30 * time.Second

// Trigger is one cron trigger of a DEPLOYED or PAUSED deployment, as the store reads it for
// the verdict: the deployment's fields it needs, the schedule, and the ledger's latest row.
type Trigger struct {
	DeploymentID string
	WorkflowID   string
	TriggerID    string
	Status       deployments.Status
	// DeployedAt is when the deployment last became DEPLOYED: nothing before it is owed.
	DeployedAt time.Time
	// Config is the deployment's configuration (the overlap policy counts for the advice).
	Config deployments.Config
	Cron   deployments.CronSchedule
	// Last is the ledger row of the trigger's latest scheduled time (the first decided when
	// several outcomes share it); nil when the ledger has none.
	Last *LastFire
}

// Key names the trigger.
func (t *Trigger) Key() scheduler.TriggerKey {
	return scheduler.TriggerKey{WorkflowID: t.WorkflowID, TriggerID: t.TriggerID}
}

// LastFire is the ledger's latest settled time of a trigger.
type LastFire struct {
	ScheduledAt time.Time
	FiredAt     time.Time
	Outcome     scheduler.Outcome
}

// Verdict is the health of one trigger.
type Verdict struct {
	DeploymentID, WorkflowID, TriggerID string
	State                               State
	// Reason says why, in words.
	Reason string
	// LastSettled is the latest scheduled time in the ledger, or DeployedAt when later; owed
	// times are counted after it. Zero when there is neither.
	LastSettled time.Time
	// LastOutcome is the outcome of the ledger's latest row; "" when there is none.
	LastOutcome scheduler.Outcome
	// LastLateness is the latest row's fire time minus its scheduled time; valid when
	// LastOutcome is set.
	LastLateness time.Duration
	// Owed counts the owed times, at most MaxOwed; OldestOwed is the first of them.
	Owed       int64
	OldestOwed time.Time
	// NextFire is the first scheduled time after now; zero when the expression does not fire
	// again (or the trigger cannot be built).
	NextFire time.Time
	// Cadence is the advice on the trigger's runs; filled for the page a list returns only.
	Cadence *Cadence
}

// intervalSample is how many coming fires the interval is taken over.
const intervalSample = 5

// Evaluate decides one trigger's verdict at now with grace. It is pure: the trigger's own
// fields and the clock decide.
func Evaluate(t *Trigger, now time.Time, grace time.Duration) Verdict {
	return evaluate(t, now, grace, owed)
}

// counter counts the owed times of a trigger in (after, until): owed, or a cache over it.
type counter func(trig *cron.Trigger, after, until time.Time) (n int64, oldest, newest time.Time)

func evaluate(t *Trigger, now time.Time, grace time.Duration, count counter) Verdict {
	v := Verdict{DeploymentID: t.DeploymentID, WorkflowID: t.WorkflowID, TriggerID: t.TriggerID}
	v.LastSettled = t.DeployedAt
	if t.Last != nil {
		v.LastOutcome = t.Last.Outcome
		v.LastLateness = t.Last.FiredAt.Sub(t.Last.ScheduledAt)
		if t.Last.ScheduledAt.After(v.LastSettled) {
			v.LastSettled = t.Last.ScheduledAt
		}
	}
	trig, err := t.Cron.Trigger(t.WorkflowID)
	if t.Status == deployments.StatusPaused {
		v.State, v.Reason = StatePaused, "the deployment is paused"
		if err == nil {
			v.NextFire = next(trig, now)
		}
		return v
	}
	if err != nil {
		v.State = StateSilent
		v.Reason = "the expression does not fire again"
		if !errors.Is(err, quartz.ErrTriggerExpired) {
			v.Reason = "the trigger cannot be scheduled: " + err.Error()
		}
		return v
	}
	v.Owed, v.OldestOwed, _ = count(trig, v.LastSettled, now.Add(-grace))
	v.NextFire = next(trig, now)
	switch {
	case v.Owed > 0:
		v.State = StateOverdue
		more := ""
		if v.Owed >= MaxOwed {
			more = " or more"
		}
		v.Reason = fmt.Sprintf("%d fire%s%s owed since %s", v.Owed, plural(v.Owed), more, v.OldestOwed.UTC().Format(time.RFC3339))
	case v.NextFire.IsZero():
		v.State, v.Reason = StateSilent, "the expression does not fire again"
	case t.Last != nil && (t.Last.Outcome == scheduler.OutcomeCaughtUp || t.Last.Outcome == scheduler.OutcomeMissed):
		v.State = StateLate
		v.Reason = fmt.Sprintf("last time %s %s", t.Last.ScheduledAt.UTC().Format(time.RFC3339), t.Last.Outcome)
	case t.Last != nil && v.LastLateness > grace:
		v.State = StateLate
		v.Reason = fmt.Sprintf("last fire %s late", roundLateness(v.LastLateness))
	case t.Last != nil:
		v.State = StateOnTime
		v.Reason = fmt.Sprintf("last fire %s late", roundLateness(max(v.LastLateness, 0)))
	default:
		v.State, v.Reason = StateOnTime, "no fire owed yet"
	}
	return v
}

// owed counts the trigger's scheduled times in (after, until), at most MaxOwed, and returns
// the first and the last. A zero after owes nothing (never deployed, never fired).
func owed(trig *cron.Trigger, after, until time.Time) (n int64, oldest, newest time.Time) {
	return owedFrom(trig, after, until, 0, time.Time{}, time.Time{})
}

// owedFrom goes on counting where an earlier count of (after, until0) with until0 <= until
// stopped: n times, the first oldest, the last newest (zero when n is 0).
func owedFrom(trig *cron.Trigger, after, until time.Time, n int64, oldest, newest time.Time) (int64, time.Time, time.Time) {
	if after.IsZero() || !until.After(after) {
		return 0, time.Time{}, time.Time{}
	}
	at := after
	if n > 0 {
		at = newest
	}
	for ; n < MaxOwed; n++ {
		f, err := trig.Next(at)
		if err != nil || !f.Scheduled.Before(until) {
			break
		}
		if n == 0 {
			oldest = f.Scheduled
		}
		newest, at = f.Scheduled, f.Scheduled
	}
	return n, oldest, newest
}

// next returns the first scheduled time after now; zero when none comes.
func next(trig *cron.Trigger, now time.Time) time.Time {
	f, err := trig.Next(now)
	if err != nil {
		return time.Time{}
	}
	return f.Scheduled
}

// Interval returns the shortest gap among the trigger's next intervalSample scheduled times
// after now; 0 when fewer than two come or the trigger cannot be built.
func Interval(c *deployments.CronSchedule, workflowID string, now time.Time) time.Duration {
	trig, err := c.Trigger(workflowID)
	if err != nil {
		return 0
	}
	p, err := trig.Preview(now, intervalSample)
	if err != nil {
		return 0
	}
	var interval time.Duration
	for i := 1; i < len(p.Fires); i++ {
		gap := p.Fires[i].Scheduled.Sub(p.Fires[i-1].Scheduled)
		if interval == 0 || gap < interval {
			interval = gap
		}
	}
	return interval
}

func roundLateness(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}
