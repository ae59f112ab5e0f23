package e2e

import (
	"fmt"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// TestPoisonExecutionQuarantined: every worker that runs the execution is SIGKILLed while it
// runs (as an execution that runs its process out of memory would kill it). After
// WFR_MAX_PROCESS_DEATHS (default 3) such deaths, the next worker that takes it over ends it
// FAILED as quarantined instead of running it a fourth time.
func TestPoisonExecutionQuarantined(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	api := c.start("api", "api").client()
	deploy(t, api, workflow{
		id:     "poison",
		nodes:  []*v1.Node{node(t, "wait", "delay", map[string]any{"duration": "10m"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, 0),
	})
	id := mustTrigger(t, api, "poison").GetId()

	const deaths = 3
	for attempt := int32(1); attempt <= deaths; attempt++ {
		// One worker at a time, so the one killed is the one running it.
		w := c.start(fmt.Sprintf("worker-%d", attempt), "worker", shortLockTTL)
		e := waitExecution(t, api, id, terminalTimeout, fmt.Sprintf("RUNNING attempt %d", attempt), func(e *v1.Execution) bool {
			return running(e) && e.GetAttempt() == attempt
		})
		is.Equal(e.GetAttempt(), attempt)
		w.kill(t)
	}
	c.start("worker-last", "worker", shortLockTTL)
	e := waitExecution(t, api, id, terminalTimeout, "terminal", isTerminal)
	t.Logf("after %d SIGKILLs: %s, attempt %d, error %q", deaths, e.GetStatus(), e.GetAttempt(), e.GetError())
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
	is.Equal(e.GetError(), fmt.Sprintf("quarantined: the process running it died %d times", deaths))
	is.Equal(e.GetAttempt(), int32(deaths+1)) // the quarantining claim ran nothing
}

// TestPoisonExecutionQuarantinedEmbedded: the same with the embedded process (SQLite,
// in-process queue and lock), killed while it runs the execution and restarted on the same
// file: start-up recovery runs it again each time, until the third death quarantines it.
func TestPoisonExecutionQuarantinedEmbedded(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newEmbeddedCluster(t)
	p := c.start("all-1", "all")
	deploy(t, p.client(), workflow{
		id:     "poison-embedded",
		nodes:  []*v1.Node{node(t, "wait", "delay", map[string]any{"duration": "10m"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	id := mustTrigger(t, p.client(), "poison-embedded").GetId()

	const deaths = 3
	for attempt := int32(1); attempt <= deaths; attempt++ {
		if attempt > 1 {
			p = c.start(fmt.Sprintf("all-%d", attempt), "all") // the same SQLite file
		}
		waitExecution(t, p.client(), id, terminalTimeout, fmt.Sprintf("RUNNING attempt %d", attempt), func(e *v1.Execution) bool {
			return running(e) && e.GetAttempt() == attempt
		})
		p.kill(t)
	}
	p = c.start("all-last", "all")
	e := waitExecution(t, p.client(), id, terminalTimeout, "terminal", isTerminal)
	t.Logf("after %d SIGKILLs of the embedded process: %s, attempt %d, error %q", deaths, e.GetStatus(), e.GetAttempt(), e.GetError())
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
	is.Equal(e.GetError(), fmt.Sprintf("quarantined: the process running it died %d times", deaths))
	is.Equal(e.GetAttempt(), int32(deaths+1))
}
