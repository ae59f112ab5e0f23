package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// fireBundle is a fresh store (per dialect) holding one deployment.
type fireBundle struct {
	db *store.DB
	d  *deployments.Deployment
}

func fireBackends(t *testing.T, f func(t *testing.T, b fireBundle)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			d := storetest.NewDeployment("wf-fires")
			if err := storetest.Create(context.Background(), db, d); err != nil {
				t.Fatal(err)
			}
			f(t, fireBundle{db: db, d: d})
		})
	}
}

var fireT0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func (b fireBundle) fire(trigger string, minute int, outcome scheduler.Outcome) scheduler.Fire {
	nominal := fireT0.Add(time.Duration(minute) * time.Minute)
	f := scheduler.Fire{
		WorkflowID: b.d.WorkflowID, DeploymentID: b.d.ID, TriggerID: trigger,
		NominalAt: nominal, ScheduledAt: nominal.Add(17 * time.Second),
		FiredAt: nominal.Add(17*time.Second + 3*time.Millisecond), Outcome: outcome,
		Reason: "test",
	}
	if outcome != scheduler.OutcomeMissed {
		f.ExecutionID = uuid.NewString()
	}
	return f
}

func TestFireRecordIsIdempotent(t *testing.T) {
	t.Parallel()
	fireBackends(t, func(t *testing.T, b fireBundle) {
		is := is.New(t)
		ctx := context.Background()
		first := b.fire("every-minute", 1, scheduler.OutcomeFired)
		is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{first}))
		retry := first
		retry.ExecutionID = uuid.NewString()
		is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{retry, b.fire("every-minute", 1, scheduler.OutcomeDeduplicated)}))
		is.NoErr(b.db.FireRecord(ctx, nil)) // nothing to do

		got, err := b.db.FireList(ctx, &scheduler.FireListParams{DeploymentID: b.d.ID})
		is.NoErr(err)
		is.Equal(len(got), 2) // the retry added nothing; another outcome of the same time did
		byOutcome := map[scheduler.Outcome]scheduler.Fire{}
		for _, f := range got {
			byOutcome[f.Outcome] = f
		}
		fired := byOutcome[scheduler.OutcomeFired]
		is.Equal(fired.ExecutionID, first.ExecutionID) // the first record stays
		is.True(fired.ScheduledAt.Equal(first.ScheduledAt))
		is.True(fired.NominalAt.Equal(first.NominalAt))
		is.True(fired.FiredAt.Equal(first.FiredAt))
		is.Equal(fired.ScheduledAt.Location(), time.UTC)
		is.Equal(fired.Reason, "test")
		is.Equal(fired.TriggerID, "every-minute")
	})
}

func TestFireListFiltersAndPages(t *testing.T) {
	t.Parallel()
	fireBackends(t, func(t *testing.T, b fireBundle) {
		is := is.New(t)
		ctx := context.Background()
		var fires []scheduler.Fire
		for m := range 10 {
			outcome := scheduler.OutcomeFired
			if m%3 == 0 {
				outcome = scheduler.OutcomeMissed
			}
			fires = append(fires, b.fire("a", m, outcome), b.fire("b", m, scheduler.OutcomeCaughtUp))
		}
		is.NoErr(b.db.FireRecord(ctx, fires))
		missed := b.fire("a", 0, scheduler.OutcomeMissed)
		is.Equal(missed.ExecutionID, "")

		// Range [minute 2, minute 6) of scheduled times, both triggers: 8 rows.
		start := fireT0.Add(2*time.Minute + 17*time.Second)
		end := fireT0.Add(6*time.Minute + 17*time.Second)
		var all []scheduler.Fire
		p := &scheduler.FireListParams{DeploymentID: b.d.ID, Start: start, End: end, Limit: 3}
		for {
			page, err := b.db.FireList(ctx, p)
			is.NoErr(err)
			all = append(all, page...)
			if len(page) < p.Limit {
				break
			}
			last := page[len(page)-1]
			p.AfterScheduledAt, p.AfterID = last.ScheduledAt, last.ID
		}
		is.Equal(len(all), 8) // pages of 3 cover the range once
		for i := 1; i < len(all); i++ {
			is.True(!all[i].ScheduledAt.Before(all[i-1].ScheduledAt)) // oldest first
			is.True(all[i].ID != all[i-1].ID)
		}
		is.True(all[0].ScheduledAt.Equal(start))

		// Outcome filter.
		got, err := b.db.FireList(ctx, &scheduler.FireListParams{DeploymentID: b.d.ID, Outcomes: []scheduler.Outcome{scheduler.OutcomeMissed}})
		is.NoErr(err)
		is.Equal(len(got), 4) // minutes 0, 3, 6, 9 of trigger a
		for _, f := range got {
			is.Equal(f.ExecutionID, "")
		}

		// Another deployment sees nothing.
		got, err = b.db.FireList(ctx, &scheduler.FireListParams{DeploymentID: uuid.NewString()})
		is.NoErr(err)
		is.Equal(len(got), 0)
	})
}

func TestFireLastScheduled(t *testing.T) {
	t.Parallel()
	fireBackends(t, func(t *testing.T, b fireBundle) {
		is := is.New(t)
		ctx := context.Background()
		last, err := b.db.FireLastScheduled(ctx, b.d.WorkflowID, "a")
		is.NoErr(err)
		is.True(last.IsZero()) // never fired

		is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{
			b.fire("a", 3, scheduler.OutcomeFired),
			b.fire("a", 7, scheduler.OutcomeMissed),
			b.fire("a", 5, scheduler.OutcomeCaughtUp),
			b.fire("b", 9, scheduler.OutcomeFired),
		}))
		last, err = b.db.FireLastScheduled(ctx, b.d.WorkflowID, "a")
		is.NoErr(err)
		is.True(last.Equal(fireT0.Add(7*time.Minute + 17*time.Second))) // the latest, any outcome, of trigger a
	})
}

func TestTriggerDSTPolicies(t *testing.T) {
	t.Parallel()
	fireBackends(t, func(t *testing.T, b fireBundle) {
		is := is.New(t)
		ctx := context.Background()
		d, err := b.db.DeploymentGetByWorkflow(ctx, b.d.WorkflowID)
		is.NoErr(err)
		d.Triggers = []deployments.Trigger{
			{ID: "berlin", Cron: &deployments.CronSchedule{Expression: "30 2 * * *", Timezone: "Europe/Berlin", JitterWindowSeconds: 300,
				RepeatedHour: policy.RepeatedHourTwice, SkippedHour: policy.SkippedHourSkip}},
			{ID: "plain", Cron: &deployments.CronSchedule{Expression: "* * * * *", Timezone: "UTC"}},
		}
		is.NoErr(b.db.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error { return tx.TriggersReplace(ctx, d) }))
		got, err := b.db.DeploymentGetByWorkflow(ctx, b.d.WorkflowID)
		is.NoErr(err)
		is.Equal(*got.Triggers[0].Cron, *d.Triggers[0].Cron)                    // policies round-trip
		is.Equal(got.Triggers[1].Cron.RepeatedHour, policy.RepeatedHourDefault) // default stays the default
		is.Equal(got.Triggers[1].Cron.SkippedHour, policy.SkippedHourDefault)
	})
}

// FireLastScheduledBefore and FireDecided, which the settlement of a store outage reads: the
// last time on record before the gap, and the times inside it that an execution or a ledger
// row decided already (of this trigger only).
func TestFireGapReads(t *testing.T) {
	t.Parallel()
	fireBackends(t, func(t *testing.T, b fireBundle) {
		is := is.New(t)
		ctx := context.Background()
		at := func(minute int) time.Time { return b.fire("gap", minute, scheduler.OutcomeFired).ScheduledAt }
		is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{
			b.fire("gap", 1, scheduler.OutcomeFired),
			b.fire("gap", 2, scheduler.OutcomeFired),
			b.fire("gap", 2, scheduler.OutcomeDeduplicated),
			b.fire("gap", 5, scheduler.OutcomeMissed),
			b.fire("gap", 9, scheduler.OutcomeFired),
			b.fire("other", 6, scheduler.OutcomeFired),
		}))
		// An execution whose ledger row was never written.
		e := newExecution(b.d.WorkflowID)
		e.DeploymentID, e.TriggerType, e.TriggerID, e.ScheduledAt = b.d.ID, execution.TriggerCron, "gap", at(4)
		_, _, err := b.db.ExecutionInsert(ctx, e)
		is.NoErr(err)

		last, err := b.db.FireLastScheduledBefore(ctx, b.d.WorkflowID, "gap", at(5))
		is.NoErr(err)
		is.True(last.Equal(at(2))) // strictly before
		last, err = b.db.FireLastScheduledBefore(ctx, b.d.WorkflowID, "gap", at(1))
		is.NoErr(err)
		is.True(last.IsZero()) // nothing before

		decided, err := b.db.FireDecided(ctx, b.d.WorkflowID, "gap", at(2), at(8))
		is.NoErr(err)
		is.Equal(decided, map[time.Time]bool{at(4): true, at(5): true}) // (after, until], this trigger
		decided, err = b.db.FireDecided(ctx, b.d.WorkflowID, "gap", at(1), at(9))
		is.NoErr(err)
		is.Equal(decided, map[time.Time]bool{at(2): true, at(4): true, at(5): true, at(9): true})

		// The execution without a ledger row, and only it.
		unrecorded, err := b.db.FireUnrecorded(ctx, b.d.WorkflowID, "gap", at(1), at(9))
		is.NoErr(err)
		is.Equal(len(unrecorded), 1)
		is.Equal(unrecorded[0].ExecutionID, e.ID)
		is.Equal(unrecorded[0].DeploymentID, b.d.ID)
		is.True(unrecorded[0].ScheduledAt.Equal(at(4)))
		is.True(unrecorded[0].NominalAt.Equal(at(4))) // none stored: the scheduled time
		unrecorded, err = b.db.FireUnrecorded(ctx, b.d.WorkflowID, "gap", at(4), at(9))
		is.NoErr(err)
		is.Equal(len(unrecorded), 0) // (after, until]
	})
}
