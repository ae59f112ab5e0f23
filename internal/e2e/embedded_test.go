package e2e

import (
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// TestEmbedded: one `--role=all` process on SQLite with the in-process lock, queue and engine:
// 100 concurrent triggers with one key make one execution, and SKIP keeps the engine to one run
// at a time. Needs no server: always runs.
func TestEmbedded(t *testing.T) {
	t.Parallel()
	c := newEmbeddedCluster(t)
	pr := newProbe(t, overlapHold)
	api := c.start("all", "all").client()

	t.Run("idempotency", func(t *testing.T) { checkIdempotency(t, api) })
	t.Run("SKIP", func(t *testing.T) {
		is := is.New(t)
		deploy(t, api, workflow{
			id:     "embedded-skip",
			nodes:  []*v1.Node{node(t, "call", "http", map[string]any{"url": pr.url + "/run/embedded-skip"})},
			config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, 0),
		})
		var ids []string
		for _, r := range triggerConcurrently(t, api, "embedded-skip", "", 50) {
			ids = append(ids, r.GetExecution().GetId())
		}
		st := countStatuses(waitAllTerminal(t, api, ids))
		maxAtOnce, calls := pr.stats("embedded-skip")
		t.Logf("statuses %v, engine calls %d, most at once %d", st, calls, maxAtOnce)
		is.Equal(maxAtOnce, 1)                                                                                          // never two at once
		is.True(st[v1.ExecutionStatus_EXECUTION_STATUS_SKIPPED] > 0)                                                    // newcomers skipped
		is.Equal(st[v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED]+st[v1.ExecutionStatus_EXECUTION_STATUS_SKIPPED], 50) // nothing lost
		is.Equal(calls, st[v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED])
	})
}
