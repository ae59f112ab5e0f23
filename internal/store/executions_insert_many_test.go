package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// cronFire is a PENDING cron execution of wf for trigger at scheduled, without jitter.
func cronFire(wf, trigger string, scheduled time.Time) *execution.Execution {
	return cronExecution(wf, trigger, scheduled, 0)
}

// ExecutionInsertMany makes one execution per (trigger, scheduled time), as ExecutionInsert
// does one at a time: the fires whose key is taken (before the batch, by a concurrent batch)
// answer the execution that holds it, in the batch's order.
func TestExecutionInsertMany(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		at := func(m int) time.Time { return time.Date(2026, 11, 24, 3, m, 0, 0, time.UTC) }
		early, _, err := db.ExecutionInsert(ctx, cronFire(wf, "a", at(2)))
		is.NoErr(err)

		batch := []*execution.Execution{
			cronFire(wf, "a", at(1)), cronFire(wf, "a", at(2)), cronFire(wf, "b", at(2)), cronFire(wf, "a", at(3)),
		}
		got, err := db.ExecutionInsertMany(ctx, batch)
		is.NoErr(err)
		is.Equal(len(got), 4)
		for i, g := range got {
			if i == 1 {
				is.True(!g.Inserted)               // a at 2 was made before
				is.Equal(g.Execution.ID, early.ID) // and answers that execution
				continue
			}
			is.True(g.Inserted)
			is.Equal(g.Execution.ID, batch[i].ID)
			is.Equal(g.Execution.TriggerID, batch[i].TriggerID)
			is.True(g.Execution.ScheduledAt.Equal(batch[i].ScheduledAt))
		}

		// Again, and from two batches at once: nothing new, every fire answers its execution.
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				again := []*execution.Execution{
					cronFire(wf, "a", at(1)), cronFire(wf, "a", at(2)), cronFire(wf, "b", at(2)), cronFire(wf, "a", at(3)), cronFire(wf, "a", at(4)),
				}
				got, err := db.ExecutionInsertMany(ctx, again)
				if err != nil {
					t.Error(err)
					return
				}
				for i, want := range []string{batch[0].ID, early.ID, batch[2].ID, batch[3].ID} {
					if got[i].Inserted || got[i].Execution.ID != want {
						t.Errorf("fire %d: inserted %v, execution %s; want the existing %s", i, got[i].Inserted, got[i].Execution.ID, want)
					}
				}
			})
		}
		wg.Wait()
		n, err := db.Bun().NewSelect().Table("executions").Where("workflow_id = ?", wf).Where("scheduled_at = ?", at(4)).Count(ctx)
		is.NoErr(err)
		is.Equal(n, int64(1)) // the new time of the two batches: made once

		// More fires than one statement makes (insertManyRows, 500): made in parts, answered in
		// order, and deduplicated in parts when made again.
		big := make([]*execution.Execution, 1201)
		for i := range big {
			big[i] = cronFire(wf, "c", at(0).Add(time.Duration(i)*time.Second))
		}
		got, err = db.ExecutionInsertMany(ctx, big)
		is.NoErr(err)
		is.Equal(len(got), len(big))
		for i, g := range got {
			is.True(g.Inserted && g.Execution.ID == big[i].ID)
		}
		again := make([]*execution.Execution, len(big))
		for i := range again {
			again[i] = cronFire(wf, "c", big[i].ScheduledAt)
		}
		got, err = db.ExecutionInsertMany(ctx, again)
		is.NoErr(err)
		for i, g := range got {
			is.True(!g.Inserted && g.Execution.ID == big[i].ID)
		}

		// Only cron fires of one workflow.
		manual := newExecution(wf)
		_, err = db.ExecutionInsertMany(ctx, []*execution.Execution{cronFire(wf, "a", at(9)), manual})
		is.True(err != nil)
		// An id that is taken, with a key that is free: a conflict, as ExecutionInsert says.
		taken := cronFire(wf, "a", at(10))
		taken.ID = early.ID
		_, err = db.ExecutionInsertMany(ctx, []*execution.Execution{taken})
		is.True(errors.Is(err, errdefs.ErrConflict))
		got, err = db.ExecutionInsertMany(ctx, nil)
		is.NoErr(err)
		is.Equal(len(got), 0)
	})
}
