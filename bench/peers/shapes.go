package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// peer is a running queue (client plus workers) under measurement.
type peer interface {
	// enqueue enqueues one noop job with sequence number seq.
	enqueue(ctx context.Context, seq int64) error
	// completed is how many jobs the queue has recorded as completed.
	completed(ctx context.Context, rec *recorder) (int64, error)
	// stop stops the workers and removes what the run stored.
	stop()
}

// shapeConfig is the load of one shape; each shape reads the fields it names.
type shapeConfig struct {
	Concurrency int           // enqueue: callers; e2e, pickup: enqueues in flight at most
	Duration    time.Duration // enqueue: measuring window; pickup: how long to enqueue
	Warmup      time.Duration // enqueue: before the window, not counted; pickup: enqueued at Rate first, not measured
	Count       int           // e2e: jobs
	Rate        float64       // e2e: enqueues per second, 0 flat out; pickup: enqueues per second
	Timeout     time.Duration // e2e, pickup: how long to wait for every job after the last enqueue
}

// result is one measurement, printed as one JSON line.
type result struct {
	Peer     string            `json:"peer"`
	Version  string            `json:"version"`
	Shape    string            `json:"shape"`
	Settings map[string]string `json:"settings"`

	Count   int     `json:"count"`   // enqueue: calls in the window; e2e, pickup: jobs enqueued
	Errors  int     `json:"errors"`  // enqueue calls that failed
	Seconds float64 `json:"seconds"` // enqueue: the window; e2e: first enqueue → last completed; pickup: the enqueue phase
	PerSec  float64 `json:"per_sec"` // enqueue: calls/s; e2e: jobs completed/s; pickup: achieved enqueue rate
	P50Ms   float64 `json:"p50_ms"`  // enqueue: call latency; pickup: enqueue (River: created_at) → worker start
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`

	Completed  int64 `json:"completed,omitempty"`  // e2e: jobs the queue recorded as completed
	Started    int   `json:"started,omitempty"`    // e2e, pickup: distinct jobs whose worker started
	Duplicates int   `json:"duplicates,omitempty"` // e2e, pickup: starts of a job already started
	Lost       int   `json:"lost"`                 // e2e, pickup: jobs enqueued and never started (e2e: or not completed)
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// runEnqueue is `bench trigger`'s shape: callers enqueuing back to back, with the workers
// running (as a role-all service process works what it is triggered), throughput and call
// latency over the window.
func runEnqueue(ctx context.Context, p peer, cfg shapeConfig, res *result) error {
	var seq atomic.Int64
	r := closedLoop(ctx, cfg.Concurrency, cfg.Warmup, cfg.Duration, func(ctx context.Context) error {
		return p.enqueue(ctx, seq.Add(1))
	})
	if len(r.latencies) == 0 && r.firstErr != nil {
		return fmt.Errorf("every enqueue failed: %w", r.firstErr)
	}
	res.Count, res.Errors, res.Seconds = len(r.latencies), r.errors, r.elapsed.Seconds()
	res.PerSec = float64(len(r.latencies)) / r.elapsed.Seconds()
	res.P50Ms, res.P99Ms, res.MaxMs = msOf(percentile(r.latencies, 0.5)), msOf(percentile(r.latencies, 0.99)), msOf(percentile(r.latencies, 1))
	if r.errors > 0 {
		return fmt.Errorf("%d enqueues failed, first: %w", r.errors, r.firstErr)
	}
	return nil
}

// runE2E is `bench e2e`'s shape: Count jobs enqueued (flat out at Rate 0), the time from the
// first enqueue until the queue records the last one completed; fails unless every job ran
// once and completed.
func runE2E(ctx context.Context, p peer, rec *recorder, cfg shapeConfig, res *result) error {
	start := time.Now()
	r := paced(ctx, cfg.Rate, cfg.Count, 0, cfg.Concurrency, func(ctx context.Context, i int) error {
		return p.enqueue(ctx, int64(i))
	})
	enqueued := len(r.latencies)
	deadline := time.Now().Add(cfg.Timeout)
	// Every 20 ms, as bench e2e counts the service's executions with SQL.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := p.completed(ctx, rec)
		if err != nil {
			return fmt.Errorf("count completed jobs: %w", err)
		}
		res.Completed = n
		if n >= int64(enqueued) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	elapsed := time.Since(start)
	res.Count, res.Errors, res.Seconds = enqueued, r.errors, elapsed.Seconds()
	res.PerSec = float64(res.Completed) / elapsed.Seconds()
	res.Started, _, res.Duplicates = rec.snapshot()
	res.Lost = cfg.Count - min(res.Started, int(res.Completed))
	var errs []error
	if r.errors > 0 {
		errs = append(errs, fmt.Errorf("%d enqueues failed, first: %w", r.errors, r.firstErr))
	}
	if res.Lost > 0 || res.Duplicates > 0 || res.Completed != int64(cfg.Count) {
		errs = append(errs, fmt.Errorf("%d jobs: %d completed, %d started, %d started twice", cfg.Count, res.Completed, res.Started, res.Duplicates))
	}
	return errors.Join(errs...)
}

// runPickup is `bench pickup`'s shape: enqueues at a steady Rate for Duration, then, per job,
// the time from its enqueue to its worker starting, p50/p99.
func runPickup(ctx context.Context, p peer, rec *recorder, cfg shapeConfig, res *result) error {
	// The warm-up's jobs take sequence numbers below the first measured one.
	warm := int(cfg.Rate * cfg.Warmup.Seconds())
	w := paced(ctx, cfg.Rate, warm, 0, cfg.Concurrency, func(ctx context.Context, i int) error {
		return p.enqueue(ctx, int64(i))
	})
	r := paced(ctx, cfg.Rate, 0, cfg.Duration, cfg.Concurrency, func(ctx context.Context, i int) error {
		return p.enqueue(ctx, int64(warm+i))
	})
	enqueued := len(r.latencies)
	rec.waitDone(ctx, int64(len(w.latencies)+enqueued), cfg.Timeout)
	started, pickups, dups := rec.snapshotFrom(int64(warm))
	res.Count, res.Errors, res.Seconds = enqueued, r.errors, r.elapsed.Seconds()
	res.PerSec = float64(enqueued) / r.elapsed.Seconds()
	res.Started, res.Duplicates, res.Lost = started, dups, enqueued-started
	res.P50Ms, res.P99Ms, res.MaxMs = msOf(percentile(pickups, 0.5)), msOf(percentile(pickups, 0.99)), msOf(percentile(pickups, 1))
	var errs []error
	if r.errors > 0 {
		errs = append(errs, fmt.Errorf("%d enqueues failed, first: %w", r.errors, r.firstErr))
	}
	if res.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d of %d jobs did not start within %s", res.Lost, enqueued, cfg.Timeout))
	}
	return errors.Join(errs...)
}
