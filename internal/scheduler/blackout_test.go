package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// blackoutBundle is a store (per dialect) with a calendar "freeze" (12:05-12:25 UTC on the
// weekday of t0, 12:00 on March 2nd next year: live fires are in the future) and a deployment
// whose "*/10" trigger names it with the policy given.
type blackoutBundle struct {
	*testBundle
	clock *clock
	d     *deployments.Deployment
	t0    time.Time
}

func (b blackoutBundle) at(ms ...int) []time.Time {
	out := make([]time.Time, len(ms))
	for i, m := range ms {
		out[i] = b.t0.Add(time.Duration(m) * time.Minute)
	}
	return out
}

func blackoutBackends(t *testing.T, after policy.AfterBlackout, f func(t *testing.T, b blackoutBundle)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			ctx := context.Background()
			t0 := time.Date(time.Now().Year()+1, 3, 2, 12, 0, 0, 0, time.UTC)
			c := &clock{}
			c.Set(t0)
			executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
			b := &testBundle{
				db:          db,
				deployments: deployments.NewService(db, deployments.ServiceConfig{Now: func() time.Time { return t0.Add(-time.Hour) }}),
				executions:  executions,
				svc:         scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: c.Now, Blackouts: db}),
			}
			cals := calendars.NewService(db, calendars.ServiceConfig{})
			_, err := cals.Create(ctx, &calendars.Calendar{Name: "freeze", WeeklyWindows: []calendars.WeeklyWindow{
				{Days: []time.Weekday{t0.Weekday()}, Start: "12:05", End: "12:25"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			tr := cron("ten", "*/10 * * * *", 0)
			tr.Cron.BlackoutCalendars = []string{"freeze"}
			tr.Cron.AfterBlackout = after
			d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("blackout"), Triggers: []deployments.Trigger{tr},
			})
			if err != nil {
				t.Fatal(err)
			}
			f(t, blackoutBundle{testBundle: b, clock: c, d: d, t0: t0})
		})
	}
}

func (b blackoutBundle) fires(t *testing.T) []scheduler.Fire {
	t.Helper()
	fires, err := b.db.FireList(context.Background(), &scheduler.FireListParams{DeploymentID: b.d.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return fires
}

// A live fire whose time the calendar covers creates no execution and is recorded SKIPPED
// with the calendar; one outside runs. With DROP nothing follows the window.
func TestBlackoutSkipsLiveFires(t *testing.T) {
	t.Parallel()
	blackoutBackends(t, policy.AfterBlackoutUnspecified, func(t *testing.T, b blackoutBundle) {
		is := is.New(t)
		ctx := context.Background()
		s := scheduler.New(b.svc, b.db, nil, nil, scheduler.Config{Now: b.clock.Now})
		for _, m := range []int{0, 10, 20, 30} {
			is.NoErr(s.FireForTest(ctx, b.d, "ten", b.t0.Add(time.Duration(m)*time.Minute)))
		}
		got := scheduledTimes(t, b.db, b.d.WorkflowID)
		is.Equal(len(got), 2) // 12:00 and 12:30 ran
		is.Equal(got[b.at(0)[0]], 1)
		is.Equal(got[b.at(30)[0]], 1)
		var skipped []scheduler.Fire
		for _, f := range b.fires(t) {
			if f.Outcome == scheduler.OutcomeSkipped {
				skipped = append(skipped, f)
			}
		}
		is.Equal(len(skipped), 2)
		for _, f := range skipped {
			is.Equal(f.BlackoutCalendar, "freeze")
			is.Equal(f.Reason, "blackout calendar freeze")
			is.Equal(f.ExecutionID, "") // no execution
		}
		b.clock.Set(b.t0.Add(26 * time.Minute))
		res, err := b.svc.AfterBlackout(ctx, b.d, "ten", b.clock.Now())
		is.NoErr(err)
		is.True(res.Due.IsZero()) // DROP: nothing owed
	})
}

// FIRE_ONCE: when the window ends the trigger fires once, at the window's end with the latest
// covered nominal time; deciding again (another replica, a restart) makes nothing more.
func TestAfterBlackoutFiresOnce(t *testing.T) {
	t.Parallel()
	blackoutBackends(t, policy.AfterBlackoutFireOnce, func(t *testing.T, b blackoutBundle) {
		is := is.New(t)
		ctx := context.Background()
		s := scheduler.New(b.svc, b.db, nil, nil, scheduler.Config{Now: b.clock.Now})
		b.clock.Set(b.t0.Add(10 * time.Minute))
		is.NoErr(s.FireForTest(ctx, b.d, "ten", b.clock.Now()))
		b.clock.Set(b.t0.Add(20 * time.Minute))
		is.NoErr(s.FireForTest(ctx, b.d, "ten", b.clock.Now()))
		is.Equal(len(scheduledTimes(t, b.db, b.d.WorkflowID)), 0)

		res, err := b.svc.AfterBlackout(ctx, b.d, "ten", b.t0.Add(24*time.Minute))
		is.NoErr(err)
		is.Equal(res.Due, b.t0.Add(25*time.Minute)) // the window's end
		is.True(!res.Fired)

		res, err = b.svc.AfterBlackout(ctx, b.d, "ten", b.t0.Add(25*time.Minute))
		is.NoErr(err)
		is.True(res.Fired)
		is.Equal(res.Calendar, "freeze")
		got := scheduledTimes(t, b.db, b.d.WorkflowID)
		is.Equal(len(got), 1)
		is.Equal(got[b.t0.Add(25*time.Minute)], 1)
		var fired scheduler.Fire
		for _, f := range b.fires(t) {
			if f.Outcome == scheduler.OutcomeFired {
				fired = f
			}
		}
		is.True(fired.NominalAt.Equal(b.t0.Add(20 * time.Minute))) // the latest covered nominal time
		is.Equal(fired.Reason, "after blackout calendar freeze")

		// Again, as another replica would: nothing more.
		other := scheduler.NewService(b.db, b.executions, scheduler.ServiceConfig{Blackouts: b.db})
		res, err = other.AfterBlackout(ctx, b.d, "ten", b.t0.Add(26*time.Minute))
		is.NoErr(err)
		is.True(!res.Fired && res.Due.IsZero())
		is.Equal(len(scheduledTimes(t, b.db, b.d.WorkflowID)), 1)
	})
}

// A scheduler that was down across the window catches up on start: the covered times are
// SKIPPED, not fired, and the after-window fire is made once.
func TestBlackoutCatchUpAfterRestart(t *testing.T) {
	t.Parallel()
	blackoutBackends(t, policy.AfterBlackoutFireOnce, func(t *testing.T, b blackoutBundle) {
		is := is.New(t)
		ctx := context.Background()
		is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: b.d.WorkflowID, DeploymentID: b.d.ID, TriggerID: "ten",
			NominalAt: b.t0, ScheduledAt: b.t0, FiredAt: b.t0, Outcome: scheduler.OutcomeFired}}))
		b.clock.Set(b.t0.Add(27 * time.Minute))
		s := scheduler.New(b.svc, b.db, nil, nil, scheduler.Config{Now: b.clock.Now})
		is.NoErr(s.Start(ctx))
		t.Cleanup(s.Stop)
		got := scheduledTimes(t, b.db, b.d.WorkflowID)
		is.Equal(len(got), 1) // the after-window fire only
		is.Equal(got[b.t0.Add(25*time.Minute)], 1)
		skipped := 0
		for _, f := range b.fires(t) {
			if f.Outcome == scheduler.OutcomeSkipped && f.BlackoutCalendar == "freeze" {
				skipped++
			}
		}
		is.Equal(skipped, 2) // 12:10 and 12:20

		// CatchUp directly says so too, and changes nothing on a second run.
		res, err := b.svc.CatchUp(ctx, b.d, "ten", b.clock.Now())
		is.NoErr(err)
		is.Equal(len(res.Fired)+len(res.BlackedOut), 0)
	})
}

// CatchUp reports the covered times it recorded.
func TestCatchUpHonoursBlackouts(t *testing.T) {
	t.Parallel()
	blackoutBackends(t, policy.AfterBlackoutUnspecified, func(t *testing.T, b blackoutBundle) {
		is := is.New(t)
		ctx := context.Background()
		is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: b.d.WorkflowID, DeploymentID: b.d.ID, TriggerID: "ten",
			NominalAt: b.t0, ScheduledAt: b.t0, FiredAt: b.t0, Outcome: scheduler.OutcomeFired}}))
		res, err := b.svc.CatchUp(ctx, b.d, "ten", b.t0.Add(31*time.Minute))
		is.NoErr(err)
		is.Equal(res.BlackedOut, b.at(10, 20))
		is.Equal(res.Fired, b.at(30)) // FIRE_ONCE misfire policy: the latest time that runs
	})
}

// Backfill records covered times SKIPPED instead of creating executions; previews mark them.
func TestBlackoutBackfillAndPreview(t *testing.T) {
	t.Parallel()
	blackoutBackends(t, policy.AfterBlackoutUnspecified, func(t *testing.T, b blackoutBundle) {
		is := is.New(t)
		ctx := context.Background()
		b.clock.Set(b.t0.Add(2 * time.Hour))
		res, err := b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: b.d.ID, Start: b.t0, End: b.t0.Add(time.Hour)})
		is.NoErr(err)
		is.Equal(res.Created, 4) // 12:00, 12:30, 12:40, 12:50
		is.Equal(res.BlackedOut, 2)
		is.Equal(len(scheduledTimes(t, b.db, b.d.WorkflowID)), 4)

		b.clock.Set(b.t0.Add(-time.Second))
		previews, err := b.svc.Preview(b.d)
		is.NoErr(err)
		is.NoErr(b.svc.MarkBlackouts(ctx, b.d, previews))
		p := previews[0]
		is.Equal(len(p.Fires), 5)
		want := []string{"", "freeze", "freeze", "", ""} // 12:00 12:10 12:20 12:30 12:40
		for i := range p.Fires {
			is.Equal(p.BlackoutCalendar(i), want[i])
		}
		is.Equal(p.BlackoutCalendar(99), "")
	})
}

// A running scheduler with a notifier: a calendar change reaches the fires at once (the cache
// is invalidated by the notification), and the after-window fire of a covered live fire is
// made by the timer the fire armed, when the window ends.
func TestBlackoutRunningScheduler(t *testing.T) {
	t.Parallel()
	blackoutBackends(t, policy.AfterBlackoutFireOnce, func(t *testing.T, b blackoutBundle) {
		is := is.New(t)
		ctx := context.Background()
		notifier := notify.NewLocal()
		cals := calendars.NewService(b.db, calendars.ServiceConfig{OnChange: func(ctx context.Context, name string) {
			_ = notifier.Publish(ctx, scheduler.CalendarsChangedChannel, name)
		}})
		b.clock.Set(b.t0.Add(25*time.Minute - 10*time.Millisecond))
		obs := newObserver()
		s := scheduler.New(b.svc, b.db, nil, notifier, scheduler.Config{Now: b.clock.Now, OnEvent: obs.OnEvent})
		is.NoErr(s.Start(ctx))
		t.Cleanup(s.Stop)

		// 12:20 is covered; the fire arms the after-window timer for 12:25, 10 ms away. A
		// timer that goes off before the clock reaches 12:25 arms itself again; each run is an
		// event.
		is.NoErr(s.FireForTest(ctx, b.d, "ten", b.t0.Add(20*time.Minute)))
		b.clock.Set(b.t0.Add(25 * time.Minute))
		obs.wait(t, "the after-window fire", func() bool { return scheduledTimes(t, b.db, b.d.WorkflowID)[b.t0.Add(25*time.Minute)] == 1 })

		// Move the window: 12:30 is covered now, from the next fire on.
		_, err := cals.Update(ctx, &calendars.Calendar{Name: "freeze", WeeklyWindows: []calendars.WeeklyWindow{
			{Days: []time.Weekday{b.t0.Weekday()}, Start: "12:30", End: "12:35"},
		}})
		is.NoErr(err)
		is.NoErr(s.FireForTest(ctx, b.d, "ten", b.t0.Add(30*time.Minute)))
		_, ran := scheduledTimes(t, b.db, b.d.WorkflowID)[b.t0.Add(30*time.Minute)]
		is.True(!ran) // covered by the updated calendar
		is.NoErr(s.FireForTest(ctx, b.d, "ten", b.t0.Add(40*time.Minute)))
		is.Equal(scheduledTimes(t, b.db, b.d.WorkflowID)[b.t0.Add(40*time.Minute)], 1) // not covered
	})
}

// An after-window fire owed for longer than the catch-up window (a scheduler down well past
// the window's end) is recorded MISSED, once.
func TestAfterBlackoutTooLate(t *testing.T) {
	t.Parallel()
	blackoutBackends(t, policy.AfterBlackoutFireOnce, func(t *testing.T, b blackoutBundle) {
		is := is.New(t)
		ctx := context.Background()
		res, err := b.svc.CatchUp(ctx, b.d, "ten", b.t0.Add(21*time.Minute))
		is.NoErr(err)
		is.Equal(res.BlackedOut, b.at(10, 20))
		res2, err := b.svc.AfterBlackout(ctx, b.d, "ten", b.t0.Add(25*time.Minute+11*time.Minute))
		is.NoErr(err)
		is.True(res2.Missed && !res2.Fired)
		is.Equal(len(scheduledTimes(t, b.db, b.d.WorkflowID)), 0) // nothing ran
		res2, err = b.svc.AfterBlackout(ctx, b.d, "ten", b.t0.Add(40*time.Minute))
		is.NoErr(err)
		is.True(!res2.Missed && res2.Due.IsZero()) // decided
		is.Equal(ledger(t, b.db, b.d.ID)[scheduler.OutcomeMissed][len(ledger(t, b.db, b.d.ID)[scheduler.OutcomeMissed])-1], b.t0.Add(25*time.Minute))
	})
}

func TestCovering(t *testing.T) {
	t.Parallel()
	blackoutBackends(t, policy.AfterBlackoutUnspecified, func(t *testing.T, b blackoutBundle) {
		is := is.New(t)
		ctx := context.Background()
		name, err := b.svc.Covering(ctx, b.d, "ten", b.t0.Add(10*time.Minute))
		is.NoErr(err)
		is.Equal(name, "freeze")
		name, err = b.svc.Covering(ctx, b.d, "ten", b.t0.Add(30*time.Minute))
		is.NoErr(err)
		is.Equal(name, "")
		name, err = b.svc.Covering(ctx, b.d, "no-such-trigger", b.t0.Add(10*time.Minute))
		is.NoErr(err)
		is.Equal(name, "")
	})
}

// Silenced finds the triggers none of whose fires of the coming year runs, walking window by
// window.
func TestSilenced(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
	svc := scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: func() time.Time { return now }, Blackouts: db})
	deploys := deployments.NewService(db, deployments.ServiceConfig{Now: func() time.Time { return now }})
	cals := calendars.NewService(db, calendars.ServiceConfig{})
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	for _, c := range []*calendars.Calendar{
		{Name: "workdays", WeeklyWindows: []calendars.WeeklyWindow{{Days: weekdays, Start: "00:00", End: "24:00"}}},
		{Name: "christmas", Holidays: []string{"2026-12-25"}},
	} {
		_, err := cals.Create(ctx, c)
		is.NoErr(err)
	}
	with := func(id, expr string, names ...string) deployments.Trigger {
		tr := cron(id, expr, 0)
		tr.Cron.BlackoutCalendars = names
		return tr
	}
	d, _, err := deploys.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("silenced"),
		Triggers: []deployments.Trigger{
			with("weekday-noon", "0 12 * * 1-5", "workdays"),  // every fire on a workday
			with("every-minute", "* * * * *", "workdays"),     // weekends run
			with("christmas-day", "0 9 25 12 *", "christmas"), // the one fire of the year
			cron("plain", "* * * * *", 0),
		},
	})
	is.NoErr(err)
	got, err := svc.Silenced(ctx, d)
	is.NoErr(err)
	is.Equal(len(got), 2)
	is.Equal(got[0].TriggerID, "weekday-noon")
	is.Equal(got[0].Index, 0)
	is.Equal(got[1].TriggerID, "christmas-day")
	is.Equal(got[1].Calendars, []string{"christmas"})
}
