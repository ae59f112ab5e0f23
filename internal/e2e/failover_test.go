package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// A short lease so that takeovers happen within seconds: a dead worker's message is claimed
// after 2 × TTL, its lease has long expired by then.
const shortLockTTL = "WFR_LOCK_TTL=1s"

func running(e *v1.Execution) bool {
	return e.GetStatus() == v1.ExecutionStatus_EXECUTION_STATUS_RUNNING
}

// TestWorkerKilledMidRun: worker A runs an execution and is SIGKILLed; worker B takes the
// message over and finishes it. One terminal state, attempt 2, never lost.
func TestWorkerKilledMidRun(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	api := c.start("api", "api").client()
	a := c.start("worker-a", "worker", shortLockTTL)
	deploy(t, api, workflow{
		id:     "killed",
		nodes:  []*v1.Node{node(t, "wait", "delay", map[string]any{"duration": "3s"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, 0),
	})

	// Only A runs while the execution starts, so A is the one that runs it.
	id := mustTrigger(t, api, "killed").GetId()
	waitExecution(t, api, id, terminalTimeout, "RUNNING", running)
	c.start("worker-b", "worker", shortLockTTL)
	a.kill(t)

	e := waitExecution(t, api, id, terminalTimeout, "terminal", isTerminal)
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // B finished it
	is.Equal(e.GetAttempt(), int32(2))                                     // A's attempt, then B's

	// It stays so: nobody writes a second outcome (A is dead, B acknowledged). Showing that
	// nothing happens takes real time passing, so this sleep is the point, not a wait; the
	// checks below hold however long it lasts.
	time.Sleep(time.Second)
	again, err := getExecution(t, api, id)
	is.NoErr(err)
	is.Equal(again.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	is.Equal(again.GetAttempt(), int32(2))
	is.Equal(again.GetFinishTime().AsTime(), e.GetFinishTime().AsTime()) // one outcome written
}

// TestWorkerPausedPastLease: worker A runs an execution and is SIGSTOPped past its lease;
// worker B takes it over (attempt 2, a larger fencing token); A is resumed; A's outcome is
// refused and the record stays B's.
func TestWorkerPausedPastLease(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	api := c.start("api", "api").client()
	a := c.start("worker-a", "worker", shortLockTTL)
	deploy(t, api, workflow{
		id:     "paused",
		nodes:  []*v1.Node{node(t, "wait", "delay", map[string]any{"duration": "4s"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, 0),
	})

	id := mustTrigger(t, api, "paused").GetId()
	waitExecution(t, api, id, terminalTimeout, "RUNNING", running)
	fenceA := c.fencingToken(t, id)
	is.True(fenceA > 0) // A's claim stored its token
	c.start("worker-b", "worker", shortLockTTL)
	a.signal(t, syscall.SIGSTOP)

	// B takes over once A's message has been idle for 2 × TTL.
	e := waitExecution(t, api, id, terminalTimeout, "taken over (attempt 2)", func(e *v1.Execution) bool {
		return e.GetAttempt() == 2
	})
	fenceB := c.fencingToken(t, id)
	is.True(fenceB > fenceA) // B's lease has the larger token
	if isTerminal(e) {
		t.Fatalf("execution ended (%s) before A was resumed: the delay is too short for this machine", e.GetStatus())
	}
	a.signal(t, syscall.SIGCONT)

	// A wakes up with an expired lease: its renewal fails (run cancelled) or, if its delay
	// ended first, its outcome is refused by the fencing token. Either way it says so.
	waitFor(t, terminalTimeout, "worker A to notice it lost the execution", func() bool {
		return a.logHas("outcome refused", id) || a.logHas("lock lost while running", id)
	})
	e = waitExecution(t, api, id, terminalTimeout, "terminal", isTerminal)
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // B's outcome
	is.Equal(e.GetAttempt(), int32(2))
	is.Equal(c.fencingToken(t, id), fenceB) // the row is still B's
}

// TestSweeperRunsLostMessage: a PENDING execution whose message was lost (inserted straight
// into the table, never enqueued, untouched for a minute) is enqueued by the sweeper and run.
//
// The sweeper looks every 5 s for rows untouched for 30 s (SweeperConfig defaults; neither is a
// WFR_* setting): the row is written as untouched for a minute, so this waits one interval.
func TestSweeperRunsLostMessage(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	api := c.start("api", "api").client()
	c.start("worker", "worker")
	d := deploy(t, api, workflow{
		id:     "swept",
		nodes:  []*v1.Node{node(t, "nothing", "noop", map[string]any{})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, 0),
	})

	id := uuid.Must(uuid.NewV7()).String()
	_, err := c.db.Bun().ExecContext(t.Context(), `
		INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type,
			trigger_data, scheduled_at, available_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'PENDING', 'MANUAL', '{}', now() - interval '1 minute',
			now() - interval '1 minute', now() - interval '1 minute', now() - interval '1 minute')`,
		id, d.GetId(), d.GetWorkflowId(), d.GetRevision())
	is.NoErr(err)

	e := waitExecution(t, api, id, terminalTimeout, "terminal", isTerminal)
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // run although never enqueued
	is.Equal(e.GetAttempt(), int32(1))
}
