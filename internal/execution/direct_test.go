package execution_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
)

// readCountingStore counts the worker's reads of execution rows.
type readCountingStore struct {
	execution.WorkerStore
	reads atomic.Int64
}

func (s *readCountingStore) ExecutionGet(ctx context.Context, id string) (*execution.Execution, error) {
	s.reads.Add(1)
	return s.WorkerStore.ExecutionGet(ctx, id)
}

func (s *readCountingStore) ExecutionGetMany(ctx context.Context, ids []string) (map[string]*execution.Execution, error) {
	s.reads.Add(int64(len(ids)))
	return s.WorkerStore.ExecutionGetMany(ctx, ids)
}

// TestMessageWithIDsClaimsWithoutReading: a message that names its execution's workflow and
// deployment (Trigger's do) under ALLOW_ALL is claimed without reading the row first; one that
// does not (the sweeper's), or under another policy, reads it; a second message of a finished
// execution is acknowledged without running it again, whichever kind it is.
func TestMessageWithIDsClaimsWithoutReading(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			b := setup(t, setupOpts{redis: m.opts.redis, noWorker: true})
			s := &readCountingStore{WorkerStore: b.db}
			// No takeover of a slow run's message (a second delivery reads after its refused claim).
			b.newWorker(t, s, b.engine, execution.WorkerConfig{ClaimIdle: time.Hour})

			wf := b.deploy(t, noop, deployments.Config{OverlapPolicy: policy.OverlapAllowAll})
			for range 3 {
				b.waitStatus(t, b.trigger(t, wf).ID, execution.StatusSucceeded)
			}
			is.Equal(s.reads.Load(), int64(0)) // each claimed straight away
			is.Equal(b.engine.calls.Load(), int64(3))

			// Again, by both kinds of message: acknowledged, not run again.
			done := b.trigger(t, wf)
			b.waitStatus(t, done.ID, execution.StatusSucceeded)
			is.NoErr(b.queue.Enqueue(ctx, queue.Message{ExecutionID: done.ID, WorkflowID: done.WorkflowID, DeploymentID: done.DeploymentID}))
			is.NoErr(b.queue.Enqueue(ctx, queue.Message{ExecutionID: done.ID}))
			b.waitQueueDrained(t)
			is.Equal(b.engine.calls.Load(), int64(4))
			is.True(s.reads.Load() >= 2) // after the refused claim, and for the bare message

			// A bare message of a PENDING execution (recorded without a message) runs it, after a read.
			now := time.Now().UTC().Truncate(time.Microsecond)
			bare, _, err := b.db.ExecutionInsert(ctx, &execution.Execution{
				ID: uuid.Must(uuid.NewV7()).String(), DeploymentID: done.DeploymentID, WorkflowID: wf, Revision: done.Revision,
				Status: execution.StatusPending, TriggerType: execution.TriggerManual,
				ScheduledAt: now, AvailableAt: now, CreatedAt: now, UpdatedAt: now,
			})
			is.NoErr(err)
			before := s.reads.Load()
			is.NoErr(b.queue.Enqueue(ctx, queue.Message{ExecutionID: bare.ID}))
			b.waitStatus(t, bare.ID, execution.StatusSucceeded)
			is.True(s.reads.Load() > before)
			is.Equal(b.engine.calls.Load(), int64(5))

			// Another policy (the default) reads the row to apply it.
			skip := b.deploy(t, noop, deployments.Config{})
			before = s.reads.Load()
			b.waitStatus(t, b.trigger(t, skip).ID, execution.StatusSucceeded)
			is.True(s.reads.Load() > before)
		})
	}
}
