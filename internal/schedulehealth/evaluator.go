package schedulehealth

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river/rivershared/startstop"

	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// Recorder receives each evaluation's figures: triggers per state name (every state, zeros
// included), the owed fires over every trigger, and the owed times not counted before.
// telemetry.ScheduleHealthMetrics implements it.
type Recorder interface {
	Record(ctx context.Context, triggers map[string]int64, owed, newlyOverdue int64)
}

// DefaultInterval is how often the Evaluator recomputes by default.
const DefaultInterval = 15 * time.Second

// EvaluatorConfig configures an Evaluator. Every field but Recorder has a default.
type EvaluatorConfig struct {
	// Interval between two evaluations (WFR_SCHEDULE_HEALTH_INTERVAL). Default
	// DefaultInterval.
	Interval time.Duration
	// Now is the clock of the verdicts. Default: the Service's.
	Now func() time.Time
	// Recorder receives the figures. Nil: nothing is recorded.
	Recorder Recorder
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Evaluator recomputes every trigger's verdict every Interval and hands the figures to its
// Recorder: the metrics of the api roles. It is a lifecycle: Start backgrounds it, Stop blocks.
type Evaluator struct {
	svc      *Service
	interval time.Duration
	now      func() time.Time
	recorder Recorder
	logger   *slog.Logger

	// counted is, per trigger, the newest owed time already added to the counter.
	counted map[scheduler.TriggerKey]time.Time

	startstop.BaseStartStop
}

// NewEvaluator returns an Evaluator over svc.
func NewEvaluator(svc *Service, cfg EvaluatorConfig) *Evaluator {
	e := &Evaluator{
		svc: svc, interval: cmp.Or(cfg.Interval, DefaultInterval), now: cfg.Now,
		recorder: cfg.Recorder, logger: cfg.Logger, counted: map[scheduler.TriggerKey]time.Time{},
	}
	if e.now == nil {
		e.now = svc.now
	}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	return e
}

// Start evaluates in the background: at once, then every interval, until Stop. Calling it on
// a running Evaluator does nothing; after Stop it starts again. Cancelling ctx does not stop it.
//
// Stop (startstop.BaseStartStop's) ends the loop and waits for it. Idempotent.
func (e *Evaluator) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := e.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // running already
	}
	go func() {
		defer stopped()
		started()
		e.loop(ctx)
	}()
	return nil
}

func (e *Evaluator) loop(ctx context.Context) {
	ticker := time.NewTicker(e.interval)
	defer ticker.Stop()
	for {
		if _, err := e.Pass(ctx); err != nil && ctx.Err() == nil {
			e.logger.WarnContext(ctx, "schedule health evaluation failed; the metrics keep their last figures", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// PassResult is one evaluation's figures.
type PassResult struct {
	Triggers     map[State]int64
	Owed         int64
	NewlyOverdue int64
}

// Pass evaluates every trigger once at the clock's now and records the figures. The loop calls
// it; tests call it with a controllable clock. Not safe for concurrent use.
func (e *Evaluator) Pass(ctx context.Context) (PassResult, error) {
	now := e.now()
	verdicts, triggers, err := e.svc.Evaluate(ctx, "", now)
	if err != nil {
		return PassResult{}, err
	}
	res := PassResult{Triggers: make(map[State]int64, len(States))}
	for _, s := range States {
		res.Triggers[s] = 0
	}
	seen := make(map[scheduler.TriggerKey]bool, len(verdicts))
	for i := range verdicts {
		v, t := &verdicts[i], triggers[i]
		res.Triggers[v.State]++
		res.Owed += v.Owed
		k := t.Key()
		seen[k] = true
		if v.State != StateOverdue {
			continue
		}
		after := v.LastSettled
		if prev, ok := e.counted[k]; ok && prev.After(after) {
			after = prev
		}
		n, newest := e.countOwed(t, after, now.Add(-e.svc.grace))
		res.NewlyOverdue += n
		if n > 0 {
			e.counted[k] = newest
		}
	}
	for k := range e.counted {
		if !seen[k] {
			delete(e.counted, k)
		}
	}
	if e.recorder != nil {
		byName := make(map[string]int64, len(res.Triggers))
		for s, n := range res.Triggers {
			byName[s.String()] = n
		}
		e.recorder.Record(ctx, byName, res.Owed, res.NewlyOverdue)
	}
	return res, nil
}

// countOwed counts the trigger's owed times in (after, until) through the service's cache
// (the first pass after a long outage counts from the last settled point, as the verdict did):
// the count and the newest.
func (e *Evaluator) countOwed(t *Trigger, after, until time.Time) (int64, time.Time) {
	trig, err := t.Cron.Trigger(t.WorkflowID)
	if err != nil {
		return 0, time.Time{}
	}
	n, _, newest := e.svc.owed.count(trig, after, until)
	return n, newest
}
