package cron

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

func TestPlanMisfires(t *testing.T) {
	t.Parallel()
	minutes := func(from, to int) []string { // "12:mm" fires of the every-minute trigger
		var out []string
		for m := from; m <= to; m++ {
			out = append(out, time.Date(2026, 6, 1, 12, m, 0, 0, time.UTC).Format(time.RFC3339))
		}
		return out
	}
	tests := []struct {
		name            string
		lastFire, now   string
		until           string
		window          time.Duration
		policy          policy.Misfire
		maxFires        int
		maxMissed       int
		fire, missed    []string
		capped, trimmed bool
	}{
		// Down five minutes, catch-up window ten minutes: everything missed is inside the window.
		{name: "down 5m, FIRE_ALL", lastFire: "12:00", now: "12:05:30", window: 10 * time.Minute, policy: policy.MisfireFireAll,
			fire: minutes(1, 5)},
		{name: "down 5m, unspecified is the default FIRE_ONCE", lastFire: "12:00", now: "12:05:30", window: 10 * time.Minute,
			fire: minutes(5, 5), missed: minutes(1, 4)},
		{name: "down 5m, FIRE_ONCE", lastFire: "12:00", now: "12:05:30", window: 10 * time.Minute, policy: policy.MisfireFireOnce,
			fire: minutes(5, 5), missed: minutes(1, 4)},
		{name: "down 5m, SKIP", lastFire: "12:00", now: "12:05:30", window: 10 * time.Minute, policy: policy.MisfireSkip,
			missed: minutes(1, 5)},
		// Down fifteen minutes: fires before 12:05:30 are outside the window.
		{name: "down 15m, FIRE_ALL", lastFire: "12:00", now: "12:15:30", window: 10 * time.Minute, policy: policy.MisfireFireAll,
			fire: minutes(6, 15), missed: minutes(1, 5)},
		{name: "down 15m, FIRE_ONCE", lastFire: "12:00", now: "12:15:30", window: 10 * time.Minute, policy: policy.MisfireFireOnce,
			fire: minutes(15, 15), missed: minutes(1, 14)},
		{name: "down 15m, SKIP", lastFire: "12:00", now: "12:15:30", window: 10 * time.Minute, policy: policy.MisfireSkip,
			missed: minutes(1, 15)},
		{name: "window edge is inside", lastFire: "12:00", now: "12:15:00", window: 10 * time.Minute, policy: policy.MisfireFireAll,
			fire: minutes(5, 15), missed: minutes(1, 4)},
		{name: "zero window, fire exactly now", lastFire: "12:00", now: "12:03:00", window: 0, policy: policy.MisfireFireAll,
			fire: minutes(3, 3), missed: minutes(1, 2)},
		{name: "zero window, nothing due now", lastFire: "12:00", now: "12:03:30", window: 0, policy: policy.MisfireFireOnce,
			missed: minutes(1, 3)},
		// Caps: never flood.
		{name: "fires capped", lastFire: "12:00", now: "12:15:30", window: 10 * time.Minute, policy: policy.MisfireFireAll, maxFires: 3,
			fire: minutes(13, 15), missed: minutes(1, 12), capped: true},
		{name: "missed truncated", lastFire: "12:00", now: "12:15:30", window: 10 * time.Minute, policy: policy.MisfireSkip, maxMissed: 2,
			missed: minutes(1, 2), trimmed: true},
		// Until: a store outage settled later; the times after the last failed fire are the
		// live fires', the window is still measured from now.
		{name: "until, FIRE_ONCE", lastFire: "12:00", until: "12:05", now: "12:08:30", window: 10 * time.Minute, policy: policy.MisfireFireOnce,
			fire: minutes(5, 5), missed: minutes(1, 4)},
		{name: "until, FIRE_ALL partly outside the window", lastFire: "12:00", until: "12:05", now: "12:13:30", window: 10 * time.Minute, policy: policy.MisfireFireAll,
			fire: minutes(4, 5), missed: minutes(1, 3)},
		{name: "until, all outside the window", lastFire: "12:00", until: "12:05", now: "12:20:00", window: 10 * time.Minute, policy: policy.MisfireFireOnce,
			missed: minutes(1, 5)},
		{name: "until after now is now", lastFire: "12:00", until: "12:09", now: "12:05:30", window: 10 * time.Minute, policy: policy.MisfireFireOnce,
			fire: minutes(5, 5), missed: minutes(1, 4)},
		// Nothing to do.
		{name: "no outage", lastFire: "12:00", now: "12:00:30", window: 10 * time.Minute},
		{name: "clock behind last fire", lastFire: "12:00", now: "11:59", window: 10 * time.Minute},
		{name: "never fired", now: "12:05", window: 10 * time.Minute},
	}
	trig := newTestTrigger(t, TriggerConfig{Expression: "* * * * *"})
	at := func(hhmm string) time.Time {
		if hhmm == "" {
			return time.Time{}
		}
		layout := "15:04"
		if len(hhmm) > 5 {
			layout = "15:04:05"
		}
		c, err := time.Parse(layout, hhmm)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(2026, 6, 1, c.Hour(), c.Minute(), c.Second(), 0, time.UTC)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			plan, err := PlanMisfires(trig, MisfireParams{
				LastFire: at(tt.lastFire), Now: at(tt.now), Until: at(tt.until), CatchUpWindow: tt.window, Policy: tt.policy,
				MaxFires: tt.maxFires, MaxMissed: tt.maxMissed,
			})
			is.NoErr(err)
			is.Equal(scheduled(plan.Fire), emptyIfNil(tt.fire))     // fired now
			is.Equal(scheduled(plan.Missed), emptyIfNil(tt.missed)) // recorded as MISSED
			is.Equal(plan.FiresCapped, tt.capped)
			is.Equal(plan.MissedTruncated, tt.trimmed)
		})
	}
}

func emptyIfNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestPlanMisfiresJittered(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// "workflow-123": 37 s into every 5-minute slot.
	trig, err := NewTrigger(TriggerConfig{WorkflowID: "workflow-123", Expression: "*/5 * * * *"})
	is.NoErr(err)
	plan, err := PlanMisfires(trig, MisfireParams{
		LastFire: utc(t, "2026-06-01T12:00:37Z"), Now: utc(t, "2026-06-01T12:20:00Z"),
		CatchUpWindow: 10 * time.Minute, Policy: policy.MisfireFireAll,
	})
	is.NoErr(err)
	is.Equal(scheduled(plan.Fire), []string{"2026-06-01T12:10:37Z", "2026-06-01T12:15:37Z"})
	is.Equal(scheduled(plan.Missed), []string{"2026-06-01T12:05:37Z"})
	is.Equal(plan.Fire[0].Nominal.UTC(), utc(t, "2026-06-01T12:10:00Z"))

	// The scheduler goes on from Now without a gap or a duplicate.
	next, err := trig.Next(utc(t, "2026-06-01T12:20:00Z"))
	is.NoErr(err)
	is.Equal(next.Scheduled.UTC(), utc(t, "2026-06-01T12:20:37Z"))
}

// TestPlanMisfiresLongOutage: a year down with an every-second cron and a day's window stays
// bounded by the caps.
func TestPlanMisfiresLongOutage(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "* * * * * ?"})
	now := utc(t, "2026-06-01T12:00:00Z")
	for _, p := range []policy.Misfire{policy.MisfireFireAll, policy.MisfireFireOnce, policy.MisfireSkip} {
		plan, err := PlanMisfires(trig, MisfireParams{
			LastFire: now.AddDate(-1, 0, 0), Now: now, CatchUpWindow: 24 * time.Hour, Policy: p,
		})
		is.NoErr(err)
		is.True(plan.MissedTruncated)                // far more than 1000 missed
		is.Equal(len(plan.Missed), DefaultMaxMissed) // listed up to the cap
		switch p {
		case policy.MisfireFireAll:
			is.True(plan.FiresCapped)
			is.Equal(len(plan.Fire), DefaultMaxCatchUpFires)
			is.Equal(plan.Fire[len(plan.Fire)-1].Scheduled, now) // the latest ones
		case policy.MisfireFireOnce:
			is.Equal(scheduled(plan.Fire), []string{"2026-06-01T12:00:00Z"})
		case policy.MisfireSkip:
			is.Equal(len(plan.Fire), 0)
		}
	}
}

func TestPlanMisfiresRejects(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "* * * * *"})
	now := utc(t, "2026-06-01T12:00:00Z")
	_, err := PlanMisfires(trig, MisfireParams{LastFire: now.Add(-time.Hour), Now: now, CatchUpWindow: -time.Second})
	is.True(err != nil) // negative window
	_, err = PlanMisfires(trig, MisfireParams{LastFire: now.Add(-time.Hour), Now: now, Policy: 42})
	is.True(err != nil) // unknown policy

	// A yearly trigger with a century-long window looks back far without walking minute by minute.
	yearly := newTestTrigger(t, TriggerConfig{Expression: "@yearly"})
	plan, err := PlanMisfires(yearly, MisfireParams{
		LastFire: utc(t, "1990-06-01T00:00:00Z"), Now: now, CatchUpWindow: 100 * 365 * 24 * time.Hour, Policy: policy.MisfireFireOnce,
	})
	is.NoErr(err)
	is.Equal(scheduled(plan.Fire), []string{"2026-01-01T00:00:00Z"})
	is.Equal(len(plan.Missed), 35) // 1991..2025
}
