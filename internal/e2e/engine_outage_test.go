package e2e

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// freeAddr returns a loopback address with a port free at the time of the call, so a process
// can be restarted on the same address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestEngineOutageFailsNothing: the engine role is killed for 10 s under load with executions
// of three attempts. The workers hand back what could not reach the engine without spending an
// attempt and take no work until it answers again: no execution ends FAILED because of it.
func TestEngineOutageFailsNothing(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	engineAddr := freeAddr(t)
	eng := c.start("engine", "engine", "WFR_ADDR="+engineAddr)
	api := c.start("api", "api").client()
	engineURL := "WFR_ENGINE_URL=http://" + engineAddr
	c.start("worker-1", "worker", engineURL)
	c.start("worker-2", "worker", engineURL)
	cfg := noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0)
	cfg.RetryPolicy.MaxAttempts = 3
	deploy(t, api, workflow{
		id:     "outage",
		nodes:  []*v1.Node{node(t, "wait", "delay", map[string]any{"duration": "200ms"})},
		config: cfg,
	})

	stopLoad := load(t, api, "outage", 100*time.Millisecond, 1000) // 10/s
	waitFor(t, terminalTimeout, "runs in flight", func() bool { return c.countRunning(t) > 0 })
	eng.kill(t)
	down := time.Now()
	time.Sleep(10 * time.Second) // the outage: its length is the test's input
	c.start("engine-again", "engine", "WFR_ADDR="+engineAddr)
	t.Logf("engine down for %s", time.Since(down).Round(time.Millisecond))
	waitFor(t, terminalTimeout, "runs after the outage", func() bool { return c.countRunning(t) > 0 })
	ids := stopLoad()

	es := waitAllTerminal(t, api, ids)
	counts := countStatuses(es)
	attempts := map[int32]int{}
	for _, e := range es {
		attempts[e.GetAttempt()]++
		if e.GetStatus() == v1.ExecutionStatus_EXECUTION_STATUS_FAILED {
			t.Errorf("execution %s FAILED: %s", e.GetId(), e.GetError())
		}
	}
	t.Logf("engine outage: %d executions, statuses %v, attempts %v", len(ids), counts, fmt.Sprint(attempts))
	is.Equal(counts[v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED], len(ids)) // none FAILED by the outage
}
