package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// dstNow is the scheduling service's clock in these tests: the reports cover 2027.
var dstNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// setupDST is the API on a real listener with the scheduling service, whose clock reads dstNow.
func setupDST(t *testing.T, be backend) client {
	t.Helper()
	db := be.open(t)
	logger := slog.New(slog.DiscardHandler)
	executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{Logger: logger})
	checker := health.NewChecker(health.Options{Version: "test"})
	handler := api.NewHandler(api.Deps{
		Deployments: deployments.NewService(db, deployments.ServiceConfig{KnownNodeTypes: engine.NodeTypes()}),
		Executions:  executions,
		Health:      checker,
		Scheduler:   scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: func() time.Time { return dstNow }, Logger: logger}),
		Logger:      logger,
	})
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownGrace = 5 * time.Second
	srv := httpserver.New(cfg, handler, checker, logger)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(&http.Client{Transport: tr}, srv.URL(), connect.WithProtoJSON())
}

// dstTriggers are a webhook and three cron triggers: Berlin at a fixed hour (default jitter),
// UTC (no transitions), Lord Howe with a wildcard hour (half-hour stretches).
func dstTriggers() []*v1.Trigger {
	return []*v1.Trigger{
		webhook("in", "dst/in"),
		cronTrigger("berlin", "30 2 * * *", "Europe/Berlin"),
		cronTrigger("utc", "*/5 * * * *", ""),
		cronTrigger("lordhowe", "15,45 * * * *", "Australia/Lord_Howe"),
	}
}

func TestGetDstReport(t *testing.T) {
	t.Parallel()
	for _, be := range []backend{sqlite, postgres} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			c := setupDST(t, be)
			ctx := t.Context()
			res, err := c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{Definition: hello(t, "dst"), Triggers: dstTriggers()})
			is.NoErr(err)
			id := res.GetDeployment().GetId()

			rep, err := c.GetDstReport(ctx, &v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_WorkflowId{WorkflowId: "dst"}})
			is.NoErr(err)
			is.Equal(len(rep.GetTriggers()), 3) // the cron triggers
			byID := map[string]*v1.TriggerDstReport{}
			for _, tr := range rep.GetTriggers() {
				byID[tr.GetTriggerId()] = tr
			}
			berlin, utc, lordHowe := byID["berlin"], byID["utc"], byID["lordhowe"]
			is.Equal(berlin.GetTriggerId(), "berlin")
			is.Equal(berlin.GetTimezone(), "Europe/Berlin")
			is.Equal(berlin.GetRepeatedHour(), v1.RepeatedHourPolicy_REPEATED_HOUR_POLICY_ONCE) // the effective policies
			is.Equal(berlin.GetSkippedHour(), v1.SkippedHourPolicy_SKIPPED_HOUR_POLICY_SHIFT)
			is.Equal(len(berlin.GetTransitions()), 2)
			spring, fall := berlin.GetTransitions()[0], berlin.GetTransitions()[1]
			offset := cron.JitterOffset("dst", cron.DefaultJitterWindowSeconds)
			is.True(spring.GetTransitionTime().AsTime().Equal(time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC)))
			is.Equal(spring.GetOffsetBefore().AsDuration(), time.Hour)
			is.Equal(spring.GetOffsetAfter().AsDuration(), 2*time.Hour)
			is.Equal(spring.GetWallClockSpan(), "2027-03-28T02:00/03:00")
			is.Equal(spring.GetWallClockTimes(), []string{"02:30"})
			is.Equal(spring.GetEffect(), v1.DstEffect_DST_EFFECT_SHIFTED)
			is.Equal(spring.GetPolicy(), "SKIPPED_HOUR_POLICY_SHIFT (default: the hour field is fixed)")
			is.Equal(len(spring.GetFireTimes()), 1)
			is.True(spring.GetFireTimes()[0].AsTime().Equal(time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC).Add(offset))) // 03:00 CEST, jitter included
			is.Equal(fall.GetEffect(), v1.DstEffect_DST_EFFECT_ONCE)
			is.Equal(fall.GetPolicy(), "REPEATED_HOUR_POLICY_ONCE (default: the hour field is fixed)")
			is.Equal(len(fall.GetFireTimes()), 1)
			is.True(fall.GetFireTimes()[0].AsTime().Equal(time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC).Add(offset))) // 02:30 CEST
			is.Equal(len(utc.GetTransitions()), 0)                                                                     // UTC has none
			is.Equal(utc.GetTimezone(), "UTC")
			is.Equal(lordHowe.GetRepeatedHour(), v1.RepeatedHourPolicy_REPEATED_HOUR_POLICY_TWICE)
			is.Equal(len(lordHowe.GetTransitions()), 2)
			is.Equal(lordHowe.GetTransitions()[0].GetEffect(), v1.DstEffect_DST_EFFECT_DOUBLED)
			is.Equal(len(lordHowe.GetTransitions()[0].GetFireTimes()), 2) // 01:45 on both passes
			is.Equal(lordHowe.GetTransitions()[1].GetEffect(), v1.DstEffect_DST_EFFECT_SKIPPED)
			is.Equal(len(lordHowe.GetTransitions()[1].GetFireTimes()), 0)

			// By deployment id, one trigger, two years.
			rep, err = c.GetDstReport(ctx, &v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_DeploymentId{DeploymentId: id}, TriggerId: "lordhowe", Months: 24})
			is.NoErr(err)
			is.Equal(len(rep.GetTriggers()), 1)
			is.Equal(rep.GetTriggers()[0].GetTriggerId(), "lordhowe")
			is.Equal(len(rep.GetTriggers()[0].GetTransitions()), 4)

			for _, tc := range []struct {
				req  *v1.GetDstReportRequest
				code connect.Code
			}{
				{&v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_WorkflowId{WorkflowId: "dst"}, TriggerId: "nope"}, connect.CodeNotFound},
				{&v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_WorkflowId{WorkflowId: "dst"}, TriggerId: "in"}, connect.CodeNotFound}, // a webhook
				{&v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_WorkflowId{WorkflowId: "no-such"}}, connect.CodeNotFound},
				{&v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_DeploymentId{DeploymentId: "0b6a3f7e-4f7e-4c83-9a4e-6f1d2f0c9a11"}}, connect.CodeNotFound},
				{&v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_WorkflowId{WorkflowId: "dst"}, Months: 61}, connect.CodeInvalidArgument},
				{&v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_DeploymentId{DeploymentId: "not-a-uuid"}}, connect.CodeInvalidArgument},
				{&v1.GetDstReportRequest{}, connect.CodeInvalidArgument}, // no reference
			} {
				_, err := c.GetDstReport(ctx, tc.req)
				is.Equal(connect.CodeOf(err), tc.code) // refused as expected
			}
			_, err = c.GetDstReport(ctx, &v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_WorkflowId{WorkflowId: "dst"}, Months: 61})
			is.Equal(violations(t, err), []string{"months|uint32.lte"}) // the field and the rule
		})
	}
}

func TestDeployDSTWarnings(t *testing.T) {
	t.Parallel()
	for _, be := range []backend{sqlite, postgres} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			c := setupDST(t, be)
			ctx := t.Context()
			for _, validateOnly := range []bool{true, false} {
				res, err := c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{Definition: hello(t, "warned"), Triggers: dstTriggers(), ValidateOnly: validateOnly})
				is.NoErr(err)
				var got []string
				for _, w := range res.GetWarnings() {
					got = append(got, w.GetField()+"|"+w.GetId())
					is.True(w.GetMessage() != "")
				}
				is.Equal(got, []string{
					"triggers[1].cron.expression|dst.skipped_hour", "triggers[1].cron.expression|dst.repeated_hour",
					"triggers[3].cron.expression|dst.skipped_hour", "triggers[3].cron.expression|dst.repeated_hour",
				}) // the Berlin and Lord Howe triggers; UTC and the webhook have none
				is.Equal(res.GetWarnings()[0].GetMessage(), "Europe/Berlin skips 2027-03-28T02:00/03:00, which holds 02:30 of this expression: "+
					"SKIPPED_HOUR_POLICY_SHIFT (default: the hour field is fixed) fires it once at 03:00 CEST instead")
			}
			res, err := c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{Definition: hello(t, "quiet"), Triggers: []*v1.Trigger{cronTrigger("nine", "0 9 * * *", "Europe/Berlin")}})
			is.NoErr(err)
			is.Equal(len(res.GetWarnings()), 0) // 09:00 is never skipped nor repeated
		})
	}
}

// TestGetDstReportWithoutScheduling: a handler without the scheduling service answers
// unimplemented and deploys without warnings.
func TestGetDstReportWithoutScheduling(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, sqlite)
	c := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(b.http1, b.url)
	res, err := c.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: hello(t, "plain"), Triggers: dstTriggers()})
	is.NoErr(err)
	is.Equal(len(res.GetWarnings()), 0)
	_, err = c.GetDstReport(t.Context(), &v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_WorkflowId{WorkflowId: "plain"}})
	is.Equal(connect.CodeOf(err), connect.CodeUnimplemented)
}

// TestGetDstReportMonthsGoSide: the service refuses a span the proto's rule would have, for
// callers that skip the interceptors.
func TestGetDstReportMonthsGoSide(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	h := schedulingHandler(t, dstNow)
	_, err := h.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: hello(t, "direct"), Triggers: dstTriggers()})
	is.NoErr(err)
	_, err = h.GetDstReport(t.Context(), &v1.GetDstReportRequest{Ref: &v1.GetDstReportRequest_WorkflowId{WorkflowId: "direct"}, Months: 61})
	is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)
	is.Equal(violations(t, err), []string{"months|months.range"})
}
