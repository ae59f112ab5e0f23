package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// The TriggerWorkflow baseline is a minimal handler: a canned answer of the size the service
// returns, and nothing else. It runs one of two ways:
//
//   - as a process of its own (`bench baseline-server`, the default of `bench trigger`), set up
//     as `workflow-runtime serve` sets up the service: the same server stack, the same
//     telemetry (otelconnect with the metrics provider) and the same logger (one JSON access
//     line per call on stdout, which the bench sends to a file as the service's would be).
//     Service and baseline then differ by the handler alone, so the ratio says what storage
//     and the queue cost.
//   - inside the bench process (`--baseline in-process`), without telemetry, its access lines
//     formatted and discarded: it shares the process with the client, which also measures
//     what it costs to be a process of its own with telemetry and a log.

// baselineHandler answers TriggerWorkflow with a canned execution of the size the service
// returns, and nothing else.
type baselineHandler struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler
	resp *v1.TriggerWorkflowResponse
}

func (h *baselineHandler) TriggerWorkflow(context.Context, *v1.TriggerWorkflowRequest) (*v1.TriggerWorkflowResponse, error) {
	return h.resp, nil
}

func newBaselineHandler() *baselineHandler {
	now := timestamppb.New(time.Now())
	return &baselineHandler{resp: &v1.TriggerWorkflowResponse{Execution: &v1.Execution{
		Id:            uuid.Must(uuid.NewV7()).String(),
		DeploymentId:  uuid.NewString(),
		WorkflowId:    "bench-trigger-00000000",
		Revision:      1,
		Status:        v1.ExecutionStatus_EXECUTION_STATUS_PENDING,
		TriggerType:   v1.TriggerType_TRIGGER_TYPE_MANUAL,
		TriggerData:   "{}",
		ScheduledTime: now,
		CreateTime:    now,
		UpdateTime:    now,
	}}}
}

// startBaseline serves the baseline handler inside this process on 127.0.0.1 with the
// service's server stack and default configuration (compression threshold, limits,
// interceptors), without telemetry. Its access log is formatted like the service's but
// discarded. It returns the base URL and a stop function.
func startBaseline(ctx context.Context) (string, func(), error) {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.TriggerRate = 0                                      // as the measured service runs (WFR_TRIGGER_RATE=0, docs/benchmarks.md)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil)) //nolint:sloglint // formats the access line as the service does, so both sides pay for it
	srv := httpserver.New(cfg, newBaselineHandler(), health.NewChecker(health.Options{}), logger)
	if err := srv.Start(ctx); err != nil {
		return "", nil, fmt.Errorf("start baseline server: %w", err)
	}
	return "http://" + srv.Addr(), func() { _ = srv.Stop(context.WithoutCancel(ctx)) }, nil
}

// ServeBaseline serves the baseline handler on addr until ctx ends, set up as `serve` sets up
// the service: the default configuration, the telemetry provider and interceptors, and the
// service's logger writing to stdout.
func ServeBaseline(ctx context.Context, addr string, stdout io.Writer) error {
	logger, closer, err := telemetry.OpenLogger(stdout, telemetry.LogOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = closer.Close() }()
	p, err := telemetry.NewProvider(ctx, telemetry.Options{ServiceName: "workflow-runtime-bench-baseline", Role: "api"})
	if err != nil {
		return err
	}
	defer func() { _ = p.Shutdown(context.WithoutCancel(ctx)) }()
	cfg := config.Default()
	cfg.Addr = addr
	cfg.TriggerRate = 0 // as the measured service runs (WFR_TRIGGER_RATE=0, docs/benchmarks.md)
	srv := httpserver.New(cfg, newBaselineHandler(), health.NewChecker(health.Options{}), logger, httpserver.WithTelemetry(p))
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("start baseline server: %w", err)
	}
	<-ctx.Done()
	return srv.Stop(context.WithoutCancel(ctx))
}

// startBaselineProcess runs command (which must serve the baseline, as `workflow-runtime bench
// baseline-server` does) with --addr on a free loopback port and its output in a temporary
// file, waits until it answers /health, and returns its base URL and a stop function.
func startBaselineProcess(ctx context.Context, command []string) (string, func(), error) {
	addr, err := freeAddr(ctx)
	if err != nil {
		return "", nil, err
	}
	c, err := startChild(ctx, childSpec{
		name:    "baseline",
		command: append(append([]string(nil), command...), "--addr", addr),
		addr:    addr, ready: "/health", readyTimeout: 15 * time.Second,
	})
	if err != nil {
		return "", nil, err
	}
	// Its exit status says nothing once it was asked to stop.
	return c.url, func() { _ = c.stop() }, nil
}
