package execution

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// ServiceConfig configures a Service. Every field has a default.
type ServiceConfig struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// TriggerBatch is the most concurrent Trigger calls recorded by one statement and enqueued by
	// one round trip. Default 128.
	TriggerBatch int
	// EnqueueTimeout bounds one attempt to enqueue recorded executions. Nobody waits for it: the
	// answer of Trigger and Fire depends on the row alone. Default 1s.
	EnqueueTimeout time.Duration
	// EnqueueRetry is how often kept executions are offered to a queue that failed. Default
	// 100ms: a failing Redis refuses a connection at once, and what was accepted during its
	// outage goes out as soon as it answers.
	EnqueueRetry time.Duration
	// EnqueueKeep is the most executions kept for a queue that fails; beyond that the oldest
	// are left to the sweeper. Default 100000.
	EnqueueKeep int
	// RequeueAfter: a Trigger or Fire deduplicated onto a PENDING execution that is due and has
	// not changed for this long enqueues it again, since its message may be lost (the process
	// that recorded it died before the enqueue; Redis lost it). A duplicate message is harmless
	// (doc.go). Default 2s: longer than an enqueue takes, so a repeat right after the first
	// call adds no message.
	RequeueAfter time.Duration
	// MaxTriggerDataBytes is the largest trigger data Trigger records (WFR_MAX_TRIGGER_DATA_BYTES):
	// a larger one is refused with invalid_argument on trigger_data, rule
	// limits.max_trigger_data_bytes, whether it came from TriggerWorkflow or a webhook. Default
	// DefaultMaxTriggerDataBytes.
	MaxTriggerDataBytes int
}

// DefaultMaxTriggerDataBytes is the default of ServiceConfig.MaxTriggerDataBytes (256 KiB).
const DefaultMaxTriggerDataBytes = 256 << 10

// RuleMaxTriggerDataBytes names the violation of ServiceConfig.MaxTriggerDataBytes; the webhook
// endpoint answers it with 413.
const RuleMaxTriggerDataBytes = "limits.max_trigger_data_bytes"

// ServiceStore is what a Service needs of storage: it records executions (TriggerStore for
// Trigger, ExecutionInsert for Fire), reads them and cancels them. Conditional writes that find
// their condition false return errdefs.ErrConflict.
type ServiceStore interface {
	TriggerStore
	// ExecutionInsert inserts e. When (workflow_id, idempotency_key) or, for cron fires,
	// (workflow_id, trigger_id, scheduled_at) is taken, it inserts nothing and returns the existing
	// execution with inserted false.
	ExecutionInsert(ctx context.Context, e *Execution) (got *Execution, inserted bool, err error)
	// ExecutionInsertMany is ExecutionInsert for the cron fires of one workflow, in one write:
	// the results are in es's order.
	ExecutionInsertMany(ctx context.Context, es []*Execution) ([]InsertResult, error)
	// ExecutionGet returns one execution; errdefs.ErrNotFound when there is none.
	ExecutionGet(ctx context.Context, id string) (*Execution, error)
	// ExecutionCancel cancels: a PENDING execution ends CANCELLED at once; a RUNNING one gets
	// cancel_requested; a terminal one is unchanged. It returns the row after the change.
	ExecutionCancel(ctx context.Context, id, reason string, now time.Time) (*Execution, error)
}

// InsertResult is one row of ExecutionInsertMany: the execution recorded, or the one that holds
// its key already (Inserted false).
type InsertResult struct {
	Execution *Execution
	Inserted  bool
}

// ServiceQueue is what a Service needs of the queue: its outbox enqueues recorded executions,
// one or a batch at a time.
type ServiceQueue interface {
	Enqueue(ctx context.Context, m queue.Message) error
	EnqueueBatch(ctx context.Context, ms []queue.Message) error
}

// Service records executions and hands them to the queue (the api role's half of the path of
// one execution), reads them, and cancels them.
type Service struct {
	store    ServiceStore
	notifier Notifier
	changes  *changeFeed
	now      func() time.Time
	logger   *slog.Logger
	triggers *triggerBatcher
	outbox   *outbox
	requeue  time.Duration // ServiceConfig.RequeueAfter
	maxData  int           // ServiceConfig.MaxTriggerDataBytes
}

// NewService returns a Service.
func NewService(store ServiceStore, q ServiceQueue, notifier Notifier, cfg ServiceConfig) *Service {
	s := &Service{store: store, notifier: notifier, now: cfg.Now, logger: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.changes = newChangeFeed(notifier, s.logger)
	s.outbox = newOutbox(q, s.logger, cmp.Or(cfg.EnqueueTimeout, time.Second), cmp.Or(cfg.EnqueueRetry, 100*time.Millisecond),
		cmp.Or(cfg.EnqueueKeep, 100_000))
	s.requeue = cmp.Or(cfg.RequeueAfter, 2*time.Second)
	s.maxData = cmp.Or(max(cfg.MaxTriggerDataBytes, 0), DefaultMaxTriggerDataBytes)
	s.triggers = newTriggerBatcher(store, s.outbox, s.logger, cmp.Or(max(cfg.TriggerBatch, 0), 128))
	return s
}

// Flush waits until every recorded execution has been handed to the queue, and its change
// published, or ctx ends: at shutdown, before the queue's connection closes.
func (s *Service) Flush(ctx context.Context) error {
	if err := s.outbox.flush(ctx); err != nil {
		return err
	}
	return s.changes.flush(ctx)
}

// requeueIfLost enqueues e again when it is a PENDING execution, due, unchanged for
// RequeueAfter: its message may be lost. The message carries ctx's trace context.
func (s *Service) requeueIfLost(ctx context.Context, e *Execution) {
	if e == nil || e.Status != StatusPending {
		return
	}
	now := s.now()
	if e.AvailableAt.After(now) || now.Sub(e.UpdatedAt) < s.requeue {
		return
	}
	s.outbox.add(message(e, telemetry.Traceparent(ctx)))
}

// TriggerParams is the input of Trigger: exactly one of WorkflowID and WebhookPath.
type TriggerParams struct {
	WorkflowID  string
	WebhookPath string
	// TriggerData is a JSON document (may be empty) of at most ServiceConfig.MaxTriggerDataBytes.
	TriggerData []byte
	// IdempotencyKey makes one execution per (workflow, key).
	IdempotencyKey string
}

// Trigger records a PENDING execution of a DEPLOYED deployment and enqueues it. A repeated
// idempotency key returns the first execution with deduplicated true, and enqueues it again
// only when it is PENDING and its message may be lost (ServiceConfig.RequeueAfter). The row is
// the truth: Trigger answers once the row is written, and the outbox enqueues in the
// background, keeping what a failing queue refuses until it answers. Concurrent calls are recorded and enqueued in batches
// (triggerBatcher); when ctx ends first, Trigger returns ctx.Err() and the execution may still
// be recorded. The worker's span continues the trace of ctx's span (the RPC's server span, the
// webhook request's remote parent): its context travels in the queue message.
func (s *Service) Trigger(ctx context.Context, p *TriggerParams) (e *Execution, deduplicated bool, err error) {
	if len(p.TriggerData) > s.maxData {
		return nil, false, errdefs.Invalid("trigger_data", RuleMaxTriggerDataBytes,
			"%d bytes; this server accepts at most %d (WFR_MAX_TRIGGER_DATA_BYTES)", len(p.TriggerData), s.maxData)
	}
	if len(p.TriggerData) > 0 && !json.Valid(p.TriggerData) {
		return nil, false, errdefs.Invalid("trigger_data", "string.json", "must be a JSON document")
	}
	kind := TriggerManual
	if p.WebhookPath != "" {
		kind = TriggerWebhook
	}
	now := s.now().UTC().Truncate(time.Microsecond) // what the database keeps
	e = &Execution{
		ID:             uuid.Must(uuid.NewV7()).String(),
		WorkflowID:     p.WorkflowID,
		Status:         StatusPending,
		TriggerType:    kind,
		TriggerData:    p.TriggerData,
		IdempotencyKey: p.IdempotencyKey,
		ScheduledAt:    now,
		NominalAt:      now,
		AvailableAt:    now,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	res, err := s.triggers.trigger(ctx, TriggerRow{Execution: e, WebhookPath: p.WebhookPath})
	if err != nil {
		return nil, false, err
	}
	if res.Err != nil {
		return nil, false, res.Err // says what was looked up
	}
	if !res.Inserted {
		s.requeueIfLost(ctx, res.Execution)
	} else {
		s.changes.add(res.Execution.DeploymentID, res.Execution.ID, StatusPending)
	}
	return res.Execution, !res.Inserted, nil
}

// FireParams is the input of Fire: one scheduled time of one cron trigger.
type FireParams struct {
	Deployment *deployments.Deployment
	TriggerID  string
	// ScheduledAt is the jittered fire time; with the trigger it is the execution's unique key.
	ScheduledAt time.Time
	// NominalAt is the cron expression's time of the slot (ScheduledAt less the jitter offset):
	// the execution's nominal time. Zero: ScheduledAt.
	NominalAt time.Time
}

// Fire records the execution of one cron fire and enqueues it, once per (workflow, trigger,
// scheduled time) however many schedulers fire it: a repeat returns the first execution with
// deduplicated true. It runs the deployment's current revision. The worker's span continues
// the trace of ctx's span (the scheduler's fire).
func (s *Service) Fire(ctx context.Context, p *FireParams) (e *Execution, deduplicated bool, err error) {
	return s.record(ctx, fireExecution(p, s.now().UTC().Truncate(time.Microsecond)))
}

// fireExecution is the new PENDING execution of the fire p, recorded at now.
func fireExecution(p *FireParams, now time.Time) *Execution {
	return &Execution{
		ID:           uuid.Must(uuid.NewV7()).String(),
		DeploymentID: p.Deployment.ID,
		WorkflowID:   p.Deployment.WorkflowID,
		Revision:     p.Deployment.Revision,
		Status:       StatusPending,
		TriggerType:  TriggerCron,
		TriggerID:    p.TriggerID,
		ScheduledAt:  p.ScheduledAt.UTC().Truncate(time.Microsecond),
		NominalAt:    cmp.Or(p.NominalAt, p.ScheduledAt).UTC().Truncate(time.Microsecond),
		AvailableAt:  now,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
}

// FireResult is one fire of FireMany: its execution, and whether that existed already.
type FireResult struct {
	Execution    *Execution
	Deduplicated bool
}

// FireMany is Fire for many fires of one deployment, in one write of the store: a backfill's
// batch. Made one by one, the fires of one workflow wait for each other's commits (on
// PostgreSQL a keyed insert holds its workflow's lock until it commits). The results are in
// ps's order.
func (s *Service) FireMany(ctx context.Context, ps []*FireParams) ([]FireResult, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	es := make([]*Execution, len(ps))
	for i, p := range ps {
		es[i] = fireExecution(p, now)
	}
	got, err := s.store.ExecutionInsertMany(ctx, es)
	if err != nil {
		return nil, err
	}
	out := make([]FireResult, len(got))
	tp := telemetry.Traceparent(ctx)
	for i, g := range got {
		out[i] = FireResult{Execution: g.Execution, Deduplicated: !g.Inserted}
		if !g.Inserted {
			s.requeueIfLost(ctx, g.Execution)
			continue
		}
		s.outbox.add(message(g.Execution, tp))
		s.changes.add(g.Execution.DeploymentID, g.Execution.ID, StatusPending)
	}
	return out, nil
}

// record inserts e and hands it to the outbox when it is new (or when, deduplicated, its
// message may be lost), with ctx's trace context.
func (s *Service) record(ctx context.Context, e *Execution) (*Execution, bool, error) {
	got, inserted, err := s.store.ExecutionInsert(ctx, e)
	if err != nil {
		return nil, false, err // says "insert execution of <workflow>"
	}
	if !inserted {
		s.requeueIfLost(ctx, got)
		return got, true, nil
	}
	s.outbox.add(message(got, telemetry.Traceparent(ctx)))
	s.changes.add(got.DeploymentID, got.ID, StatusPending)
	return got, false, nil
}

// Get returns one execution.
func (s *Service) Get(ctx context.Context, id string) (*Execution, error) {
	return s.store.ExecutionGet(ctx, id) // its errors say "get execution <id>"
}

// Cancel cancels an execution: a PENDING one ends CANCELLED at once; a RUNNING one is cancelled
// through its engine call by the worker that runs it, wherever that is, and ends CANCELLED
// then. Cancelling a terminal execution is errdefs.ErrFailedPrecondition.
func (s *Service) Cancel(ctx context.Context, id, reason string) (*Execution, error) {
	if reason == "" {
		reason = "cancelled by request"
	}
	e, err := s.store.ExecutionCancel(ctx, id, reason, s.now().UTC())
	if err != nil {
		return nil, err // says "cancel execution <id>"
	}
	if e.Status == StatusCancelled || e.CancelRequested {
		s.changes.add(e.DeploymentID, e.ID, e.Status)
	}
	switch {
	case e.Status == StatusRunning && e.CancelRequested:
		if err := s.notifier.Publish(ctx, CancelChannel, id); err != nil {
			// The worker also polls cancel_requested while it runs; the request is not lost.
			s.logger.WarnContext(ctx, "publish cancel failed", slog.String("execution_id", id), slog.Any("error", err))
		}
	case e.Status.Terminal() && e.Status != StatusCancelled:
		return e, fmt.Errorf("execution %s already ended %s: %w", id, e.Status, errdefs.ErrFailedPrecondition)
	}
	return e, nil
}
