package loadtest

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
	"github.com/workflow-runtime/workflow-runtime/server/config"
	"github.com/workflow-runtime/workflow-runtime/server/health"
	"github.com/workflow-runtime/workflow-runtime/server/httpserver"
)

// TriggerConfig configures RunTrigger.
type TriggerConfig struct {
	// Addr is the service's base URL, e.g. http://127.0.0.1:8080.
	Addr string
	// WorkflowID is the workflow to trigger; empty: a noop workflow deployed for the run.
	WorkflowID string
	// Concurrency is the number of callers, each calling back to back.
	Concurrency int
	// Duration is each measuring window (baseline, then service); Warmup precedes each.
	Duration, Warmup time.Duration
}

// TriggerResult is what RunTrigger measured.
type TriggerResult struct {
	Baseline, Service Summary
}

// RunTrigger measures TriggerWorkflow against the baseline handler and then against the
// service, with the same client settings, and writes the table to out.
func RunTrigger(ctx context.Context, cfg TriggerConfig, out io.Writer) (*TriggerResult, error) {
	baseURL, stop, err := startBaseline(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()

	service := NewClient(cfg.Addr)
	workflowID, err := deployNoop(ctx, service, cfg.WorkflowID, "bench-trigger")
	if err != nil {
		return nil, err
	}

	measure := func(c Client) (Summary, error) {
		r := closedLoop(ctx, cfg.Concurrency, cfg.Warmup, cfg.Duration, func(ctx context.Context, _ int) error {
			_, err := triggerOnce(ctx, c, workflowID)
			return err
		})
		if r.firstErr != nil && len(r.latencies) == 0 {
			return Summary{}, fmt.Errorf("every call failed: %w", r.firstErr)
		}
		if r.firstErr != nil {
			fmt.Fprintf(out, "warning: %d calls failed, first: %v\n", r.errors, r.firstErr)
		}
		return summarize(r.latencies, r.errors, r.elapsed), nil
	}
	res := &TriggerResult{}
	if res.Baseline, err = measure(NewClient(baseURL)); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if res.Service, err = measure(service); err != nil {
		return nil, fmt.Errorf("service at %s: %w", cfg.Addr, err)
	}

	b, s := res.Baseline, res.Service
	fmt.Fprintf(out, "TriggerWorkflow, workflow %s, concurrency %d, %s per side (after %s warm-up), Connect binary over h2c\n",
		workflowID, cfg.Concurrency, cfg.Duration, cfg.Warmup)
	return res, table(out, [][]string{
		{"", "calls", "errors", "throughput", "p50", "p99", "max"},
		{"baseline (minimal handler, in process)", fmt.Sprint(b.Count), fmt.Sprint(b.Errors), perSec(b.Throughput()), ms(b.P50), ms(b.P99), ms(b.Max)},
		{"service", fmt.Sprint(s.Count), fmt.Sprint(s.Errors), perSec(s.Throughput()), ms(s.P50), ms(s.P99), ms(s.Max)},
		{"service / baseline", "", "", times(ratio(s.Throughput(), b.Throughput())), times(ratio(float64(s.P50), float64(b.P50))), times(ratio(float64(s.P99), float64(b.P99))), ""},
	})
}

// baselineHandler answers TriggerWorkflow with a canned execution of the size the service
// returns, and nothing else.
type baselineHandler struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler
	resp *v1.TriggerWorkflowResponse
}

func (h *baselineHandler) TriggerWorkflow(context.Context, *v1.TriggerWorkflowRequest) (*v1.TriggerWorkflowResponse, error) {
	return h.resp, nil
}

// startBaseline serves the baseline handler on 127.0.0.1 with the service's own server stack
// and default configuration (compression threshold, limits, interceptors). Its access log is
// formatted like the service's but discarded. It returns the base URL and a stop function.
func startBaseline(ctx context.Context) (string, func(), error) {
	now := timestamppb.New(time.Now())
	h := &baselineHandler{resp: &v1.TriggerWorkflowResponse{Execution: &v1.Execution{
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
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil)) //nolint:sloglint // formats the access line as the service does, so both sides pay for it
	srv := httpserver.New(cfg, h, health.NewChecker(health.Options{}), logger)
	if err := srv.Start(ctx); err != nil {
		return "", nil, fmt.Errorf("start baseline server: %w", err)
	}
	return "http://" + srv.Addr(), func() { _ = srv.Stop(context.WithoutCancel(ctx)) }, nil
}
