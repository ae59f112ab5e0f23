package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/watch"
)

// TestExecutionListUpdated: a deployment's executions updated since a time, in (updated_at,
// id) order, page by page with the keyset bound; other deployments' rows and older ones are
// not listed.
func TestExecutionListUpdated(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		dep := uuid.NewString()
		base := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
		var want []string
		for i := range 7 {
			e := newExecution(wf)
			e.DeploymentID = dep
			e.IdempotencyKey = e.ID
			// Two rows share each update time from the third on: the id breaks the tie.
			e.UpdatedAt = base.Add(time.Duration(i/2) * time.Second)
			_, inserted, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			is.True(inserted)
			if i >= 2 {
				want = append(want, e.ID)
			}
		}
		other := newExecution(wf) // another deployment
		other.UpdatedAt = base.Add(time.Hour)
		_, _, err := db.ExecutionInsert(ctx, other)
		is.NoErr(err)

		var got []string
		p := &watch.UpdatedListParams{DeploymentID: dep, Since: base.Add(time.Second), Limit: 2}
		for range 10 {
			page, err := db.ExecutionListUpdated(ctx, p)
			is.NoErr(err)
			for _, e := range page {
				is.Equal(e.DeploymentID, dep)
				got = append(got, e.ID)
			}
			if len(page) < p.Limit {
				break
			}
			last := page[len(page)-1]
			p.After = watch.Position{UpdatedAt: last.UpdatedAt, ID: last.ID}
		}
		// Ids are time-ordered and inserted in order, so (updated_at, id) is insertion order.
		is.Equal(got, want)
	})
}

// TestExecutionListUnfinished: a deployment's PENDING and RUNNING executions by id, paged. The
// executions carry their workflow's deployment, as every writer stores them: the list goes by
// the deployment's workflow.
func TestExecutionListUnfinished(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		d, err := db.DeploymentGetByWorkflow(ctx, wf)
		is.NoErr(err)
		dep := d.ID
		var want []string
		for i := range 5 {
			e := newExecution(wf)
			e.DeploymentID = dep
			e.IdempotencyKey = e.ID
			_, _, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			switch i {
			case 1:
				_, err := db.ExecutionClaim(ctx, e.ID, 1, time.Now())
				is.NoErr(err)
				want = append(want, e.ID) // RUNNING
			case 3:
				is.NoErr(db.ExecutionSkip(ctx, e.ID, "overlap", time.Now())) // terminal: not listed
			default:
				want = append(want, e.ID)
			}
		}
		var got []string
		p := &watch.UnfinishedListParams{DeploymentID: dep, Limit: 3}
		for range 10 {
			page, err := db.ExecutionListUnfinished(ctx, p)
			is.NoErr(err)
			for _, e := range page {
				is.True(e.Status == execution.StatusPending || e.Status == execution.StatusRunning)
				got = append(got, e.ID)
			}
			if len(page) < p.Limit {
				break
			}
			p.AfterID = page[len(page)-1].ID
		}
		is.Equal(got, want)

		none, err := db.ExecutionListUnfinished(ctx, &watch.UnfinishedListParams{DeploymentID: uuid.NewString(), Limit: 3})
		is.NoErr(err)
		is.Equal(len(none), 0)
	})
}
