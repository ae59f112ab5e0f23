package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// Timings of TestScheduleHealthWithoutSchedulers.
const (
	// healthOutage is how long no scheduler runs: measured on the wall clock by a timer.
	healthOutage = time.Minute
	// healthGrace is the api's WFR_SCHEDULE_HEALTH_GRACE: short, so the owed fires come close
	// to the seconds of the outage.
	healthGrace = 5 * time.Second
	// catchUpTimeout bounds the wait for the catch-up's ledger rows: MISSED times less than the
	// scheduler's SettleAfter (17 s) old are recorded once that has passed.
	catchUpTimeout = 90 * time.Second
)

// TestScheduleHealthWithoutSchedulers: api, worker, engine and one scheduler on PostgreSQL and
// Redis; an every-second trigger fires ON_TIME. With every scheduler stopped (SIGTERM) for a
// minute, the api alone says the trigger is OVERDUE with about one owed fire per second since
// its last fire, and its /metrics say so too. A scheduler started again settles the owed times
// per the default misfire policy (FIRE_ONCE, catch-up window 10m: one CAUGHT_UP, the others
// MISSED), and the trigger is ON_TIME again.
func TestScheduleHealthWithoutSchedulers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	apiProc := c.start("api", "api", "WFR_SCHEDULE_HEALTH_INTERVAL=1s", "WFR_SCHEDULE_HEALTH_GRACE="+healthGrace.String())
	api := apiProc.client()
	eng := c.start("engine", "engine")
	c.start("worker", "worker", "WFR_ENGINE_URL=http://"+eng.addr)
	scheduler := c.start("scheduler-1", "scheduler")

	ctx := t.Context()
	var window uint32
	resp, err := api.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "health-every-second", Nodes: []*v1.Node{node(t, "nothing", "noop", map[string]any{})}},
		Triggers: []*v1.Trigger{{Id: "tick", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
			Expression: "* * * * * ?", JitterWindowSeconds: &window,
		}}}},
		Config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	is.NoErr(err)
	d := resp.GetDeployment()

	// Fires come, on time.
	waitHealth(t, api, d.GetId(), 30*time.Second, "ON_TIME after a fire", func(h *v1.ScheduleHealth) bool {
		return h.GetState() == v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_ON_TIME && h.GetLastOutcome() == v1.FireOutcome_FIRE_OUTCOME_FIRED
	})

	// No scheduler for a minute of wall-clock time.
	scheduler.stop(t)
	stopped := time.Now()
	timer := time.NewTimer(healthOutage)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		t.Fatal("the test ended during the outage")
	}

	before := time.Now()
	h := health(t, api, d.GetId())
	after := time.Now()
	is.Equal(h.GetState(), v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_OVERDUE)
	last := h.GetLastSettledTime().AsTime()
	is.True(last.Before(stopped.Add(time.Second))) // the last fire came before the stop
	// Owed: every second in (last, now - grace).
	lo := int64(before.Add(-healthGrace).Sub(last)/time.Second) - 1
	hi := int64(after.Add(-healthGrace).Sub(last)/time.Second) + 1
	t.Logf("last settled %s, stopped %s, owed %d (expected %d..%d): %s", last.Format(time.StampMilli), stopped.Format(time.StampMilli), h.GetOwedFires(), lo, hi, h.GetReason())
	is.True(h.GetOwedFires() >= 50)                                      // about a minute of seconds
	is.True(h.GetOwedFires() >= lo && h.GetOwedFires() <= hi)            // one per second since the last fire
	is.True(h.GetOldestOwedTime().AsTime().Equal(last.Add(time.Second))) // the first second after it
	is.Equal(h.GetLastOutcome(), v1.FireOutcome_FIRE_OUTCOME_FIRED)

	// The api's /metrics: one trigger OVERDUE, its owed fires, each counted once.
	waitFor(t, 30*time.Second, "the schedule health metrics", func() bool {
		m := scrape(t, apiProc)
		return m["wfr_schedule_health_triggers{state=OVERDUE}"] == 1 && m["wfr_schedule_health_triggers{state=ON_TIME}"] == 0 &&
			m["wfr_schedule_health_owed_fires"] >= 50 && m["wfr_schedule_health_overdue_fires_total"] >= 50
	})

	// A scheduler again: the catch-up settles the owed times.
	c.start("scheduler-2", "scheduler")
	var caughtUp []time.Time
	var missed map[time.Time]bool
	testenv.Poll(t, catchUpTimeout, func() error {
		caughtUp, missed = caughtUp[:0], map[time.Time]bool{}
		for _, f := range firesSince(t, api, d.GetId(), last) {
			at := f.GetScheduledTime().AsTime()
			switch {
			case f.GetOutcome() == v1.FireOutcome_FIRE_OUTCOME_CAUGHT_UP,
				// The catch-up's fire of a time the new scheduler's live job made first (the
				// second turned between scheduling the job and planning the catch-up).
				f.GetOutcome() == v1.FireOutcome_FIRE_OUTCOME_DEDUPLICATED && strings.HasPrefix(f.GetReason(), "no scheduler ran"):
				caughtUp = append(caughtUp, at)
			case f.GetOutcome() == v1.FireOutcome_FIRE_OUTCOME_MISSED:
				missed[at] = true
			}
		}
		complete := len(caughtUp) == 1
		for at := last.Add(time.Second); complete && at.Before(caughtUp[0]); at = at.Add(time.Second) {
			complete = missed[at]
		}
		if !complete {
			return fmt.Errorf("%d CAUGHT_UP (%v), %d MISSED since %s", len(caughtUp), caughtUp, len(missed), last.Format(time.StampMilli))
		}
		return nil
	})
	gap := int(caughtUp[0].Sub(last)/time.Second) - 1
	t.Logf("caught up %s; %d MISSED rows for the %d seconds before it", caughtUp[0].Format(time.StampMilli), len(missed), gap)
	is.True(!caughtUp[0].Before(stopped.Add(healthOutage).Truncate(time.Second))) // the latest time owed at the restart
	is.Equal(len(missed), gap)                                                    // every other owed time, once, and nothing after

	waitHealth(t, api, d.GetId(), 30*time.Second, "ON_TIME after the catch-up", func(h *v1.ScheduleHealth) bool {
		return h.GetState() == v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_ON_TIME && h.GetOwedFires() == 0
	})
}

// health returns the deployment's one trigger's schedule health.
func health(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, deploymentID string) *v1.ScheduleHealth {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := api.ListScheduleHealth(ctx, &v1.ListScheduleHealthRequest{DeploymentId: deploymentID})
	if err != nil {
		t.Fatalf("list schedule health: %v", err)
	}
	if len(res.GetSchedules()) != 1 {
		t.Fatalf("list schedule health: %d triggers, want 1", len(res.GetSchedules()))
	}
	return res.GetSchedules()[0]
}

// waitHealth polls the schedule health until ok holds; it fails the test after timeout.
func waitHealth(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, deploymentID string, timeout time.Duration, what string, ok func(*v1.ScheduleHealth) bool) {
	t.Helper()
	testenv.Poll(t, timeout, func() error {
		if h := health(t, api, deploymentID); !ok(h) {
			return fmt.Errorf("waiting for %s: %s %s", what, h.GetState(), h.GetReason())
		}
		return nil
	})
}

// firesSince lists the deployment's fire ledger from since on, every page.
func firesSince(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, deploymentID string, since time.Time) []*v1.Fire {
	t.Helper()
	var out []*v1.Fire
	req := &v1.ListFiresRequest{DeploymentId: deploymentID, StartTime: timestamppb.New(since), PageSize: 1000}
	for range 100 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		res, err := api.ListFires(ctx, req)
		cancel()
		if err != nil {
			t.Fatalf("list fires: %v", err)
		}
		out = append(out, res.GetFires()...)
		if res.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = res.GetNextPageToken()
	}
	t.Fatal("list fires: more than 100 pages")
	return nil
}

// scrape reads the process's /metrics: each sample by name{label=value,...} (gauges, counters
// and untyped); an empty map when the scrape fails.
func scrape(t *testing.T, p *proc) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	hc := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+p.addr+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := hc.Do(req)
	if err != nil {
		return out
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return out
	}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			if labels := scrapeLabels(m.GetLabel()); labels != "" {
				key += "{" + labels + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// scrapeLabels renders the labels other than the exporter's own (otel_scope_*) as a=b,c=d.
func scrapeLabels(labels []*dto.LabelPair) string {
	s := ""
	for _, l := range labels {
		if strings.HasPrefix(l.GetName(), "otel_scope_") {
			continue
		}
		if s != "" {
			s += ","
		}
		s += fmt.Sprintf("%s=%s", l.GetName(), l.GetValue())
	}
	return s
}
