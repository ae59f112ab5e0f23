package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// Settings of TestRollingRestart.
const (
	// rollingHold is each run's time at the probe: long enough that runs are in flight at
	// every signal, well inside the shutdown grace (3 s).
	rollingHold = 250 * time.Millisecond
	// rollingTriggerEvery paces the stream of TriggerWorkflow calls (5 a second).
	rollingTriggerEvery = 200 * time.Millisecond
	// rollingMaxTriggers bounds the stream whatever happens.
	rollingMaxTriggers = 2000
	// rollingTries bounds the calls one trigger makes, alternating between the two api
	// processes; one of them is always up, so a few suffice.
	rollingTries = 20
	// rollingDrainTimeout bounds the wait for every execution to end. An api process killed
	// between answering a trigger and enqueuing its execution leaves it to the sweeper, which
	// enqueues a PENDING row untouched for 30 s, looking every 5 s.
	rollingDrainTimeout = 2 * time.Minute
	// rollingExitTimeout bounds the wait for a signalled process to exit: the grace (3 s), the
	// scheduler's wait for its fires in progress (at most 10 s) and a margin for a slow machine.
	rollingExitTimeout = 30 * time.Second
)

// schedulerSignalOffset is how long after a second begins a scheduler is signalled: about when
// its fire of that second holds the fire lock.
const schedulerSignalOffset = 3 * time.Millisecond

// rollingLockTTL is the workers' lease: a SIGKILLed worker's messages are taken over after
// 2 × TTL rather than after a minute.
const rollingLockTTL = "WFR_LOCK_TTL=2s"

// TestRollingRestart: two api, two scheduler and three worker processes (embedded engines) on
// PostgreSQL and Redis, a deployment firing every second and a steady stream of
// TriggerWorkflow calls from a client that, on unavailable or a broken connection, asks the
// other api with the same idempotency key. Every process is replaced one at a time, first with
// SIGTERM, then with SIGKILL, each replacement ready (/readyz) before the next signal. After
// everything ends: every accepted trigger has exactly one execution, terminal; every scheduled
// second of the window has exactly one execution (or a MISSED row saying why, never both); and
// no execution ran again on the engine after it finished, or more often than its attempts.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	pr := newProbe(t, rollingHold)
	started := time.Now()

	fleet := []*member{
		{base: "api-1", role: "api", slot: 0},
		{base: "api-2", role: "api", slot: 1},
		{base: "scheduler-1", role: "scheduler"},
		{base: "scheduler-2", role: "scheduler"},
		{base: "worker-1", role: "worker"},
		{base: "worker-2", role: "worker"},
		{base: "worker-3", role: "worker"},
	}
	client := &rollingClient{answers: map[string]string{}, refused: map[string]string{}, retried: map[string]int{}}
	for _, m := range fleet {
		c.replace(t, m, client, false)
	}
	api := client.api(0)

	ctx := t.Context()
	var window uint32
	resp, err := api.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "tick", Name: "tick", Nodes: []*v1.Node{
			node(t, "call", "http", map[string]any{"url": pr.url + "/run/tick", "method": "POST"}),
		}},
		Triggers: []*v1.Trigger{{Id: "every-second", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
			Expression: "* * * * * ?", JitterWindowSeconds: &window,
		}}}},
		Config: &v1.DeploymentConfig{
			OverlapPolicy: v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL,
			RetryPolicy:   &v1.RetryPolicy{MaxAttempts: 1},
			MisfirePolicy: v1.MisfirePolicy_MISFIRE_POLICY_FIRE_ONCE,
			CatchUpWindow: durationpb.New(2 * time.Minute),
		},
	})
	if err != nil {
		t.Fatalf("deploy tick: %v", err)
	}
	tick := resp.GetDeployment()
	deploy(t, api, workflow{
		id:     "stream",
		nodes:  []*v1.Node{node(t, "call", "http", map[string]any{"url": pr.url + "/run/stream", "method": "POST"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})

	streamCtx, stopStream := context.WithCancel(ctx)
	streamDone := make(chan struct{})
	go func() { defer close(streamDone); client.run(streamCtx) }()
	defer func() { stopStream(); <-streamDone }()

	// The window of owed seconds begins once both schedulers fire.
	waitFor(t, readyTimeout, "the cron to fire twice", func() bool {
		n, err := c.countCron(ctx, tick.GetWorkflowId())
		return err == nil && n >= 2
	})
	from := time.Now().Truncate(time.Second).Add(time.Second)

	// The rolling restarts: each process replaced, one at a time, with SIGTERM, then SIGKILL.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for _, m := range fleet {
			c.restart(t, m, sig, client)
		}
	}
	restarted := time.Now()
	to := restarted.Truncate(time.Second).Add(2 * time.Second)

	// Every second of the window decided (an execution, or a ledger row saying why not) before
	// the fires stop: a standby replica fires up to 2 s late, a settlement later still.
	testenv.Poll(t, settleTimeout, func() error {
		secs, err := c.seconds(ctx, tick.GetWorkflowId(), from, to)
		if err != nil {
			return err
		}
		var undecided []string
		for at, s := range secs {
			if s.executions == 0 && s.missed == 0 {
				undecided = append(undecided, at.Format(time.TimeOnly))
			}
		}
		if len(undecided) > 0 {
			slices.Sort(undecided)
			return fmt.Errorf("waiting for every second from %s to %s to be decided; without an execution or a MISSED row: %v",
				from.Format(time.TimeOnly), to.Format(time.TimeOnly), undecided)
		}
		return nil
	})
	setStatus(t, client.api(0), tick.GetId(), v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED)
	stopStream()
	<-streamDone

	// Drain: every execution of both workflows ends, and no engine call is in flight.
	draining := time.Now()
	waitFor(t, rollingDrainTimeout, "every execution to end", func() bool {
		open, err := c.countOpen(ctx)
		return err == nil && open == 0 && pr.inflightTotal() == 0
	})
	t.Logf("restarts done %s after the start; every second decided %s later; every execution ended %s after that",
		restarted.Sub(started).Round(time.Millisecond), draining.Sub(restarted).Round(time.Millisecond), time.Since(draining).Round(time.Millisecond))

	rep := c.rollingReport(t, client, pr, tick.GetWorkflowId(), from, to)
	rep.wall = time.Since(started)
	rep.print(t)

	if rep.triggers.lost != 0 || rep.triggers.duplicates != 0 || rep.triggers.refused != 0 || rep.triggers.notTerminal != 0 {
		t.Errorf("triggers: %d lost, %d duplicated, %d refused, %d not terminal; want none", rep.triggers.lost, rep.triggers.duplicates, rep.triggers.refused, rep.triggers.notTerminal)
	}
	if rep.cron.lost != 0 || rep.cron.duplicates != 0 || rep.cron.both != 0 || rep.cron.notTerminal != 0 {
		t.Errorf("cron seconds: %d lost, %d duplicated, %d with an execution and a MISSED row, %d not terminal; want none", rep.cron.lost, rep.cron.duplicates, rep.cron.both, rep.cron.notTerminal)
	}
	if rep.engine.reRuns != 0 || rep.engine.repeatedCalls != 0 || rep.engine.neverRan != 0 {
		t.Errorf("engine: %d executions ran again after they finished or beyond their attempts, %d attempts called twice, %d succeeded without a call; want none", rep.engine.reRuns, rep.engine.repeatedCalls, rep.engine.neverRan)
	}
	if rep.statuses[v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED.String()] != rep.executions {
		t.Errorf("statuses %v: want every one of the %d executions SUCCEEDED", rep.statuses, rep.executions)
	}
	if rep.triggers.accepted == 0 || rep.cron.owed < 10 {
		t.Errorf("too little happened: %d triggers accepted, %d seconds owed", rep.triggers.accepted, rep.cron.owed)
	}
}

// member is one place in the fleet: a role and the process that fills it now.
type member struct {
	base, role string
	gen        int
	p          *proc
	slot       int // api members: which of the client's two apis it is
}

// replace starts m's next process (the first when there is none), waits until /readyz says it
// is ready and, for an api, points the client at it. With serving, it then waits until the
// process has done its role's work once (the next process is signalled only then).
func (c *cluster) replace(t *testing.T, m *member, client *rollingClient, serving bool) {
	t.Helper()
	m.gen++
	name := m.base
	if m.gen > 1 {
		name = fmt.Sprintf("%s.%d", m.base, m.gen)
	}
	env := []string{}
	if m.role == "worker" {
		env = append(env, rollingLockTTL)
	}
	m.p = c.start(name, m.role, env...)
	waitReadyz(t, m.p)
	if m.role == "api" {
		client.setAPI(m.slot, m.p.client())
	}
	if serving {
		waitServing(t, m)
	}
}

// servingSeries is, per role, the /metrics series that counts its work: triggers answered,
// fires (every replica's, the standby's too), executions finished.
var servingSeries = map[string]struct{ name, label, value string }{
	"api":       {"rpc_server_call_duration_seconds", "rpc_method", workflowruntimev1connect.WorkflowRuntimeServiceName + "/TriggerWorkflow"},
	"scheduler": {"wfr_scheduler_fire_lateness_seconds", "", ""},
	"worker":    {"wfr_executions_finished_total", "", ""},
}

// waitServing polls the process's /metrics until its role's series counts one piece of work.
func waitServing(t *testing.T, m *member) {
	t.Helper()
	series := servingSeries[m.role]
	hc := &http.Client{Timeout: 5 * time.Second}
	waitFor(t, readyTimeout, m.p.name+" to do its work once", func() bool {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+m.p.addr+"/metrics", nil)
		if err != nil {
			return false
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		defer func() { _ = resp.Body.Close() }()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			return false
		}
		f := families[series.name]
		for _, metric := range f.GetMetric() {
			if series.label != "" && !hasLabel(metric.GetLabel(), series.label, series.value) {
				continue
			}
			if metric.GetCounter().GetValue() > 0 || metric.GetHistogram().GetSampleCount() > 0 {
				return true
			}
		}
		return false
	})
}

func hasLabel(labels []*dto.LabelPair, name, value string) bool {
	for _, l := range labels {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// restart signals m's process with sig, waits until it exited and replaces it.
func (c *cluster) restart(t *testing.T, m *member, sig syscall.Signal, client *rollingClient) {
	t.Helper()
	old := m.p
	if m.role == "scheduler" {
		// Just after a second begins, when both replicas are firing it: the signal lands
		// during a fire (the lock held, the execution not yet made) as often as it can.
		// The test's input (when the signal lands), not a wait for anything.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + schedulerSignalOffset)))
	}
	at := time.Now()
	old.signal(t, sig)
	select {
	case <-old.done:
	case <-time.After(rollingExitTimeout):
		t.Fatalf("%s still running %s after %s", old.name, rollingExitTimeout, sig)
	}
	exited := time.Since(at)
	c.replace(t, m, client, true)
	t.Logf("%s at %s: %s exited after %s; %s ready and working after %s", sig, at.Format("15:04:05.000"), old.name, exited.Round(time.Millisecond), m.p.name, time.Since(at).Round(time.Millisecond))
}

// waitReadyz polls the process's /readyz until it answers 200.
func waitReadyz(t *testing.T, p *proc) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	waitFor(t, readyTimeout, p.name+" /readyz", func() bool {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+p.addr+"/readyz", nil)
		if err != nil {
			return false
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// countOpen is the number of PENDING or RUNNING executions in the cluster's database.
func (c *cluster) countOpen(ctx context.Context) (int, error) {
	n, err := c.db.Bun().NewSelect().TableExpr("executions").Where("status IN ('PENDING', 'RUNNING')").Count(ctx)
	return int(n), err
}

// rollingClient sends TriggerWorkflow calls to "stream" at a steady pace, each with a key of
// its own, to one of two api processes in turn. A call answered unavailable (or failed by a
// broken connection or its deadline) is sent again to the other api with the same key, up to
// rollingTries calls in all. It remembers the execution of every key answered OK.
type rollingClient struct {
	mu      sync.Mutex
	apis    [2]workflowruntimev1connect.WorkflowRuntimeServiceClient
	answers map[string]string // key -> execution id, for the keys answered OK
	refused map[string]string // key -> the code and error of the last answer, for the others
	retried map[string]int    // code -> calls sent again to the other api after it
	calls   int
}

func (rc *rollingClient) setAPI(i int, api workflowruntimev1connect.WorkflowRuntimeServiceClient) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.apis[i] = api
}

func (rc *rollingClient) api(i int) workflowruntimev1connect.WorkflowRuntimeServiceClient {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.apis[i]
}

// run triggers every rollingTriggerEvery until ctx ends (at most rollingMaxTriggers) and waits
// for the calls under way.
func (rc *rollingClient) run(ctx context.Context) {
	tk := time.NewTicker(rollingTriggerEvery)
	defer tk.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := range rollingMaxTriggers {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		// Not ctx: a trigger under way when the stream stops gets its answer.
		wg.Go(func() { rc.trigger(context.WithoutCancel(ctx), uuid.NewString(), n%2) })
	}
}

// retryOnOther says whether a call that failed with code is sent again to the other api:
// unavailable (the process is stopping, or its dependency is away), a connection refused or
// broken (connect reports it unavailable or unknown, and a reset while reading the answer as
// canceled: the caller's own context is never cancelled, see run), or no answer within the
// deadline.
func retryOnOther(code connect.Code) bool {
	switch code {
	case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeCanceled, connect.CodeDeadlineExceeded:
		return true
	}
	return false
}

func (rc *rollingClient) trigger(ctx context.Context, key string, first int) {
	slot := first
	for try := 1; ; try++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := rc.api(slot).TriggerWorkflow(cctx, &v1.TriggerWorkflowRequest{
			Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "stream"},
			IdempotencyKey: key,
		})
		cancel()
		rc.mu.Lock()
		rc.calls++
		if err == nil {
			rc.answers[key] = resp.GetExecution().GetId()
			rc.mu.Unlock()
			return
		}
		code := connect.CodeOf(err)
		if !retryOnOther(code) || try == rollingTries {
			rc.refused[key] = code.String() + ": " + err.Error()
			rc.mu.Unlock()
			return
		}
		rc.retried[code.String()]++
		rc.mu.Unlock()
		slot = 1 - slot
		// A short pause before the next call: the other api may be the one just restarted.
		// This is the gateway's backoff, part of the traffic the test sends, not a wait.
		time.Sleep(100 * time.Millisecond)
	}
}

// rollingReport is what TestRollingRestart counted.
type rollingReport struct {
	wall       time.Duration
	executions int
	statuses   map[string]int
	slowest    time.Duration // from created to finished
	slowestOne string
	triggers   struct {
		calls, accepted, executions, duplicates, lost, refused, notTerminal, unanswered int
		retried                                                                         string
		refusedOne                                                                      string
	}
	cron struct {
		from, to                                                 time.Time
		owed, executed, caughtUp, missed, lost, duplicates, both int
		executions, notTerminal                                  int
		missedAt                                                 []string
		ledger                                                   string
	}
	engine struct {
		calls, reRuns, repeatedCalls, neverRan, takenOver int
	}
}

type executionRow struct {
	ID             string     `bun:"id"`
	WorkflowID     string     `bun:"workflow_id"`
	TriggerType    string     `bun:"trigger_type"`
	IdempotencyKey *string    `bun:"idempotency_key"`
	ScheduledAt    *time.Time `bun:"scheduled_at"`
	Status         string     `bun:"status"`
	Attempt        int        `bun:"attempt"`
	FinishedAt     *time.Time `bun:"finished_at"`
	CreatedAt      time.Time  `bun:"created_at"`
}

func (r *executionRow) terminal() bool {
	return terminal(v1.ExecutionStatus(v1.ExecutionStatus_value["EXECUTION_STATUS_"+r.Status]))
}

// rollingReport reads every execution and compares it with what the client was answered and
// what the probe (the engine's side) saw.
func (c *cluster) rollingReport(t *testing.T, client *rollingClient, pr *probe, tickID string, from, to time.Time) *rollingReport {
	t.Helper()
	ctx := t.Context()
	var rows []executionRow
	if err := c.db.Bun().NewSelect().TableExpr("executions").
		Column("id", "workflow_id", "trigger_type", "idempotency_key", "scheduled_at", "status", "attempt", "finished_at", "created_at").
		Scan(ctx, &rows); err != nil {
		t.Fatalf("read executions: %v", err)
	}
	rep := &rollingReport{statuses: map[string]int{}, executions: len(rows)}
	byID := map[string]*executionRow{}
	for i := range rows {
		r := &rows[i]
		byID[r.ID] = r
		rep.statuses["EXECUTION_STATUS_"+r.Status]++
		if r.FinishedAt != nil {
			if took := r.FinishedAt.Sub(r.CreatedAt); took > rep.slowest {
				rep.slowest = took
				rep.slowestOne = fmt.Sprintf("%s (%s, attempt %d, created %s)", r.ID, r.WorkflowID, r.Attempt, r.CreatedAt.Format(time.TimeOnly))
			}
		}
	}

	// The stream: one execution per accepted key, the one the answer named.
	client.mu.Lock()
	rep.triggers.calls = client.calls
	rep.triggers.accepted = len(client.answers)
	rep.triggers.refused = len(client.refused)
	for _, why := range client.refused {
		rep.triggers.refusedOne = why
		break
	}
	var retried []string
	for code, n := range client.retried {
		retried = append(retried, fmt.Sprintf("%s:%d", code, n))
	}
	sort.Strings(retried)
	rep.triggers.retried = strings.Join(retried, " ")
	answers := make(map[string]string, len(client.answers))
	for k, v := range client.answers {
		answers[k] = v
	}
	client.mu.Unlock()
	perKey := map[string][]*executionRow{}
	for i := range rows {
		r := &rows[i]
		if r.WorkflowID != "stream" {
			continue
		}
		rep.triggers.executions++
		key := ""
		if r.IdempotencyKey != nil {
			key = *r.IdempotencyKey
		}
		perKey[key] = append(perKey[key], r)
	}
	for key, rs := range perKey {
		switch {
		case key == "": // every call of the client has a key: none of these is its
			rep.triggers.duplicates += len(rs)
			t.Errorf("%d executions of stream without an idempotency key", len(rs))
			continue
		case len(rs) > 1:
			rep.triggers.duplicates += len(rs) - 1
			t.Errorf("key %s: %d executions", key, len(rs))
		}
		if _, ok := answers[key]; !ok {
			rep.triggers.unanswered++ // recorded, but no answer reached the client
		}
	}
	for key, id := range answers {
		rs := perKey[key]
		switch {
		case len(rs) == 0:
			rep.triggers.lost++
			t.Errorf("key %s: answered OK with execution %s, which is not in the database", key, id)
		case rs[0].ID != id:
			rep.triggers.lost++
			t.Errorf("key %s: answered OK with execution %s, the database has %s", key, id, rs[0].ID)
		case !rs[0].terminal():
			rep.triggers.notTerminal++
			t.Errorf("key %s: execution %s is %s", key, id, rs[0].Status)
		}
	}

	// The cron: every second of [from, to] has one execution or a MISSED row, not both.
	secs, err := c.seconds(ctx, tickID, from, to)
	if err != nil {
		t.Fatalf("read the seconds: %v", err)
	}
	rep.cron.from, rep.cron.to, rep.cron.owed = from, to, len(secs)
	for at, s := range secs {
		switch {
		case s.executions > 0 && s.missed > 0:
			rep.cron.both++
			t.Errorf("%s: %d executions and %d MISSED rows", at.Format(time.TimeOnly), s.executions, s.missed)
		case s.executions == 0 && s.missed == 0:
			rep.cron.lost++
			t.Errorf("%s: neither an execution nor a MISSED row", at.Format(time.TimeOnly))
		case s.executions == 0:
			rep.cron.missed++
			rep.cron.missedAt = append(rep.cron.missedAt, at.Format(time.TimeOnly)+" ("+s.reason+")")
		}
		if s.executions == 1 {
			rep.cron.executed++
		}
		if s.executions > 1 {
			rep.cron.duplicates += s.executions - 1
			t.Errorf("%s: %d executions", at.Format(time.TimeOnly), s.executions)
		}
		rep.cron.caughtUp += s.caughtUp
	}
	sort.Strings(rep.cron.missedAt)
	rep.cron.ledger = c.ledgerOutcomes(t, tickID, from, to)
	for i := range rows {
		r := &rows[i]
		if r.WorkflowID != tickID {
			continue
		}
		rep.cron.executions++
		if !r.terminal() {
			rep.cron.notTerminal++
		}
	}

	// The engine's side: each call names its execution and attempt. No call after the
	// execution finished, none for an attempt it did not record, none twice for one attempt.
	calls := pr.engineCalls()
	called := map[string]bool{}
	for idem, times := range calls {
		rep.engine.calls += len(times)
		id, attemptText, ok := strings.Cut(idem, ":")
		attempt, aerr := strconv.Atoi(attemptText)
		r := byID[id]
		if !ok || aerr != nil || r == nil {
			rep.engine.reRuns++
			t.Errorf("engine call %q: no such execution", idem)
			continue
		}
		called[id] = true
		if len(times) > 1 {
			rep.engine.repeatedCalls++
			t.Errorf("execution %s attempt %d: %d engine calls", id, attempt, len(times))
		}
		if attempt > r.Attempt {
			rep.engine.reRuns++
			t.Errorf("execution %s: engine call for attempt %d, the row records %d (%s)", id, attempt, r.Attempt, r.Status)
			continue
		}
		for _, at := range times {
			if r.FinishedAt != nil && at.After(*r.FinishedAt) {
				rep.engine.reRuns++
				t.Errorf("execution %s attempt %d: engine call at %s, after it finished (%s) at %s", id, attempt,
					at.Format(time.RFC3339Nano), r.Status, r.FinishedAt.Format(time.RFC3339Nano))
			}
		}
	}
	for i := range rows {
		r := &rows[i]
		if r.Attempt > 1 {
			rep.engine.takenOver++
		}
		if r.Status == "SUCCEEDED" && !called[r.ID] {
			rep.engine.neverRan++
			t.Errorf("execution %s SUCCEEDED without an engine call", r.ID)
		}
	}
	return rep
}

// ledgerOutcomes counts the workflow's fire-ledger rows in [from, to] by outcome, the FIRED rows
// of a standby replica (the one holding the fire lock had not fired) apart.
func (c *cluster) ledgerOutcomes(t *testing.T, workflowID string, from, to time.Time) string {
	t.Helper()
	rows, err := c.db.Bun().QueryContext(t.Context(), `SELECT outcome || CASE WHEN reason LIKE 'standby%' THEN ' (standby)' ELSE '' END, count(*)
		FROM fire_ledger WHERE workflow_id = ? AND scheduled_at BETWEEN ? AND ? GROUP BY 1 ORDER BY 1`, workflowID, from.UTC(), to.UTC())
	if err != nil {
		t.Fatalf("read the fire ledger: %v", err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var outcome string
		var n int
		if err := rows.Scan(&outcome, &n); err != nil {
			t.Fatalf("read the fire ledger: %v", err)
		}
		out = append(out, fmt.Sprintf("%s:%d", outcome, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the fire ledger: %v", err)
	}
	return strings.Join(out, " ")
}

// print logs the counts and writes them to stdout, where they are seen without -v.
func (rep *rollingReport) print(t *testing.T) {
	t.Helper()
	lines := []string{
		fmt.Sprintf("rolling restart: wall %s; %d executions, statuses %v; slowest from created to finished %s: %s",
			rep.wall.Round(time.Second), rep.executions, rep.statuses, rep.slowest.Round(time.Millisecond), rep.slowestOne),
		fmt.Sprintf("triggers: calls %d, accepted %d, executions %d (recorded but unanswered %d), duplicates %d, lost %d, not terminal %d, refused %d; calls sent again to the other api by code: %s",
			rep.triggers.calls, rep.triggers.accepted, rep.triggers.executions, rep.triggers.unanswered, rep.triggers.duplicates, rep.triggers.lost, rep.triggers.notTerminal, rep.triggers.refused, rep.triggers.retried),
		fmt.Sprintf("cron seconds %s to %s: owed %d, executed %d (caught up %d), missed %d, lost %d, duplicates %d, both an execution and MISSED %d; cron executions %d (not terminal %d)",
			rep.cron.from.Format(time.TimeOnly), rep.cron.to.Format(time.TimeOnly), rep.cron.owed, rep.cron.executed, rep.cron.caughtUp, rep.cron.missed, rep.cron.lost, rep.cron.duplicates, rep.cron.both, rep.cron.executions, rep.cron.notTerminal),
		"fire ledger rows in the window by outcome: " + rep.cron.ledger,
		fmt.Sprintf("engine: calls %d, re-runs %d, attempts called twice %d, succeeded without a call %d, executions taken over after a kill (attempt > 1) %d",
			rep.engine.calls, rep.engine.reRuns, rep.engine.repeatedCalls, rep.engine.neverRan, rep.engine.takenOver),
	}
	if rep.triggers.refusedOne != "" {
		lines = append(lines, "one refused trigger: "+rep.triggers.refusedOne)
	}
	if len(rep.cron.missedAt) > 0 {
		lines = append(lines, "missed seconds: "+strings.Join(rep.cron.missedAt, ", "))
	}
	for _, l := range lines {
		t.Log(l)
		fmt.Println(l)
	}
}
