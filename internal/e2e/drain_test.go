package e2e

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

// load triggers workflowID every interval until stop is called (at most max executions) and
// returns the ids it recorded.
func load(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, workflowID string, interval time.Duration, limit int) (stop func() []string) {
	t.Helper()
	var (
		mu   sync.Mutex
		ids  []string
		quit = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for range limit {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := trigger(ctx, api, workflowID, "")
			cancel()
			if err != nil {
				t.Errorf("trigger under load: %v", err)
				return
			}
			mu.Lock()
			ids = append(ids, resp.GetExecution().GetId())
			mu.Unlock()
		}
	}()
	return func() []string {
		close(quit)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return ids
	}
}

// TestSigtermDrainsWorkers: three workers under load are stopped with SIGTERM one after
// the other (each replaced by a new one). The executions running at each signal finish
// within the grace on the worker that runs them: each execution runs once on the engine side,
// none spends a second attempt, and none waits for a lock TTL or a sweep.
func TestSigtermDrainsWorkers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	const (
		grace = 10 * time.Second
		hold  = 1500 * time.Millisecond // each run's time on the engine: well inside the grace
	)
	pr := newProbe(t, hold)
	api := c.start("api", "api").client()
	drainEnv := "WFR_SHUTDOWN_GRACE=" + grace.String()
	workers := []*proc{
		c.start("worker-1", "worker", drainEnv),
		c.start("worker-2", "worker", drainEnv),
		c.start("worker-3", "worker", drainEnv),
	}
	deploy(t, api, workflow{
		id:     "drain",
		nodes:  []*v1.Node{node(t, "call", "http", map[string]any{"url": pr.url + "/run/drain"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})

	stopLoad := load(t, api, "drain", 50*time.Millisecond, 1000) // 20/s
	waitFor(t, terminalTimeout, "runs in flight", func() bool { return c.countRunning(t) >= 10 })
	for i, w := range workers {
		running := c.countRunning(t)
		signalled := time.Now()
		w.signal(t, syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(grace + 5*time.Second):
			t.Fatalf("%s did not exit within the grace", w.name)
		}
		exited := time.Since(signalled)
		t.Logf("SIGTERM %s: %d executions running cluster-wide at the signal; exited after %s (grace %s)", w.name, running, exited.Round(time.Millisecond), grace)
		is.True(!w.logHas("shutdown grace over", "")) // nothing was still running when the grace ended
		c.start("worker-"+string(rune('4'+i)), "worker", drainEnv)
	}
	time.Sleep(time.Second) // the load goes on a second after the last restart: the test's input, not a wait
	ids := stopLoad()

	es := waitAllTerminal(t, api, ids)
	counts := countStatuses(es)
	var slowest time.Duration
	for _, e := range es {
		is.Equal(e.GetAttempt(), int32(1)) // no attempt spent by a stop
		slowest = max(slowest, e.GetFinishTime().AsTime().Sub(e.GetCreateTime().AsTime()))
	}
	_, total := pr.stats("drain")
	t.Logf("drain under load: %d executions, statuses %v, %d engine-side runs, slowest trigger-to-finish %s", len(ids), counts, total, slowest.Round(time.Millisecond))
	is.Equal(counts[v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED], len(ids)) // every one succeeded
	is.Equal(total, len(ids))                                                 // each ran once on the engine side
	// No execution waited for a lock TTL (30 s by default) or a sweep: a run takes hold, and
	// one handed back or returned would be taken at once.
	is.True(slowest < 15*time.Second)
}

// countRunning is the number of RUNNING executions in the cluster's database.
func (c *cluster) countRunning(t *testing.T) int {
	t.Helper()
	n, err := c.db.Bun().NewSelect().TableExpr("executions").Where("status = 'RUNNING'").Count(t.Context())
	if err != nil {
		t.Fatalf("count running: %v", err)
	}
	return int(n)
}
