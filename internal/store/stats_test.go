package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

func TestDeploymentStats(t *testing.T) {
	t.Parallel()
	monitoringBackends(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		a := seedDeployment(t, db, "wf-a", deployments.StatusDeployed)
		b := seedDeployment(t, db, "wf-b", deployments.StatusDeployed)
		seedDeployment(t, db, "wf-c", deployments.StatusPaused)
		end := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
		at := end.Add(-time.Hour)

		// wf-a: run times 1, 2, 3, 4 s (SUCCEEDED), 10 s (FAILED), 20.5 s (TIMED_OUT); a SKIPPED, a
		// PENDING, a CANCELLED after 100 s (not counted in the run times) and one before the range.
		finish := func(e *execution.Execution, s execution.Status, run time.Duration) {
			t.Helper()
			_, err := db.ExecutionClaim(ctx, e.ID, 1, at)
			is.NoErr(err)
			is.NoErr(db.ExecutionFinish(ctx, &execution.FinishParams{ID: e.ID, Fence: 1, Status: s, Now: at.Add(run)}))
		}
		for i, run := range []time.Duration{1, 2, 3, 4} {
			e := seedExecution(t, db, a, at.Add(time.Duration(i)*time.Second), execution.StatusPending, execution.TriggerCron)
			finish(e, execution.StatusSucceeded, run*time.Second)
		}
		finish(seedExecution(t, db, a, at, execution.StatusPending, execution.TriggerManual), execution.StatusFailed, 10*time.Second)
		finish(seedExecution(t, db, a, at, execution.StatusPending, execution.TriggerWebhook), execution.StatusTimedOut, 20500*time.Millisecond)
		finish(seedExecution(t, db, a, at, execution.StatusPending, execution.TriggerManual), execution.StatusCancelled, 100*time.Second)
		seedExecution(t, db, a, at, execution.StatusSkipped, execution.TriggerCron)
		seedExecution(t, db, a, at, execution.StatusPending, execution.TriggerCron)
		seedExecution(t, db, a, end.Add(-25*time.Hour), execution.StatusSucceeded, execution.TriggerCron) // out of range
		seedExecution(t, db, a, end, execution.StatusSucceeded, execution.TriggerCron)                    // end is exclusive
		// wf-b: one SUCCEEDED in 500 ms.
		finish(seedExecution(t, db, b, at, execution.StatusPending, execution.TriggerCron), execution.StatusSucceeded, 500*time.Millisecond)

		svc := monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return end }})
		st, err := svc.DeploymentStats(ctx, &monitoring.StatsQuery{}) // default: the 24 hours before now
		is.NoErr(err)
		is.Equal(st.Start, end.Add(-24*time.Hour))
		is.Equal(st.DeploymentsByStatus, map[deployments.Status]int64{deployments.StatusDeployed: 2, deployments.StatusPaused: 1})
		is.Equal(st.Executions.ByStatus, map[execution.Status]int64{
			execution.StatusSucceeded: 5, execution.StatusFailed: 1, execution.StatusTimedOut: 1,
			execution.StatusCancelled: 1, execution.StatusSkipped: 1, execution.StatusPending: 1,
		})
		is.Equal(st.Executions.ByTriggerType, map[execution.TriggerType]int64{
			execution.TriggerCron: 7, execution.TriggerManual: 2, execution.TriggerWebhook: 1,
		})
		is.Equal(len(st.Executions.Deployments), 2)
		byID := map[string]monitoring.DeploymentExecutionStats{}
		for _, d := range st.Executions.Deployments {
			byID[d.DeploymentID] = d
		}
		sa := byID[a.ID]
		is.Equal(sa.WorkflowID, "wf-a")
		is.Equal(sa.Total, int64(9))
		is.Equal(sa.Succeeded, int64(4))
		is.Equal(sa.Failed, int64(2))
		is.Equal(sa.SuccessRate, 4.0/6.0)
		// Sorted run times 1 2 3 4 10 20.5: p50 at rank 2.5, p95 at 4.75, p99 at 4.95.
		is.Equal(sa.DurationP50, 3500*time.Millisecond)
		is.Equal(sa.DurationP95, 10*time.Second+7875*time.Millisecond) // 10 + 0.75*10.5
		is.Equal(sa.DurationP99, 10*time.Second+9975*time.Millisecond) // 10 + 0.95*10.5
		sb := byID[b.ID]
		is.Equal(sb.Total, int64(1))
		is.Equal(sb.SuccessRate, 1.0)
		is.Equal(sb.DurationP50, 500*time.Millisecond)
		is.Equal(sb.DurationP99, 500*time.Millisecond)

		// One deployment only.
		st, err = svc.DeploymentStats(ctx, &monitoring.StatsQuery{DeploymentID: b.ID, Start: end.Add(-48 * time.Hour), End: end})
		is.NoErr(err)
		is.Equal(st.DeploymentsByStatus, map[deployments.Status]int64{deployments.StatusDeployed: 1})
		is.Equal(len(st.Executions.Deployments), 1)
		is.Equal(st.Executions.ByStatus, map[execution.Status]int64{execution.StatusSucceeded: 1})

		// An empty range.
		st, err = svc.DeploymentStats(ctx, &monitoring.StatsQuery{Start: end.Add(time.Hour), End: end.Add(2 * time.Hour)})
		is.NoErr(err)
		is.Equal(len(st.Executions.Deployments), 0)
		is.Equal(len(st.Executions.ByStatus), 0)
	})
}
