package api_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/backfill"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// The backfill operation RPCs over both dialects: a dry run lists the planned fires with the
// executions that exist, a range over the limit answers an operation (the same one while it
// runs), which the runner finishes; Get, List and Cancel answer it.
func TestBackfillOperationRPCs(t *testing.T) {
	t.Parallel()
	for _, be := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			db := be.open(t)
			executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
			sched := scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: clock})
			runner := backfill.NewRunner(db, sched, backfill.RunnerConfig{Owner: "api-test", Now: clock})
			h := api.NewHandler(api.Deps{
				Deployments: deployments.NewService(db, deployments.ServiceConfig{Now: func() time.Time { return now.Add(-48 * time.Hour) }}),
				Executions:  executions,
				Scheduler:   sched,
				Backfills:   backfill.NewService(db, sched, backfill.ServiceConfig{Now: clock}),
			})
			window := uint32(0)
			dep, err := h.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
				Definition: &v1.WorkflowDefinition{Id: "ops-" + be.name, Nodes: []*v1.Node{{Id: "a", Type: "noop"}}},
				Triggers: []*v1.Trigger{{Id: "minutely", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
					Expression: "* * * * *", JitterWindowSeconds: &window,
				}}}},
			})
			is.NoErr(err)
			id := dep.GetDeployment().GetId()
			start := now.Add(-2 * time.Hour)

			// Two fires exist: the dry run names their executions.
			made, err := h.BackfillDeployment(ctx, &v1.BackfillDeploymentRequest{DeploymentId: id,
				StartTime: timestamppb.New(start.Add(time.Minute)), EndTime: timestamppb.New(start.Add(3 * time.Minute))})
			is.NoErr(err)
			is.Equal(made.GetCreated(), int32(2))
			dry, err := h.BackfillDeployment(ctx, &v1.BackfillDeploymentRequest{DeploymentId: id,
				StartTime: timestamppb.New(start), EndTime: timestamppb.New(now), Limit: 5, DryRun: true})
			is.NoErr(err)
			is.True(dry.GetTruncated()) // 120 fires, 5 listed
			is.Equal(len(dry.GetPlanned()), 5)
			is.Equal(dry.GetPlanned()[0].GetExistingExecutionId(), "")
			is.Equal(dry.GetPlanned()[1].GetExistingExecutionId(), made.GetExecutions()[0].GetId())
			is.Equal(dry.GetPlanned()[2].GetExistingExecutionId(), made.GetExecutions()[1].GetId())
			is.Equal(dry.GetPlanned()[3].GetExistingExecutionId(), "")
			is.True(dry.GetPlanned()[4].GetScheduledTime().AsTime().Equal(start.Add(4 * time.Minute))) // oldest first
			is.Equal(dry.GetOperation(), nil)                                                          // nothing created
			whole, err := h.BackfillDeployment(ctx, &v1.BackfillDeploymentRequest{DeploymentId: id,
				StartTime: timestamppb.New(start), EndTime: timestamppb.New(now), DryRun: true})
			is.NoErr(err)
			is.True(!whole.GetTruncated())
			is.Equal(len(whole.GetPlanned()), 120)

			// More fires than the limit: an operation, the same on a repeat.
			req := &v1.BackfillDeploymentRequest{DeploymentId: id, StartTime: timestamppb.New(start), EndTime: timestamppb.New(now), Limit: 100}
			first, err := h.BackfillDeployment(ctx, req)
			is.NoErr(err)
			op := first.GetOperation()
			is.True(op != nil)
			is.Equal(len(first.GetExecutions()), 0)
			is.True(!first.GetTruncated())
			is.Equal(op.GetState(), v1.BackfillOperationState_BACKFILL_OPERATION_STATE_RUNNING)
			is.Equal(op.GetTotal(), int64(120))
			is.Equal(op.GetWorkflowId(), "ops-"+be.name)
			second, err := h.BackfillDeployment(ctx, req)
			is.NoErr(err)
			is.Equal(second.GetOperation().GetId(), op.GetId())

			for range 10 {
				if progressed, err := runner.Step(ctx); err != nil || !progressed {
					is.NoErr(err)
					break
				}
			}
			got, err := h.GetBackfillOperation(ctx, &v1.GetBackfillOperationRequest{Id: op.GetId()})
			is.NoErr(err)
			is.Equal(got.GetOperation().GetState(), v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED)
			is.Equal(got.GetOperation().GetCreated(), int64(118))
			is.Equal(got.GetOperation().GetDeduplicated(), int64(2))
			is.True(got.GetOperation().GetCursorTime().AsTime().Equal(now))

			// Cancel: of the finished one nothing changes; of a running one, CANCELLED.
			c, err := h.CancelBackfillOperation(ctx, &v1.CancelBackfillOperationRequest{Id: op.GetId()})
			is.NoErr(err)
			is.Equal(c.GetOperation().GetState(), v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED)
			other, err := h.BackfillDeployment(ctx, req)
			is.NoErr(err)
			c, err = h.CancelBackfillOperation(ctx, &v1.CancelBackfillOperationRequest{Id: other.GetOperation().GetId()})
			is.NoErr(err)
			is.Equal(c.GetOperation().GetState(), v1.BackfillOperationState_BACKFILL_OPERATION_STATE_CANCELLED)

			list, err := h.ListBackfillOperations(ctx, &v1.ListBackfillOperationsRequest{DeploymentId: id, PageSize: 1})
			is.NoErr(err)
			is.Equal(len(list.GetOperations()), 1)
			is.Equal(list.GetOperations()[0].GetId(), other.GetOperation().GetId()) // newest first
			list, err = h.ListBackfillOperations(ctx, &v1.ListBackfillOperationsRequest{DeploymentId: id, PageSize: 1, PageToken: list.GetNextPageToken()})
			is.NoErr(err)
			is.Equal(list.GetOperations()[0].GetId(), op.GetId())
			is.Equal(list.GetNextPageToken(), "")
			list, err = h.ListBackfillOperations(ctx, &v1.ListBackfillOperationsRequest{
				States: []v1.BackfillOperationState{v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED}})
			is.NoErr(err)
			is.Equal(len(list.GetOperations()), 1)
			_, err = h.ListBackfillOperations(ctx, &v1.ListBackfillOperationsRequest{DeploymentId: id, PageToken: "bogus"})
			is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)

			_, err = h.GetBackfillOperation(ctx, &v1.GetBackfillOperationRequest{Id: "0196f3a0-0000-7000-8000-000000000000"})
			is.Equal(connect.CodeOf(err), connect.CodeNotFound)
			_, err = h.CancelBackfillOperation(ctx, &v1.CancelBackfillOperationRequest{Id: "0196f3a0-0000-7000-8000-000000000000"})
			is.Equal(connect.CodeOf(err), connect.CodeNotFound)
		})
	}
}

// Without the backfill service the operation RPCs answer unimplemented.
func TestBackfillOperationRPCsUnwired(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	h := api.NewHandler(api.Deps{})
	_, err := h.GetBackfillOperation(ctx, &v1.GetBackfillOperationRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeUnimplemented)
	_, err = h.ListBackfillOperations(ctx, &v1.ListBackfillOperationsRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeUnimplemented)
	_, err = h.CancelBackfillOperation(ctx, &v1.CancelBackfillOperationRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeUnimplemented)
}
