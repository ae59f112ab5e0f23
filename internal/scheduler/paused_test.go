package scheduler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// dialects are the stores the ledger tests run on.
var dialects = map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres}

// pausedRows returns the deployment's PAUSED ledger rows, oldest first.
func pausedRows(t *testing.T, db *store.DB, deploymentID string) []scheduler.Fire {
	t.Helper()
	fires, err := db.FireList(context.Background(), &scheduler.FireListParams{DeploymentID: deploymentID,
		Outcomes: []scheduler.Outcome{scheduler.OutcomePaused}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return fires
}

// The catch-up after a resume records the times between the pause and the resume PAUSED, not
// MISSED and not fired, once: a second catch-up (a restart, a second replica) writes nothing
// new; a second pause and resume records its own times.
func TestPausedRecordedAtResume(t *testing.T) {
	t.Parallel()
	for name, open := range dialects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			var deploysClock, svcClock clock
			deploysClock.Set(t0.Add(-time.Hour))
			b := setup(t, open(t), deploysClock.Now, svcClock.Now, nil)
			d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("paused"),
				Triggers:   []deployments.Trigger{cron("minutely", "* * * * *", 0)},
				Config:     deployments.Config{MisfirePolicy: policy.MisfireFireAll, CatchUpWindow: 10 * time.Minute},
			})
			is.NoErr(err)
			is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "minutely",
				NominalAt: t0, ScheduledAt: t0, FiredAt: t0, Outcome: scheduler.OutcomeFired}}))
			setStatus := func(at time.Time, s deployments.Status) *deployments.Deployment {
				deploysClock.Set(at)
				d, err := b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: s})
				is.NoErr(err)
				return d
			}
			setStatus(t0.Add(30*time.Second), deployments.StatusPaused)
			resumed := setStatus(t0.Add(10*time.Minute+30*time.Second), deployments.StatusDeployed)

			now := t0.Add(12*time.Minute + 30*time.Second)
			svcClock.Set(now)
			res, err := b.svc.CatchUp(ctx, resumed, "minutely", now)
			is.NoErr(err)
			is.Equal(res.Paused, minutes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)) // the pause's times
			is.Equal(res.Fired, minutes(11, 12))                         // after the resume: a normal catch-up
			is.Equal(len(res.Missed), 0)
			rows := pausedRows(t, b.db, d.ID)
			is.Equal(len(rows), 10)
			for _, f := range rows {
				is.Equal(f.ExecutionID, "")
				is.True(strings.Contains(f.Reason, "PAUSED"))
				is.True(f.FiredAt.Equal(now))
			}
			for at := range scheduledTimes(t, b.db, d.WorkflowID) {
				is.True(at.After(resumed.DeployedAt)) // no execution for a paused time
			}

			// Again, and from a second replica's service: nothing new.
			_, err = b.svc.CatchUp(ctx, resumed, "minutely", now)
			is.NoErr(err)
			other := scheduler.NewService(b.db, b.executions, scheduler.ServiceConfig{Now: svcClock.Now})
			_, err = other.CatchUp(ctx, resumed, "minutely", now)
			is.NoErr(err)
			is.Equal(len(pausedRows(t, b.db, d.ID)), 10)
			// Resumed twice (the second is no change): still nothing new.
			again := setStatus(t0.Add(13*time.Minute), deployments.StatusDeployed)
			is.True(again.DeployedAt.Equal(resumed.DeployedAt))
			_, err = b.svc.CatchUp(ctx, again, "minutely", now)
			is.NoErr(err)
			is.Equal(len(pausedRows(t, b.db, d.ID)), 10)

			// A second pause: its own times, none of the first's again.
			setStatus(t0.Add(20*time.Minute+30*time.Second), deployments.StatusPaused)
			resumed = setStatus(t0.Add(23*time.Minute+30*time.Second), deployments.StatusDeployed)
			now = t0.Add(23*time.Minute + 40*time.Second)
			res, err = b.svc.CatchUp(ctx, resumed, "minutely", now)
			is.NoErr(err)
			is.Equal(res.Paused, minutes(21, 22, 23))
			is.Equal(len(pausedRows(t, b.db, d.ID)), 13)
			l := ledger(t, b.db, d.ID)
			is.Equal(len(l[scheduler.OutcomeMissed]), 0) // a pause is not a misfire
		})
	}
}

// A pause of a trigger that never fired (paused before its first time) records its times too;
// a deployment never paused records none.
func TestPausedNeverFired(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	var deploysClock clock
	deploysClock.Set(t0.Add(-10 * time.Second))
	b := setup(t, storetest.OpenSQLite(t), deploysClock.Now, nil, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("fresh"),
		Triggers:   []deployments.Trigger{cron("minutely", "* * * * *", 0)},
	})
	is.NoErr(err)
	res, err := b.svc.CatchUp(ctx, d, "minutely", t0.Add(-5*time.Second))
	is.NoErr(err)
	is.Equal(len(res.Paused), 0) // never paused
	deploysClock.Set(t0.Add(-5 * time.Second))
	_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
	is.NoErr(err)
	deploysClock.Set(t0.Add(2*time.Minute + 5*time.Second))
	d, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusDeployed})
	is.NoErr(err)
	res, err = b.svc.CatchUp(ctx, d, "minutely", t0.Add(2*time.Minute+10*time.Second))
	is.NoErr(err)
	is.Equal(res.Paused, minutes(0, 1, 2))
}

// A per-second trigger paused for a day owes 86,400 times: the resume records the latest
// MaxPausedRecords of them, and the oldest recorded row says how many earlier ones are not.
func TestPausedBounded(t *testing.T) {
	t.Parallel()
	for name, open := range dialects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			var deploysClock clock
			deploysClock.Set(t0.Add(-time.Hour))
			b := setup(t, open(t), deploysClock.Now, nil, nil)
			d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("busy"),
				Triggers:   []deployments.Trigger{cron("sec", "* * * * * ?", 0)},
			})
			is.NoErr(err)
			deploysClock.Set(t0)
			_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
			is.NoErr(err)
			deploysClock.Set(t0.Add(24 * time.Hour))
			d, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusDeployed})
			is.NoErr(err)
			res, err := b.svc.CatchUp(ctx, d, "sec", t0.Add(24*time.Hour))
			is.NoErr(err)
			is.Equal(len(res.Paused), scheduler.MaxPausedRecords)
			is.True(res.Paused[len(res.Paused)-1].Equal(t0.Add(24 * time.Hour))) // the latest
			rows := pausedRows(t, b.db, d.ID)
			is.Equal(len(rows), scheduler.MaxPausedRecords)
			is.True(rows[0].ScheduledAt.Equal(t0.Add(24*time.Hour - (scheduler.MaxPausedRecords-1)*time.Second)))
			is.True(strings.Contains(rows[0].Reason, "85400 earlier times of the pause are not recorded")) // 86,400 - 1,000
			is.True(!strings.Contains(rows[1].Reason, "earlier"))
			// Once: a second catch-up writes nothing, and does not reach back to the left-out times.
			res, err = b.svc.CatchUp(ctx, d, "sec", t0.Add(24*time.Hour))
			is.NoErr(err)
			is.Equal(len(res.Paused), 0)
			is.Equal(len(pausedRows(t, b.db, d.ID)), scheduler.MaxPausedRecords)
		})
	}
}

// A scheduler that still holds a paused deployment's job when its time passes records the time
// PAUSED; two replicas seeing the same time record one row; the resume's catch-up then records
// only the times after it.
func TestPausedLiveFire(t *testing.T) {
	t.Parallel()
	for name, open := range dialects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			// Real times: a fire runs under the deadline of its scheduled time + SettleAfter.
			base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Second)
			var deploysClock clock
			deploysClock.Set(base.Add(-time.Hour))
			b := setup(t, open(t), deploysClock.Now, nil, nil)
			d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("live"),
				Triggers:   []deployments.Trigger{cron("sec", "* * * * * ?", 0)},
			})
			is.NoErr(err)
			deploysClock.Set(base.Add(500 * time.Millisecond))
			_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
			is.NoErr(err)
			locks := lock.NewLocalManager(lock.LocalConfig{})
			r1, r2 := newReplica(t, b, locks), newReplica(t, b, locks)
			r1.clock.Set(base.Add(1100 * time.Millisecond))
			r2.clock.Set(base.Add(1200 * time.Millisecond))
			is.NoErr(r1.s.FireForTest(ctx, d, "sec", base.Add(time.Second)))
			is.NoErr(r2.s.FireForTest(ctx, d, "sec", base.Add(time.Second)))
			rows := pausedRows(t, b.db, d.ID)
			is.Equal(len(rows), 1) // one row for the two replicas
			is.True(rows[0].ScheduledAt.Equal(base.Add(time.Second)))
			is.Equal(rows[0].Reason, "the deployment was PAUSED")
			is.Equal(len(scheduledTimes(t, b.db, d.WorkflowID)), 0) // not fired

			// Another replica holds the fire lock (it read the deployment before the pause and
			// fires the time): this one records nothing. A time that has an execution already
			// gets no PAUSED row, live or at the resume.
			lease, err := locks.Acquire(ctx, "fire:live/sec", time.Minute)
			is.NoErr(err)
			is.NoErr(r2.s.FireForTest(ctx, d, "sec", base.Add(2*time.Second)))
			is.NoErr(locks.Release(ctx, lease))
			is.Equal(len(pausedRows(t, b.db, d.ID)), 1)
			_, _, err = b.executions.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "sec", ScheduledAt: base.Add(2 * time.Second)})
			is.NoErr(err)
			is.NoErr(r2.s.FireForTest(ctx, d, "sec", base.Add(2*time.Second)))
			is.Equal(len(pausedRows(t, b.db, d.ID)), 1)

			deploysClock.Set(base.Add(3500 * time.Millisecond))
			d, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusDeployed})
			is.NoErr(err)
			res, err := b.svc.CatchUp(ctx, d, "sec", base.Add(3600*time.Millisecond))
			is.NoErr(err)
			is.Equal(res.Paused, []time.Time{base.Add(3 * time.Second)}) // after the live one, but the executed one
			is.Equal(len(pausedRows(t, b.db, d.ID)), 2)

			// A live fire of a trigger that changed while paused, or of a deployment that is not
			// paused (archived), records nothing; nor does one whose write fails (logged).
			deploysClock.Set(base.Add(3700 * time.Millisecond))
			_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
			is.NoErr(err)
			changed := []deployments.Trigger{cron("sec", "*/2 * * * * ?", 0)}
			_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathTriggers}, Triggers: changed})
			is.NoErr(err)
			is.NoErr(r1.s.FireForTest(ctx, d, "sec", base.Add(4*time.Second))) // d: the old trigger
			is.Equal(len(pausedRows(t, b.db, d.ID)), 2)
			_, err = b.deployments.Delete(ctx, d.ID)
			is.NoErr(err)
			is.NoErr(r1.s.FireForTest(ctx, d, "sec", base.Add(4*time.Second)))
			is.Equal(len(pausedRows(t, b.db, d.ID)), 2)
		})
	}
}
