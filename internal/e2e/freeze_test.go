package e2e

import (
	"syscall"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// TestFrozenWorkerStartsNoFurtherNode: worker A runs the first node of a two-node workflow and
// is frozen (SIGSTOP) past its lease; worker B takes the execution over and runs both nodes.
// When A is resumed its lease's deadline is behind it, so it starts no further node: the second
// node's http call reaches the probe once (B's), never twice.
func TestFrozenWorkerStartsNoFurtherNode(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	pr := newProbe(t, 0)
	c := newCluster(t)
	api := c.start("api", "api").client()
	a := c.start("worker-a", "worker", shortLockTTL)
	deploy(t, api, workflow{
		id: "frozen",
		nodes: []*v1.Node{
			node(t, "wait", "delay", map[string]any{"duration": "4s"}),
			withDeps(node(t, "after", "http", map[string]any{"url": pr.url + "/run/frozen-after"}), "wait"),
		},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, 0),
	})

	id := mustTrigger(t, api, "frozen").GetId()
	waitExecution(t, api, id, terminalTimeout, "RUNNING", running)
	a.signal(t, syscall.SIGSTOP)
	c.start("worker-b", "worker", shortLockTTL)

	// B takes over once A's message has been idle for 2 × TTL, and runs both nodes.
	e := waitExecution(t, api, id, terminalTimeout, "finished by B", isTerminal)
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	is.Equal(e.GetAttempt(), int32(2))
	_, calls := pr.stats("frozen-after")
	is.Equal(calls, 1) // B's call

	// A wakes with its first node over and its lease long gone: it says so and starts nothing.
	a.signal(t, syscall.SIGCONT)
	waitFor(t, terminalTimeout, "worker A to notice it lost the execution", func() bool {
		return a.logHas("lock lost while running", id) || a.logHas("outcome refused", id)
	})
	_, calls = pr.stats("frozen-after")
	t.Logf("second node's calls on the engine side: %d (1 expected: B's only)", calls)
	is.Equal(calls, 1) // no call from the resumed worker
	e, err := getExecution(t, api, id)
	is.NoErr(err)
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // B's record stands
}

// withDeps sets n's dependencies.
func withDeps(n *v1.Node, deps ...string) *v1.Node {
	n.DependsOn = deps
	return n
}
