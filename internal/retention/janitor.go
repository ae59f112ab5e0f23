package retention

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river/rivershared/startstop"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
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
	// PartitionPeriod is the time range of one partition of executions and of the fire ledger
	// (PostgreSQL), aligned on multiples of it since 0001-01-01 UTC (a Monday: 168h makes weeks
	// from Monday 00:00 UTC, 24h days from 00:00 UTC). Zero: the Janitor neither creates nor
	// drops partitions (new rows then go to the default partitions) and only deletes rows.
	// NewJanitor takes it as it is: callers pass the setting (WFR_RETENTION_PARTITION_PERIOD).
	PartitionPeriod time.Duration
	// PartitionsAhead is how many periods after the current one have their partitions made in
	// advance. Default 3.
	PartitionsAhead int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnPass, when set, receives the counts of every finished pass (for metrics).
	OnPass func(JanitorResult)
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// JanitorResult counts what one pass deleted.
type JanitorResult struct {
	// ExecutionsDeleted and FiresDeleted count the rows deleted, by DELETE or with their
	// partition.
	ExecutionsDeleted int64
	FiresDeleted      int64
	// PartitionsCreated and PartitionsDropped count the partitions of both tables.
	PartitionsCreated int
	PartitionsDropped int
	// Deployments is the number of deployments visited.
	Deployments int
}

// Janitor deletes old terminal executions and fire ledger rows (see the package doc). It is a
// background part (startstop.Service): Start backgrounds it, Stop blocks until it has stopped.
type Janitor struct {
	startstop.BaseStartStop

	store Store
	cfg   JanitorConfig
}

// NewJanitor returns a Janitor over store.
func NewJanitor(store Store, cfg JanitorConfig) *Janitor {
	cfg.Interval = cmp.Or(cfg.Interval, 10*time.Minute)
	cfg.RetentionAge = cmp.Or(cfg.RetentionAge, deployments.DefaultRetentionAge)
	cfg.KeepLast = cmp.Or(cfg.KeepLast, deployments.DefaultRetentionKeepLast)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 500)
	cfg.PartitionsAhead = cmp.Or(cfg.PartitionsAhead, 3)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Janitor{store: store, cfg: cfg}
}

// Start runs a pass now and then every Interval, until Stop. It returns at once; calling it on a
// running Janitor does nothing; after Stop it starts again. Cancelling ctx does not stop it.
//
// Stop (startstop.BaseStartStop's) stops the loop, cancelling a pass under way (what it
// deleted stays deleted), and waits for it. Idempotent.
func (j *Janitor) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := j.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // already running: one start (River's startstop semantics)
	}
	go func() {
		defer stopped()
		started()
		j.loop(ctx)
	}()
	return nil
}

func (j *Janitor) loop(ctx context.Context) {
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
		if res.ExecutionsDeleted+res.FiresDeleted > 0 || res.PartitionsCreated+res.PartitionsDropped > 0 {
			j.cfg.Logger.InfoContext(ctx, "retention pass",
				slog.Int64("executions_deleted", res.ExecutionsDeleted), slog.Int64("fires_deleted", res.FiresDeleted),
				slog.Int("partitions_created", res.PartitionsCreated), slog.Int("partitions_dropped", res.PartitionsDropped))
		}
		t.Reset(j.cfg.Interval)
	}
}

// RunOnce makes one pass and returns what it deleted (also on error: the counts up to it).
// It reads every deployment's rule (age, keep-last cutoff) first; on PostgreSQL it then makes
// the partitions of the coming periods and drops the partitions whose every row has expired
// under those rules; last, per deployment, it deletes the expired rows that are left, in
// batches.
func (j *Janitor) RunOnce(ctx context.Context) (JanitorResult, error) {
	var res JanitorResult
	targets, err := j.store.RetentionTargetList(ctx)
	if err != nil {
		return res, fmt.Errorf("retention: %w", err)
	}
	now := j.cfg.Now()
	var errs []error
	rules := make([]Rule, len(targets))
	for i := range targets {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		rules[i], err = j.rule(ctx, &targets[i], now)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if j.cfg.PartitionPeriod > 0 {
		for _, table := range []string{TableExecutions, TableFireLedger} {
			if err := j.partitions(ctx, table, now, rules, &res); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := range targets {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.Deployments++
		ex, fires, err := j.sweep(ctx, &targets[i], &rules[i])
		res.ExecutionsDeleted += ex
		res.FiresDeleted += fires
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// rule reads what deployment t keeps: its age bound and keep-last cutoff. When the cutoff cannot
// be read the rule keeps every execution of t.
func (j *Janitor) rule(ctx context.Context, t *Target, now time.Time) (Rule, error) {
	age := cmp.Or(t.Config.RetentionAge, j.cfg.RetentionAge)
	keep := cmp.Or(t.Config.RetentionKeepLast, j.cfg.KeepLast)
	r := Rule{DeploymentID: t.DeploymentID, Before: now.Add(-age)}
	if keep > 0 {
		cutoff, ok, err := j.store.ExecutionKeepCutoff(ctx, t.DeploymentID, keep)
		if err != nil {
			r.KeepAll = true
			return r, fmt.Errorf("retention of %s: %w", t.WorkflowID, err)
		}
		r.KeepFrom, r.KeepAll = cutoff, !ok // fewer than keep executions: all stay
	}
	return r, nil
}

// partitions makes table's partitions up to PartitionsAhead periods after the current one and
// drops its past partitions whose every row has expired.
func (j *Janitor) partitions(ctx context.Context, table string, now time.Time, rules []Rule, res *JanitorResult) error {
	parts, ok, err := j.store.PartitionList(ctx, table)
	if err != nil || !ok {
		return err
	}
	period := j.cfg.PartitionPeriod
	from := now.UTC().Truncate(period)
	if n := len(parts); n > 0 {
		// Go on from the last partition, also over periods the Janitor was not running for, so
		// that their rows move out of the default partition.
		from = parts[n-1].To
	}
	until := now.UTC().Truncate(period).Add(time.Duration(j.cfg.PartitionsAhead+1) * period)
	for from.Before(until) {
		to := from.Truncate(period).Add(period)
		if _, err := j.store.PartitionCreate(ctx, table, from, to); err != nil {
			return fmt.Errorf("retention: %w", err)
		}
		res.PartitionsCreated++
		from = to
	}
	var errs []error
	for _, p := range parts {
		if p.To.After(now) {
			break // ordered by To: the rest are not over yet
		}
		rows, dropped, err := j.store.PartitionDropExpired(ctx, table, p.Name, rules)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: %w", err))
			continue
		}
		if dropped {
			res.PartitionsDropped++
			if table == TableExecutions {
				res.ExecutionsDeleted += rows
			} else {
				res.FiresDeleted += rows
			}
		}
	}
	return errors.Join(errs...)
}

// sweep deletes one deployment's expired rows, batch by batch.
func (j *Janitor) sweep(ctx context.Context, t *Target, r *Rule) (executions, fires int64, err error) {
	for {
		n, err := j.store.FireDeleteExpired(ctx, t.DeploymentID, r.Before, j.cfg.BatchSize)
		fires += n
		if err != nil {
			return executions, fires, fmt.Errorf("retention of %s: %w", t.WorkflowID, err)
		}
		if n < int64(j.cfg.BatchSize) {
			break
		}
	}
	if r.KeepAll {
		return executions, fires, nil
	}
	p := &DeleteExpiredParams{DeploymentID: t.DeploymentID, CreatedBefore: r.Before, KeepFrom: r.KeepFrom, Limit: j.cfg.BatchSize}
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
