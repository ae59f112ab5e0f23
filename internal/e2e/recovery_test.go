package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// recoveryBound is how soon after a restart the executions it recovers must finish: far below
// the sweeper's stale age (30 s), which is what they waited for before.
const recoveryBound = 10 * time.Second

// TestEmbeddedKilledRestarts: the embedded process (role all, SQLite, in-process queue and
// lock) is SIGKILLed while executions run and others wait; restarted on the same file, it
// recovers them at once: each finishes once, within a few seconds of the restart, with a
// fencing token larger than the killed run's.
func TestEmbeddedKilledRestarts(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newEmbeddedCluster(t)
	first := c.start("all-1", "all")
	api := first.client()
	deploy(t, api, workflow{
		id:     "embedded-restart",
		nodes:  []*v1.Node{node(t, "wait", "delay", map[string]any{"duration": "2s"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	deploy(t, api, workflow{
		id:     "embedded-restart-buffer",
		nodes:  []*v1.Node{node(t, "wait", "delay", map[string]any{"duration": "2s"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_BUFFER_ALL, 0),
	})
	var ids, busy []string
	for range 3 {
		ids = append(ids, mustTrigger(t, api, "embedded-restart").GetId())
	}
	busy = append(busy, ids...)
	for range 2 { // the second waits behind the first (buffered)
		ids = append(ids, mustTrigger(t, api, "embedded-restart-buffer").GetId())
	}
	busy = append(busy, ids[3])
	for _, id := range busy {
		waitExecution(t, api, id, terminalTimeout, "RUNNING", running)
	}
	var before []*v1.Execution
	for _, id := range busy {
		e, err := getExecution(t, api, id)
		is.NoErr(err)
		before = append(before, e)
	}
	first.kill(t)
	killed := time.Now() // the first process is gone: nothing it did comes later

	second := c.start("all-2", "all") // the same SQLite file
	restarted := time.Now()
	api = second.client()
	var slowest time.Duration
	for _, id := range ids {
		e := waitExecution(t, api, id, terminalTimeout, "terminal", isTerminal)
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
		slowest = max(slowest, e.GetFinishTime().AsTime().Sub(restarted))
	}
	t.Logf("the %d executions left RUNNING or waiting by the kill finished at most %s after the restart (bound %s; each runs 2s)",
		len(ids), slowest.Round(time.Millisecond), recoveryBound)
	is.True(slowest <= recoveryBound)
	for _, b := range before {
		e, err := getExecution(t, api, b.GetId())
		is.NoErr(err)
		if e.GetFinishTime().AsTime().Before(killed) {
			// Its 2 s run ended before the kill (a slow machine took that long to see the
			// others RUNNING): the first process finished it, with the attempt it had.
			is.Equal(e.GetAttempt(), b.GetAttempt())
			continue
		}
		is.Equal(e.GetAttempt(), b.GetAttempt()+1) // the killed run, then the recovered one
	}
}

// TestDeduplicatedTriggerRunsLostExecution: an api died between the insert and the enqueue,
// leaving a PENDING row without a message. A retry of its trigger with the same idempotency key
// is answered deduplicated and gets the execution run at once, not after the sweeper's stale
// age.
func TestDeduplicatedTriggerRunsLostExecution(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	api := c.start("api", "api").client()
	worker := c.start("worker", "worker")
	deploy(t, api, workflow{
		id:     "lost-message",
		nodes:  []*v1.Node{node(t, "nothing", "noop", map[string]any{})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, 0),
	})

	// What the dead api left: the row, written a few seconds ago, and no message. The sweeper
	// would enqueue it once it is 30 s old.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	at := time.Now().UTC().Add(-5 * time.Second).Truncate(time.Microsecond)
	lost, inserted, err := c.db.ExecutionTrigger(ctx, &execution.Execution{
		ID: uuid.Must(uuid.NewV7()).String(), WorkflowID: "lost-message", Status: execution.StatusPending,
		TriggerType: execution.TriggerManual, IdempotencyKey: "retried",
		ScheduledAt: at, AvailableAt: at, CreatedAt: at, UpdatedAt: at,
	}, "")
	is.NoErr(err)
	is.True(inserted)

	retried := time.Now()
	resp, err := trigger(t.Context(), api, "lost-message", "retried")
	is.NoErr(err)
	is.True(resp.GetDeduplicated())
	is.Equal(resp.GetExecution().GetId(), lost.ID)
	e := waitExecution(t, api, lost.ID, terminalTimeout, "terminal", isTerminal)
	took := e.GetFinishTime().AsTime().Sub(retried)
	t.Logf("the lost execution finished %s after the deduplicated retry (the sweeper would take it up 25 s later)", took.Round(time.Millisecond))
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	is.True(took < recoveryBound)
	is.True(!worker.logHas("re-enqueued executions whose message was lost", "")) // not the sweeper
}
