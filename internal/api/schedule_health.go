package api

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/schedulehealth"
)

// ListScheduleHealth implements WorkflowRuntimeService.
func (h *Handler) ListScheduleHealth(ctx context.Context, req *v1.ListScheduleHealthRequest) (*v1.ListScheduleHealthResponse, error) {
	if h.scheduleHealth == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.ListScheduleHealth(ctx, req)
	}
	q := schedulehealth.ListQuery{
		DeploymentID: req.GetDeploymentId(),
		PageSize:     int(req.GetPageSize()),
		PageToken:    req.GetPageToken(),
	}
	for _, s := range req.GetStates() {
		q.States = append(q.States, scheduleHealthStateFromProto(s))
	}
	res, err := h.scheduleHealth.List(ctx, q)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.ListScheduleHealthResponse{Schedules: make([]*v1.ScheduleHealth, len(res.Verdicts)), NextPageToken: res.Next}
	for i := range res.Verdicts {
		resp.Schedules[i] = scheduleHealthToProto(&res.Verdicts[i])
	}
	for _, s := range schedulehealth.States {
		if n, ok := res.Counts[s]; ok {
			resp.Counts = append(resp.Counts, &v1.ScheduleHealthCount{State: scheduleHealthStateToProto(s), Count: n})
		}
	}
	return resp, nil
}

var scheduleHealthStates = map[schedulehealth.State]v1.ScheduleHealthState{
	schedulehealth.StateOnTime:  v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_ON_TIME,
	schedulehealth.StateLate:    v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_LATE,
	schedulehealth.StateOverdue: v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_OVERDUE,
	schedulehealth.StateSilent:  v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_SILENT,
	schedulehealth.StatePaused:  v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_PAUSED,
}

func scheduleHealthStateToProto(s schedulehealth.State) v1.ScheduleHealthState {
	return scheduleHealthStates[s]
}

// scheduleHealthStateFromProto reads a state the request validated (defined, not
// UNSPECIFIED).
func scheduleHealthStateFromProto(s v1.ScheduleHealthState) schedulehealth.State {
	for k, v := range scheduleHealthStates {
		if v == s {
			return k
		}
	}
	return schedulehealth.StateOnTime
}

var cadenceRemedies = map[schedulehealth.Remedy]v1.CadenceRemedy{
	schedulehealth.RemedyLongerInterval: v1.CadenceRemedy_CADENCE_REMEDY_LONGER_INTERVAL,
	schedulehealth.RemedyBufferOne:      v1.CadenceRemedy_CADENCE_REMEDY_BUFFER_ONE,
	schedulehealth.RemedyMoreWorkers:    v1.CadenceRemedy_CADENCE_REMEDY_MORE_WORKERS,
}

func scheduleHealthToProto(v *schedulehealth.Verdict) *v1.ScheduleHealth {
	out := &v1.ScheduleHealth{
		DeploymentId: v.DeploymentID,
		WorkflowId:   v.WorkflowID,
		TriggerId:    v.TriggerID,
		State:        scheduleHealthStateToProto(v.State),
		Reason:       v.Reason,
		OwedFires:    v.Owed,
	}
	if !v.LastSettled.IsZero() {
		out.LastSettledTime = timestamppb.New(v.LastSettled)
	}
	if v.LastOutcome != "" {
		out.LastOutcome = v1.FireOutcome(v1.FireOutcome_value["FIRE_OUTCOME_"+string(v.LastOutcome)])
		out.LastLateness = durationpb.New(v.LastLateness)
	}
	if !v.OldestOwed.IsZero() {
		out.OldestOwedTime = timestamppb.New(v.OldestOwed)
	}
	if !v.NextFire.IsZero() {
		out.NextFireTime = timestamppb.New(v.NextFire)
	}
	if c := v.Cadence; c != nil {
		out.Cadence = &v1.CadenceAdvice{
			Interval:     durationpb.New(c.Interval),
			RunTimeP95:   durationpb.New(c.RunTimeP95),
			PickupP95:    durationpb.New(c.PickupP95),
			Runs:         c.Runs,
			SkippedRatio: c.SkippedRatio,
			Overrun:      c.Overrun,
			Remedy:       cadenceRemedies[c.Remedy],
			Message:      c.Message,
		}
	}
	return out
}
