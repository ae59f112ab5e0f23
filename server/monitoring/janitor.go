package monitoring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
)

// JanitorConfig tunes a Janitor. Every zero value means the stated default.
type JanitorConfig struct {
	// Interval between two passes. Default 10 minutes. The first pass runs at Start.
	Interval time.Duration
	// RetentionAge is the global retention age: terminal executions created longer ago are
	// deleted. A deployment's config.retention_age overrides it. Default
	// deployments.DefaultRetentionAge (30 days).
	RetentionAge time.Duration
	// KeepLast is the global count of newest executions per deployment that are always kept.
	// A deployment's config.retention_keep_last overrides it. Default
	// deployments.DefaultRetentionKeepLast (100).
	KeepLast int
	// BatchSize is the most rows one DELETE removes. Default 500.
	BatchSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnPass, when set, receives the counts of every finished pass (for metrics).
	OnPass func(JanitorResult)
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// JanitorResult counts what one pass deleted.
type JanitorResult struct {
	ExecutionsDeleted int64
	FiresDeleted      int64
	// Deployments is the number of deployments visited.
	Deployments int
}

// Janitor deletes old terminal executions and fire ledger rows (see the package doc). It is a
// background part: Start backgrounds it, Stop blocks until it has stopped.
type Janitor struct {
	store JanitorStore
	cfg   JanitorConfig

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewJanitor returns a Janitor over store.
func NewJanitor(store JanitorStore, cfg JanitorConfig) *Janitor {
	cfg.Interval = cmp.Or(cfg.Interval, 10*time.Minute)
	cfg.RetentionAge = cmp.Or(cfg.RetentionAge, deployments.DefaultRetentionAge)
	cfg.KeepLast = cmp.Or(cfg.KeepLast, deployments.DefaultRetentionKeepLast)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 500)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Janitor{store: store, cfg: cfg}
}

// Start runs a pass now and then every Interval, until Stop. It returns at once; calling it on a
// running Janitor is an error.
func (j *Janitor) Start(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done != nil {
		return errors.New("start janitor: already started")
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j.cancel, j.done = cancel, make(chan struct{})
	go j.loop(ctx, j.done)
	return nil
}

// Stop stops the loop (cancelling a pass under way; what it deleted stays deleted) and waits
// for it. Idempotent.
func (j *Janitor) Stop() {
	j.mu.Lock()
	cancel, done := j.cancel, j.done
	j.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (j *Janitor) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := j.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			j.cfg.Logger.ErrorContext(ctx, "retention pass failed", slog.Any("error", err))
		}
		if j.cfg.OnPass != nil {
			j.cfg.OnPass(res)
		}
		if res.ExecutionsDeleted+res.FiresDeleted > 0 {
			j.cfg.Logger.InfoContext(ctx, "retention pass",
				slog.Int64("executions_deleted", res.ExecutionsDeleted), slog.Int64("fires_deleted", res.FiresDeleted))
		}
		t.Reset(j.cfg.Interval)
	}
}

// RunOnce makes one pass over every deployment and returns what it deleted (also on error:
// the counts up to it).
func (j *Janitor) RunOnce(ctx context.Context) (JanitorResult, error) {
	var res JanitorResult
	targets, err := j.store.RetentionTargetList(ctx)
	if err != nil {
		return res, fmt.Errorf("retention: %w", err)
	}
	now := j.cfg.Now()
	var errs []error
	for _, t := range targets {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.Deployments++
		ex, fires, err := j.sweep(ctx, &t, now)
		res.ExecutionsDeleted += ex
		res.FiresDeleted += fires
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// sweep deletes one deployment's expired rows, batch by batch.
func (j *Janitor) sweep(ctx context.Context, t *RetentionTarget, now time.Time) (executions, fires int64, err error) {
	age := cmp.Or(t.Config.RetentionAge, j.cfg.RetentionAge)
	keep := cmp.Or(t.Config.RetentionKeepLast, j.cfg.KeepLast)
	before := now.Add(-age)

	for {
		n, err := j.store.FireDeleteExpired(ctx, t.DeploymentID, before, j.cfg.BatchSize)
		fires += n
		if err != nil {
			return executions, fires, fmt.Errorf("retention of %s: %w", t.WorkflowID, err)
		}
		if n < int64(j.cfg.BatchSize) {
			break
		}
	}

	p := &DeleteExpiredParams{DeploymentID: t.DeploymentID, CreatedBefore: before, Limit: j.cfg.BatchSize}
	if keep > 0 {
		cutoff, ok, err := j.store.ExecutionKeepCutoff(ctx, t.DeploymentID, keep)
		if err != nil {
			return executions, fires, fmt.Errorf("retention of %s: %w", t.WorkflowID, err)
		}
		if !ok {
			return executions, fires, nil // fewer than keep executions: all stay
		}
		p.KeepFrom = cutoff
	}
	for {
		n, err := j.store.ExecutionDeleteExpired(ctx, p)
		executions += n
		if err != nil {
			return executions, fires, fmt.Errorf("retention of %s: %w", t.WorkflowID, err)
		}
		if n < int64(j.cfg.BatchSize) {
			return executions, fires, nil
		}
	}
}
