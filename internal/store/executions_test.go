package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// executionBackends runs f against a fresh SQLite and PostgreSQL store holding one deployment.
func executionBackends(t *testing.T, f func(t *testing.T, db *store.DB, wf string)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			d := storetest.NewDeployment("wf-exec")
			if err := storetest.Create(context.Background(), db, d); err != nil {
				t.Fatal(err)
			}
			f(t, db, d.WorkflowID)
		})
	}
}

// newExecution is a PENDING execution of wf, available since a minute ago: the tests' claims
// take their now before making it, and a claim takes a PENDING row only once it is due.
func newExecution(wf string) *execution.Execution {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &execution.Execution{
		ID: uuid.Must(uuid.NewV7()).String(), DeploymentID: uuid.NewString(), WorkflowID: wf, Revision: 1,
		Status: execution.StatusPending, TriggerType: execution.TriggerManual, TriggerData: []byte(`{"a":1}`),
		ScheduledAt: now, AvailableAt: now.Add(-time.Minute), CreatedAt: now, UpdatedAt: now,
	}
}

func TestExecutionInsertDeduplicates(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		e := newExecution(wf)
		got, inserted, err := db.ExecutionInsert(ctx, e)
		is.NoErr(err)
		is.True(inserted)
		is.Equal(string(got.TriggerData), `{"a":1}`)

		// 20 concurrent inserts with one idempotency key make one row.
		var wg sync.WaitGroup
		ids := make([]string, 20)
		fresh := make([]bool, 20)
		for i := range 20 {
			wg.Go(func() {
				k := newExecution(wf)
				k.IdempotencyKey = "key-1"
				got, ins, err := db.ExecutionInsert(ctx, k)
				if err != nil {
					t.Error(err)
					return
				}
				ids[i], fresh[i] = got.ID, ins
			})
		}
		wg.Wait()
		n := 0
		for i := range 20 {
			is.Equal(ids[i], ids[0]) // all see the same execution
			if fresh[i] {
				n++
			}
		}
		is.Equal(n, 1) // one insert won

		fire := time.Date(2026, 11, 24, 3, 0, 17, 0, time.UTC)
		c1 := newExecution(wf)
		c1.TriggerType, c1.TriggerID, c1.ScheduledAt = execution.TriggerCron, "nightly", fire
		_, inserted, err = db.ExecutionInsert(ctx, c1)
		is.NoErr(err)
		is.True(inserted)
		c2 := newExecution(wf)
		c2.TriggerType, c2.TriggerID, c2.ScheduledAt = execution.TriggerCron, "nightly", fire
		got, inserted, err = db.ExecutionInsert(ctx, c2)
		is.NoErr(err)
		is.True(!inserted) // one execution per (trigger, scheduled time)
		is.Equal(got.ID, c1.ID)

		dup := newExecution(wf)
		dup.ID = e.ID
		_, _, err = db.ExecutionInsert(ctx, dup)
		is.True(errors.Is(err, errdefs.ErrConflict)) // same id, no key: conflict

		_, err = db.ExecutionGet(ctx, "not-a-uuid")
		is.True(errors.Is(err, errdefs.ErrNotFound))
		_, err = db.ExecutionGet(ctx, uuid.NewString())
		is.True(errors.Is(err, errdefs.ErrNotFound))
	})
}

func TestExecutionFencing(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		e := newExecution(wf)
		_, _, err := db.ExecutionInsert(ctx, e)
		is.NoErr(err)
		now := time.Now().UTC()

		first, err := db.ExecutionClaim(ctx, e.ID, 5, now)
		is.NoErr(err)
		is.Equal(first.Status, execution.StatusRunning)
		is.Equal(first.Attempt, int32(1))
		is.Equal(first.FencingToken, int64(5))
		_, err = db.ExecutionClaim(ctx, e.ID, 5, now)
		is.True(errors.Is(err, errdefs.ErrConflict)) // same fence cannot claim twice
		_, err = db.ExecutionClaim(ctx, e.ID, 4, now)
		is.True(errors.Is(err, errdefs.ErrConflict)) // older fence refused

		second, err := db.ExecutionClaim(ctx, e.ID, 9, now) // takeover by a newer owner
		is.NoErr(err)
		is.Equal(second.Attempt, int32(2))
		err = db.ExecutionFinish(ctx, &execution.FinishParams{ID: e.ID, Fence: 5, Status: execution.StatusSucceeded, Now: now})
		is.True(errors.Is(err, errdefs.ErrConflict)) // the old owner's write is refused
		err = db.ExecutionRetry(ctx, e.ID, 5, now, now, "x")
		is.True(errors.Is(err, errdefs.ErrConflict))

		retried := now.Add(time.Second).Truncate(time.Microsecond) // the caller's clock
		is.NoErr(db.ExecutionRetry(ctx, e.ID, 9, now.Add(time.Minute), retried, "boom"))
		got, err := db.ExecutionGet(ctx, e.ID)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusPending)
		is.Equal(got.Error, "boom")
		is.True(got.AvailableAt.After(now))
		is.True(got.UpdatedAt.Equal(retried)) // updated at the caller's now

		_, err = db.ExecutionClaim(ctx, e.ID, 10, now)
		is.True(errors.Is(err, errdefs.ErrConflict)) // not due before its available_at
		_, err = db.ExecutionClaim(ctx, e.ID, 10, now.Add(time.Minute))
		is.NoErr(err)
		is.NoErr(db.ExecutionFinish(ctx, &execution.FinishParams{ID: e.ID, Fence: 10, Status: execution.StatusSucceeded, Output: []byte(`{"ok":true}`), Now: now}))
		got, err = db.ExecutionGet(ctx, e.ID)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusSucceeded)
		is.Equal(string(got.Output), `{"ok":true}`)
		is.Equal(got.Attempt, int32(3))
		is.Equal(got.Error, "")
		is.True(!got.FinishedAt.IsZero())

		_, err = db.ExecutionClaim(ctx, e.ID, 11, now)
		is.True(errors.Is(err, errdefs.ErrConflict)) // terminal rows are never claimed
		is.True(errors.Is(db.ExecutionAbandon(ctx, e.ID, "x", now), errdefs.ErrConflict))
	})
}

func TestExecutionHandBackKeepsTheAttempt(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		e := newExecution(wf)
		_, _, err := db.ExecutionInsert(ctx, e)
		is.NoErr(err)
		now := time.Now().UTC()

		claimed, err := db.ExecutionClaim(ctx, e.ID, 3, now)
		is.NoErr(err)
		is.Equal(claimed.Attempt, int32(1))
		err = db.ExecutionHandBack(ctx, e.ID, 2, now, "x")
		is.True(errors.Is(err, errdefs.ErrConflict)) // an older owner cannot hand it back

		is.NoErr(db.ExecutionHandBack(ctx, e.ID, 3, now, "worker shut down during the run"))
		got, err := db.ExecutionGet(ctx, e.ID)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusPending)
		is.Equal(got.Attempt, int32(0)) // the handed-back attempt is not counted
		is.Equal(got.Error, "worker shut down during the run")
		is.True(!got.AvailableAt.After(now.Add(time.Millisecond))) // available at once
		err = db.ExecutionHandBack(ctx, e.ID, 3, now, "x")
		is.True(errors.Is(err, errdefs.ErrConflict)) // PENDING now: nothing to hand back

		again, err := db.ExecutionClaim(ctx, e.ID, 4, now) // the next owner runs attempt 1 again
		is.NoErr(err)
		is.Equal(again.Attempt, int32(1))
		is.NoErr(db.ExecutionFinish(ctx, &execution.FinishParams{ID: e.ID, Fence: 4, Status: execution.StatusSucceeded, Now: now}))
		err = db.ExecutionHandBack(ctx, e.ID, 4, now, "x")
		is.True(errors.Is(err, errdefs.ErrConflict)) // terminal rows stay terminal
	})
}

func TestExecutionSkipCancelAbandon(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		now := time.Now().UTC()
		insert := func() *execution.Execution {
			e := newExecution(wf)
			_, _, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			return e
		}

		skipped := insert()
		is.NoErr(db.ExecutionSkip(ctx, skipped.ID, "overlap", now))
		is.True(errors.Is(db.ExecutionSkip(ctx, skipped.ID, "again", now), errdefs.ErrConflict))

		pending := insert()
		got, err := db.ExecutionCancel(ctx, pending.ID, "stop", now)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusCancelled) // pending: cancelled at once
		is.Equal(got.Error, "stop")

		running := insert()
		_, err = db.ExecutionClaim(ctx, running.ID, 1, now)
		is.NoErr(err)
		ids, err := db.ExecutionListRunning(ctx, wf)
		is.NoErr(err)
		is.Equal(ids, []string{running.ID})
		got, err = db.ExecutionCancel(ctx, running.ID, "stop", now)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusRunning) // running: its worker is asked
		is.True(got.CancelRequested)

		got, err = db.ExecutionCancel(ctx, skipped.ID, "late", now)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusSkipped) // terminal: unchanged

		abandoned := insert()
		is.NoErr(db.ExecutionAbandon(ctx, abandoned.ID, "delivered too often", now))
		got, err = db.ExecutionGet(ctx, abandoned.ID)
		is.NoErr(err)
		is.Equal(got.Status, execution.StatusFailed)
	})
}

func TestExecutionTouchDue(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		now := time.Now().UTC()
		old := now.Add(-time.Hour)
		mk := func(available, updated time.Time) string {
			e := newExecution(wf)
			e.AvailableAt, e.UpdatedAt, e.CreatedAt = available, updated, updated
			_, _, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			return e.ID
		}
		lost := mk(old, old)
		mk(now.Add(time.Hour), old) // not due yet (retry backoff)
		mk(old, now)                // recently touched
		orphan := mk(old, old)
		_, err := db.ExecutionClaim(ctx, orphan, 7, old) // RUNNING, and its worker went silent
		is.NoErr(err)
		alive := mk(old, old)
		_, err = db.ExecutionClaim(ctx, alive, 8, old)
		is.NoErr(err)
		cancelRequested, err := db.ExecutionHeartbeat(ctx, alive, 8, now) // this one heartbeats
		is.NoErr(err)
		is.True(!cancelRequested)
		_, err = db.ExecutionHeartbeat(ctx, alive, 7, now)
		is.True(errors.Is(err, errdefs.ErrConflict)) // a stale fence cannot heartbeat
		ids, err := db.ExecutionTouchDue(ctx, now, now.Add(-time.Minute), now, 10)
		is.NoErr(err)
		is.Equal(len(ids), 2)
		is.True((ids[0] == lost && ids[1] == orphan) || (ids[0] == orphan && ids[1] == lost))
		ids, err = db.ExecutionTouchDue(ctx, now, now.Add(-time.Minute), now, 10)
		is.NoErr(err)
		is.Equal(len(ids), 0) // touched rows are not taken twice
	})
}

func TestRevisionAndWebhookLookups(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		def, err := db.RevisionGet(ctx, wf, 1)
		is.NoErr(err)
		is.Equal(def.ID, wf)
		_, err = db.RevisionGet(ctx, wf, 99)
		is.True(errors.Is(err, errdefs.ErrNotFound))
		ref, err := db.DeploymentRefByWebhookPath(ctx, "/hooks/"+wf)
		is.NoErr(err)
		is.Equal(ref.WorkflowID, wf)
		is.Equal(ref.TriggerID, "push")
		is.Equal(ref.Revision, int32(1))
		_, err = db.DeploymentRefByWebhookPath(ctx, "nope")
		is.True(errors.Is(err, errdefs.ErrNotFound))
		ref, err = db.DeploymentRef(ctx, wf)
		is.NoErr(err)
		is.Equal(string(ref.Status), "DEPLOYED")
		is.True(ref.DeploymentID != "")
		_, err = db.DeploymentRef(ctx, "nope")
		is.True(errors.Is(err, errdefs.ErrNotFound))
	})
}

func TestExecutionTrigger(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		e := newExecution("")
		e.WorkflowID, e.IdempotencyKey = wf, "k"
		got, inserted, err := db.ExecutionTrigger(ctx, e, "")
		is.NoErr(err)
		is.True(inserted)
		is.Equal(got.Revision, int32(1))
		is.True(got.DeploymentID != "") // filled from the deployment
		again := newExecution("")
		again.WorkflowID, again.IdempotencyKey = wf, "k"
		dup, inserted, err := db.ExecutionTrigger(ctx, again, "")
		is.NoErr(err)
		is.True(!inserted) // the key is taken
		is.Equal(dup.ID, got.ID)

		hook := newExecution("")
		hook.TriggerType = execution.TriggerWebhook
		got, inserted, err = db.ExecutionTrigger(ctx, hook, "/hooks/"+wf)
		is.NoErr(err)
		is.True(inserted)
		is.Equal(got.WorkflowID, wf)
		is.Equal(got.TriggerID, "push")
		stored, err := db.ExecutionGet(ctx, hook.ID)
		is.NoErr(err)
		is.Equal(stored.TriggerID, "push")

		_, _, err = db.ExecutionTrigger(ctx, newExecution("nope"), "")
		is.True(errors.Is(err, errdefs.ErrNotFound))
		_, _, err = db.ExecutionTrigger(ctx, newExecution(""), "no/such/hook")
		is.True(errors.Is(err, errdefs.ErrNotFound))
		_, err = db.Bun().NewUpdate().Table("workflows").Set("deployment_status = 'PAUSED'").Where("id = ?", wf).Exec(ctx)
		is.NoErr(err)
		_, _, err = db.ExecutionTrigger(ctx, newExecution(wf), "")
		is.True(errors.Is(err, errdefs.ErrFailedPrecondition)) // only DEPLOYED runs
	})
}

func TestExecutionTriggerBatch(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		paused := storetest.NewDeployment("wf-paused")
		is.NoErr(storetest.Create(ctx, db, paused))
		_, err := db.Bun().NewUpdate().Table("workflows").Set("deployment_status = 'PAUSED'").Where("id = ?", paused.WorkflowID).Exec(ctx)
		is.NoErr(err)

		manual := func(workflowID, key string) execution.TriggerRow {
			e := newExecution(workflowID)
			e.IdempotencyKey = key
			return execution.TriggerRow{Execution: e}
		}
		webhook := func(path, key string) execution.TriggerRow {
			e := newExecution("")
			e.TriggerType, e.IdempotencyKey = execution.TriggerWebhook, key
			return execution.TriggerRow{Execution: e, WebhookPath: path}
		}
		out, err := db.ExecutionTriggerBatch(ctx, nil)
		is.NoErr(err)
		is.Equal(len(out), 0) // an empty batch is no statement

		rows := []execution.TriggerRow{
			0: manual(wf, ""),
			1: manual(wf, "a"),
			2: manual(wf, "a"), // the same key in one statement: one row, the other dedups
			3: manual("nope", ""),
			4: manual(paused.WorkflowID, ""),
			5: webhook("/hooks/"+wf, ""),
			6: webhook("/hooks/"+wf, "a"), // the webhook's workflow is wf: key "a" again
			7: webhook("/no/such/hook", ""),
			8: webhook("/hooks/"+paused.WorkflowID, ""),
			9: manual(wf, "b"),
		}
		out, err = db.ExecutionTriggerBatch(ctx, rows)
		is.NoErr(err)
		is.Equal(len(out), len(rows))
		for _, i := range []int{0, 5, 9} {
			is.NoErr(out[i].Err)
			is.True(out[i].Inserted)
			is.Equal(out[i].Execution.ID, rows[i].Execution.ID) // its own id
			is.Equal(out[i].Execution.WorkflowID, wf)
			is.Equal(out[i].Execution.Revision, int32(1))
			is.True(out[i].Execution.DeploymentID != "") // filled from the deployment
			stored, err := db.ExecutionGet(ctx, rows[i].Execution.ID)
			is.NoErr(err)
			is.Equal(stored.Status, execution.StatusPending)
			is.Equal(stored.TriggerType, rows[i].Execution.TriggerType)
			is.Equal(string(stored.TriggerData), `{"a":1}`)
			is.Equal(stored.IdempotencyKey, rows[i].Execution.IdempotencyKey)
			is.True(stored.CreatedAt.Equal(rows[i].Execution.CreatedAt))
			is.True(stored.ScheduledAt.Equal(rows[i].Execution.ScheduledAt))
		}
		is.Equal(out[0].Execution.TriggerID, "") // manual: no trigger
		is.Equal(out[5].Execution.TriggerID, "push")
		stored, err := db.ExecutionGet(ctx, rows[5].Execution.ID)
		is.NoErr(err)
		is.Equal(stored.TriggerID, "push")

		// Key "a": exactly one of rows 1, 2 and 6 was inserted; the others got it, deduplicated.
		var keyA string
		for _, i := range []int{1, 2, 6} {
			is.NoErr(out[i].Err)
			if out[i].Inserted {
				is.Equal(keyA, "") // only one inserted
				keyA = out[i].Execution.ID
			}
		}
		is.True(keyA != "")
		for _, i := range []int{1, 2, 6} {
			is.Equal(out[i].Execution.ID, keyA) // everyone sees the one execution
			is.Equal(out[i].Execution.IdempotencyKey, "a")
		}
		n, err := db.Bun().NewSelect().Table("executions").Where("workflow_id = ? AND idempotency_key = 'a'", wf).Count(ctx)
		is.NoErr(err)
		is.Equal(n, int64(1))

		is.True(errors.Is(out[3].Err, errdefs.ErrNotFound))           // unknown workflow
		is.True(errors.Is(out[4].Err, errdefs.ErrFailedPrecondition)) // paused
		is.True(errors.Is(out[7].Err, errdefs.ErrNotFound))           // unknown webhook
		is.True(errors.Is(out[8].Err, errdefs.ErrFailedPrecondition)) // the webhook's workflow is paused
		for _, i := range []int{3, 4, 7, 8} {
			is.Equal(out[i].Execution, nil)
			_, err := db.ExecutionGet(ctx, rows[i].Execution.ID)
			is.True(errors.Is(err, errdefs.ErrNotFound)) // nothing recorded
		}

		// Across batches: a later batch with key "a" or "b" gets the first execution.
		out2, err := db.ExecutionTriggerBatch(ctx, []execution.TriggerRow{manual(wf, "b"), webhook("/hooks/"+wf, "a"), manual(wf, "c")})
		is.NoErr(err)
		is.True(!out2[0].Inserted)
		is.Equal(out2[0].Execution.ID, rows[9].Execution.ID)
		is.True(!out2[1].Inserted)
		is.Equal(out2[1].Execution.ID, keyA)
		is.True(out2[2].Inserted)
	})
}

func TestExecutionTriggerBatchConcurrent(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		// 8 concurrent batches of 16 rows, all with one key: one execution in all.
		var wg sync.WaitGroup
		results := make([][]execution.TriggerResult, 8)
		errs := make([]error, 8)
		for b := range 8 {
			wg.Go(func() {
				rows := make([]execution.TriggerRow, 16)
				for i := range rows {
					e := newExecution(wf)
					e.IdempotencyKey = "one"
					rows[i] = execution.TriggerRow{Execution: e}
				}
				results[b], errs[b] = db.ExecutionTriggerBatch(ctx, rows)
			})
		}
		wg.Wait()
		ids := map[string]bool{}
		inserted := 0
		for b := range 8 {
			is.NoErr(errs[b])
			for _, r := range results[b] {
				is.NoErr(r.Err)
				ids[r.Execution.ID] = true
				if r.Inserted {
					inserted++
				}
			}
		}
		is.Equal(inserted, 1) // one inserted
		is.Equal(len(ids), 1) // everyone got it
	})
}
