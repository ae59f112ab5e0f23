package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
	"github.com/workflow-runtime/workflow-runtime/internal/webhook/signature"
)

// Pattern is where Handler is mounted.
const Pattern = "POST /hooks/{path...}"

// maxDeliveryIDBytes is the longest Webhook-Id: it becomes the execution's idempotency key
// (executions.idempotency_key VARCHAR(255)).
const maxDeliveryIDBytes = 255

// Store is what the handler reads: the sealed secret of a webhook path (nil when the trigger
// has none), errdefs.ErrNotFound when no live deployment has the path. internal/store implements it.
type Store interface {
	WebhookSecret(ctx context.Context, path string) ([]byte, error)
}

// Triggerer is the execution service's Trigger, the same call TriggerWorkflow makes.
type Triggerer interface {
	Trigger(ctx context.Context, p *execution.TriggerParams) (*execution.Execution, bool, error)
}

// Config configures a Handler.
type Config struct {
	// Box opens the stored secrets. Required.
	Box *Box
	// Tolerance is how far Webhook-Timestamp may be from now, either way. Default
	// signature.DefaultTolerance (5 minutes).
	Tolerance time.Duration
	// MaxBodyBytes is the largest body read; larger answers 413. Default 1 MiB, the limit
	// of TriggerWorkflow's trigger_data. A body over the execution service's
	// WFR_MAX_TRIGGER_DATA_BYTES (execution.ServiceConfig.MaxTriggerDataBytes) answers 413 too.
	MaxBodyBytes int64
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger gets one line per refused or failed delivery. Default slog.Default().
	Logger *slog.Logger
}

// Handler serves POST /hooks/{path...}: see doc.go for the checks and the answers.
type Handler struct {
	store    Store
	triggers Triggerer
	cfg      Config
}

// NewHandler returns the /hooks handler.
func NewHandler(store Store, triggers Triggerer, cfg Config) *Handler {
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = signature.DefaultTolerance
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{store: store, triggers: triggers, cfg: cfg}
}

// answer is the JSON body of every answer.
type answer struct {
	ExecutionID string `json:"executionId,omitempty"`
	Error       string `json:"error,omitempty"`
}

// ServeHTTP implements http.Handler. A W3C traceparent header of the caller is taken into
// ctx here, at the edge (no HTTP middleware does it for this route), so the execution's span
// continues the caller's trace as a TriggerWorkflow call's does.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := telemetry.ContextWithTraceparent(r.Context(), r.Header.Get("traceparent"))
	path := r.PathValue("path")
	log := h.cfg.Logger.With("webhook_path", path)
	refuse := func(status int, msg string, err error) {
		log.InfoContext(ctx, "webhook delivery refused", "status", status, "reason", msg, "error", err)
		writeJSON(w, status, answer{Error: msg})
	}

	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			refuse(http.StatusRequestEntityTooLarge, "body too large", err)
			return
		}
		refuse(http.StatusBadRequest, "body could not be read", err)
		return
	}

	sealed, err := h.store.WebhookSecret(ctx, path)
	if err != nil {
		h.fail(w, r, log, err)
		return
	}
	if len(sealed) == 0 {
		refuse(http.StatusForbidden, "this webhook has no secret; call TriggerWorkflow with a token instead", nil)
		return
	}
	secret, err := h.cfg.Box.Open(sealed)
	if err != nil {
		log.ErrorContext(ctx, "webhook secret does not open", "error", err)
		writeJSON(w, http.StatusInternalServerError, answer{Error: "internal error"})
		return
	}
	id := r.Header.Get(signature.HeaderID)
	err = signature.Verify(secret, id,
		r.Header.Get(signature.HeaderTimestamp), r.Header.Get(signature.HeaderSignature),
		body, h.cfg.Now(), h.cfg.Tolerance)
	switch {
	case errors.Is(err, signature.ErrNoID):
		refuse(http.StatusBadRequest, "Webhook-Id is required", err)
		return
	case err != nil:
		// One message for every failure: which check failed is in the log, not told to the caller.
		refuse(http.StatusUnauthorized, "missing, wrong or stale signature", err)
		return
	}
	if len(id) > maxDeliveryIDBytes {
		refuse(http.StatusBadRequest, "Webhook-Id is longer than 255 bytes", nil)
		return
	}
	if !json.Valid(body) {
		refuse(http.StatusBadRequest, "body must be a JSON document", nil)
		return
	}

	e, dedup, err := h.triggers.Trigger(ctx, &execution.TriggerParams{
		WebhookPath:    path,
		TriggerData:    body,
		IdempotencyKey: id,
	})
	if err != nil {
		h.fail(w, r, log, err)
		return
	}
	if dedup {
		log.InfoContext(ctx, "webhook delivery replayed", "delivery_id", id, "execution_id", e.ID)
		writeJSON(w, http.StatusConflict, answer{ExecutionID: e.ID, Error: "delivery already received"})
		return
	}
	writeJSON(w, http.StatusAccepted, answer{ExecutionID: e.ID})
}

// fail answers a domain error: the same mapping as the Connect handlers, in HTTP terms.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var invalid *errdefs.ValidationError
	status, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &invalid) && slices.ContainsFunc(invalid.Violations, func(v errdefs.Violation) bool {
		return v.Rule == execution.RuleMaxTriggerDataBytes
	}):
		status, msg = http.StatusRequestEntityTooLarge, invalid.Error()
	case errors.As(err, &invalid):
		status, msg = http.StatusBadRequest, invalid.Error()
	case errors.Is(err, errdefs.ErrNotFound):
		status, msg = http.StatusNotFound, "no deployment has this webhook path"
	case errors.Is(err, errdefs.ErrFailedPrecondition):
		status, msg = http.StatusConflict, "the deployment is not DEPLOYED"
	case errors.Is(err, errdefs.ErrUnavailable):
		status, msg = http.StatusServiceUnavailable, "a dependency is unavailable; retry later"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusServiceUnavailable, "the request ended before the trigger was recorded; retry"
	}
	level := slog.LevelInfo
	if status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	log.Log(r.Context(), level, "webhook delivery failed", "status", status, "error", err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, answer{Error: msg})
}

// readBody reads the whole body, at most limit bytes (*http.MaxBytesError beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

func writeJSON(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}
