package execution_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// TestDeploymentShareLeavesSlotsToOthers: deployment A fills the queue with long runs; with
// MaxShare 0.5 of 4 slots it holds at most 2, and deployment B, triggered after all of them,
// runs to the end while A's runs are still going. A's refused messages wait PENDING, their
// attempts unspent.
func TestDeploymentShareLeavesSlotsToOthers(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			o := m.opts
			o.noWorker = true
			b := setup(t, o)
			b.newWorker(t, b.db, b.engine, execution.WorkerConfig{Concurrency: 4, MaxShare: 0.5, ShareRequeueDelay: 50 * time.Millisecond})
			long := b.deploy(t, delay("1h"), deployments.Config{OverlapPolicy: policy.OverlapAllowAll})
			var longIDs []string
			for range 8 {
				longIDs = append(longIDs, b.trigger(t, long).ID)
			}
			// B comes once A has taken what it may.
			b.awaitChange(t, func() error {
				if n := countStatus(t, b, longIDs)[execution.StatusRunning]; n != 2 {
					return fmt.Errorf("%d of A's executions RUNNING, want 2", n)
				}
				return nil
			})
			other := b.deploy(t, noop, deployments.Config{})
			done := b.waitStatus(t, b.trigger(t, other).ID, execution.StatusSucceeded)
			is.Equal(done.Attempt, int32(1))

			counts := countStatus(t, b, longIDs)
			t.Logf("B succeeded while A had %d RUNNING and %d PENDING of %d", counts[execution.StatusRunning], counts[execution.StatusPending], len(longIDs))
			is.Equal(counts[execution.StatusRunning], 2) // A's share of 4 slots, still running
			is.Equal(counts[execution.StatusPending], 6) // the rest wait, neither skipped nor failed
			for _, id := range longIDs {
				e, err := b.execs.Get(context.Background(), id)
				is.NoErr(err)
				if e.Status == execution.StatusPending {
					is.Equal(e.Attempt, int32(0)) // a refusal is no attempt
				}
			}
		})
	}
}

func countStatus(t *testing.T, b *testBundle, ids []string) map[execution.Status]int {
	t.Helper()
	counts := map[execution.Status]int{}
	for _, id := range ids {
		e, err := b.execs.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		counts[e.Status]++
	}
	return counts
}

// dieRunning leaves the execution as a worker that claimed it and died leaves it: RUNNING
// under a fence whose lease is gone.
func dieRunning(t *testing.T, b *testBundle, id string) *execution.Execution {
	t.Helper()
	is := is.New(t)
	lease, err := b.locker.Acquire(context.Background(), "execution:"+id, time.Minute)
	is.NoErr(err)
	e, err := b.db.ExecutionClaim(context.Background(), id, lease.Fence, time.Now())
	is.NoErr(err)
	is.NoErr(b.locker.Release(context.Background(), lease)) // the lease expired with its process
	return e
}

// TestQuarantineAfterProcessDeaths: an execution whose runs died with their process
// MaxProcessDeaths times ends FAILED as quarantined instead of running again; one death
// fewer and it still runs.
func TestQuarantineAfterProcessDeaths(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			o := m.opts
			o.noWorker = true
			b := setup(t, o)
			wf := b.deploy(t, noop, deployments.Config{OverlapPolicy: policy.OverlapAllowAll})
			poison, survivor := b.trigger(t, wf), b.trigger(t, wf)
			// Three runs of poison died (the first claim finds it PENDING, each later one
			// RUNNING: a death), the fourth claim is the worker's and sees the third death.
			for range 3 {
				dieRunning(t, b, poison.ID)
			}
			for range 2 {
				dieRunning(t, b, survivor.ID)
			}
			b.newWorker(t, b.db, b.engine, execution.WorkerConfig{MaxProcessDeaths: 3})

			got := b.waitStatus(t, poison.ID, execution.StatusFailed)
			t.Logf("poison: %s after %d deaths, attempt %d: %q", got.Status, got.Deaths, got.Attempt, got.Error)
			is.Equal(got.Deaths, int32(3))
			is.Equal(got.Error, "quarantined: the process running it died 3 times")
			ok := b.waitStatus(t, survivor.ID, execution.StatusSucceeded)
			is.Equal(ok.Deaths, int32(2))             // two deaths: below the limit, it ran
			is.Equal(b.engine.calls.Load(), int64(1)) // only the survivor reached the engine
		})
	}
}
