package backfill_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/backfill"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// fires is the size of the tests' range: an every-minute cron over 2,500 minutes.
const fires = 2500

// testBundle is one database with the services over it and a deployed every-minute cron.
type testBundle struct {
	db          *store.DB
	clock       *testenv.FakeClock
	deployments *deployments.Service
	sched       *scheduler.Service
	svc         *backfill.Service
	d           *deployments.Deployment
	params      *scheduler.BackfillParams
}

func backends() []struct {
	name string
	open func(testing.TB) *store.DB
} {
	return []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}}
}

func setup(t *testing.T, db *store.DB, workflowID string) *testBundle {
	t.Helper()
	ctx := context.Background()
	clock := testenv.NewFakeClock()
	clock.Advance(t0.Add(3 * 24 * time.Hour).Sub(clock.Now())) // the range is in the past
	executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
	deploys := deployments.NewService(db, deployments.ServiceConfig{Now: func() time.Time { return t0.Add(-time.Hour) }})
	sched := scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: clock.Now})
	d, _, err := deploys.Deploy(ctx, &deployments.DeployParams{
		Definition: deployments.Definition{ID: workflowID, Nodes: []deployments.Node{{ID: "a", Type: "noop"}}},
		Triggers:   []deployments.Trigger{{ID: "minutely", Cron: &deployments.CronSchedule{Expression: "* * * * *"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{
		db: db, clock: clock, deployments: deploys, sched: sched, d: d,
		svc: backfill.NewService(db, sched, backfill.ServiceConfig{Now: clock.Now}),
		params: &scheduler.BackfillParams{
			DeploymentID: d.ID, Start: t0, End: t0.Add(fires * time.Minute), Limit: 1000,
		},
	}
}

func (b *testBundle) runner(owner string) *backfill.Runner {
	return backfill.NewRunner(b.db, b.sched, backfill.RunnerConfig{Owner: owner, Now: b.clock.Now})
}

// drain steps r until it has nothing to do (bounded) and returns how many steps progressed.
func drain(t *testing.T, r *backfill.Runner) int {
	t.Helper()
	for i := range 100 {
		progressed, err := r.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !progressed {
			return i
		}
	}
	t.Fatal("the runner did not settle in 100 steps")
	return 0
}

// executions counts the workflow's executions, and the distinct scheduled times among them.
func (b *testBundle) executions(t *testing.T) (rows, distinct int) {
	t.Helper()
	ctx := context.Background()
	n, err := b.db.Bun().NewSelect().Table("executions").Where("workflow_id = ?", b.d.WorkflowID).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	err = b.db.Bun().NewSelect().Table("executions").ColumnExpr("DISTINCT scheduled_at").
		Where("workflow_id = ?", b.d.WorkflowID).Scan(ctx, &times)
	if err != nil {
		t.Fatal(err)
	}
	return int(n), len(times)
}

// A range of 2,500 fires with limit 1000: the synchronous call creates nothing, the operation
// makes every fire in five batches of 500 and ends SUCCEEDED with total = created. While it
// runs, the same request answers the same operation.
func TestOperationCompletes(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			b := setup(t, be.open(t), "complete-"+be.name)

			res, err := b.sched.Backfill(ctx, b.params)
			is.NoErr(err)
			is.True(res.Truncated)           // more than the limit
			is.Equal(len(res.Executions), 0) // nothing in the call
			op, err := b.svc.Start(ctx, b.params)
			is.NoErr(err)
			is.Equal(op.State, backfill.StateRunning)
			is.Equal(op.Total, int64(fires))
			is.True(op.Cursor.Equal(t0))
			again, err := b.svc.Start(ctx, b.params)
			is.NoErr(err)
			is.Equal(again.ID, op.ID) // the same range: the running operation

			r := b.runner("api-1")
			is.Equal(drain(t, r), 5) // five batches of 500
			got, err := b.svc.Get(ctx, op.ID)
			is.NoErr(err)
			is.Equal(got.State, backfill.StateSucceeded)
			is.Equal(got.Created, got.Total) // total = created
			is.Equal(got.Deduplicated, int64(0))
			is.True(got.Cursor.Equal(b.params.End))
			is.Equal(got.LeaseOwner, "") // freed
			rows, distinct := b.executions(t)
			is.Equal(rows, fires)
			is.Equal(distinct, fires)

			// Finished: the same request starts a new operation, which deduplicates everything.
			next, err := b.svc.Start(ctx, b.params)
			is.NoErr(err)
			is.True(next.ID != op.ID)
			drain(t, r)
			got, err = b.svc.Get(ctx, next.ID)
			is.NoErr(err)
			is.Equal(got.State, backfill.StateSucceeded)
			is.Equal(got.Deduplicated, int64(fires))
			rows, _ = b.executions(t)
			is.Equal(rows, fires) // nothing twice
		})
	}
}

// Cancel after the first batch: the runner makes no further batch; what it made stays and is
// counted. Cancelling again changes nothing.
func TestOperationCancel(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			b := setup(t, be.open(t), "cancel-"+be.name)
			op, err := b.svc.Start(ctx, b.params)
			is.NoErr(err)
			var ended []*backfill.Operation
			r := backfill.NewRunner(b.db, b.sched, backfill.RunnerConfig{Owner: "api-1", Now: b.clock.Now,
				Ended: func(op *backfill.Operation) { ended = append(ended, op) }})
			progressed, err := r.Step(ctx)
			is.NoErr(err)
			is.True(progressed)
			is.Equal(r.Held(), op.ID)

			cancelled, err := b.svc.Cancel(ctx, op.ID)
			is.NoErr(err)
			is.Equal(cancelled.State, backfill.StateCancelled)
			is.Equal(cancelled.Created, int64(backfill.DefaultBatchSize))
			drain(t, r)
			is.Equal(r.Held(), "")
			is.Equal(len(ended), 1)
			is.Equal(ended[0].State, backfill.StateCancelled)
			rows, _ := b.executions(t)
			is.Equal(rows, backfill.DefaultBatchSize) // one batch, no more

			again, err := b.svc.Cancel(ctx, op.ID)
			is.NoErr(err)
			is.Equal(again.State, backfill.StateCancelled)
			is.True(again.UpdatedAt.Equal(cancelled.UpdatedAt)) // unchanged

			_, err = b.svc.Cancel(ctx, "0196f3a0-0000-7000-8000-000000000000")
			is.True(errors.Is(err, errdefs.ErrNotFound))
			_, err = b.svc.Get(ctx, "not-a-uuid")
			is.True(errors.Is(err, errdefs.ErrNotFound))
		})
	}
}

// A process dies holding an operation, halfway through its second batch: another runner
// cannot take it while the lease lasts, takes it over once it expired, and finishes it from
// the cursor: every fire made once, the dead process's half batch deduplicated. The dead
// process, back from a stall, finds the lease gone and stops.
func TestOperationTakeover(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			b := setup(t, be.open(t), "takeover-"+be.name)
			op, err := b.svc.Start(ctx, b.params)
			is.NoErr(err)
			dead := b.runner("api-dead")
			_, err = dead.Step(ctx)
			is.NoErr(err)
			// Half of the second batch, made before the process died (its counts never recorded).
			half, err := b.sched.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: b.d.ID,
				Start: t0.Add(500 * time.Minute), End: t0.Add(750 * time.Minute)})
			is.NoErr(err)
			is.Equal(half.Created, 250)

			heir := b.runner("api-heir")
			progressed, err := heir.Step(ctx)
			is.NoErr(err)
			is.True(!progressed) // the lease lasts
			b.clock.Advance(backfill.DefaultLease + time.Second)
			drain(t, heir)
			got, err := b.svc.Get(ctx, op.ID)
			is.NoErr(err)
			is.Equal(got.State, backfill.StateSucceeded)
			is.Equal(got.Created, int64(fires-250))
			is.Equal(got.Deduplicated, int64(250))            // the dead process's half batch
			is.Equal(got.Created+got.Deduplicated, got.Total) // nothing lost
			rows, distinct := b.executions(t)
			is.Equal(rows, fires)     // nothing twice
			is.Equal(distinct, fires) // every time

			progressed, err = dead.Step(ctx)
			is.NoErr(err)
			is.True(progressed)
			is.Equal(dead.Held(), "") // not its own any more
		})
	}
}

// A deployment paused mid-way fails the operation with the reason; a failed operation is not
// claimed again.
func TestOperationFails(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			b := setup(t, be.open(t), "fails-"+be.name)
			op, err := b.svc.Start(ctx, b.params)
			is.NoErr(err)
			r := b.runner("api-1")
			_, err = r.Step(ctx)
			is.NoErr(err)
			_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: b.d.ID, Paths: []string{"status"}, Status: deployments.StatusPaused})
			is.NoErr(err)
			drain(t, r)
			got, err := b.svc.Get(ctx, op.ID)
			is.NoErr(err)
			is.Equal(got.State, backfill.StateFailed)
			is.True(got.Error != "")
			is.Equal(got.Created, int64(backfill.DefaultBatchSize))
			b.clock.Advance(time.Hour)
			is.Equal(drain(t, r), 0) // nothing to claim
		})
	}
}

// List pages newest first with the filters, and a token is refused with other filters.
func TestList(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			b := setup(t, be.open(t), "list-"+be.name)
			var ids []string
			for i := range 5 {
				p := *b.params
				p.Start = t0.Add(time.Duration(i) * time.Hour)
				b.clock.Advance(time.Second)
				op, err := b.svc.Start(ctx, &p)
				is.NoErr(err)
				ids = append(ids, op.ID)
			}
			_, err := b.svc.Cancel(ctx, ids[1])
			is.NoErr(err)

			var seen []string
			token := ""
			for range 10 {
				page, next, err := b.svc.List(ctx, backfill.ListQuery{DeploymentID: b.d.ID, PageSize: 2, PageToken: token})
				is.NoErr(err)
				for _, op := range page {
					seen = append(seen, op.ID)
				}
				if token = next; token == "" {
					break
				}
			}
			is.Equal(seen, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}) // newest first

			cancelled, _, err := b.svc.List(ctx, backfill.ListQuery{States: []backfill.State{backfill.StateCancelled}, DeploymentID: b.d.ID})
			is.NoErr(err)
			is.Equal(len(cancelled), 1)
			is.Equal(cancelled[0].ID, ids[1])

			_, next, err := b.svc.List(ctx, backfill.ListQuery{DeploymentID: b.d.ID, PageSize: 2})
			is.NoErr(err)
			_, _, err = b.svc.List(ctx, backfill.ListQuery{DeploymentID: b.d.ID, PageSize: 2, PageToken: next,
				States: []backfill.State{backfill.StateRunning}})
			var ve *errdefs.ValidationError
			is.True(errors.As(err, &ve)) // bound to the filters
			is.Equal(ve.Violations[0].Field, "page_token")

			// Signed with the same key for another list, with the payload of this one.
			foreign, err := pagetoken.New(nil).Encode("scheduler.fires", nil, map[string]any{"t": t0, "i": ids[0]})
			is.NoErr(err)
			_, _, err = b.svc.List(ctx, backfill.ListQuery{PageToken: foreign})
			is.True(errors.As(err, &ve)) // a token of another list
			is.Equal(ve.Violations[0].Field, "page_token")
		})
	}
}

// The background loop: an operation created through a Service wired to the runner's Wake is
// run at once, without waiting for a poll; Stop returns.
func TestRunnerLoop(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	b := setup(t, storetest.OpenSQLite(t), "loop")
	ended := make(chan *backfill.Operation, 1)
	r := backfill.NewRunner(b.db, b.sched, backfill.RunnerConfig{Owner: "api-1", Now: b.clock.Now, Poll: time.Hour,
		Ended: func(op *backfill.Operation) { ended <- op }})
	is.True(r.Start(ctx) == nil)
	defer r.Stop()
	svc := backfill.NewService(b.db, b.sched, backfill.ServiceConfig{Now: b.clock.Now, Wake: r.Wake})
	op, err := svc.Start(ctx, b.params)
	is.NoErr(err)
	select {
	case got := <-ended:
		is.Equal(got.ID, op.ID)
		is.Equal(got.State, backfill.StateSucceeded)
		is.Equal(got.Created, int64(fires))
	case <-time.After(time.Minute):
		t.Fatal("the operation did not end")
	}
	r.Stop()
	r.Stop() // idempotent

	is.True(backfill.NewRunner(b.db, b.sched, backfill.RunnerConfig{}).Start(ctx) != nil) // no owner
}

// Concurrent requests for one range make one operation: the partial unique index of RUNNING
// operations lets one insert win, and the others answer it.
func TestStartConcurrent(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			b := setup(t, be.open(t), "concurrent-"+be.name)
			ids := make([]string, 8)
			errs := make([]error, len(ids))
			var wg sync.WaitGroup
			for i := range ids {
				wg.Go(func() {
					op, err := b.svc.Start(ctx, b.params)
					if errs[i] = err; err == nil {
						ids[i] = op.ID
					}
				})
			}
			wg.Wait()
			for i := range ids {
				is.NoErr(errs[i])
				is.Equal(ids[i], ids[0]) // one operation
			}
			running, _, err := b.svc.List(ctx, backfill.ListQuery{DeploymentID: b.d.ID})
			is.NoErr(err)
			is.Equal(len(running), 1)
		})
	}
}
