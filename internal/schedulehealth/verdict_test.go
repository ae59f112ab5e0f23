package schedulehealth

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// everyMinute is a DEPLOYED trigger "* * * * *" without jitter, deployed at t0.
func everyMinute(last *LastFire) *Trigger {
	return &Trigger{
		DeploymentID: "d", WorkflowID: "wf", TriggerID: "every", Status: deployments.StatusDeployed,
		DeployedAt: t0, Cron: deployments.CronSchedule{Expression: "* * * * *", Timezone: "UTC"}, Last: last,
	}
}

func fired(minute int, late time.Duration, outcome scheduler.Outcome) *LastFire {
	at := t0.Add(time.Duration(minute) * time.Minute)
	return &LastFire{ScheduledAt: at, FiredAt: at.Add(late), Outcome: outcome}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	grace := 30 * time.Second
	minute := func(m int, s int) time.Time {
		return t0.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	tests := []struct {
		name       string
		trigger    *Trigger
		now        time.Time
		state      State
		owed       int64
		oldestOwed time.Time
		reason     string
	}{
		{"fired on time", everyMinute(fired(5, 20*time.Millisecond, scheduler.OutcomeFired)), minute(5, 40), StateOnTime, 0, time.Time{}, "last fire 20ms late"},
		{"next time within the grace", everyMinute(fired(5, 0, scheduler.OutcomeFired)), minute(6, 29), StateOnTime, 0, time.Time{}, ""},
		{"one time owed past the grace", everyMinute(fired(5, 0, scheduler.OutcomeFired)), minute(6, 31), StateOverdue, 1, minute(6, 0), "1 fire owed since 2026-03-02T12:06:00Z"},
		{"ten minutes of silence", everyMinute(fired(5, 0, scheduler.OutcomeFired)), minute(16, 0), StateOverdue, 10, minute(6, 0), "10 fires owed"},
		{"never fired: counted from the deploy", everyMinute(nil), minute(3, 0), StateOverdue, 2, minute(1, 0), "2 fires owed"},
		{"never fired, just deployed", everyMinute(nil), minute(0, 20), StateOnTime, 0, time.Time{}, "no fire owed yet"},
		{"fired late", everyMinute(fired(5, 40*time.Second, scheduler.OutcomeFired)), minute(5, 50), StateLate, 0, time.Time{}, "last fire 40s late"},
		{"caught up", everyMinute(fired(5, time.Second, scheduler.OutcomeCaughtUp)), minute(5, 10), StateLate, 0, time.Time{}, "CAUGHT_UP"},
		{"missed", everyMinute(fired(5, time.Second, scheduler.OutcomeMissed)), minute(5, 10), StateLate, 0, time.Time{}, "MISSED"},
		{"a late fire owing more is overdue", everyMinute(fired(5, 40*time.Second, scheduler.OutcomeFired)), minute(7, 0), StateOverdue, 1, minute(6, 0), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			v := Evaluate(tc.trigger, tc.now, grace)
			is.Equal(v.State, tc.state)
			is.Equal(v.Owed, tc.owed)
			is.True(v.OldestOwed.Equal(tc.oldestOwed))
			is.True(strings.Contains(v.Reason, tc.reason)) // the reason says why
			is.True(v.NextFire.After(tc.now))
			is.Equal(v.WorkflowID, "wf")
		})
	}
}

func TestEvaluateLastSettled(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// A ledger row before the latest deploy (a resume): owed times count from the deploy.
	tr := everyMinute(fired(-30, 0, scheduler.OutcomeFired))
	v := Evaluate(tr, t0.Add(2*time.Minute+31*time.Second), 30*time.Second)
	is.True(v.LastSettled.Equal(t0))
	is.Equal(v.Owed, int64(2)) // 12:01 and 12:02, not the half hour before the deploy
	is.Equal(v.LastOutcome, scheduler.OutcomeFired)
	is.Equal(v.LastLateness, time.Duration(0))
}

func TestEvaluatePausedAndSilent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	paused := everyMinute(nil)
	paused.Status = deployments.StatusPaused
	v := Evaluate(paused, t0.Add(time.Hour), 30*time.Second)
	is.Equal(v.State, StatePaused) // nothing owed, whatever the time
	is.Equal(v.Owed, int64(0))

	// A year-bounded expression past its end.
	over := everyMinute(nil)
	over.Cron.Expression = "0 0 12 1 1 ? 2020"
	v = Evaluate(over, t0, 30*time.Second)
	is.Equal(v.State, StateSilent)
	is.True(v.NextFire.IsZero())
}

func TestEvaluateOwedCap(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tr := everyMinute(nil)
	tr.Cron.Expression = "* * * * * ?" // every second
	v := Evaluate(tr, t0.Add(48*time.Hour), 30*time.Second)
	is.Equal(v.State, StateOverdue)
	is.Equal(v.Owed, int64(MaxOwed)) // 172,770 owed, counted to the cap
	is.True(strings.Contains(v.Reason, "or more"))
}

func TestEvaluateJitter(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tr := everyMinute(nil)
	tr.Cron.JitterWindowSeconds = 60
	trig, err := tr.Cron.Trigger(tr.WorkflowID)
	is.NoErr(err)
	off := trig.Offset()
	is.True(off > 0)
	// Deployed at 12:00:00: the first owed time is 12:00 plus the offset, then 12:01 plus it.
	v := Evaluate(tr, t0.Add(time.Minute+off+31*time.Second), 30*time.Second)
	is.Equal(v.Owed, int64(2))
	is.True(v.OldestOwed.Equal(t0.Add(off)))
}

func TestStateString(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var names []string
	for _, s := range States {
		names = append(names, s.String())
	}
	is.Equal(strings.Join(names, ","), "OVERDUE,LATE,SILENT,PAUSED,ON_TIME")
	is.Equal(State(42).String(), "State(42)")
}

func TestInterval(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := &deployments.CronSchedule{Expression: "0 9,10,18 * * *", Timezone: "UTC"}
	is.Equal(Interval(c, "wf", t0), time.Hour) // the shortest of 10-9, 18-10, 9-18...
	bad := &deployments.CronSchedule{Expression: "0 0 12 1 1 ? 2020"}
	is.Equal(Interval(bad, "wf", t0), time.Duration(0))
}
