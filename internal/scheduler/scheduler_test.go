package scheduler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// testBundle is one database with the services over it.
type testBundle struct {
	db          *store.DB
	deployments *deployments.Service
	executions  *execution.Service
	svc         *scheduler.Service
}

// setup returns a bundle over db; deploymentsNow is the deployment service's clock (nil: real),
// onChange its OnChange.
func setup(t *testing.T, db *store.DB, deploymentsNow, svcNow func() time.Time, onChange func(context.Context, string)) *testBundle {
	t.Helper()
	executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
	return &testBundle{
		db:          db,
		deployments: deployments.NewService(db, deployments.ServiceConfig{Now: deploymentsNow, OnChange: onChange}),
		executions:  executions,
		svc:         scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: svcNow}),
	}
}

func definition(id string) deployments.Definition {
	return deployments.Definition{ID: id, Nodes: []deployments.Node{{ID: "a", Type: "noop"}}}
}

func cron(id, expr string, window uint32) deployments.Trigger {
	return deployments.Trigger{ID: id, Cron: &deployments.CronSchedule{Expression: expr, JitterWindowSeconds: window}}
}

// scheduledTimes returns the scheduled times of the workflow's CRON executions, with how many
// executions each has.
func scheduledTimes(t *testing.T, db *store.DB, workflowID string) map[time.Time]int {
	t.Helper()
	var rows []struct {
		ScheduledAt time.Time `bun:"scheduled_at"`
	}
	err := db.Bun().NewSelect().Table("executions").Column("scheduled_at").
		Where("workflow_id = ?", workflowID).Where("trigger_type = 'CRON'").
		Scan(context.Background(), &rows)
	if err != nil {
		t.Fatal(err)
	}
	out := map[time.Time]int{}
	for _, r := range rows {
		out[r.ScheduledAt.UTC()]++
	}
	return out
}

func ledger(t *testing.T, db *store.DB, deploymentID string) map[scheduler.Outcome][]time.Time {
	t.Helper()
	fires, err := db.FireList(context.Background(), &scheduler.FireListParams{DeploymentID: deploymentID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[scheduler.Outcome][]time.Time{}
	for _, f := range fires {
		out[f.Outcome] = append(out[f.Outcome], f.ScheduledAt)
	}
	return out
}

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func minutes(ms ...int) []time.Time {
	out := make([]time.Time, len(ms))
	for i, m := range ms {
		out[i] = t0.Add(time.Duration(m) * time.Minute)
	}
	return out
}

// A scheduler down from just after the 12:00 fire until 12:05:30, catch-up window ten minutes,
// an every-minute cron without jitter: each misfire policy does what it says, and the ledger
// says so.
func TestCatchUpPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy         policy.Misfire
		fired, missed  []time.Time
		executionCount int
	}{
		{policy.MisfireFireAll, minutes(1, 2, 3, 4, 5), nil, 5},
		{policy.MisfireFireOnce, minutes(5), minutes(1, 2, 3, 4), 1},
		{policy.MisfireSkip, nil, minutes(1, 2, 3, 4, 5), 0},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			now := t0.Add(5*time.Minute + 30*time.Second)
			b := setup(t, storetest.OpenSQLite(t), func() time.Time { return t0.Add(-time.Hour) }, func() time.Time { return now }, nil)
			d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("misfire"),
				Triggers:   []deployments.Trigger{cron("every-minute", "* * * * *", 0)},
				Config:     deployments.Config{MisfirePolicy: tc.policy, CatchUpWindow: 10 * time.Minute},
			})
			is.NoErr(err)
			// The last fire before the downtime.
			is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "every-minute",
				NominalAt: t0, ScheduledAt: t0, FiredAt: t0, Outcome: scheduler.OutcomeFired}}))

			res, err := b.svc.CatchUp(ctx, d, "every-minute", now)
			is.NoErr(err)
			is.Equal(res.Fired, tc.fired)   // fired now
			is.Equal(res.Missed, tc.missed) // recorded missed
			got := scheduledTimes(t, b.db, d.WorkflowID)
			is.Equal(len(got), tc.executionCount)
			for _, at := range tc.fired {
				is.Equal(got[at], 1) // one execution per caught-up time
			}
			l := ledger(t, b.db, d.ID)
			is.Equal(l[scheduler.OutcomeCaughtUp], tc.fired)
			is.Equal(l[scheduler.OutcomeMissed], tc.missed)

			// Running it again (a restart, another replica) changes nothing.
			res, err = b.svc.CatchUp(ctx, d, "every-minute", now)
			is.NoErr(err)
			is.Equal(len(res.Fired)+len(res.Missed), 0)
			is.Equal(len(scheduledTimes(t, b.db, d.WorkflowID)), tc.executionCount)
		})
	}
}

// A scheduler that stopped between a fire's two writes (the execution made, its ledger row
// not): the catch-up after the downtime records that time FIRED, with the execution's id and a
// reason saying so, instead of planning it as missed (FIRE_ONCE recorded it MISSED although it
// ran); the rest of the gap is planned as usual, and nothing runs twice.
func TestCatchUpRecordsAFireWithoutItsLedgerRow(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		now := t0.Add(5*time.Minute + 30*time.Second)
		b := setup(t, db, func() time.Time { return t0.Add(-time.Hour) }, func() time.Time { return now }, nil)
		d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
			Definition: definition("unrecorded"),
			Triggers:   []deployments.Trigger{cron("every-minute", "* * * * *", 0)},
			Config:     deployments.Config{MisfirePolicy: policy.MisfireFireOnce, CatchUpWindow: 10 * time.Minute},
		})
		is.NoErr(err)
		is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "every-minute",
			NominalAt: t0, ScheduledAt: t0, FiredAt: t0, Outcome: scheduler.OutcomeFired}}))
		// 12:01's fire made its execution; the scheduler stopped before its ledger row.
		e, dup, err := b.executions.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "every-minute", ScheduledAt: minutes(1)[0]})
		is.NoErr(err)
		is.True(!dup)

		res, err := b.svc.CatchUp(ctx, d, "every-minute", now)
		is.NoErr(err)
		is.Equal(res.Recorded, minutes(1))     // recorded, not planned
		is.Equal(res.Missed, minutes(2, 3, 4)) // the rest of the gap as FIRE_ONCE says
		is.Equal(res.Fired, minutes(5))
		got := scheduledTimes(t, b.db, d.WorkflowID)
		is.Equal(got[minutes(1)[0]], 1) // not run again
		l := ledger(t, b.db, d.ID)
		is.Equal(l[scheduler.OutcomeFired], []time.Time{t0, minutes(1)[0]})
		is.Equal(l[scheduler.OutcomeMissed], minutes(2, 3, 4))
		fires, err := b.db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID, Outcomes: []scheduler.Outcome{scheduler.OutcomeFired}})
		is.NoErr(err)
		is.Equal(len(fires), 2)
		is.Equal(fires[1].ExecutionID, e.ID) // the row names the execution
		is.True(strings.Contains(fires[1].Reason, "stopped before writing this row"))

		// Again (a restart, another replica): nothing changes.
		res, err = b.svc.CatchUp(ctx, d, "every-minute", now)
		is.NoErr(err)
		is.Equal(len(res.Fired)+len(res.Missed)+len(res.Recorded), 0)
	})
}

// Nothing before the deployment was (re)deployed is missed: a trigger deployed at 12:03 and
// never fired has nothing to catch up before 12:03.
func TestCatchUpStartsAtDeploy(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	now := t0.Add(5*time.Minute + 30*time.Second)
	b := setup(t, storetest.OpenSQLite(t), func() time.Time { return t0.Add(3*time.Minute + 10*time.Second) }, func() time.Time { return now }, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("late-deploy"),
		Triggers:   []deployments.Trigger{cron("m", "* * * * *", 0)},
		Config:     deployments.Config{MisfirePolicy: policy.MisfireFireAll},
	})
	is.NoErr(err)
	res, err := b.svc.CatchUp(ctx, d, "m", now)
	is.NoErr(err)
	is.Equal(res.Fired, minutes(4, 5))
	is.Equal(len(res.Missed), 0)
}

func TestBackfillDeduplicates(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	now := t0.Add(2 * time.Hour)
	b := setup(t, storetest.OpenSQLite(t), func() time.Time { return t0.Add(-24 * time.Hour) }, func() time.Time { return now }, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("backfill"),
		Triggers: []deployments.Trigger{
			cron("quarter", "*/15 * * * *", 300),
			cron("hourly", "0 * * * *", 0),
			{ID: "hook", Webhook: &deployments.Webhook{Path: "backfill/hook"}},
		},
	})
	is.NoErr(err)
	// The scheduler fired the 12:00 hourly fire already.
	_, _, err = b.executions.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "hourly", ScheduledAt: t0})
	is.NoErr(err)

	res, err := b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(time.Hour)})
	is.NoErr(err)
	// quarter: 12:00..12:45 nominal + offset, all inside [12:00, 13:00) iff offset < 15m; hourly: 12:00.
	trig, err := scheduler.NewTrigger(d.WorkflowID, d.Triggers[0].Cron)
	is.NoErr(err)
	offset := trig.Offset()
	is.True(offset < 5*time.Minute)
	is.Equal(len(res.Executions), 5) // four quarter-hours and one hour, wherever the offset lands
	is.Equal(res.Created, 4)
	is.Equal(res.Deduplicated, 1) // the scheduler's fire
	is.True(!res.Truncated)
	for i := 1; i < len(res.Executions); i++ {
		is.True(!res.Executions[i].ScheduledAt.Before(res.Executions[i-1].ScheduledAt)) // oldest first
	}

	// Again: nothing new.
	res, err = b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(time.Hour)})
	is.NoErr(err)
	is.Equal(res.Created, 0)
	is.Equal(res.Deduplicated, 5)

	// One trigger, with a limit: oldest first.
	res, err = b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, TriggerID: "quarter", Start: t0, End: t0.Add(time.Hour), Limit: 4})
	is.NoErr(err)
	is.Equal(len(res.Executions), 4)
	is.True(!res.Truncated)
	is.True(res.Executions[0].ScheduledAt.Equal(t0.Add(offset)))
	// More fires than the limit: nothing is created, the range is an operation's.
	res, err = b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, TriggerID: "quarter", Start: t0, End: t0.Add(2 * time.Hour), Limit: 3})
	is.NoErr(err)
	is.Equal(len(res.Executions), 0)
	is.True(res.Truncated)
	is.Equal(len(scheduledTimes(t, b.db, d.WorkflowID)), 5) // still the first hour's

	// The future is not backfilled.
	res, err = b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, TriggerID: "hourly", Start: now, End: now.Add(5 * time.Hour)})
	is.NoErr(err)
	is.Equal(len(res.Executions), 0)

	// Unknown trigger, paused deployment.
	_, err = b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, TriggerID: "nope", Start: t0, End: t0.Add(time.Hour)})
	is.True(err != nil)
	_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
	is.NoErr(err)
	_, err = b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(time.Hour)})
	is.True(err != nil) // only DEPLOYED

	// The ledger lists the backfill: 4 FIRED quarter-hours + hourly DEDUPLICATED, ..., paged.
	fires, next, err := b.svc.ListFires(ctx, scheduler.ListFiresQuery{DeploymentID: d.ID, PageSize: 2, Outcomes: []scheduler.Outcome{scheduler.OutcomeFired}})
	is.NoErr(err)
	is.Equal(len(fires), 2)
	is.True(next != "")
	n := len(fires)
	for next != "" {
		fires, next, err = b.svc.ListFires(ctx, scheduler.ListFiresQuery{DeploymentID: d.ID, PageSize: 2, Outcomes: []scheduler.Outcome{scheduler.OutcomeFired}, PageToken: next})
		is.NoErr(err)
		n += len(fires)
	}
	is.Equal(n, 4) // the quarter-hours the first backfill created; the rest were DEDUPLICATED
	_, _, err = b.svc.ListFires(ctx, scheduler.ListFiresQuery{DeploymentID: d.ID, PageToken: "garbage"})
	is.True(err != nil)
}

func TestPreview(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	now := time.Date(2026, 10, 25, 0, 50, 0, 0, time.UTC) // 01:50 CEST, before the clocks go back
	b := setup(t, storetest.OpenSQLite(t), nil, func() time.Time { return now }, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("preview"),
		Triggers: []deployments.Trigger{
			{ID: "hook", Webhook: &deployments.Webhook{Path: "preview/hook"}},
			{ID: "berlin", Cron: &deployments.CronSchedule{Expression: "0 */15 * * * ?", Timezone: "Europe/Berlin", JitterWindowSeconds: 0}},
			cron("jittered", "0 * * * *", 300),
		},
	})
	is.NoErr(err)
	previews, err := b.svc.Preview(d)
	is.NoErr(err)
	is.Equal(len(previews), 2) // the cron triggers only
	is.Equal(previews[0].TriggerID, "berlin")
	is.Equal(previews[0].Offset, time.Duration(0))
	is.Equal(len(previews[0].Fires), 5)
	// 02:00, 02:15, 02:30, 02:45 CEST, then 02:00 CET: the repeated hour is not lost.
	for i, f := range previews[0].Fires {
		is.True(f.Scheduled.Equal(now.Add(time.Duration(10+15*i) * time.Minute)))
	}
	j := previews[1]
	is.Equal(j.TriggerID, "jittered")
	is.True(j.Offset > 0 && j.Offset < 300*time.Second)
	for _, f := range j.Fires {
		is.Equal(f.Scheduled.Sub(f.Nominal), j.Offset)
		is.Equal(f.Nominal.Minute(), 0)
	}
}
