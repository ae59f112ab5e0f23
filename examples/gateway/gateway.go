package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// ruleMaxTriggerData is the runtime's rule for trigger data over WFR_MAX_TRIGGER_DATA_BYTES.
const ruleMaxTriggerData = "limits.max_trigger_data_bytes"

// Route is where the deliveries of one path go.
type Route struct {
	// Path is the {path} of POST /webhooks/{path}, e.g. "shop/orders".
	Path string
	// WorkflowID is the deployed workflow a delivery triggers (trigger type MANUAL), or
	WorkflowID string
	// WebhookPath is the webhook trigger whose deployment it triggers (trigger type WEBHOOK):
	// exactly one of the two.
	WebhookPath string
	// Secret is the key the provider signs this path's deliveries with.
	Secret []byte
}

// Gateway turns signed webhook deliveries into TriggerWorkflow calls.
type Gateway struct {
	runtime   *runtime.Client
	routes    map[string]Route
	maxBody   int64         // bytes of body read at most; 413 beyond
	tolerance time.Duration // how far a signature's timestamp may be from now, either way
	log       *slog.Logger
}

// Handler serves POST /webhooks/{path} and GET /healthz.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/{path...}", g.webhook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// answer is the JSON body of every answer to a delivery.
type answer struct {
	ExecutionID string `json:"executionId,omitempty"`
	Duplicate   bool   `json:"duplicate,omitempty"`
	Error       string `json:"error,omitempty"`
}

// webhook handles one delivery: route, body, signature (which covers the delivery id), JSON,
// then the trigger with the delivery id as the idempotency key. The signature is checked
// before anything else about the body is said, so that a caller without the secret learns
// nothing but 401 (or 400 when it sent no Webhook-Id at all).
func (g *Gateway) webhook(w http.ResponseWriter, r *http.Request) {
	path, deliveryID := r.PathValue("path"), r.Header.Get(headerID)
	log := g.log.With("path", path, "delivery_id", deliveryID)
	refuse := func(status int, msg string, args ...any) {
		log.Warn("delivery refused", append([]any{"status", status, "reason", msg}, args...)...)
		writeJSON(w, status, answer{Error: msg})
	}

	route, ok := g.routes[path]
	if !ok {
		refuse(http.StatusNotFound, "no route for this path")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			refuse(http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(g.maxBody, 10)+" bytes")
			return
		}
		refuse(http.StatusBadRequest, "could not read the body", "error", err)
		return
	}
	err = verify(route.Secret, deliveryID, r.Header.Get(headerTimestamp), r.Header.Get(headerSignature),
		body, time.Now(), g.tolerance)
	switch {
	case errors.Is(err, errNoID):
		refuse(http.StatusBadRequest, headerID+" header required")
		return
	case err != nil:
		refuse(http.StatusUnauthorized, "invalid signature", "error", err)
		return
	}
	if !json.Valid(body) {
		refuse(http.StatusBadRequest, "the body is not JSON")
		return
	}

	// The SDK gives the call its deadline (WithTimeout) and retries it after unavailable:
	// with the idempotency key a repeat cannot run the workflow twice.
	req := &v1.TriggerWorkflowRequest{TriggerData: string(body), IdempotencyKey: deliveryID}
	if route.WebhookPath != "" {
		req.Target = &v1.TriggerWorkflowRequest_WebhookPath{WebhookPath: route.WebhookPath}
	} else {
		req.Target = &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: route.WorkflowID}
	}
	res, err := g.runtime.TriggerWorkflow(r.Context(), req)
	if err != nil {
		status, retryAfter, msg := httpAnswer(err)
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
		}
		level := slog.LevelWarn
		if status >= 500 {
			level = slog.LevelError
		}
		log.Log(r.Context(), level, "trigger failed", "status", status, "error", err)
		writeJSON(w, status, answer{Error: cmp.Or(msg, http.StatusText(status))})
		return
	}
	e := res.GetExecution()
	status := http.StatusAccepted
	if res.GetDeduplicated() {
		status = http.StatusOK // a retry of a delivery already taken: the first execution
	}
	log.Info("delivery accepted", "workflow_id", e.GetWorkflowId(), "execution_id", e.GetId(),
		"duplicate", res.GetDeduplicated(), "status", status)
	writeJSON(w, status, answer{ExecutionID: e.GetId(), Duplicate: res.GetDeduplicated()})
}

// httpAnswer maps a failed TriggerWorkflow to the HTTP answer a provider understands: 4xx
// when the delivery itself cannot succeed (the provider should not send it again), 5xx when
// a later retry can (providers retry on 5xx), with Retry-After when the runtime said when.
// The runtime's message is passed on for 4xx; 5xx say only what kind of failure it was (the
// log has the error).
func httpAnswer(err error) (status int, retryAfter time.Duration, msg string) {
	rerr, ok := runtime.AsError(err)
	if !ok {
		return http.StatusBadGateway, 0, "the runtime call failed"
	}
	switch rerr.Code {
	case connect.CodeInvalidArgument:
		for _, v := range rerr.FieldViolations {
			if v.Rule == ruleMaxTriggerData {
				return http.StatusRequestEntityTooLarge, 0, rerr.Message
			}
		}
		return http.StatusBadRequest, 0, rerr.Message
	case connect.CodeNotFound:
		return http.StatusNotFound, 0, rerr.Message
	case connect.CodeFailedPrecondition, connect.CodeAlreadyExists:
		return http.StatusConflict, 0, rerr.Message // e.g. the deployment is paused
	case connect.CodeResourceExhausted:
		if rerr.RetryDelay > 0 {
			return http.StatusTooManyRequests, rerr.RetryDelay, "rate limited by the runtime"
		}
		return http.StatusRequestEntityTooLarge, 0, rerr.Message // a size limit, not a rate
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		// The gateway's own token is wrong or lacks the trigger scope: an operator's problem,
		// which a provider's retry may outlive once it is fixed.
		return http.StatusBadGateway, 0, "the gateway is misconfigured"
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable, rerr.RetryDelay, "the runtime is unavailable"
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout, 0, "the runtime did not answer in time"
	}
	return http.StatusBadGateway, 0, "the runtime failed" // internal, unknown, ...
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
