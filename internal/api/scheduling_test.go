package api_test

import (
	"context"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/matryer/is"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// schedulingHandler is a Handler with the scheduling service, called directly (the transport
// is covered by api_test.go).
func schedulingHandler(t *testing.T, now time.Time) *api.Handler {
	t.Helper()
	db := storetest.OpenSQLite(t)
	executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
	return api.NewHandler(api.Deps{
		Deployments: deployments.NewService(db, deployments.ServiceConfig{Now: func() time.Time { return now.Add(-24 * time.Hour) }}),
		Executions:  executions,
		Scheduler:   scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: func() time.Time { return now }}),
	})
}

func TestSchedulingRPCs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	h := schedulingHandler(t, now)
	window := uint32(0)
	dep, err := h.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "sched", Nodes: []*v1.Node{{Id: "a", Type: "noop"}}},
		Triggers: []*v1.Trigger{{Id: "hourly", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
			Expression: "30 2 * * *", Timezone: "Europe/Berlin", JitterWindowSeconds: &window,
			RepeatedHour: v1.RepeatedHourPolicy_REPEATED_HOUR_POLICY_TWICE,
			SkippedHour:  v1.SkippedHourPolicy_SKIPPED_HOUR_POLICY_SKIP,
		}}}},
	})
	is.NoErr(err)
	got := dep.GetDeployment().GetTriggers()[0].GetCron()
	is.Equal(got.GetRepeatedHour(), v1.RepeatedHourPolicy_REPEATED_HOUR_POLICY_TWICE) // policies round-trip
	is.Equal(got.GetSkippedHour(), v1.SkippedHourPolicy_SKIPPED_HOUR_POLICY_SKIP)
	id := dep.GetDeployment().GetId()

	// Previews: five fires, daily at 02:30 Berlin; the offset is zero.
	st, err := h.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: id}})
	is.NoErr(err)
	is.Equal(len(st.GetTriggerPreviews()), 1)
	p := st.GetTriggerPreviews()[0]
	is.Equal(p.GetTriggerId(), "hourly")
	is.Equal(p.GetOffset().AsDuration(), time.Duration(0))
	is.Equal(len(p.GetFires()), 5)
	is.True(p.GetFires()[0].GetScheduledTime().AsTime().Equal(time.Date(2026, 3, 3, 1, 30, 0, 0, time.UTC)))

	// Backfill the last three days: 3 fires (02:30 CET = 01:30 UTC on Feb 28, Mar 1, Mar 2); the
	// repeat creates nothing.
	req := &v1.BackfillDeploymentRequest{DeploymentId: id, StartTime: timestamppb.New(now.Add(-72 * time.Hour)), EndTime: timestamppb.New(now)}
	is.NoErr(protovalidate.Validate(req))
	bf, err := h.BackfillDeployment(ctx, req)
	is.NoErr(err)
	is.Equal(len(bf.GetExecutions()), 3)
	is.Equal(bf.GetCreated(), int32(3))
	bf, err = h.BackfillDeployment(ctx, req)
	is.NoErr(err)
	is.Equal(bf.GetDeduplicated(), int32(3))

	// The ledger: three FIRED, three DEDUPLICATED, paged by two.
	lf := &v1.ListFiresRequest{DeploymentId: id, PageSize: 2, Outcomes: []v1.FireOutcome{v1.FireOutcome_FIRE_OUTCOME_FIRED}}
	is.NoErr(protovalidate.Validate(lf))
	page, err := h.ListFires(ctx, lf)
	is.NoErr(err)
	is.Equal(len(page.GetFires()), 2)
	is.Equal(page.GetFires()[0].GetOutcome(), v1.FireOutcome_FIRE_OUTCOME_FIRED)
	is.Equal(page.GetFires()[0].GetReason(), "backfill")
	is.True(page.GetFires()[0].GetExecutionId() != "")
	lf.PageToken = page.GetNextPageToken()
	page, err = h.ListFires(ctx, lf)
	is.NoErr(err)
	is.Equal(len(page.GetFires()), 1)
	is.Equal(page.GetNextPageToken(), "")
	all, err := h.ListFires(ctx, &v1.ListFiresRequest{DeploymentId: id})
	is.NoErr(err)
	is.Equal(len(all.GetFires()), 6)

	_, err = h.ListFires(ctx, &v1.ListFiresRequest{DeploymentId: uuid.NewString()})
	is.True(err != nil) // unknown deployment: not found
}

func TestSchedulingRequestRules(t *testing.T) {
	t.Parallel()
	now := time.Now()
	id := uuid.NewString()
	for name, tc := range map[string]struct {
		msg   proto.Message
		valid bool
	}{
		"backfill ok":               {&v1.BackfillDeploymentRequest{DeploymentId: id, StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now)}, true},
		"backfill end before start": {&v1.BackfillDeploymentRequest{DeploymentId: id, StartTime: timestamppb.New(now), EndTime: timestamppb.New(now.Add(-time.Hour))}, false},
		"backfill 32 days":          {&v1.BackfillDeploymentRequest{DeploymentId: id, StartTime: timestamppb.New(now.Add(-32 * 24 * time.Hour)), EndTime: timestamppb.New(now)}, false},
		"backfill no start":         {&v1.BackfillDeploymentRequest{DeploymentId: id, EndTime: timestamppb.New(now)}, false},
		"backfill limit":            {&v1.BackfillDeploymentRequest{DeploymentId: id, StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now), Limit: 10001}, false},
		"backfill bad trigger":      {&v1.BackfillDeploymentRequest{DeploymentId: id, TriggerId: "Bad!", StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now)}, false},
		"list ok":                   {&v1.ListFiresRequest{DeploymentId: id}, true},
		"list bad id":               {&v1.ListFiresRequest{DeploymentId: "x"}, false},
		"list page size":            {&v1.ListFiresRequest{DeploymentId: id, PageSize: 1001}, false},
		"list outcome zero":         {&v1.ListFiresRequest{DeploymentId: id, Outcomes: []v1.FireOutcome{0}}, false},
		"list reversed range":       {&v1.ListFiresRequest{DeploymentId: id, StartTime: timestamppb.New(now), EndTime: timestamppb.New(now.Add(-time.Second))}, false},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			err := protovalidate.Validate(tc.msg)
			is.Equal(err == nil, tc.valid) // protovalidate's verdict
		})
	}
}

// TestDeployValidateOnly: DeployWorkflow with validate_only answers the deployment it would
// make with the previews of its cron triggers, and stores nothing; a real deploy carries the
// previews too.
func TestDeployValidateOnly(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	h := schedulingHandler(t, now)
	window := uint32(0)
	req := &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "dry-run", Nodes: []*v1.Node{{Id: "a", Type: "noop"}}},
		Triggers: []*v1.Trigger{
			{Id: "hook", Kind: &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: "dry/in"}}},
			{Id: "daily", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{Expression: "0 6 * * *", JitterWindowSeconds: &window}}},
		},
		ValidateOnly: true,
	}
	res, err := h.DeployWorkflow(ctx, req)
	is.NoErr(err)
	is.True(res.GetCreated())                 // it would be created
	is.Equal(res.GetDeployment().GetId(), "") // no id: nothing was
	is.Equal(res.GetDeployment().GetRevision(), int32(1))
	is.Equal(len(res.GetTriggerPreviews()), 1) // the cron trigger's
	p := res.GetTriggerPreviews()[0]
	is.Equal(p.GetTriggerId(), "daily")
	is.Equal(len(p.GetFires()), 5)
	is.True(p.GetFires()[0].GetScheduledTime().AsTime().Equal(time.Date(2026, 3, 3, 6, 0, 0, 0, time.UTC)))

	_, err = h.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: "dry-run"}})
	is.Equal(connect.CodeOf(err), connect.CodeNotFound) // nothing stored

	req.ValidateOnly = false
	res, err = h.DeployWorkflow(ctx, req)
	is.NoErr(err)
	is.True(res.GetDeployment().GetId() != "") // stored
	is.Equal(len(res.GetTriggerPreviews()), 1) // and previewed
}
