package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// TestExecutionCountsAndTimings: the bench's reads count a workflow's executions by status (all
// of them, or those created since a time), count the terminal ones, and time those created since
// a time; another workflow's rows are not counted.
func TestExecutionCountsAndTimings(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		is.NoErr(storetest.Create(ctx, db, storetest.NewDeployment("wf-other")))
		now := time.Now().UTC().Truncate(time.Microsecond)
		since := now.Add(-time.Minute)
		with := func(wf string, status execution.Status, created time.Time, started, finished time.Duration) *execution.Execution {
			e := newExecution(wf)
			e.Status, e.CreatedAt = status, created
			if started > 0 {
				e.StartedAt = created.Add(started)
			}
			if finished > 0 {
				e.FinishedAt = created.Add(finished)
			}
			_, inserted, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			is.True(inserted)
			return e
		}
		// One before since, three after it, one of another workflow.
		with(wf, execution.StatusSucceeded, now.Add(-time.Hour), time.Second, 2*time.Second)
		done := with(wf, execution.StatusSucceeded, now, time.Second, 3*time.Second)
		pending := with(wf, execution.StatusPending, now, 0, 0)
		with(wf, execution.StatusFailed, now, time.Second, 2*time.Second)
		with("wf-other", execution.StatusSucceeded, now, time.Second, 2*time.Second)

		n, err := db.ExecutionCountTerminal(ctx, wf)
		is.NoErr(err)
		is.Equal(n, 3) // both SUCCEEDED and the FAILED one

		all, err := db.ExecutionCountByStatus(ctx, wf, time.Time{})
		is.NoErr(err)
		is.Equal(all, map[execution.Status]int{execution.StatusSucceeded: 2, execution.StatusPending: 1, execution.StatusFailed: 1})
		recent, err := db.ExecutionCountByStatus(ctx, wf, since)
		is.NoErr(err)
		is.Equal(recent, map[execution.Status]int{execution.StatusSucceeded: 1, execution.StatusPending: 1, execution.StatusFailed: 1})

		unfinished, err := db.ExecutionCountUnfinished(ctx, wf, since)
		is.NoErr(err)
		is.Equal(unfinished, 1) // the PENDING one
		unfinished, err = db.ExecutionCountUnfinished(ctx, wf, now.Add(time.Second))
		is.NoErr(err)
		is.Equal(unfinished, 0) // none created since then

		timings, err := db.ExecutionTimings(ctx, wf, since)
		is.NoErr(err)
		is.Equal(len(timings), 3) // the three created since
		byID := map[string]store.ExecutionTiming{}
		for _, x := range timings {
			byID[x.ID] = x
		}
		is.Equal(byID[done.ID].Status, execution.StatusSucceeded)
		is.True(byID[done.ID].CreatedAt.Equal(now))
		is.Equal(byID[done.ID].StartedAt.Sub(byID[done.ID].CreatedAt), time.Second)
		is.Equal(byID[done.ID].FinishedAt.Sub(byID[done.ID].CreatedAt), 3*time.Second)
		is.True(byID[pending.ID].StartedAt.IsZero())  // not started
		is.True(byID[pending.ID].FinishedAt.IsZero()) // not finished
	})
}
