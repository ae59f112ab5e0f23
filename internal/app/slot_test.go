package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// slotRuntimes are the installations the slot tests run on: the embedded default (SQLite, the
// in-process engine), and PostgreSQL with a remote engine role, so that the trigger context
// crosses the wire. The http nodes may reach the tests' own servers on 127.0.0.1.
var slotRuntimes = []struct {
	name  string
	start func(t *testing.T) workflowruntimev1connect.WorkflowRuntimeServiceClient
}{
	{"sqlite", func(t *testing.T) workflowruntimev1connect.WorkflowRuntimeServiceClient {
		cfg := config.Default()
		cfg.DatabaseURL = "sqlite::memory:"
		cfg.HTTPAllow = []string{"127.0.0.1"}
		return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, "http://"+startConfig(t, cfg).Addr())
	}},
	{"postgres+remote-engine", func(t *testing.T) workflowruntimev1connect.WorkflowRuntimeServiceClient {
		engineCfg := config.Default()
		engineCfg.Role = config.RoleEngine
		engineCfg.HTTPAllow = []string{"127.0.0.1"}
		eng := startConfig(t, engineCfg)
		cfg := config.Default()
		cfg.DatabaseURL = storetest.PostgresSchemaURL(t)
		cfg.EngineURL = "http://" + eng.Addr()
		return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, "http://"+startConfig(t, cfg).Addr())
	}},
}

// slotExpression is the transform of the slot tests: its run's nominal time and watermark.
const slotExpression = `{"nominal": string(trigger.nominal_time), ` +
	`"last": has(trigger.last_success_nominal_time) ? string(trigger.last_success_nominal_time) : "none"}`

type slotOutput struct {
	Slot struct {
		Nominal string `json:"nominal"`
		Last    string `json:"last"`
	} `json:"slot"`
}

func slotNode(t *testing.T) *v1.Node {
	t.Helper()
	p, err := structpb.NewStruct(map[string]any{"expression": slotExpression})
	if err != nil {
		t.Fatal(err)
	}
	return &v1.Node{Id: "slot", Type: "transform", Params: p}
}

func cronTrigger(id, expr string, window uint32) *v1.Trigger {
	return &v1.Trigger{Id: id, Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{Expression: expr, JitterWindowSeconds: &window}}}
}

func rfc3339(ts *timestamppb.Timestamp) string { return ts.AsTime().UTC().Format(time.RFC3339Nano) }

// history returns every execution of the deployment (one page: the tests make fewer than 1000).
func history(t *testing.T, client workflowruntimev1connect.WorkflowRuntimeServiceClient, deploymentID string) []*v1.Execution {
	t.Helper()
	res, err := client.GetExecutionHistory(t.Context(), &v1.GetExecutionHistoryRequest{DeploymentId: deploymentID, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetNextPageToken() != "" {
		t.Fatal("more than one page of executions")
	}
	return res.GetExecutions()
}

// checkSlots checks the SUCCEEDED executions among ids: each output names its own nominal time,
// and as watermark the latest nominal time, before its own, of the executions of all that had
// SUCCEEDED when its attempt started ("none" when there was none). The runs of one workflow do
// not overlap (the overlap policy), so "had succeeded when it started" is finish_time <=
// start_time. It returns the checked executions, by nominal time.
func checkSlots(t *testing.T, all []*v1.Execution, ids []string) []*v1.Execution {
	t.Helper()
	var checked []*v1.Execution
	for _, e := range all {
		if !slices.Contains(ids, e.GetId()) {
			continue
		}
		if e.GetStatus() != v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
			t.Fatalf("execution %s is %s: %s", e.GetId(), e.GetStatus(), e.GetError())
		}
		checked = append(checked, e)
		var out slotOutput
		if err := json.Unmarshal([]byte(e.GetOutput()), &out); err != nil {
			t.Fatalf("output of %s: %v", e.GetId(), err)
		}
		if got, want := out.Slot.Nominal, rfc3339(e.GetNominalTime()); got != want {
			t.Errorf("execution %s: output nominal %s, nominal_time %s", e.GetId(), got, want)
		}
		want := "none"
		var latest time.Time
		for _, o := range all {
			if o.GetStatus() == v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED &&
				o.GetNominalTime().AsTime().Before(e.GetNominalTime().AsTime()) &&
				!o.GetFinishTime().AsTime().After(e.GetStartTime().AsTime()) &&
				o.GetNominalTime().AsTime().After(latest) {
				latest = o.GetNominalTime().AsTime()
				want = rfc3339(o.GetNominalTime())
			}
		}
		if out.Slot.Last != want {
			t.Errorf("execution %s (nominal %s): watermark %s, want %s", e.GetId(), out.Slot.Nominal, out.Slot.Last, want)
		}
	}
	if len(checked) != len(ids) {
		t.Fatalf("%d of %d executions in the history", len(checked), len(ids))
	}
	slices.SortFunc(checked, func(a, b *v1.Execution) int { return a.GetNominalTime().AsTime().Compare(b.GetNominalTime().AsTime()) })
	return checked
}

// TestCronRunReadsItsSlot: a per-second cron trigger's transform reads its run's nominal time
// and the previous success's as watermark; the executions are followed by WatchExecutions.
func TestCronRunReadsItsSlot(t *testing.T) {
	t.Parallel()
	for _, rt := range slotRuntimes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			client := rt.start(t)
			ctx := t.Context()
			dep, err := client.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
				Definition: &v1.WorkflowDefinition{Id: "slot-cron", Nodes: []*v1.Node{slotNode(t)}},
				Triggers:   []*v1.Trigger{cronTrigger("tick", "* * * * * ?", 0)},
			})
			is.NoErr(err)
			d := dep.GetDeployment()
			watch, err := client.WatchExecutions(ctx, &v1.WatchExecutionsRequest{
				Target: &v1.WatchExecutionsRequest_DeploymentId{DeploymentId: d.GetId()},
			})
			is.NoErr(err)
			defer func() { _ = watch.Close() }()
			var ids []string
			deadline := time.AfterFunc(time.Minute, func() { _ = watch.Close() }) // bounds the loop
			defer deadline.Stop()
			for len(ids) < 4 && watch.Receive() {
				if e := watch.Msg().GetExecution(); e.GetStatus() == v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED && !slices.Contains(ids, e.GetId()) {
					ids = append(ids, e.GetId())
				}
			}
			if len(ids) < 4 {
				t.Fatalf("%d executions succeeded within a minute: %v", len(ids), watch.Err())
			}

			runs := checkSlots(t, history(t, client, d.GetId()), ids)
			withWatermark := 0
			for i, e := range runs {
				is.Equal(e.GetTriggerType(), v1.TriggerType_TRIGGER_TYPE_CRON)
				is.Equal(e.GetTriggerId(), "tick")
				is.Equal(e.GetNominalTime().AsTime(), e.GetScheduledTime().AsTime()) // no jitter
				is.Equal(e.GetNominalTime().AsTime(), e.GetNominalTime().AsTime().Truncate(time.Second))
				if i > 0 {
					is.True(e.GetNominalTime().AsTime().After(runs[i-1].GetNominalTime().AsTime())) // one slot each
					var out slotOutput
					is.NoErr(json.Unmarshal([]byte(e.GetOutput()), &out))
					if out.Slot.Last != "none" {
						withWatermark++
					}
				}
			}
			is.True(withWatermark >= 3) // every run after the first saw one
			t.Logf("%s: %d runs, the last %s", rt.name, len(runs), runs[len(runs)-1].GetOutput())
		})
	}
}

// minutelyBackfill deploys a workflow with a minutely cron trigger jittered by up to 30s and
// backfills the three minutes before the current one: the three slots, nominal time first.
func minutelyBackfill(t *testing.T, client workflowruntimev1connect.WorkflowRuntimeServiceClient, id string, nodes []*v1.Node, cfg *v1.DeploymentConfig, slots int) ([]time.Time, []*v1.Execution) {
	t.Helper()
	ctx := t.Context()
	dep, err := client.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: id, Nodes: nodes},
		Triggers:   []*v1.Trigger{cronTrigger("minutely", "* * * * *", 30)},
		Config:     cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each slot's scheduled time is its minute plus an offset under 30s: [now's minute - n,
	// now's minute) holds exactly the n slots before now's minute, all in the past.
	end := time.Now().UTC().Truncate(time.Minute)
	res, err := client.BackfillDeployment(ctx, &v1.BackfillDeploymentRequest{
		DeploymentId: dep.GetDeployment().GetId(),
		StartTime:    timestamppb.New(end.Add(-time.Duration(slots) * time.Minute)),
		EndTime:      timestamppb.New(end),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]time.Time, slots)
	for i := range want {
		want[i] = end.Add(time.Duration(i-slots) * time.Minute)
	}
	if int(res.GetCreated()) != slots || len(res.GetExecutions()) != slots {
		t.Fatalf("backfill created %d of %d executions, want %d", res.GetCreated(), len(res.GetExecutions()), slots)
	}
	done := make([]*v1.Execution, slots)
	for i, e := range res.GetExecutions() {
		done[i] = waitExecution(t, client, e.GetId())
	}
	return want, done
}

// TestBackfillRunsReadTheirSlots: a backfill of three past slots makes three runs, each told
// its own slot's nominal time (the minute, not the jittered time it is scheduled at).
func TestBackfillRunsReadTheirSlots(t *testing.T) {
	t.Parallel()
	for _, rt := range slotRuntimes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			client := rt.start(t)
			cfg := &v1.DeploymentConfig{OverlapPolicy: v1.OverlapPolicy_OVERLAP_POLICY_BUFFER_ALL} // all three run
			want, done := minutelyBackfill(t, client, "slot-backfill", []*v1.Node{slotNode(t)}, cfg, 3)
			ids := make([]string, len(done))
			offset := done[0].GetScheduledTime().AsTime().Sub(done[0].GetNominalTime().AsTime())
			for i, e := range done {
				ids[i] = e.GetId()
				is.Equal(e.GetNominalTime().AsTime(), want[i]) // oldest first, each its own minute
				is.Equal(e.GetScheduledTime().AsTime().Sub(e.GetNominalTime().AsTime()), offset)
			}
			is.True(offset >= 0 && offset < 30*time.Second)
			runs := checkSlots(t, history(t, client, done[0].GetDeploymentId()), ids)
			nominals := map[string]bool{}
			for _, e := range runs {
				var out slotOutput
				is.NoErr(json.Unmarshal([]byte(e.GetOutput()), &out))
				nominals[out.Slot.Nominal] = true
			}
			is.Equal(len(nominals), 3) // three distinct slots in the outputs
			t.Logf("%s: offset %s; outputs %s | %s | %s", rt.name, offset, runs[0].GetOutput(), runs[1].GetOutput(), runs[2].GetOutput())
		})
	}
}

// TestRetrySeesItsSlot: the first attempt of a backfilled slot fails retryably (an http node
// answered 503); the retry runs for the same slot and says so.
func TestRetrySeesItsSlot(t *testing.T) {
	t.Parallel()
	for _, rt := range slotRuntimes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			var mu sync.Mutex
			var keys []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				first := len(keys) == 1
				mu.Unlock()
				if first {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			t.Cleanup(srv.Close)
			gate, err := structpb.NewStruct(map[string]any{"url": srv.URL})
			is.NoErr(err)
			cfg := &v1.DeploymentConfig{RetryPolicy: &v1.RetryPolicy{
				MaxAttempts: 3, InitialBackoff: durationpb.New(10 * time.Millisecond), MaxBackoff: durationpb.New(50 * time.Millisecond),
			}}
			want, done := minutelyBackfill(t, rt.start(t), "slot-retry",
				[]*v1.Node{slotNode(t), {Id: "gate", Type: "http", Params: gate}}, cfg, 1)
			e := done[0]
			is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
			is.Equal(e.GetAttempt(), int32(2)) // the 503, then success
			var out slotOutput
			is.NoErr(json.Unmarshal([]byte(e.GetOutput()), &out))
			is.Equal(out.Slot.Nominal, want[0].Format(time.RFC3339)) // the slot's, on the retry too
			is.Equal(e.GetNominalTime().AsTime(), want[0])
			mu.Lock()
			defer mu.Unlock()
			is.Equal(keys, []string{e.GetId() + ":1", e.GetId() + ":2"}) // two attempts of this execution
		})
	}
}
