package execution

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/queue"
	"github.com/workflow-runtime/workflow-runtime/server/telemetry"
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

// Service records executions and hands them to the queue (the api role's half of the path of
// one execution), reads them, and cancels them.
type Service struct {
	store    Store
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
func NewService(store Store, q Queue, notifier Notifier, cfg ServiceConfig) *Service {
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
// RequeueAfter: its message may be lost.
func (s *Service) requeueIfLost(e *Execution, traceparent string) {
	if e == nil || e.Status != StatusPending {
		return
	}
	now := s.now()
	if e.AvailableAt.After(now) || now.Sub(e.UpdatedAt) < s.requeue {
		return
	}
	s.outbox.add(queue.Message{ExecutionID: e.ID, Traceparent: traceparent})
}

// TriggerParams is the input of Trigger: exactly one of WorkflowID and WebhookPath.
type TriggerParams struct {
	WorkflowID  string
	WebhookPath string
	// TriggerData is a JSON document (may be empty) of at most ServiceConfig.MaxTriggerDataBytes.
	TriggerData []byte
	// IdempotencyKey makes one execution per (workflow, key).
	IdempotencyKey string
	// Traceparent is the W3C trace context to carry through the queue when ctx carries no
	// span (with one, the span's context is carried instead).
	Traceparent string
}

// Trigger records a PENDING execution of a DEPLOYED deployment and enqueues it. A repeated
// idempotency key returns the first execution with deduplicated true, and enqueues it again
// only when it is PENDING and its message may be lost (ServiceConfig.RequeueAfter). The row is
// the truth: Trigger answers once the row is written, and the outbox enqueues in the
// background, keeping what a failing queue refuses until it answers. Concurrent calls are recorded and enqueued in batches
// (triggerBatcher); when ctx ends first, Trigger returns ctx.Err() and the execution may still
// be recorded.
func (s *Service) Trigger(ctx context.Context, p *TriggerParams) (e *Execution, deduplicated bool, err error) {
	if len(p.TriggerData) > s.maxData {
		return nil, false, apperr.Invalid("trigger_data", RuleMaxTriggerDataBytes,
			"%d bytes; this server accepts at most %d (WFR_MAX_TRIGGER_DATA_BYTES)", len(p.TriggerData), s.maxData)
	}
	if len(p.TriggerData) > 0 && !json.Valid(p.TriggerData) {
		return nil, false, apperr.Invalid("trigger_data", "string.json", "must be a JSON document")
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
	// The worker's span continues the active span's trace (the RPC's server span);
	// p.Traceparent is the fallback for a caller without tracing.
	traceparent := cmp.Or(telemetry.Traceparent(ctx), p.Traceparent)
	res, err := s.triggers.trigger(ctx, TriggerRow{Execution: e, WebhookPath: p.WebhookPath}, traceparent)
	if err != nil {
		return nil, false, err
	}
	if res.Err != nil {
		return nil, false, res.Err // says what was looked up
	}
	if !res.Inserted {
		s.requeueIfLost(res.Execution, traceparent)
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
	NominalAt   time.Time
	Traceparent string
}

// Fire records the execution of one cron fire and enqueues it, once per (workflow, trigger,
// scheduled time) however many schedulers fire it: a repeat returns the first execution with
// deduplicated true. It runs the deployment's current revision.
func (s *Service) Fire(ctx context.Context, p *FireParams) (e *Execution, deduplicated bool, err error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	e = &Execution{
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
	return s.record(ctx, e, p.Traceparent)
}

// record inserts e and hands it to the outbox when it is new (or when, deduplicated, its
// message may be lost).
func (s *Service) record(ctx context.Context, e *Execution, traceparent string) (*Execution, bool, error) {
	got, inserted, err := s.store.ExecutionInsert(ctx, e)
	if err != nil {
		return nil, false, fmt.Errorf("record execution of %s: %w", e.WorkflowID, err)
	}
	// The worker's span continues the active span's trace (the scheduler's fire); traceparent
	// is the fallback for a caller without tracing.
	traceparent = cmp.Or(telemetry.Traceparent(ctx), traceparent)
	if !inserted {
		s.requeueIfLost(got, traceparent)
		return got, true, nil
	}
	s.outbox.add(queue.Message{ExecutionID: got.ID, Traceparent: traceparent})
	s.changes.add(got.DeploymentID, got.ID, StatusPending)
	return got, false, nil
}

// Get returns one execution.
func (s *Service) Get(ctx context.Context, id string) (*Execution, error) {
	e, err := s.store.ExecutionGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	return e, nil
}

// Cancel cancels an execution: a PENDING one ends CANCELLED at once; a RUNNING one is cancelled
// through its engine call by the worker that runs it, wherever that is, and ends CANCELLED
// then. Cancelling a terminal execution is apperr.ErrFailedPrecondition.
func (s *Service) Cancel(ctx context.Context, id, reason string) (*Execution, error) {
	if reason == "" {
		reason = "cancelled by request"
	}
	e, err := s.store.ExecutionCancel(ctx, id, reason, s.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("cancel execution %s: %w", id, err)
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
		return e, fmt.Errorf("execution %s already ended %s: %w", id, e.Status, apperr.ErrFailedPrecondition)
	}
	return e, nil
}
