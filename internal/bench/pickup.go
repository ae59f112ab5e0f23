package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// PickupConfig configures RunPickup.
type PickupConfig struct {
	// Addr is the service's base URL.
	Addr string
	// WorkflowID is the workflow to trigger; empty: a noop workflow deployed for the run.
	WorkflowID string
	// DatabaseURL, when set, is the service's database: timings are read with SQL instead of
	// GetExecution calls.
	DatabaseURL string
	// Rate is triggers per second, on a fixed schedule, for Warmup and then Duration.
	Rate     float64
	Duration time.Duration
	// Warmup is triggered at Rate before Duration; its executions are waited for but not
	// measured, so the first second's cold connections and pools do not set the tail.
	Warmup time.Duration
	// Concurrency bounds the TriggerWorkflow calls in flight.
	Concurrency int
	// Timeout bounds the wait for every execution to end.
	Timeout time.Duration
}

// PickupResult is what RunPickup measured.
type PickupResult struct {
	// Triggered is how many triggers succeeded, in TriggerPhase.
	Triggered, TriggerErrors int
	TriggerPhase             time.Duration
	// Trigger is the TriggerWorkflow call latency; Pickup is started_at − created_at.
	Trigger, Pickup Summary
	// NotStarted is how many executions have no started_at.
	NotStarted int
}

// RunPickup triggers at a steady rate and measures, per execution, the time from the trigger
// being accepted (created_at) to the execution RUNNING (started_at), then writes the table.
func RunPickup(ctx context.Context, cfg PickupConfig, out io.Writer) (*PickupResult, error) {
	c := NewClient(cfg.Addr)
	workflowID, err := deployNoop(ctx, c, cfg.WorkflowID, "bench-pickup")
	if err != nil {
		return nil, err
	}
	var db *store.DB
	if cfg.DatabaseURL != "" {
		if db, err = store.Open(ctx, cfg.DatabaseURL, store.Options{MaxOpenConns: 2}); err != nil {
			return nil, err
		}
		defer func() { _ = db.Close() }()
	}

	var (
		mu  sync.Mutex
		ids []string
	)
	since := time.Now().Add(-time.Second)
	warm := 0
	if cfg.Warmup > 0 {
		w := paced(ctx, cfg.Rate, 0, cfg.Warmup, cfg.Concurrency, func(ctx context.Context) error {
			_, err := triggerOnce(ctx, c, workflowID)
			return err
		})
		warm = len(w.latencies)
	}
	r := paced(ctx, cfg.Rate, 0, cfg.Duration, cfg.Concurrency, func(ctx context.Context) error {
		id, err := triggerOnce(ctx, c, workflowID)
		if err == nil {
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		}
		return err
	})
	res := &PickupResult{
		Triggered: len(ids), TriggerErrors: r.errors, TriggerPhase: r.elapsed,
		Trigger: summarize(r.latencies, r.errors, r.elapsed),
	}
	if r.firstErr != nil {
		// A broken writer shows in the table write below, which returns its error.
		_, _ = fmt.Fprintf(out, "warning: %d triggers failed, first: %v\n", r.errors, r.firstErr)
	}

	var pickups []time.Duration
	if db != nil {
		if _, err := waitBySQL(ctx, db, workflowID, since, warm+len(ids), cfg.Timeout); err != nil && !errors.Is(err, errTimedOut) {
			return nil, err
		}
		rows, err := executionTimes(ctx, db, workflowID, since)
		if err != nil {
			return nil, err
		}
		measured := make(map[string]bool, len(ids))
		for _, id := range ids {
			measured[id] = true
		}
		for _, row := range rows {
			if !measured[row.ID] {
				continue // a warm-up execution
			}
			if row.StartedAt.IsZero() {
				res.NotStarted++
				continue
			}
			pickups = append(pickups, row.StartedAt.Sub(row.CreatedAt))
		}
	} else {
		if _, err := waitByRPC(ctx, c, ids, cfg.Timeout); err != nil && !errors.Is(err, errTimedOut) {
			return nil, err
		}
		for _, id := range ids {
			resp, err := c.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: id})
			if err != nil || resp.GetExecution().GetStartTime() == nil {
				res.NotStarted++
				continue
			}
			e := resp.GetExecution()
			pickups = append(pickups, e.GetStartTime().AsTime().Sub(e.GetCreateTime().AsTime()))
		}
	}
	res.Pickup = summarize(pickups, res.NotStarted, res.TriggerPhase)

	if _, err := fmt.Fprintf(out, "pickup latency (created_at → started_at), workflow %s (noop), %s for %s after a %s warm-up\n", workflowID, perSec(cfg.Rate), cfg.Duration, cfg.Warmup); err != nil {
		return res, err
	}
	p, tr := res.Pickup, res.Trigger
	err = table(out, [][]string{
		{"", "count", "not started", "achieved rate", "p50", "p99", "max"},
		{"pickup", fmt.Sprint(p.Count), fmt.Sprint(res.NotStarted), perSec(float64(res.Triggered) / res.TriggerPhase.Seconds()), ms(p.P50), ms(p.P99), ms(p.Max)},
		{"TriggerWorkflow call", fmt.Sprint(tr.Count), fmt.Sprint(tr.Errors), "", ms(tr.P50), ms(tr.P99), ms(tr.Max)},
	})
	return res, err
}
