package retention_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/retention"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// deploy stores a deployment of wf in status s.
func deploy(t *testing.T, db *store.DB, wf string, s deployments.Status) *deployments.Deployment {
	t.Helper()
	d := storetest.NewDeployment(wf)
	d.Status = s
	d.Triggers = nil
	if err := storetest.Create(context.Background(), db, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestJanitor(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		insert := func(d *deployments.Deployment, at time.Time, s execution.Status) string {
			t.Helper()
			at = at.Truncate(time.Microsecond)
			e := &execution.Execution{
				ID: uuid.NewString(), DeploymentID: d.ID, WorkflowID: d.WorkflowID, Revision: 1,
				Status: s, TriggerType: execution.TriggerManual, CreatedAt: at, UpdatedAt: at,
			}
			_, _, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			return e.ID
		}

		// a: global policy (48h, keep 2). Six old terminal rows go; the old RUNNING one and the
		// two recent ones stay.
		a := deploy(t, db, "wf-a", deployments.StatusDeployed)
		for i := range 6 {
			insert(a, now.Add(-10*24*time.Hour).Add(time.Duration(i)*time.Minute), execution.StatusSucceeded)
		}
		running := insert(a, now.Add(-9*24*time.Hour), execution.StatusRunning)
		insert(a, now.Add(-time.Hour), execution.StatusFailed)
		insert(a, now.Add(-30*time.Minute), execution.StatusSucceeded)
		// b: its own policy (1h, keep 5): of seven rows older than an hour, the five newest stay.
		b := storetest.NewDeployment("wf-b")
		b.Config.RetentionAge = time.Hour
		b.Config.RetentionKeepLast = 5
		is.NoErr(storetest.Create(ctx, db, b))
		var bIDs []string
		for i := range 7 {
			bIDs = append(bIDs, insert(b, now.Add(-2*time.Hour).Add(time.Duration(i)*time.Minute), execution.StatusCancelled))
		}
		// c: one old row, fewer than keep-last: it stays.
		c := deploy(t, db, "wf-c", deployments.StatusArchived)
		insert(c, now.Add(-100*24*time.Hour), execution.StatusSkipped)
		// Fire ledger of a: three old rows go, one recent stays.
		var fires []scheduler.Fire
		for i, at := range []time.Time{now.Add(-20 * 24 * time.Hour), now.Add(-19 * 24 * time.Hour), now.Add(-18 * 24 * time.Hour), now.Add(-time.Hour)} {
			fires = append(fires, scheduler.Fire{
				WorkflowID: a.WorkflowID, DeploymentID: a.ID, TriggerID: "nightly",
				NominalAt: at, ScheduledAt: at.Add(time.Duration(i) * time.Second), FiredAt: at, Outcome: scheduler.OutcomeFired,
			})
		}
		is.NoErr(db.FireRecord(ctx, fires))

		passes := make(chan retention.JanitorResult, 10)
		j := retention.NewJanitor(db, retention.JanitorConfig{
			RetentionAge: 48 * time.Hour, KeepLast: 2, BatchSize: 2,
			Now:    func() time.Time { return now },
			OnPass: func(r retention.JanitorResult) { passes <- r },
		})
		res, err := j.RunOnce(ctx)
		is.NoErr(err)
		is.Equal(res, retention.JanitorResult{ExecutionsDeleted: 8, FiresDeleted: 3, Deployments: 3})

		left := func(d *deployments.Deployment) []string {
			page, err := monitoring.NewService(db, monitoring.ServiceConfig{}).History(ctx, &monitoring.HistoryQuery{
				HistoryFilter: monitoring.HistoryFilter{DeploymentID: d.ID}, PageSize: 100,
			})
			is.NoErr(err)
			var ids []string
			for _, e := range page.Executions {
				ids = append(ids, e.ID)
			}
			return ids
		}
		is.Equal(len(left(a)), 3)
		is.True(slices.Contains(left(a), running)) // not terminal: kept whatever its age
		is.Equal(left(b), []string{bIDs[6], bIDs[5], bIDs[4], bIDs[3], bIDs[2]})
		is.Equal(len(left(c)), 1)
		rest, err := db.FireList(ctx, &scheduler.FireListParams{DeploymentID: a.ID})
		is.NoErr(err)
		is.Equal(len(rest), 1)

		// Start runs a pass at once (nothing left to delete), Stop waits; both idempotent-safe.
		is.NoErr(j.Start(ctx))
		is.NoErr(j.Start(ctx)) // already running: a no-op, as for every background part
		select {
		case r := <-passes:
			is.Equal(r.ExecutionsDeleted+r.FiresDeleted, int64(0))
		case <-time.After(10 * time.Second):
			t.Fatal("no pass after Start")
		}
		j.Stop()
		j.Stop()
		is.NoErr(j.Start(ctx)) // restartable: a pass at once again
		select {
		case <-passes:
		case <-time.After(10 * time.Second):
			t.Fatal("no pass after a restart")
		}
		j.Stop()
	})
}

// A backfill of a range older than the retention age keeps its ledger rows (they are aged by
// when they were written, like its executions), and they go once they were written longer ago
// than the retention age.
func TestJanitorAgesBackfilledFiresByWriteTime(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		clock := testenv.NewFakeClock()
		deploys := deployments.NewService(db, deployments.ServiceConfig{Now: clock.Now})
		d, _, err := deploys.Deploy(ctx, &deployments.DeployParams{
			Definition: deployments.Definition{ID: "backfilled", Nodes: []deployments.Node{{ID: "a", Type: "noop"}}},
			Triggers:   []deployments.Trigger{{ID: "hourly", Cron: &deployments.CronSchedule{Expression: "0 * * * *"}}},
		})
		is.NoErr(err)
		executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
		svc := scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: clock.Now})
		// Sixty days ago, for six hours: older than the 30-day retention age.
		start := clock.Now().Add(-60 * 24 * time.Hour)
		res, err := svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: start, End: start.Add(6 * time.Hour)})
		is.NoErr(err)
		is.Equal(res.Created, 6)

		clock.Advance(2 * time.Minute)
		j := retention.NewJanitor(db, retention.JanitorConfig{RetentionAge: 30 * 24 * time.Hour, KeepLast: 1, Now: clock.Now})
		pass, err := j.RunOnce(ctx)
		is.NoErr(err)
		is.Equal(pass.FiresDeleted, int64(0)) // written two minutes ago: kept
		kept, err := db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID})
		is.NoErr(err)
		is.Equal(len(kept), 6)
		for _, f := range kept {
			is.True(f.CreatedAt.Equal(clock.Now().Add(-2 * time.Minute))) // when it was written
		}

		clock.Advance(31 * 24 * time.Hour)
		pass, err = j.RunOnce(ctx)
		is.NoErr(err)
		is.Equal(pass.FiresDeleted, int64(6)) // written longer ago than the retention age
		left, err := db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID})
		is.NoErr(err)
		is.Equal(len(left), 0)
	})
}
