package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// violation returns the only violation of err, a ValidationError.
func violation(t *testing.T, err error) errdefs.Violation {
	t.Helper()
	var ve *errdefs.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 {
		t.Fatalf("want one violation, got %v", err)
	}
	return ve.Violations[0]
}

// TestBackfillCeilings: WFR_MAX_BACKFILL and WFR_MAX_BACKFILL_RANGE refuse a larger limit or
// range with invalid_argument naming limit or end_time, creating nothing; the ceilings
// themselves are accepted, and a backfill without a limit stops at the ceiling. Without
// settings the ceilings are the API's maxima.
func TestBackfillCeilings(t *testing.T) {
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
			db := be.open(t)
			now := t0.Add(3 * time.Hour)
			executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
			deploys := deployments.NewService(db, deployments.ServiceConfig{Now: func() time.Time { return t0.Add(-time.Hour) }})
			clock := func() time.Time { return now }
			svc := scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: clock, MaxBackfill: 5, MaxBackfillRange: 2 * time.Hour})
			d, _, err := deploys.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("ceilings-" + be.name),
				Triggers:   []deployments.Trigger{cron("minutely", "* * * * *", 0)},
			})
			is.NoErr(err)
			count := func() int {
				n, err := db.Bun().NewSelect().Table("executions").Where("workflow_id = ?", d.WorkflowID).Count(ctx)
				is.NoErr(err)
				return int(n)
			}

			_, err = svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(time.Hour), Limit: 6})
			v := violation(t, err)
			is.Equal(v.Field, "limit") // one over WFR_MAX_BACKFILL
			is.Equal(v.Rule, "limits.max_backfill")
			_, err = svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(2*time.Hour + time.Second), Limit: 1})
			v = violation(t, err)
			is.Equal(v.Field, "end_time") // a second over WFR_MAX_BACKFILL_RANGE
			is.Equal(v.Rule, "limits.max_backfill_range")
			is.Equal(count(), 0) // nothing created

			res, err := svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(2 * time.Hour), Limit: 5})
			is.NoErr(err) // both ceilings exactly
			is.Equal(res.Created, 0)
			is.True(res.Truncated) // more than the limit: left to a backfill operation
			res, err = svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
			is.NoErr(err) // no limit given: the default (1000) cut to the ceiling
			is.Equal(res.Created, 0)
			is.True(res.Truncated)
			res, err = svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(5 * time.Minute)})
			is.NoErr(err) // five fires, the ceiling: made in the call
			is.Equal(res.Created, 5)
			is.True(!res.Truncated)
			is.Equal(count(), 5)

			// Without settings: the API's maxima.
			open := scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: clock})
			_, err = open.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(time.Hour), Limit: scheduler.MaxBackfillLimit + 1})
			is.Equal(violation(t, err).Field, "limit")
			_, err = open.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: now.Add(-scheduler.MaxBackfillRange - time.Second), End: now})
			is.Equal(violation(t, err).Field, "end_time")
			res, err = open.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: now.Add(-scheduler.MaxBackfillRange), End: now, Limit: 10})
			is.NoErr(err) // 31 days is allowed (and holds more than 10 fires: an operation's)
			is.True(res.Truncated)
			t.Logf("ceilings 5 executions / 2h: limit 6 and range 2h0m1s refused; defaults %d / %s", scheduler.MaxBackfillLimit, scheduler.MaxBackfillRange)
		})
	}
}
