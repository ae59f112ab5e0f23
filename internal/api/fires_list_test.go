package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// firesStack is the API with scheduling and monitoring behind the real HTTP server, and its
// store, so that a test writes ledger rows directly.
func firesStack(t *testing.T, be backend, now time.Time) (string, *store.DB) {
	t.Helper()
	db := be.open(t)
	logger := slog.New(slog.DiscardHandler)
	executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{Logger: logger})
	checker := health.NewChecker(health.Options{Version: "test"})
	clock := func() time.Time { return now }
	handler := api.NewHandler(api.Deps{
		Deployments: deployments.NewService(db, deployments.ServiceConfig{KnownNodeTypes: engine.NodeTypes(), Now: func() time.Time { return now.Add(-48 * time.Hour) }}),
		Executions:  executions,
		Health:      checker,
		Scheduler:   scheduler.NewService(db, executions, scheduler.ServiceConfig{Logger: logger, Now: clock}),
		Monitoring:  monitoring.NewService(db, monitoring.ServiceConfig{Logger: logger, Now: clock}),
		Logger:      logger,
	})
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := httpserver.New(cfg, handler, checker, logger)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv.URL(), db
}

// callOK posts a Connect JSON request that must succeed and decodes the answer into out.
func callOK(t *testing.T, url, rpc, body string, out proto.Message) {
	t.Helper()
	status, b := call(t, url, rpc, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", rpc, body, status, b)
	}
	if err := protojson.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// ListFires without a deployment lists every deployment's fires, filtered by outcomes, a time
// range, workflows and a trigger, paged; each fire says its workflow, deployment and when it
// was written. A page token is bound to its filters. GetSchedulingMetrics counts PAUSED and
// honours workflow_ids. Bad filters are invalid_argument naming the field.
func TestListFiresAcrossDeployments(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	for _, be := range []backend{sqlite, postgres} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			url, db := firesStack(t, be, now)
			deps := map[string]string{} // workflow -> deployment
			for _, wf := range []string{"billing", "reports", "cleanup"} {
				var resp v1.DeployWorkflowResponse
				callOK(t, url, "DeployWorkflow", deployBody(wf, wf, "", "noop", "{}", `{"id":"c","cron":{"expression":"@hourly"}}`), &resp)
				deps[wf] = resp.GetDeployment().GetId()
			}
			today := now.Truncate(24 * time.Hour)
			var fires []scheduler.Fire
			add := func(wf string, at time.Time, o scheduler.Outcome) {
				fires = append(fires, scheduler.Fire{WorkflowID: wf, DeploymentID: deps[wf], TriggerID: "c",
					NominalAt: at, ScheduledAt: at, FiredAt: at.Add(time.Second), Outcome: o, CreatedAt: at.Add(time.Minute)})
			}
			add("billing", today.Add(1*time.Hour), scheduler.OutcomeMissed)
			add("billing", today.Add(2*time.Hour), scheduler.OutcomeFired)
			add("reports", today.Add(3*time.Hour), scheduler.OutcomeMissed)
			add("reports", today.Add(-time.Hour), scheduler.OutcomeMissed) // yesterday
			add("cleanup", today.Add(4*time.Hour), scheduler.OutcomePaused)
			add("cleanup", today.Add(5*time.Hour), scheduler.OutcomePaused)
			is.NoErr(db.FireRecord(ctx, fires))

			// Which deployments missed fires today.
			var page v1.ListFiresResponse
			day := fmt.Sprintf(`"startTime":%q,"endTime":%q`, today.Format(time.RFC3339), today.Add(24*time.Hour).Format(time.RFC3339))
			callOK(t, url, "ListFires", `{"outcomes":["FIRE_OUTCOME_MISSED"],`+day+`}`, &page)
			is.Equal(len(page.GetFires()), 2)
			is.Equal(page.GetFires()[0].GetWorkflowId(), "billing")
			is.Equal(page.GetFires()[0].GetDeploymentId(), deps["billing"])
			is.True(page.GetFires()[0].GetCreateTime().AsTime().Equal(today.Add(time.Hour + time.Minute)))
			is.Equal(page.GetFires()[1].GetWorkflowId(), "reports")
			is.Equal(page.GetNextPageToken(), "")

			// Every deployment, paged by two, oldest first.
			var all []*v1.Fire
			body := `{"pageSize":2}`
			for range 10 {
				callOK(t, url, "ListFires", body, &page)
				all = append(all, page.GetFires()...)
				if page.GetNextPageToken() == "" {
					break
				}
				body = fmt.Sprintf(`{"pageSize":2,"pageToken":%q}`, page.GetNextPageToken())
			}
			is.Equal(len(all), 6)
			for i := 1; i < len(all); i++ {
				is.True(all[i].GetScheduledTime().AsTime().After(all[i-1].GetScheduledTime().AsTime()))
			}

			// Workflows and trigger.
			callOK(t, url, "ListFires", `{"workflowIds":["cleanup","reports"],"triggerId":"c"}`, &page)
			is.Equal(len(page.GetFires()), 4)
			is.Equal(page.GetFires()[1].GetOutcome(), v1.FireOutcome_FIRE_OUTCOME_MISSED)
			is.Equal(page.GetFires()[2].GetOutcome(), v1.FireOutcome_FIRE_OUTCOME_PAUSED)
			callOK(t, url, "ListFires", `{"triggerId":"other"}`, &page)
			is.Equal(len(page.GetFires()), 0)
			callOK(t, url, "ListFires", fmt.Sprintf(`{"deploymentId":%q,"outcomes":["FIRE_OUTCOME_PAUSED"]}`, deps["cleanup"]), &page)
			is.Equal(len(page.GetFires()), 2)

			// A token is bound to its filters.
			callOK(t, url, "ListFires", `{"pageSize":1,"workflowIds":["billing"]}`, &page)
			is.True(page.GetNextPageToken() != "")
			token := page.GetNextPageToken()
			callOK(t, url, "ListFires", fmt.Sprintf(`{"pageSize":1,"workflowIds":["billing"],"pageToken":%q}`, token), &page)
			is.Equal(len(page.GetFires()), 1)
			for _, other := range []string{`"workflowIds":["reports"]`, `"triggerId":"c"`, `"workflowIds":["billing"],"outcomes":["FIRE_OUTCOME_MISSED"]`} {
				status, b := call(t, url, "ListFires", fmt.Sprintf(`{"pageSize":1,%s,"pageToken":%q}`, other, token))
				is.Equal(status, http.StatusBadRequest) // other filters: the token is refused
				is.True(strings.Contains(string(b), "page_token"))
			}

			// Scheduling metrics of today: PAUSED counted; by workflow.
			var m v1.GetSchedulingMetricsResponse
			callOK(t, url, "GetSchedulingMetrics", `{`+day+`}`, &m)
			is.Equal([]int64{m.GetFired(), m.GetMissed(), m.GetPaused()}, []int64{1, 2, 2})
			is.Equal(m.GetScheduledTriggers(), int64(3))
			callOK(t, url, "GetSchedulingMetrics", `{`+day+`,"workflowIds":["billing"]}`, &m)
			is.Equal([]int64{m.GetFired(), m.GetMissed(), m.GetPaused()}, []int64{1, 1, 0})
			is.Equal(m.GetScheduledTriggers(), int64(1))

			// Bad input: invalid_argument with the field.
			many := make([]string, 101)
			for i := range many {
				many[i] = fmt.Sprintf("%q", fmt.Sprintf("wf-%d", i))
			}
			for _, c := range []struct{ name, rpc, body, field string }{
				{"workflow id pattern", "ListFires", `{"workflowIds":["billing","Bad Id!"]}`, "workflow_ids[1]"},
				{"too many workflow ids", "ListFires", `{"workflowIds":[` + strings.Join(many, ",") + `]}`, "workflow_ids"},
				{"repeated workflow id", "ListFires", `{"workflowIds":["billing","billing"]}`, "workflow_ids"},
				{"trigger id pattern", "ListFires", `{"triggerId":"Nope!"}`, "trigger_id"},
				{"deployment id not a uuid", "ListFires", `{"deploymentId":"billing"}`, "deployment_id"},
				{"metrics workflow id pattern", "GetSchedulingMetrics", `{"workflowIds":["-bad"]}`, "workflow_ids[0]"},
			} {
				status, b := call(t, url, c.rpc, c.body)
				var ce connectError
				is.NoErr(json.Unmarshal(b, &ce))
				is.Equal(status, http.StatusBadRequest)
				is.Equal(ce.Code, "invalid_argument") // c.name
				fields := violationFields(t, &ce)
				found := false
				for _, f := range fields {
					found = found || f == c.field
				}
				if !found {
					t.Errorf("%s: violations %v do not name %s (message %q)", c.name, fields, c.field, ce.Message)
				}
			}
			// An unknown deployment is not_found; unknown workflows are just empty.
			status, b := call(t, url, "ListFires", `{"deploymentId":"0190b5a4-0000-7000-8000-000000000000"}`)
			is.Equal(status, http.StatusNotFound)
			is.True(strings.Contains(string(b), "not_found"))
			callOK(t, url, "ListFires", `{"workflowIds":["nobody"]}`, &page)
			is.Equal(len(page.GetFires()), 0)
		})
	}
}
