package api

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// The scheduling RPCs (BackfillDeployment, ListFires) and the scheduling parts of the
// deployment messages (DST policies of a cron trigger, previews of GetDeploymentStatus).

// BackfillDeployment implements WorkflowRuntimeService.
func (h *Handler) BackfillDeployment(ctx context.Context, req *v1.BackfillDeploymentRequest) (*v1.BackfillDeploymentResponse, error) {
	if h.scheduler == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.BackfillDeployment(ctx, req)
	}
	if req.GetDryRun() {
		return h.backfillDryRun(ctx, req) // backfill_ops.go
	}
	res, err := h.scheduler.Backfill(ctx, &scheduler.BackfillParams{
		DeploymentID: req.GetDeploymentId(),
		TriggerID:    req.GetTriggerId(),
		Start:        req.GetStartTime().AsTime(),
		End:          req.GetEndTime().AsTime(),
		Limit:        int(req.GetLimit()),
	})
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	if res.Truncated && h.backfills != nil {
		return h.backfillOperation(ctx, req) // backfill_ops.go
	}
	resp := &v1.BackfillDeploymentResponse{
		Executions:   make([]*v1.Execution, len(res.Executions)),
		Created:      int32(res.Created),      //nolint:gosec // at most MaxBackfillLimit
		Deduplicated: int32(res.Deduplicated), //nolint:gosec // at most MaxBackfillLimit
		Truncated:    res.Truncated,
	}
	for i, e := range res.Executions {
		resp.Executions[i] = executionToProto(e)
	}
	return resp, nil
}

// ListFires implements WorkflowRuntimeService.
func (h *Handler) ListFires(ctx context.Context, req *v1.ListFiresRequest) (*v1.ListFiresResponse, error) {
	if h.scheduler == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.ListFires(ctx, req)
	}
	q := scheduler.ListFiresQuery{
		DeploymentID: req.GetDeploymentId(),
		WorkflowIDs:  req.GetWorkflowIds(),
		TriggerID:    req.GetTriggerId(),
		PageSize:     int(req.GetPageSize()),
		PageToken:    req.GetPageToken(),
	}
	if req.GetStartTime() != nil {
		q.Start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		q.End = req.GetEndTime().AsTime()
	}
	for _, o := range req.GetOutcomes() {
		q.Outcomes = append(q.Outcomes, scheduler.Outcome(enumName(o.String(), "FIRE_OUTCOME_")))
	}
	fires, next, err := h.scheduler.ListFires(ctx, q)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.ListFiresResponse{Fires: make([]*v1.Fire, len(fires)), NextPageToken: next}
	for i := range fires {
		resp.Fires[i] = fireToProto(&fires[i])
	}
	return resp, nil
}

func fireToProto(f *scheduler.Fire) *v1.Fire {
	return &v1.Fire{
		TriggerId:        f.TriggerID,
		NominalTime:      timestamppb.New(f.NominalAt),
		ScheduledTime:    timestamppb.New(f.ScheduledAt),
		FireTime:         timestamppb.New(f.FiredAt),
		Outcome:          v1.FireOutcome(v1.FireOutcome_value["FIRE_OUTCOME_"+string(f.Outcome)]),
		ExecutionId:      f.ExecutionID,
		Reason:           f.Reason,
		WorkflowId:       f.WorkflowID,
		DeploymentId:     f.DeploymentID,
		BlackoutCalendar: f.BlackoutCalendar,
		CreateTime:       timestamppb.New(f.CreatedAt),
	}
}

// deploymentStatusResponse is GetDeploymentStatus's answer: the deployment and, when the
// scheduling service is wired, the previews of its cron triggers.
func (h *Handler) deploymentStatusResponse(ctx context.Context, d *deployments.Deployment) (*v1.GetDeploymentStatusResponse, error) {
	previews, err := h.triggerPreviews(ctx, d)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.GetDeploymentStatusResponse{Deployment: deploymentToProto(d, mayReadSecrets(ctx)), TriggerPreviews: previews}, nil
}

// triggerPreviews are the next fires of d's cron triggers (GetDeploymentStatus,
// DeployWorkflow); none when the scheduling service is not wired.
func (h *Handler) triggerPreviews(ctx context.Context, d *deployments.Deployment) ([]*v1.TriggerPreview, error) {
	if h.scheduler == nil {
		return nil, nil
	}
	previews, err := h.scheduler.Preview(d)
	if err != nil {
		return nil, err
	}
	if err := h.scheduler.MarkBlackouts(ctx, d, previews); err != nil {
		return nil, err
	}
	out := make([]*v1.TriggerPreview, 0, len(previews))
	for _, p := range previews {
		tp := &v1.TriggerPreview{TriggerId: p.TriggerID, Offset: durationpb.New(p.Offset)}
		for i, f := range p.Fires {
			tp.Fires = append(tp.Fires, &v1.ScheduledFire{
				NominalTime:      timestamppb.New(f.Nominal),
				ScheduledTime:    timestamppb.New(f.Scheduled),
				BlackoutCalendar: p.BlackoutCalendar(i),
			})
		}
		out = append(out, tp)
	}
	return out, nil
}

// cronPoliciesFromProto sets the DST and blackout policies of a domain cron schedule from the
// proto's; field is the schedule's path in the request ("triggers[0].cron").
func cronPoliciesFromProto(v *errdefs.ValidationError, field string, p *v1.CronSchedule, c *deployments.CronSchedule) {
	c.RepeatedHour = repeatedHourEnum.domain(v, field+".repeated_hour", p.GetRepeatedHour())
	c.SkippedHour = skippedHourEnum.domain(v, field+".skipped_hour", p.GetSkippedHour())
	blackoutFromProto(v, field, p, c)
}

// cronPoliciesToProto sets the proto's DST and blackout policies from a domain cron schedule.
func cronPoliciesToProto(c *deployments.CronSchedule, p *v1.CronSchedule) {
	p.RepeatedHour = repeatedHourEnum.proto(c.RepeatedHour)
	p.SkippedHour = skippedHourEnum.proto(c.SkippedHour)
	blackoutToProto(c, p)
}
