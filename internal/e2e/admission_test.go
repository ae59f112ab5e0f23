package e2e

import (
	"testing"
	"time"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

// How long each /run request of the overlap workflows is held by the probe.
const overlapHold = 200 * time.Millisecond

// TestIdempotencyKeyOneExecution: 100 concurrent TriggerWorkflow calls with one key make one
// execution (PostgreSQL + Redis, the api role alone).
func TestIdempotencyKeyOneExecution(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	api := c.start("api", "api").client()
	checkIdempotency(t, api)

	var n int
	err := c.db.Bun().QueryRowContext(t.Context(), "SELECT count(*) FROM executions WHERE workflow_id = 'same-key'").Scan(&n)
	is.New(t).NoErr(err)
	is.New(t).Equal(n, 1) // one row in the table
}

// checkIdempotency deploys "same-key" and sends it 100 concurrent triggers with one key.
func checkIdempotency(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient) {
	t.Helper()
	is := is.New(t)
	deploy(t, api, workflow{
		id:     "same-key",
		nodes:  []*v1.Node{node(t, "nothing", "noop", map[string]any{})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	resps := triggerConcurrently(t, api, "same-key", "order-42", 100)
	is.Equal(len(resps), 100)
	first := 0
	for _, r := range resps {
		is.Equal(r.GetExecution().GetId(), resps[0].GetExecution().GetId()) // one execution id
		is.Equal(r.GetExecution().GetIdempotencyKey(), "order-42")
		if !r.GetDeduplicated() {
			first++
		}
	}
	is.Equal(first, 1) // exactly one response made it
}

// TestOverlapPolicies: 50 concurrent triggers per policy, two workers running a remote engine
// process, counted on the engine's side (the probe its http nodes call).
func TestOverlapPolicies(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	pr := newProbe(t, overlapHold)
	api := c.start("api", "api").client()
	eng := c.start("engine", "engine")
	for _, name := range []string{"worker-a", "worker-b"} {
		c.start(name, "worker", "WFR_ENGINE_URL=http://"+eng.addr)
	}
	checkOverlap(t, api, pr, 50)
}

// checkOverlap runs the SKIP, ALLOW_ALL and BUFFER_ONE checks, n triggers each.
func checkOverlap(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, pr *probe, n int) {
	t.Helper()
	const (
		succeeded = v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED
		skipped   = v1.ExecutionStatus_EXECUTION_STATUS_SKIPPED
	)
	runN := func(t *testing.T, id string, policy v1.OverlapPolicy) (statuses map[v1.ExecutionStatus]int, maxAtOnce, calls int) {
		t.Helper()
		deploy(t, api, workflow{
			id:     id,
			nodes:  []*v1.Node{node(t, "call", "http", map[string]any{"url": pr.url + "/run/" + id})},
			config: noRetry(policy, 0),
		})
		var ids []string
		for _, r := range triggerConcurrently(t, api, id, "", n) {
			ids = append(ids, r.GetExecution().GetId())
		}
		es := waitAllTerminal(t, api, ids)
		statuses = countStatuses(es)
		maxAtOnce, calls = pr.stats(id)
		t.Logf("%s: statuses %v, engine calls %d, most at once %d", policy, statuses, calls, maxAtOnce)
		return statuses, maxAtOnce, calls
	}

	t.Run("SKIP", func(t *testing.T) {
		is := is.New(t)
		st, maxAtOnce, calls := runN(t, "overlap-skip", v1.OverlapPolicy_OVERLAP_POLICY_SKIP)
		is.Equal(maxAtOnce, 1)                 // the engine never saw two runs at once
		is.True(st[skipped] > 0)               // newcomers were skipped
		is.Equal(st[succeeded]+st[skipped], n) // nothing else, nothing lost
		is.Equal(calls, st[succeeded])         // one engine call per run
	})
	t.Run("ALLOW_ALL", func(t *testing.T) {
		is := is.New(t)
		st, maxAtOnce, calls := runN(t, "overlap-allow", v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL)
		is.True(maxAtOnce > 1)     // runs overlapped
		is.Equal(st[succeeded], n) // all ran
		is.Equal(calls, n)         // once each
	})
	t.Run("BUFFER_ONE", func(t *testing.T) {
		is := is.New(t)
		st, maxAtOnce, calls := runN(t, "overlap-buffer", v1.OverlapPolicy_OVERLAP_POLICY_BUFFER_ONE)
		is.Equal(maxAtOnce, 1)                 // one at a time
		is.True(st[skipped] > 0)               // the waiting seat was full for some
		is.True(st[succeeded] >= 2)            // the running one and the one that waited
		is.Equal(st[succeeded]+st[skipped], n) // nothing else, nothing lost
		is.Equal(calls, st[succeeded])
	})
}
