package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

// Timings of TestSchedulersFireOnce. The whole test takes about fireFor + 3 × settle plus
// the start of five processes.
const (
	fireFor = 30 * time.Second // the every-second trigger fires this long before the pause
	killAt  = 15 * time.Second // one of the three schedulers is SIGKILLed this far in
	settle  = 3 * time.Second  // how long the test looks, after a pause or a delete, for fires that must not come
)

// TestSchedulersFireOnce: three scheduler processes, a trigger firing every second (jitter
// off) for 30 s, one scheduler SIGKILLed at 15 s: exactly one execution per scheduled time and
// none missing from the first to the last, before and after the kill; every time is in the
// fire ledger with at most one FIRED or CAUGHT_UP row. Then, through the api process (the
// schedulers learn by Redis notification): pause stops the fires at once, resume restarts
// them, delete ends them.
func TestSchedulersFireOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	api := c.start("api", "api").client()
	c.start("worker", "worker")
	victim := c.start("scheduler-1", "scheduler")
	c.start("scheduler-2", "scheduler")
	c.start("scheduler-3", "scheduler")

	ctx := t.Context()
	var window uint32
	resp, err := api.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "every-second", Name: "every-second", Nodes: []*v1.Node{node(t, "nothing", "noop", map[string]any{})}},
		Triggers: []*v1.Trigger{{Id: "tick", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
			Expression: "* * * * * ?", JitterWindowSeconds: &window,
		}}}},
		Config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	is.NoErr(err)
	d := resp.GetDeployment()
	start := time.Now()

	// The timeline is the test's input: the cron fires by the real clock of other processes,
	// so these sleeps are how long it fires, not waits for something.
	time.Sleep(time.Until(start.Add(killAt)))
	victim.kill(t)
	killed := time.Now()
	time.Sleep(time.Until(start.Add(fireFor)))

	// Pause: nothing scheduled later than a second after it returned. Showing that nothing
	// fires takes real time passing: settle is how long the test looks, and the checks below
	// hold however long that is (a fire still on its way only shortens the range checked).
	setStatus(t, api, d.GetId(), v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED)
	paused := time.Now()
	time.Sleep(settle)

	times := c.cronTimes(t, d.GetWorkflowId())
	is.True(len(times) >= int(fireFor/time.Second)-3) // about one per second of fireFor
	var first, last time.Time
	for at, n := range times {
		if n != 1 {
			t.Errorf("%s: %d executions, want 1", at.Format(time.RFC3339Nano), n)
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	for at := first; !at.After(last); at = at.Add(time.Second) {
		if times[at] == 0 {
			half := "before"
			if at.After(killed) {
				half = "after"
			}
			t.Errorf("%s (%s the kill): no execution", at.Format(time.RFC3339Nano), half)
		}
	}
	t.Logf("%d scheduled times from %s to %s; scheduler-1 killed at %s, paused at %s", len(times),
		first.Format(time.TimeOnly), last.Format(time.TimeOnly), killed.Format(time.TimeOnly), paused.Format(time.TimeOnly))
	is.True(first.Before(killed.Add(-5 * time.Second))) // fired well before the kill
	is.True(last.After(killed.Add(10 * time.Second)))   // and well after it
	if latest := last; latest.After(paused.Add(time.Second)) {
		t.Errorf("fired at %s, after the pause (%s) + 1 s", latest.Format(time.RFC3339Nano), paused.Format(time.RFC3339Nano))
	}

	// The ledger: every time recorded; at most one row says it made the execution.
	made := c.ledgerCounts(t, d.GetWorkflowId(), "outcome IN ('FIRED', 'CAUGHT_UP')")
	recorded := c.ledgerCounts(t, d.GetWorkflowId(), "true")
	for at := range times {
		if recorded[at] == 0 {
			t.Errorf("%s: not in the fire ledger", at.Format(time.RFC3339Nano))
		}
		if made[at] > 1 {
			t.Errorf("%s: %d ledger rows FIRED or CAUGHT_UP, want at most 1", at.Format(time.RFC3339Nano), made[at])
		}
	}

	// Resume: fires again, and the paused stretch has no execution (a pause is not a misfire).
	resuming := time.Now()
	setStatus(t, api, d.GetId(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED)
	waitFor(t, 10*time.Second, "fires after the resume", func() bool {
		n := 0
		for at := range c.cronTimes(t, d.GetWorkflowId()) {
			if at.After(resuming) {
				n++
			}
		}
		return n >= 2
	})
	for at := range c.cronTimes(t, d.GetWorkflowId()) {
		if at.After(paused.Add(time.Second)) && at.Before(resuming) {
			t.Errorf("fired at %s, while paused (%s to %s)", at.Format(time.RFC3339Nano), paused.Format(time.RFC3339Nano), resuming.Format(time.RFC3339Nano))
		}
	}
	// Every second of the paused stretch is recorded PAUSED once, by whichever scheduler saw it
	// pass or by the resume's catch-up of every scheduler; none MISSED. A time fired just before
	// the pause took effect keeps its FIRED row and gets no PAUSED one.
	fired := c.ledgerCounts(t, d.GetWorkflowId(), "outcome IN ('FIRED', 'CAUGHT_UP', 'DEDUPLICATED')")
	for at, n := range c.ledgerCounts(t, d.GetWorkflowId(), "outcome = 'PAUSED'") {
		if fired[at] > 0 {
			t.Errorf("%s: %d PAUSED rows and %d fired", at.Format(time.RFC3339Nano), n, fired[at])
		}
	}
	pausedRows := c.ledgerCounts(t, d.GetWorkflowId(), "outcome = 'PAUSED'")
	missedRows := c.ledgerCounts(t, d.GetWorkflowId(), "outcome = 'MISSED'")
	for at := paused.Add(2 * time.Second).UTC().Truncate(time.Second); at.Before(resuming); at = at.Add(time.Second) {
		if pausedRows[at] != 1 || missedRows[at] != 0 {
			t.Errorf("%s, while paused: %d PAUSED rows and %d MISSED, want 1 and 0", at.Format(time.RFC3339Nano), pausedRows[at], missedRows[at])
		}
	}

	// Delete: nothing scheduled later than a second after it returned.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = api.DeleteDeployment(dctx, &v1.DeleteDeploymentRequest{DeploymentId: d.GetId()})
	is.NoErr(err)
	deleted := time.Now()
	time.Sleep(settle) // how long the test looks for a fire that must not come, as after the pause
	for at := range c.cronTimes(t, d.GetWorkflowId()) {
		if at.After(deleted.Add(time.Second)) {
			t.Errorf("fired at %s, after the delete (%s) + 1 s", at.Format(time.RFC3339Nano), deleted.Format(time.RFC3339Nano))
		}
	}
}

func setStatus(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, id string, status v1.DeploymentStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := api.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{
		DeploymentId: id, Status: status, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if err != nil {
		t.Fatalf("set deployment %s to %s: %v", id, status, err)
	}
}

// cronTimes returns the scheduled times of the workflow's CRON executions with how many
// executions each has.
func (c *cluster) cronTimes(t *testing.T, workflowID string) map[time.Time]int {
	t.Helper()
	return c.countTimes(t, "SELECT scheduled_at, count(*) FROM executions WHERE workflow_id = ? AND trigger_type = 'CRON' GROUP BY scheduled_at", workflowID)
}

// ledgerCounts returns the scheduled times of the workflow's fire-ledger rows matching where,
// with how many rows each has.
func (c *cluster) ledgerCounts(t *testing.T, workflowID, where string) map[time.Time]int {
	t.Helper()
	return c.countTimes(t, "SELECT scheduled_at, count(*) FROM fire_ledger WHERE workflow_id = ? AND "+where+" GROUP BY scheduled_at", workflowID)
}

func (c *cluster) countTimes(t *testing.T, query, workflowID string) map[time.Time]int {
	t.Helper()
	rows, err := c.db.Bun().QueryContext(t.Context(), query, workflowID)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer func() { _ = rows.Close() }()
	out := map[time.Time]int{}
	for rows.Next() {
		var at time.Time
		var n int
		if err := rows.Scan(&at, &n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out[at.UTC()] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}
