package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// TestCancelAndTimeoutReachRemoteEngine: a worker runs executions on a `--role=engine` process;
// their http node calls the probe, which holds the request until its context ends. Cancelling
// the execution, or its timeout, must end that request: the cancellation crossed worker →
// engine (over the network) → http.
func TestCancelAndTimeoutReachRemoteEngine(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	pr := newProbe(t, 0)
	api := c.start("api", "api").client()
	eng := c.start("engine", "engine")
	c.start("worker", "worker", "WFR_ENGINE_URL=http://"+eng.addr)

	blockingWorkflow := func(t *testing.T, id string, timeout time.Duration) {
		t.Helper()
		deploy(t, api, workflow{
			id:     id,
			nodes:  []*v1.Node{node(t, "call", "http", map[string]any{"url": pr.url + "/block/" + id, "timeout": "1h"})},
			config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, timeout),
		})
	}
	requestStarted := func(key string) func() bool {
		return func() bool { started, _ := pr.blocked(key); return started == 1 }
	}
	requestEnded := func(key string) func() bool {
		return func() bool { _, ended := pr.blocked(key); return ended == 1 }
	}

	t.Run("cancel", func(t *testing.T) {
		is := is.New(t)
		blockingWorkflow(t, "remote-cancel", 0)
		id := mustTrigger(t, api, "remote-cancel").GetId()
		waitFor(t, terminalTimeout, "the engine's http request to reach the probe", requestStarted("remote-cancel"))

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := api.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: id, Reason: "e2e"})
		is.NoErr(err)

		e := waitExecution(t, api, id, terminalTimeout, "terminal", isTerminal)
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_CANCELLED)
		waitFor(t, terminalTimeout, "the probe to see its request's context end", requestEnded("remote-cancel"))
	})

	t.Run("timeout", func(t *testing.T) {
		is := is.New(t)
		blockingWorkflow(t, "remote-timeout", time.Second)
		id := mustTrigger(t, api, "remote-timeout").GetId()
		waitFor(t, terminalTimeout, "the engine's http request to reach the probe", requestStarted("remote-timeout"))

		e := waitExecution(t, api, id, terminalTimeout, "terminal", isTerminal)
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_TIMED_OUT)
		is.Equal(e.GetError(), fmt.Sprintf("execution timeout of %s exceeded", time.Second))
		waitFor(t, terminalTimeout, "the probe to see its request's context end", requestEnded("remote-timeout"))
	})
}
