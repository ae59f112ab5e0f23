package api

import (
	"context"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// TriggerWorkflow implements WorkflowRuntimeService. The caller's trace context is in ctx (the
// server span otelconnect starts from its traceparent header) and goes with the execution.
func (h *Handler) TriggerWorkflow(ctx context.Context, req *v1.TriggerWorkflowRequest) (*v1.TriggerWorkflowResponse, error) {
	if ve := checkJSONText("trigger_data", req.GetTriggerData()); ve != nil {
		return nil, validationError(ve)
	}
	e, dedup, err := h.executions.Trigger(ctx, &execution.TriggerParams{
		WorkflowID:     req.GetWorkflowId(),
		WebhookPath:    req.GetWebhookPath(),
		TriggerData:    []byte(req.GetTriggerData()),
		IdempotencyKey: req.GetIdempotencyKey(),
	})
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.TriggerWorkflowResponse{Execution: executionToProto(e), Deduplicated: dedup}, nil
}

// GetExecution implements WorkflowRuntimeService.
func (h *Handler) GetExecution(ctx context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
	e, err := h.executions.Get(ctx, req.GetExecutionId())
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.GetExecutionResponse{Execution: executionToProto(e)}, nil
}

// CancelExecution implements WorkflowRuntimeService.
func (h *Handler) CancelExecution(ctx context.Context, req *v1.CancelExecutionRequest) (*v1.CancelExecutionResponse, error) {
	e, err := h.executions.Cancel(ctx, req.GetExecutionId(), req.GetReason())
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.CancelExecutionResponse{Execution: executionToProto(e)}, nil
}

func executionToProto(e *execution.Execution) *v1.Execution {
	return &v1.Execution{
		Id:             e.ID,
		DeploymentId:   e.DeploymentID,
		WorkflowId:     e.WorkflowID,
		Revision:       e.Revision,
		Status:         v1.ExecutionStatus(v1.ExecutionStatus_value["EXECUTION_STATUS_"+string(e.Status)]),
		TriggerType:    v1.TriggerType(v1.TriggerType_value["TRIGGER_TYPE_"+string(e.TriggerType)]),
		TriggerId:      e.TriggerID,
		TriggerData:    string(e.TriggerData),
		IdempotencyKey: e.IdempotencyKey,
		ScheduledTime:  timestampOrNil(e.ScheduledAt),
		NominalTime:    timestampOrNil(e.NominalAt),
		StartTime:      timestampOrNil(e.StartedAt),
		FinishTime:     timestampOrNil(e.FinishedAt),
		Output:         string(e.Output),
		Error:          e.Error,
		Attempt:        e.Attempt,
		CreateTime:     timestampOrNil(e.CreatedAt),
		UpdateTime:     timestampOrNil(e.UpdatedAt),
	}
}
