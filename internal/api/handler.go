// Package api is the Connect transport of WorkflowRuntimeService: thin handlers that turn
// proto requests into domain calls and domain results into proto responses. Validation of
// shapes happens before a handler runs (protovalidate interceptor, then NewInputInterceptor for
// NUL characters and JSON depth, input.go); the JSON codec reads unknown enum names as undefined
// numbers so protovalidate refuses them (codec.go); errors are mapped to codes in errors.go only.
package api

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/backfill"
	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/schedulehealth"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/watch"
)

// HealthChecker reports the service's dependencies and live instances (internal/health.Checker).
type HealthChecker interface {
	Check(ctx context.Context) health.Report
}

// Deps are the Handler's collaborators.
type Deps struct {
	// Deployments deploys, updates, reads and archives deployments.
	Deployments *deployments.Service
	// Executions records, reads and cancels executions.
	Executions *execution.Service
	Health     HealthChecker
	// Scheduling backfills, lists the fire ledger, reports DST effects and previews cron
	// triggers. Optional: without it BackfillDeployment, ListFires and GetDstReport answer
	// unimplemented, and DeployWorkflow leaves out its previews, DST and blackout warnings.
	Scheduler *scheduler.Service
	// Monitoring answers GetExecutionHistory, GetDeploymentStats, GetSchedulingMetrics,
	// GetJitterDistribution and GetLoadDistribution. Optional: without it they answer
	// unimplemented.
	Monitoring *monitoring.Service
	// Watches streams execution changes (WatchExecutions). Optional: without it
	// WatchExecutions answers unimplemented.
	Watches *watch.Hub
	// Backfills runs backfills larger than their limit as operations and answers
	// Get/List/CancelBackfillOperation. Optional: without it those answer unimplemented and
	// such a backfill answers truncated.
	Backfills *backfill.Service
	// Calendars stores blackout calendars. Optional: without it the calendar RPCs answer
	// unimplemented.
	Calendars *calendars.Service
	// ScheduleHealth answers ListScheduleHealth. Optional: without it the RPC answers
	// unimplemented.
	ScheduleHealth *schedulehealth.Service
	// Logger receives internal errors. Default slog.Default().
	Logger *slog.Logger
}

// Handler implements WorkflowRuntimeService: every RPC. One whose optional service is missing
// from Deps answers unimplemented (through the embedded type, or errNoMonitoring).
type Handler struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler

	deployments *deployments.Service
	executions  *execution.Service
	health      HealthChecker
	scheduler   *scheduler.Service
	monitoring  *monitoring.Service
	watches     *watch.Hub
	backfills   *backfill.Service
	calendars   *calendars.Service
	logger      *slog.Logger

	scheduleHealth *schedulehealth.Service
}

var _ workflowruntimev1connect.WorkflowRuntimeServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler.
func NewHandler(deps Deps) *Handler {
	logger := deps.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{
		deployments: deps.Deployments, executions: deps.Executions, health: deps.Health,
		scheduler: deps.Scheduler, monitoring: deps.Monitoring, watches: deps.Watches, logger: logger,
		backfills:      deps.Backfills,
		calendars:      deps.Calendars,
		scheduleHealth: deps.ScheduleHealth,
	}
}

// DeployWorkflow implements WorkflowRuntimeService.
func (h *Handler) DeployWorkflow(ctx context.Context, req *v1.DeployWorkflowRequest) (*v1.DeployWorkflowResponse, error) {
	v := &errdefs.ValidationError{}
	p := &deployments.DeployParams{
		Definition:   definitionFromProto(req.GetDefinition()),
		Triggers:     triggersFromProto(v, "triggers", req.GetTriggers()),
		Config:       configFromProto(v, "config", req.GetConfig()),
		Draft:        req.GetDraft(),
		ValidateOnly: req.GetValidateOnly(),
	}
	if err := v.OrNil(); err != nil {
		return nil, h.toConnect(ctx, err)
	}
	d, created, err := h.deployments.Deploy(ctx, p)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	previews, err := h.triggerPreviews(ctx, d)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	blackouts, err := h.blackoutWarnings(ctx, d)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.DeployWorkflowResponse{Deployment: deploymentToProto(d, mayReadSecrets(ctx)), Created: created, TriggerPreviews: previews,
		Warnings: append(h.deployWarnings(ctx, d, req.GetTriggers()), blackouts...)}, nil
}

// UpdateDeployment implements WorkflowRuntimeService.
func (h *Handler) UpdateDeployment(ctx context.Context, req *v1.UpdateDeploymentRequest) (*v1.UpdateDeploymentResponse, error) {
	v := &errdefs.ValidationError{}
	p := &deployments.UpdateParams{
		ID:       req.GetDeploymentId(),
		Paths:    req.GetUpdateMask().GetPaths(),
		Status:   deploymentStatusFromProto(req.GetStatus()),
		Triggers: triggersFromProto(v, "triggers", req.GetTriggers()),
	}
	if req.GetDefinition() != nil {
		def := definitionFromProto(req.GetDefinition())
		p.Definition = &def
	}
	if req.GetConfig() != nil {
		c := configFromProto(v, "config", req.GetConfig())
		p.Config = &c
	}
	if err := v.OrNil(); err != nil {
		return nil, h.toConnect(ctx, err)
	}
	d, err := h.deployments.Update(ctx, p)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.UpdateDeploymentResponse{Deployment: deploymentToProto(d, mayReadSecrets(ctx))}, nil
}

// DeleteDeployment implements WorkflowRuntimeService.
func (h *Handler) DeleteDeployment(ctx context.Context, req *v1.DeleteDeploymentRequest) (*v1.DeleteDeploymentResponse, error) {
	d, err := h.deployments.Delete(ctx, req.GetDeploymentId())
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.DeleteDeploymentResponse{Deployment: deploymentToProto(d, mayReadSecrets(ctx))}, nil
}

// GetDeploymentStatus implements WorkflowRuntimeService.
func (h *Handler) GetDeploymentStatus(ctx context.Context, req *v1.GetDeploymentStatusRequest) (*v1.GetDeploymentStatusResponse, error) {
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
	return h.deploymentStatusResponse(ctx, d)
}

// ListDeployments implements WorkflowRuntimeService.
func (h *Handler) ListDeployments(ctx context.Context, req *v1.ListDeploymentsRequest) (*v1.ListDeploymentsResponse, error) {
	statuses := make([]deployments.Status, len(req.GetStatuses()))
	for i, s := range req.GetStatuses() {
		statuses[i] = deploymentStatusFromProto(s)
	}
	list, next, err := h.deployments.List(ctx, deployments.ListQuery{
		Statuses:  statuses,
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.ListDeploymentsResponse{Deployments: make([]*v1.Deployment, len(list)), NextPageToken: next}
	secrets := mayReadSecrets(ctx)
	for i, d := range list {
		resp.Deployments[i] = deploymentToProto(d, secrets)
	}
	return resp, nil
}

// GetSystemHealth implements WorkflowRuntimeService with the same checks as /health, and the
// same live instances (the instance registry), by role then id.
func (h *Handler) GetSystemHealth(ctx context.Context, _ *v1.GetSystemHealthRequest) (*v1.GetSystemHealthResponse, error) {
	r := h.health.Check(ctx)
	resp := &v1.GetSystemHealthResponse{
		Status:    r.Status,
		Timestamp: timestamppb.New(r.Timestamp),
		Version:   r.Version,
	}
	for _, name := range slices.Sorted(maps.Keys(r.Dependencies)) {
		dep := r.Dependencies[name]
		resp.Dependencies = append(resp.Dependencies, &v1.DependencyHealth{
			Name:    name,
			Status:  dep.Status,
			Latency: durationpb.New(time.Duration(dep.LatencyMs * float64(time.Millisecond))),
			Error:   dep.Error,
		})
	}
	for _, role := range slices.Sorted(maps.Keys(r.Instances)) {
		for _, in := range r.Instances[role] {
			resp.Instances = append(resp.Instances, roleInstanceToProto(in))
		}
	}
	return resp, nil
}
