package api

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/backfill"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// The backfill RPCs beyond the synchronous call: BackfillDeployment's dry run and its
// operation (a range that holds more fires than the limit), and Get/List/CancelBackfillOperation.

// backfillParams is the domain form of a BackfillDeploymentRequest.
func backfillParams(req *v1.BackfillDeploymentRequest) *scheduler.BackfillParams {
	return &scheduler.BackfillParams{
		DeploymentID: req.GetDeploymentId(),
		TriggerID:    req.GetTriggerId(),
		Start:        req.GetStartTime().AsTime(),
		End:          req.GetEndTime().AsTime(),
		Limit:        int(req.GetLimit()),
	}
}

// backfillDryRun answers BackfillDeployment with dry_run: the planned fires, nothing created.
func (h *Handler) backfillDryRun(ctx context.Context, req *v1.BackfillDeploymentRequest) (*v1.BackfillDeploymentResponse, error) {
	plan, err := h.scheduler.BackfillDryRun(ctx, backfillParams(req))
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.BackfillDeploymentResponse{Truncated: plan.Truncated, Planned: make([]*v1.PlannedFire, len(plan.Planned))}
	for i, f := range plan.Planned {
		resp.Planned[i] = &v1.PlannedFire{
			TriggerId:           f.TriggerID,
			NominalTime:         timestamppb.New(f.Nominal),
			ScheduledTime:       timestamppb.New(f.Scheduled),
			ExistingExecutionId: f.ExistingExecutionID,
			BlackoutCalendar:    f.BlackoutCalendar,
		}
	}
	return resp, nil
}

// backfillOperation answers BackfillDeployment for a range with more fires than the limit:
// the range's RUNNING operation, or a new one.
func (h *Handler) backfillOperation(ctx context.Context, req *v1.BackfillDeploymentRequest) (*v1.BackfillDeploymentResponse, error) {
	op, err := h.backfills.Start(ctx, backfillParams(req))
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.BackfillDeploymentResponse{Operation: backfillOperationToProto(op)}, nil
}

// GetBackfillOperation implements WorkflowRuntimeService.
func (h *Handler) GetBackfillOperation(ctx context.Context, req *v1.GetBackfillOperationRequest) (*v1.GetBackfillOperationResponse, error) {
	if h.backfills == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.GetBackfillOperation(ctx, req)
	}
	op, err := h.backfills.Get(ctx, req.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.GetBackfillOperationResponse{Operation: backfillOperationToProto(op)}, nil
}

// ListBackfillOperations implements WorkflowRuntimeService.
func (h *Handler) ListBackfillOperations(ctx context.Context, req *v1.ListBackfillOperationsRequest) (*v1.ListBackfillOperationsResponse, error) {
	if h.backfills == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.ListBackfillOperations(ctx, req)
	}
	q := backfill.ListQuery{DeploymentID: req.GetDeploymentId(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()}
	for _, st := range req.GetStates() {
		q.States = append(q.States, backfill.State(enumName(st.String(), "BACKFILL_OPERATION_STATE_")))
	}
	ops, next, err := h.backfills.List(ctx, q)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.ListBackfillOperationsResponse{Operations: make([]*v1.BackfillOperation, len(ops)), NextPageToken: next}
	for i, op := range ops {
		resp.Operations[i] = backfillOperationToProto(op)
	}
	return resp, nil
}

// CancelBackfillOperation implements WorkflowRuntimeService.
func (h *Handler) CancelBackfillOperation(ctx context.Context, req *v1.CancelBackfillOperationRequest) (*v1.CancelBackfillOperationResponse, error) {
	if h.backfills == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.CancelBackfillOperation(ctx, req)
	}
	op, err := h.backfills.Cancel(ctx, req.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.CancelBackfillOperationResponse{Operation: backfillOperationToProto(op)}, nil
}

func backfillOperationToProto(op *backfill.Operation) *v1.BackfillOperation {
	return &v1.BackfillOperation{
		Id:           op.ID,
		DeploymentId: op.DeploymentID,
		WorkflowId:   op.WorkflowID,
		TriggerId:    op.TriggerID,
		StartTime:    timestamppb.New(op.Start),
		EndTime:      timestamppb.New(op.End),
		State:        v1.BackfillOperationState(v1.BackfillOperationState_value["BACKFILL_OPERATION_STATE_"+string(op.State)]),
		Total:        op.Total,
		Created:      op.Created,
		Deduplicated: op.Deduplicated,
		BlackedOut:   op.BlackedOut,
		CursorTime:   timestamppb.New(op.Cursor),
		Error:        op.Error,
		CreateTime:   timestamppb.New(op.CreatedAt),
		UpdateTime:   timestamppb.New(op.UpdatedAt),
	}
}
