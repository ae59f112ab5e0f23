package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// E2EConfig configures RunE2E.
type E2EConfig struct {
	// Addr is the service's base URL.
	Addr string
	// WorkflowID is the workflow to trigger; empty: a noop workflow deployed for the run.
	WorkflowID string
	// DatabaseURL, when set, is the service's database: completion is counted with SQL
	// instead of GetExecution calls.
	DatabaseURL string
	// Count is how many executions to trigger.
	Count int
	// Rate is triggers per second; 0 is flat out.
	Rate float64
	// Concurrency bounds the TriggerWorkflow calls in flight.
	Concurrency int
	// Timeout bounds the wait for every execution to end.
	Timeout time.Duration
}

// E2EResult is what RunE2E measured.
type E2EResult struct {
	// Triggered is how many TriggerWorkflow calls succeeded; TriggerErrors how many failed.
	Triggered, TriggerErrors int
	// Statuses counts the executions by final (or, for the lost, last seen) status.
	Statuses map[string]int
	// TriggerPhase is how long the triggering took; Elapsed from the first trigger until every
	// execution was seen terminal.
	TriggerPhase, Elapsed time.Duration
	// ServerSpan is from the first execution's created_at to the last one's finished_at, read
	// from the rows (0 without a database).
	ServerSpan time.Duration
}

// Lost is how many triggered executions did not end SUCCEEDED.
func (r *E2EResult) Lost() int { return r.Triggered - r.Statuses["SUCCEEDED"] }

// RunE2E triggers cfg.Count executions of a noop workflow and waits until each is SUCCEEDED,
// then writes the table to out. It fails when any execution did not succeed.
func RunE2E(ctx context.Context, cfg E2EConfig, out io.Writer) (*E2EResult, error) {
	c := NewClient(cfg.Addr)
	workflowID, err := deployNoop(ctx, c, cfg.WorkflowID, "bench-e2e")
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
		ids = make([]string, 0, cfg.Count)
	)
	start := time.Now()
	since := start.Add(-time.Second) // rows of this run: created after this (clock slack)
	r := paced(ctx, cfg.Rate, cfg.Count, 0, cfg.Concurrency, func(ctx context.Context) error {
		id, err := triggerOnce(ctx, c, workflowID)
		if err == nil {
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		}
		return err
	})
	res := &E2EResult{Triggered: len(ids), TriggerErrors: r.errors, TriggerPhase: time.Since(start)}
	if r.firstErr != nil {
		// A broken writer shows in the table write below, which returns its error.
		_, _ = fmt.Fprintf(out, "warning: %d triggers failed, first: %v\n", r.errors, r.firstErr)
	}

	if db != nil {
		res.Statuses, err = waitBySQL(ctx, db, workflowID, since, len(ids), cfg.Timeout)
	} else {
		res.Statuses, err = waitByRPC(ctx, c, ids, cfg.Timeout)
	}
	res.Elapsed = time.Since(start)
	if err != nil && !errors.Is(err, errTimedOut) {
		return res, err
	}
	if db != nil {
		res.ServerSpan, _ = serverSpan(ctx, db, workflowID, since)
	}

	rate := "flat out"
	if cfg.Rate > 0 {
		rate = perSec(cfg.Rate)
	}
	if _, err := fmt.Fprintf(out, "trigger to SUCCEEDED, workflow %s (noop), %d executions, %s, %d triggers in flight\n", workflowID, cfg.Count, rate, cfg.Concurrency); err != nil {
		return res, err
	}
	rows := [][]string{
		{"triggered", "trigger errors", "trigger rate", "succeeded", "not succeeded (lost)", "wall time", "throughput (wall)"},
		{fmt.Sprint(res.Triggered), fmt.Sprint(res.TriggerErrors), perSec(float64(res.Triggered) / res.TriggerPhase.Seconds()),
			fmt.Sprint(res.Statuses["SUCCEEDED"]), fmt.Sprint(res.Lost()), res.Elapsed.Round(time.Millisecond).String(),
			perSec(float64(res.Statuses["SUCCEEDED"]) / res.Elapsed.Seconds())},
	}
	if res.ServerSpan > 0 {
		rows[0] = append(rows[0], "first created → last finished", "throughput (rows)")
		rows[1] = append(rows[1], res.ServerSpan.Round(time.Millisecond).String(), perSec(float64(res.Statuses["SUCCEEDED"])/res.ServerSpan.Seconds()))
	}
	if err := table(out, rows); err != nil {
		return res, err
	}
	if res.Lost() > 0 || res.TriggerErrors > 0 {
		return res, fmt.Errorf("%d of %d executions did not succeed (statuses %v), %d triggers failed", res.Lost(), res.Triggered, res.Statuses, res.TriggerErrors)
	}
	return res, nil
}

var errTimedOut = errors.New("timed out waiting for executions")

// waitBySQL waits until want of the run's executions are terminal or timeout passed, and
// returns the run's executions counted by status. While it waits it counts only the unfinished
// ones (ExecutionCountUnfinished), which costs the database the walk of those alone: counting
// every status every 20 ms walked every finished row as well, and took a share of the
// database's CPU from the service under measurement as the run grew.
func waitBySQL(ctx context.Context, db *store.DB, workflowID string, since time.Time, want int, timeout time.Duration) (map[string]int, error) {
	deadline := time.Now().Add(timeout)
	for {
		unfinished, err := db.ExecutionCountUnfinished(ctx, workflowID, since)
		if err != nil {
			return nil, err
		}
		timedOut := time.Now().After(deadline)
		if unfinished == 0 || timedOut {
			byStatus, err := db.ExecutionCountByStatus(ctx, workflowID, since)
			if err != nil {
				return nil, err
			}
			counts, done := statusCounts(byStatus), 0
			for s, n := range byStatus {
				if s.Terminal() {
					done += n
				}
			}
			if done >= want {
				return counts, nil
			}
			if timedOut {
				return counts, errTimedOut
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statusCounts is byStatus by status name.
func statusCounts(byStatus map[execution.Status]int) map[string]int {
	counts := make(map[string]int, len(byStatus))
	for s, n := range byStatus {
		counts[string(s)] = n
	}
	return counts
}

// waitByRPC reads each execution with GetExecution until it is terminal.
func waitByRPC(ctx context.Context, c Client, ids []string, timeout time.Duration) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		next   = make(chan string)
		wg     sync.WaitGroup
	)
	for range 16 {
		wg.Go(func() {
			for id := range next {
				status := "UNKNOWN"
				for ctx.Err() == nil {
					resp, err := c.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: id})
					if err == nil {
						status = statusName(resp.GetExecution().GetStatus())
						if terminal(resp.GetExecution().GetStatus()) {
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return counts, errTimedOut
	}
	return counts, nil
}

// serverSpan is from the first created_at to the last finished_at of the run's executions.
func serverSpan(ctx context.Context, db *store.DB, workflowID string, since time.Time) (time.Duration, error) {
	rows, err := executionTimes(ctx, db, workflowID, since)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	first, last := rows[0].CreatedAt, time.Time{}
	for _, r := range rows {
		if r.CreatedAt.Before(first) {
			first = r.CreatedAt
		}
		if !r.FinishedAt.IsZero() && r.FinishedAt.After(last) {
			last = r.FinishedAt
		}
	}
	if last.IsZero() {
		return 0, nil
	}
	return last.Sub(first), nil
}

// executionTimes reads the timings of the run's executions, oldest first.
func executionTimes(ctx context.Context, db *store.DB, workflowID string, since time.Time) ([]store.ExecutionTiming, error) {
	rows, err := db.ExecutionTimings(ctx, workflowID, since)
	if err != nil {
		return nil, err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].CreatedAt.Before(rows[j].CreatedAt) })
	return rows, nil
}

func terminal(s v1.ExecutionStatus) bool {
	switch s {
	case v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED, v1.ExecutionStatus_EXECUTION_STATUS_FAILED,
		v1.ExecutionStatus_EXECUTION_STATUS_CANCELLED, v1.ExecutionStatus_EXECUTION_STATUS_TIMED_OUT,
		v1.ExecutionStatus_EXECUTION_STATUS_SKIPPED:
		return true
	}
	return false
}

// statusName is the table's name of s ("SUCCEEDED" for EXECUTION_STATUS_SUCCEEDED).
func statusName(s v1.ExecutionStatus) string {
	const prefix = "EXECUTION_STATUS_"
	name := s.String()
	if len(name) > len(prefix) {
		return name[len(prefix):]
	}
	return name
}
