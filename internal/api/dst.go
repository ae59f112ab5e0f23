package api

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// GetDstReport and the DST warnings of DeployWorkflow: both from the scheduling service's DST
// report (internal/cron/dstreport.go), so they say what the scheduler will do.

// GetDstReport implements WorkflowRuntimeService. The deployment is looked up as
// GetDeploymentStatus does; a trigger_id that names no cron trigger of it is not_found, as in
// BackfillDeployment.
func (h *Handler) GetDstReport(ctx context.Context, req *v1.GetDstReportRequest) (*v1.GetDstReportResponse, error) {
	if h.scheduler == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.GetDstReport(ctx, req)
	}
	var (
		d   *deployments.Deployment
		err error
	)
	if id := req.GetDeploymentId(); id != "" {
		d, err = h.deployments.Get(ctx, id)
	} else {
		d, err = h.deployments.GetByWorkflow(ctx, req.GetWorkflowId())
	}
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	reports, err := h.scheduler.DSTReport(d, req.GetTriggerId(), int(req.GetMonths()))
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.GetDstReportResponse{Triggers: make([]*v1.TriggerDstReport, 0, len(reports))}
	for _, r := range reports {
		resp.Triggers = append(resp.Triggers, dstReportToProto(r))
	}
	return resp, nil
}

func dstReportToProto(r scheduler.TriggerDSTReport) *v1.TriggerDstReport {
	p := &v1.TriggerDstReport{
		TriggerId:    r.TriggerID,
		Timezone:     r.Zone,
		RepeatedHour: repeatedHourEnum.proto(r.RepeatedHour),
		SkippedHour:  skippedHourEnum.proto(r.SkippedHour),
	}
	for _, tr := range r.Transitions {
		t := &v1.DstTransition{
			TransitionTime: timestamppb.New(tr.At),
			OffsetBefore:   durationpb.New(tr.OffsetBefore),
			OffsetAfter:    durationpb.New(tr.OffsetAfter),
			WallClockSpan:  tr.Span,
			WallClockTimes: tr.Times,
			Effect:         v1.DstEffect(v1.DstEffect_value["DST_EFFECT_"+tr.Effect.String()]),
			Policy:         tr.Policy,
		}
		for _, f := range tr.Fires {
			t.FireTimes = append(t.FireTimes, timestamppb.New(f.Scheduled))
		}
		p.Transitions = append(p.Transitions, t)
	}
	return p
}

// deployWarnings are DeployWorkflow's warnings about d, deployed from the request's triggers:
// per cron trigger, its times in an hour the time zone skips or repeats in the next 12 months,
// with the field path of the request. None when the scheduling service is not wired. A report
// that fails is logged and left out: the deploy itself went through.
func (h *Handler) deployWarnings(ctx context.Context, d *deployments.Deployment, requested []*v1.Trigger) []*v1.DeployWarning {
	if h.scheduler == nil {
		return nil
	}
	reports, err := h.scheduler.DSTReport(d, "", cron.DefaultDSTReportMonths)
	if err != nil {
		h.logger.WarnContext(ctx, "deploy warnings: dst report", slog.String("workflow_id", d.WorkflowID), slog.Any("error", err))
		return nil
	}
	index := make(map[string]int, len(requested))
	for i, t := range requested {
		index[t.GetId()] = i
	}
	var out []*v1.DeployWarning
	for _, r := range reports {
		for _, w := range r.Warnings() {
			out = append(out, &v1.DeployWarning{
				Field:   fmt.Sprintf("triggers[%d].cron.expression", index[r.TriggerID]),
				Id:      w.ID,
				Message: w.Message,
			})
		}
	}
	return out
}
