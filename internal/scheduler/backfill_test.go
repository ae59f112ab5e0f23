package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// The shared parts of a backfill on both dialects: the dry run names the executions that
// exist (one query for the page) and creates nothing; a batch never splits the fires of one
// scheduled time, so its cursor is a time before which every fire is made; the range of an
// operation stops at now and counts its fires.
func TestBackfillSteps(t *testing.T) {
	t.Parallel()
	for _, be := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{
		{"sqlite", storetest.OpenSQLite},
		{"postgres", storetest.OpenPostgres},
	} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			now := t0.Add(24 * time.Hour)
			b := setup(t, be.open(t), func() time.Time { return t0.Add(-time.Hour) }, func() time.Time { return now }, nil)
			// Three triggers firing every minute at the same times.
			d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("steps-" + be.name),
				Triggers:   []deployments.Trigger{cron("a", "* * * * *", 0), cron("b", "* * * * *", 0), cron("c", "* * * * *", 0)},
			})
			is.NoErr(err)

			made, err := b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, TriggerID: "b", Start: t0.Add(time.Minute), End: t0.Add(2 * time.Minute)})
			is.NoErr(err)
			is.Equal(made.Created, 1)
			plan, err := b.svc.BackfillDryRun(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(time.Hour), Limit: 7})
			is.NoErr(err)
			is.True(plan.Truncated) // 180 fires, 7 listed
			is.Equal(len(plan.Planned), 7)
			is.Equal(plan.Planned[0].TriggerID, "a") // oldest first, then by trigger
			is.Equal(plan.Planned[4].TriggerID, "b")
			is.True(plan.Planned[4].Scheduled.Equal(t0.Add(time.Minute)))
			is.Equal(plan.Planned[4].ExistingExecutionID, made.Executions[0].ID) // the existing one
			for i, f := range plan.Planned {
				if i != 4 {
					is.Equal(f.ExistingExecutionID, "")
				}
			}
			is.Equal(len(scheduledTimes(t, b.db, d.WorkflowID)), 1) // the dry run created nothing
			plan, err = b.svc.BackfillDryRun(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: now, End: now.Add(time.Hour)})
			is.NoErr(err)
			is.Equal(len(plan.Planned), 0) // the future is not backfilled
			_, err = b.svc.BackfillDryRun(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0, Limit: 1})
			is.True(err != nil) // checked as the call is

			// A batch of 64 would end inside minute 21 (63 fires + 1): it stops before it.
			step, err := b.svc.BackfillStep(ctx, &scheduler.BackfillStepParams{DeploymentID: d.ID, Cursor: t0, Until: t0.Add(time.Hour), BatchSize: 10})
			is.NoErr(err)
			is.True(!step.Done)
			is.True(step.Cursor.Equal(t0.Add(21 * time.Minute)))
			is.Equal(step.Created+step.Deduplicated, 63)
			is.Equal(step.Deduplicated, 1) // trigger b's minute 1
			step, err = b.svc.BackfillStep(ctx, &scheduler.BackfillStepParams{DeploymentID: d.ID, Cursor: step.Cursor, Until: t0.Add(30 * time.Minute), BatchSize: 100})
			is.NoErr(err)
			is.True(step.Done)
			is.True(step.Cursor.Equal(t0.Add(30 * time.Minute)))
			is.Equal(step.Created, 27) // minutes 21..29 of three triggers
			is.Equal(len(scheduledTimes(t, b.db, d.WorkflowID)), 30)

			r, err := b.svc.BackfillRange(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, TriggerID: "c", Start: now.Add(-time.Hour), End: now.Add(time.Hour)})
			is.NoErr(err)
			is.True(r.Until.Equal(now)) // cut at now
			is.Equal(r.Total, int64(60))
			is.Equal(r.WorkflowID, d.WorkflowID)
			r, err = b.svc.BackfillRange(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: now.Add(time.Hour), End: now.Add(2 * time.Hour)})
			is.NoErr(err)
			is.True(r.Until.Equal(r.Start)) // all in the future: nothing
			is.Equal(r.Total, int64(0))

			_, err = b.svc.BackfillRange(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, TriggerID: "nope", Start: t0, End: now})
			is.True(errors.Is(err, errdefs.ErrNotFound))
			_, err = b.svc.BackfillStep(ctx, &scheduler.BackfillStepParams{DeploymentID: d.ID, TriggerID: "nope", Cursor: t0, Until: now})
			is.True(errors.Is(err, errdefs.ErrNotFound))
			_, err = b.svc.BackfillRange(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: now, Limit: -1})
			is.True(err != nil)

			hooks, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("hooks-" + be.name),
				Triggers:   []deployments.Trigger{{ID: "hook", Webhook: &deployments.Webhook{Path: "steps/" + be.name}}},
			})
			is.NoErr(err)
			_, err = b.svc.BackfillDryRun(ctx, &scheduler.BackfillParams{DeploymentID: hooks.ID, Start: t0, End: now})
			is.True(errors.Is(err, errdefs.ErrFailedPrecondition)) // no cron trigger
		})
	}
}
