package api

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/registry"
)

// roleInstanceToProto is a live instance of the registry in GetSystemHealth's terms.
func roleInstanceToProto(in registry.Instance) *v1.RoleInstance {
	return &v1.RoleInstance{
		Id:            in.ID,
		Role:          in.Role,
		Version:       in.Version,
		StartTime:     timestamppb.New(in.Started),
		Address:       in.Address,
		LastHeartbeat: timestamppb.New(in.Heartbeat),
		SlotsInUse:    int32(min(in.SlotsInUse, math.MaxInt32)),   //nolint:gosec // bounded above
		SlotCapacity:  int32(min(in.SlotCapacity, math.MaxInt32)), //nolint:gosec // bounded above
	}
}

// errNoMonitoring answers the monitoring RPCs of a Handler built without Deps.Monitoring.
var errNoMonitoring = connect.NewError(connect.CodeUnimplemented, errors.New("monitoring is not served by this process"))

// GetExecutionHistory implements WorkflowRuntimeService.
func (h *Handler) GetExecutionHistory(ctx context.Context, req *v1.GetExecutionHistoryRequest) (*v1.GetExecutionHistoryResponse, error) {
	if h.monitoring == nil {
		return nil, errNoMonitoring
	}
	q := &monitoring.HistoryQuery{
		HistoryFilter: monitoring.HistoryFilter{
			DeploymentID: req.GetDeploymentId(),
			WorkflowID:   req.GetWorkflowId(),
			Start:        optionalTime(req.GetStartTime()),
			End:          optionalTime(req.GetEndTime()),
		},
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	}
	for _, s := range req.GetStatuses() {
		q.Statuses = append(q.Statuses, execution.Status(enumName(s.String(), "EXECUTION_STATUS_")))
	}
	for _, t := range req.GetTriggerTypes() {
		q.TriggerTypes = append(q.TriggerTypes, execution.TriggerType(enumName(t.String(), "TRIGGER_TYPE_")))
	}
	page, err := h.monitoring.History(ctx, q)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.GetExecutionHistoryResponse{
		Executions:    make([]*v1.Execution, len(page.Executions)),
		NextPageToken: page.NextPageToken,
	}
	for i, e := range page.Executions {
		resp.Executions[i] = executionToProto(e)
	}
	return resp, nil
}

// GetDeploymentStats implements WorkflowRuntimeService.
func (h *Handler) GetDeploymentStats(ctx context.Context, req *v1.GetDeploymentStatsRequest) (*v1.GetDeploymentStatsResponse, error) {
	if h.monitoring == nil {
		return nil, errNoMonitoring
	}
	st, err := h.monitoring.DeploymentStats(ctx, &monitoring.StatsQuery{
		DeploymentID: req.GetDeploymentId(),
		Start:        optionalTime(req.GetStartTime()),
		End:          optionalTime(req.GetEndTime()),
	})
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.GetDeploymentStatsResponse{}
	for _, s := range slices.Sorted(maps.Keys(st.DeploymentsByStatus)) {
		resp.DeploymentsByStatus = append(resp.DeploymentsByStatus, &v1.DeploymentStatusCount{
			Status: deploymentStatusToProto(s), Count: st.DeploymentsByStatus[s],
		})
	}
	for _, s := range slices.Sorted(maps.Keys(st.Executions.ByStatus)) {
		resp.ExecutionsByStatus = append(resp.ExecutionsByStatus, &v1.ExecutionStatusCount{
			Status: executionStatusToProto(s), Count: st.Executions.ByStatus[s],
		})
	}
	for _, t := range slices.Sorted(maps.Keys(st.Executions.ByTriggerType)) {
		resp.ExecutionsByTriggerType = append(resp.ExecutionsByTriggerType, &v1.TriggerTypeCount{
			TriggerType: triggerTypeToProto(t), Count: st.Executions.ByTriggerType[t],
		})
	}
	for _, d := range st.Executions.Deployments {
		resp.Deployments = append(resp.Deployments, &v1.DeploymentExecutionStats{
			DeploymentId: d.DeploymentID,
			WorkflowId:   d.WorkflowID,
			Total:        d.Total,
			Succeeded:    d.Succeeded,
			Failed:       d.Failed,
			SuccessRate:  d.SuccessRate,
			DurationP50:  durationpb.New(d.DurationP50),
			DurationP95:  durationpb.New(d.DurationP95),
			DurationP99:  durationpb.New(d.DurationP99),
		})
	}
	return resp, nil
}

// GetJitterDistribution implements WorkflowRuntimeService.
func (h *Handler) GetJitterDistribution(ctx context.Context, req *v1.GetJitterDistributionRequest) (*v1.GetJitterDistributionResponse, error) {
	if h.monitoring == nil {
		return nil, errNoMonitoring
	}
	jd, err := h.monitoring.JitterDistribution(ctx, &monitoring.JitterQuery{
		BucketCount: int(req.GetBucketCount()),
		WorkflowIDs: req.GetWorkflowIds(),
	})
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.GetJitterDistributionResponse{
		TriggerCount: jd.TriggerCount,
		Buckets:      make([]*v1.JitterBucket, len(jd.Buckets)),
		ChiSquare:    jd.ChiSquare,
		MaxOverMean:  jd.MaxOverMean,
	}
	for i, b := range jd.Buckets {
		resp.Buckets[i] = &v1.JitterBucket{StartSeconds: b.StartSeconds, EndSeconds: b.EndSeconds, Count: b.Count}
	}
	for _, o := range jd.Offsets {
		resp.Offsets = append(resp.Offsets, &v1.WorkflowJitter{
			WorkflowId:    o.WorkflowID,
			TriggerId:     o.TriggerID,
			OffsetSeconds: uint32(o.OffsetSeconds), //nolint:gosec // in [0, window), window a uint32
			WindowSeconds: uint32(o.WindowSeconds), //nolint:gosec // a uint32 column
		})
	}
	return resp, nil
}

// GetLoadDistribution implements WorkflowRuntimeService.
func (h *Handler) GetLoadDistribution(ctx context.Context, req *v1.GetLoadDistributionRequest) (*v1.GetLoadDistributionResponse, error) {
	if h.monitoring == nil {
		return nil, errNoMonitoring
	}
	start := optionalTime(req.GetStartTime())
	if !start.IsZero() && (start.Before(loadEarliest) || !start.Before(loadHorizon)) {
		return nil, validationError(errdefs.Invalid("start_time", "start_time.range",
			"must be from %s and before %s: the scheduler's fire times end in April 2262",
			loadEarliest.Format(time.DateOnly), loadHorizon.Format(time.DateOnly)))
	}
	q := &monitoring.LoadQuery{
		Start:      start,
		Window:     durationFromProto(req.GetWindow()),
		Resolution: durationFromProto(req.GetResolution()),
	}
	if w := req.GetWhatIf(); w != nil {
		var err error
		if q.WhatIf, err = h.loadWhatIfFromProto(w); err != nil { // whatif.go
			return nil, h.toConnect(ctx, err)
		}
	}
	ld, err := h.monitoring.LoadDistribution(ctx, q)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.GetLoadDistributionResponse{
		Buckets:                         make([]*v1.LoadBucket, len(ld.Buckets)),
		PeakFiresPerSecond:              ld.PeakPerSecond,
		PeakFiresPerSecondWithoutJitter: ld.PeakPerSecondWithoutJitter,
		MeanFiresPerSecond:              ld.MeanPerSecond,
		WhatIf:                          loadWhatIfToProto(ld.WhatIf),
	}
	for i, b := range ld.Buckets {
		resp.Buckets[i] = &v1.LoadBucket{
			StartTime:          timestamppb.New(b.Start),
			Fires:              b.Fires,
			FiresWithoutJitter: b.FiresWithoutJitter,
			FiresWithWhatIf:    b.FiresWithWhatIf,
		}
	}
	return resp, nil
}

// GetSchedulingMetrics implements WorkflowRuntimeService.
func (h *Handler) GetSchedulingMetrics(ctx context.Context, req *v1.GetSchedulingMetricsRequest) (*v1.GetSchedulingMetricsResponse, error) {
	if h.monitoring == nil {
		return nil, errNoMonitoring
	}
	m, err := h.monitoring.SchedulingMetrics(ctx, &monitoring.SchedulingQuery{
		Start:       optionalTime(req.GetStartTime()),
		End:         optionalTime(req.GetEndTime()),
		WorkflowIDs: req.GetWorkflowIds(),
	})
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.GetSchedulingMetricsResponse{
		ScheduledTriggers: m.ScheduledTriggers,
		FiresPerMinute:    m.FiresPerMinute,
		LatenessP50:       durationpb.New(m.LatenessP50),
		LatenessP95:       durationpb.New(m.LatenessP95),
		LatenessP99:       durationpb.New(m.LatenessP99),
		Fired:             m.Fired,
		Deduplicated:      m.Deduplicated,
		Missed:            m.Missed,
		CaughtUp:          m.CaughtUp,
		Skipped:           m.Skipped,
		Paused:            m.Paused,
	}, nil
}

func executionStatusToProto(s execution.Status) v1.ExecutionStatus {
	return v1.ExecutionStatus(v1.ExecutionStatus_value["EXECUTION_STATUS_"+string(s)])
}

func triggerTypeToProto(t execution.TriggerType) v1.TriggerType {
	return v1.TriggerType(v1.TriggerType_value["TRIGGER_TYPE_"+string(t)])
}

// optionalTime is the zero time for an unset timestamp.
func optionalTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
