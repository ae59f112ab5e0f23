package e2e

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// redisOutage is how long TestRedisRestartedEmpty keeps its Redis down.
const redisOutage = 10 * time.Second

// sweeperStaleAfter is the sweeper's default StaleAfter: a PENDING execution untouched this long
// is enqueued by the sweeper's periodic pass, whatever else failed.
const sweeperStaleAfter = 30 * time.Second

// TestRedisRestartedEmpty: api, worker and scheduler on their own Redis, which is down for 10 s
// and comes back empty (no stream, no group, no locks). During the outage every TriggerWorkflow
// call is answered (it records the row and answers; the message follows), the api stays ready
// while the worker and the scheduler say they are not; everything accepted during the outage
// runs once after Redis answers again, picked up by the recovery (the api's outbox sends its
// kept messages, the sweeper sweeps at once when the queue says Redis is back), not left to the
// sweeper's stale pass; the cron fires of the outage are not lost.
//
// How long the calls took and how soon the backlog started are logged, not asserted: they are
// measurements of a shared machine. What is asserted holds whatever the timing: no call failed
// or ran into its deadline, and no accepted execution waited for the stale pass.
func TestRedisRestartedEmpty(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := testenv.StartRedis(t)
	c := newCluster(t)
	c.redisURL = srv.URL() // a Redis of its own, to stop
	apiProc := c.start("api", "api")
	api := apiProc.client()
	worker := c.start("worker", "worker")
	scheduler := c.start("scheduler", "scheduler")
	deploy(t, api, workflow{
		id:     "redis-outage",
		nodes:  []*v1.Node{node(t, "nothing", "noop", map[string]any{})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	var window uint32
	_, err := api.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "redis-outage-cron", Name: "redis-outage-cron", Nodes: []*v1.Node{node(t, "nothing", "noop", map[string]any{})}},
		Triggers: []*v1.Trigger{{Id: "tick", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
			Expression: "* * * * * ?", JitterWindowSeconds: &window,
		}}}},
		Config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	is.NoErr(err)
	before := mustTrigger(t, api, "redis-outage") // runs before the outage
	waitExecution(t, api, before.GetId(), terminalTimeout, "terminal", isTerminal)

	srv.Stop()
	down := time.Now()
	var (
		mu          sync.Mutex
		accepted    []string
		unavailable int
		slowest     time.Duration
		wg          sync.WaitGroup
	)
	// A gateway's steady traffic (about 10 calls a second), so that what is measured after the
	// outage is how soon the backlog is picked up, not how fast one worker drains it on a busy
	// machine.
	for range 1 {
		wg.Go(func() {
			for time.Since(down) < redisOutage {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				start := time.Now()
				resp, err := trigger(ctx, api, "redis-outage", "")
				took := time.Since(start)
				cancel()
				mu.Lock()
				slowest = max(slowest, took)
				switch {
				case err == nil:
					accepted = append(accepted, resp.GetExecution().GetId())
				case connect.CodeOf(err) == connect.CodeUnavailable:
					unavailable++
				default:
					t.Errorf("trigger during the Redis outage: %v", err)
				}
				mu.Unlock()
				time.Sleep(100 * time.Millisecond) // the traffic's pace: the test's input, not a wait
			}
		})
	}
	// Readiness during the outage, per role.
	waitFor(t, redisOutage, "the worker and the scheduler to say they are not ready", func() bool {
		return readyz(t, worker) == http.StatusServiceUnavailable && readyz(t, scheduler) == http.StatusServiceUnavailable
	})
	is.Equal(readyz(t, apiProc), http.StatusOK) // the api records triggers without Redis
	wg.Wait()
	srv.Start() // empty
	up := time.Now()
	t.Logf("Redis down %s: %d triggers accepted, %d unavailable, slowest call %s",
		up.Sub(down).Round(time.Millisecond), len(accepted), unavailable, slowest.Round(time.Millisecond))
	is.True(len(accepted) > 0) // and every call was answered (or said unavailable) within its deadline: above

	// Everything accepted during the outage ran once, started by the recovery: the first of them
	// was accepted at down, so the stale pass could not take any before down+sweeperStaleAfter.
	var starts []time.Duration
	for _, e := range waitAllTerminal(t, api, accepted) {
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
		is.Equal(e.GetAttempt(), int32(1)) // ran once
		starts = append(starts, e.GetStartTime().AsTime().Sub(up))
	}
	slices.Sort(starts)
	latest := starts[len(starts)-1]
	t.Logf("the %d executions accepted during the outage started after Redis answered: first %s, median %s, last %s",
		len(accepted), starts[0].Round(time.Millisecond), starts[len(starts)/2].Round(time.Millisecond), latest.Round(time.Millisecond))
	if stale := down.Add(sweeperStaleAfter).Sub(up); latest >= stale {
		t.Errorf("the last execution accepted during the outage started %s after Redis answered, when the sweeper's stale pass could take it (%s): the recovery did not pick it up", latest, stale)
	}

	// The cron fires of the outage were made, once each, and ran.
	waitFor(t, readyTimeout, "every role ready again", func() bool {
		return readyz(t, worker) == http.StatusOK && readyz(t, scheduler) == http.StatusOK && readyz(t, apiProc) == http.StatusOK
	})
	var during []string
	for at, n := range c.cronTimes(t, "redis-outage-cron") {
		if at.After(down) && at.Before(up) {
			is.Equal(n, 1) // once
			during = append(during, c.cronExecution(t, "redis-outage-cron", at))
		}
	}
	t.Logf("%d cron fires during the %s outage", len(during), up.Sub(down).Round(time.Second))
	is.True(len(during) > 0) // not lost
	for _, e := range waitAllTerminal(t, api, during) {
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	}
}

// readyz returns the status code of the process's /readyz.
func readyz(t *testing.T, p *proc) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// cronExecution returns the id of the workflow's cron execution scheduled at at.
func (c *cluster) cronExecution(t *testing.T, workflowID string, at time.Time) string {
	t.Helper()
	var id string
	err := c.db.Bun().QueryRowContext(t.Context(),
		"SELECT id FROM executions WHERE workflow_id = ? AND trigger_type = 'CRON' AND scheduled_at = ?", workflowID, at).Scan(&id)
	if err != nil {
		t.Fatalf("cron execution of %s at %s: %v", workflowID, at, err)
	}
	return id
}
