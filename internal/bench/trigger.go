package bench

import (
	"context"
	"fmt"
	"io"
	"time"
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
	// BaselineCommand starts the baseline as a process of its own (see baseline.go), e.g.
	// {"/path/to/workflow-runtime", "bench", "baseline-server"}; --addr is appended. Empty: the
	// baseline is served inside this process.
	BaselineCommand []string
}

// TriggerResult is what RunTrigger measured.
type TriggerResult struct {
	Baseline, Service Summary
}

// RunTrigger measures TriggerWorkflow against the baseline handler and then against the
// service, with the same client settings, and writes the table to out.
func RunTrigger(ctx context.Context, cfg TriggerConfig, out io.Writer) (*TriggerResult, error) {
	baseURL, stop, err := startBaseline(ctx)
	baselineName := "baseline (minimal handler, in process)"
	if len(cfg.BaselineCommand) > 0 {
		baseURL, stop, err = startBaselineProcess(ctx, cfg.BaselineCommand)
		baselineName = "baseline (minimal handler, own process)"
	}
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
			// A broken writer shows in the table write below, which returns its error.
			_, _ = fmt.Fprintf(out, "warning: %d calls failed, first: %v\n", r.errors, r.firstErr)
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
	if _, err := fmt.Fprintf(out, "TriggerWorkflow, workflow %s, concurrency %d, %s per side (after %s warm-up), Connect binary over h2c\n",
		workflowID, cfg.Concurrency, cfg.Duration, cfg.Warmup); err != nil {
		return res, err
	}
	return res, table(out, [][]string{
		{"", "calls", "errors", "throughput", "p50", "p99", "max"},
		{baselineName, fmt.Sprint(b.Count), fmt.Sprint(b.Errors), perSec(b.Throughput()), ms(b.P50), ms(b.P99), ms(b.Max)},
		{"service", fmt.Sprint(s.Count), fmt.Sprint(s.Errors), perSec(s.Throughput()), ms(s.P50), ms(s.P99), ms(s.Max)},
		{"service / baseline", "", "", times(ratio(s.Throughput(), b.Throughput())), times(ratio(float64(s.P50), float64(b.P50))), times(ratio(float64(s.P99), float64(b.P99))), ""},
	})
}
