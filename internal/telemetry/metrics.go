package telemetry

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics are the service's own instruments; the Prometheus names (what /metrics shows) are
// given with each method. A nil *Metrics is valid and records nothing, so components hold one
// without checking. RPC rate and latency come from otelconnect
// (rpc_server_call_duration_seconds histogram by rpc_method — "package.Service/Method" — and
// rpc_response_status_code; rpc_client_call_duration_seconds for the engine client), query
// and pool metrics from bunotel and redisotel.
type Metrics struct {
	meter         metric.Meter
	executions    metric.Int64Counter
	lockWaits     metric.Int64Counter
	fireLateness  metric.Float64Histogram
	misfires      metric.Int64Counter
	janitorDelete metric.Int64Counter
	takingWork    metric.Int64Gauge
	shardHeld     metric.Int64Gauge
	shardMoves    metric.Int64Counter
}

func newMetrics(m metric.Meter) (*Metrics, error) {
	var (
		ms  = &Metrics{meter: m}
		err error
		e   error
	)
	ms.executions, e = m.Int64Counter("wfr.executions.finished",
		metric.WithDescription("Executions that reached an outcome, by status."), metric.WithUnit("{execution}"))
	err = firstErr(err, e)
	ms.lockWaits, e = m.Int64Counter("wfr.lock.waits",
		metric.WithDescription("Admissions that found the workflow lock held, by overlap policy."), metric.WithUnit("{admission}"))
	err = firstErr(err, e)
	ms.fireLateness, e = m.Float64Histogram("wfr.scheduler.fire.lateness",
		metric.WithDescription("How late a cron fire ran after its jittered time."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
	err = firstErr(err, e)
	ms.misfires, e = m.Int64Counter("wfr.scheduler.misfires",
		metric.WithDescription("Cron fire times missed while no scheduler ran."), metric.WithUnit("{fire}"))
	err = firstErr(err, e)
	ms.janitorDelete, e = m.Int64Counter("wfr.janitor.deleted",
		metric.WithDescription("Rows deleted by the retention janitor, by table."), metric.WithUnit("{row}"))
	err = firstErr(err, e)
	ms.takingWork, e = m.Int64Gauge("wfr.worker.taking_work",
		metric.WithDescription("1 while the worker takes work from the queue, 0 while it is paused (not ready, or the engine unreachable)."))
	err = firstErr(err, e)
	ms.shardHeld, e = m.Int64Gauge("wfr.scheduler.triggers.held",
		metric.WithDescription("Cron triggers this scheduler holds as their primary or their standby, as of its last rebalance."), metric.WithUnit("{trigger}"))
	err = firstErr(err, e)
	ms.shardMoves, e = m.Int64Counter("wfr.scheduler.rebalance.moves",
		metric.WithDescription("Cron jobs scheduled or removed by this scheduler's rebalances (membership changes and handoffs)."), metric.WithUnit("{job}"))
	err = firstErr(err, e)
	if err != nil {
		return nil, fmt.Errorf("create instruments: %w", err)
	}
	return ms, nil
}

func firstErr(err, e error) error {
	if err != nil {
		return err
	}
	return e
}

// ExecutionFinished counts an execution that reached status (SUCCEEDED, FAILED, CANCELLED,
// TIMED_OUT, SKIPPED): wfr_executions_finished_total{status}. The worker calls it when it
// records an outcome.
func (m *Metrics) ExecutionFinished(ctx context.Context, status string) {
	if m == nil {
		return
	}
	m.executions.Add(ctx, 1, metric.WithAttributes(attribute.String("status", status)))
}

// LockWait counts an admission that found the workflow lock held, by overlap policy (SKIP,
// BUFFER_ONE, …): wfr_lock_waits_total{policy}.
func (m *Metrics) LockWait(ctx context.Context, policy string) {
	if m == nil {
		return
	}
	m.lockWaits.Add(ctx, 1, metric.WithAttributes(attribute.String("policy", policy)))
}

// FireLateness records how late a cron fire ran after its (jittered) time:
// wfr_scheduler_fire_lateness_seconds histogram. For the scheduler.
func (m *Metrics) FireLateness(ctx context.Context, late time.Duration) {
	if m == nil {
		return
	}
	m.fireLateness.Record(ctx, max(late, 0).Seconds())
}

// Misfire counts n fire times of the workflow recorded MISSED (after scheduler downtime or a
// store outage): wfr_scheduler_misfires_total{workflow}. For the scheduler. One series per
// workflow that ever missed a fire: bounded by the deployments, as the other per-workflow
// views of the API.
func (m *Metrics) Misfire(ctx context.Context, workflowID string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.misfires.Add(ctx, n, metric.WithAttributes(attribute.String("workflow", workflowID)))
}

// JanitorDeleted counts n rows the retention janitor deleted from table (executions, fires):
// wfr_janitor_deleted_total{table}. For the janitor.
func (m *Metrics) JanitorDeleted(ctx context.Context, table string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.janitorDelete.Add(ctx, n, metric.WithAttributes(attribute.String("table", table)))
}

// TakingWork records whether the worker takes work from the queue: wfr_worker_taking_work, 1
// while it does, 0 while it is paused because a dependency it needs does not answer (storage,
// queue, engine). For the worker.
func (m *Metrics) TakingWork(ctx context.Context, taking bool) {
	if m == nil {
		return
	}
	var v int64
	if taking {
		v = 1
	}
	m.takingWork.Record(ctx, v)
}

// SchedulerShard records a scheduler's share of the cron triggers after a rebalance:
// wfr_scheduler_triggers_held{role} (primary, standby) and wfr_scheduler_rebalance_moves_total
// (the jobs it scheduled or removed). For the scheduler, when it shares the triggers.
func (m *Metrics) SchedulerShard(ctx context.Context, primary, standby, moves int64) {
	if m == nil {
		return
	}
	m.shardHeld.Record(ctx, primary, metric.WithAttributes(attribute.String("role", "primary")))
	m.shardHeld.Record(ctx, standby, metric.WithAttributes(attribute.String("role", "standby")))
	if moves > 0 {
		m.shardMoves.Add(ctx, moves)
	}
}

// QueueCounts is what ObserveQueue publishes of the queue.
type QueueCounts struct {
	// Ready is the number of messages ready and not yet delivered.
	Ready int64
	// Pending is the number of messages delivered and neither acknowledged nor dead-lettered.
	Pending int64
	// Delayed is the number of messages waiting for their time.
	Delayed int64
	// DeadLettered is the number of messages in the dead-letter stream.
	DeadLettered int64
	// OldestAge is how long the oldest message not yet acknowledged has been ready; 0 when
	// there is none.
	OldestAge time.Duration
}

// QueueStats reads the queue's counts (the app adapts queue.Queue's Stats to it).
type QueueStats func(ctx context.Context) (QueueCounts, error)

// ObserveQueue publishes the queue's counts, read by stats at each scrape:
// wfr_queue_messages{state="ready|pending|delayed|dead_lettered"} and
// wfr_queue_oldest_age_seconds. Call the returned function to stop.
func (m *Metrics) ObserveQueue(stats QueueStats) (unregister func() error, err error) {
	if m == nil {
		return func() error { return nil }, nil
	}
	messages, err := m.meter.Int64ObservableGauge("wfr.queue.messages",
		metric.WithDescription("Messages in the execution queue, by state."), metric.WithUnit("{message}"))
	if err != nil {
		return nil, fmt.Errorf("create queue gauge: %w", err)
	}
	age, err := m.meter.Float64ObservableGauge("wfr.queue.oldest_age",
		metric.WithDescription("Age of the oldest message not yet acknowledged."), metric.WithUnit("s"))
	if err != nil {
		return nil, fmt.Errorf("create queue age gauge: %w", err)
	}
	state := func(s string) metric.ObserveOption {
		return metric.WithAttributes(attribute.String("state", s))
	}
	reg, err := m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, err := stats(ctx)
		if err != nil {
			return fmt.Errorf("queue stats: %w", err)
		}
		o.ObserveInt64(messages, s.Ready, state("ready"))
		o.ObserveInt64(messages, s.Pending, state("pending"))
		o.ObserveInt64(messages, s.Delayed, state("delayed"))
		o.ObserveInt64(messages, s.DeadLettered, state("dead_lettered"))
		o.ObserveFloat64(age, s.OldestAge.Seconds())
		return nil
	}, messages, age)
	if err != nil {
		return nil, fmt.Errorf("register queue callback: %w", err)
	}
	return reg.Unregister, nil
}
