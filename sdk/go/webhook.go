package runtime

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"connectrpc.com/connect"
)

// The webhook delivery headers the service checks (its internal/webhook/signature package).
const (
	headerWebhookID        = "Webhook-Id"
	headerWebhookTimestamp = "Webhook-Timestamp"
	headerWebhookSignature = "Webhook-Signature"
)

// webhookPath is the pattern of a webhook trigger's path (WebhookTrigger.path).
var webhookPath = regexp.MustCompile(`^[a-z0-9][a-z0-9/_.-]{0,255}$`)

// maxDeliveryIDBytes is the longest delivery id the service takes.
const maxDeliveryIDBytes = 255

// maxWebhookAnswerBytes bounds the answer read: the service's is a small JSON object.
const maxWebhookAnswerBytes = 64 << 10

// WebhookDelivery is the service's answer to a delivery.
type WebhookDelivery struct {
	// ExecutionID is the execution the delivery made, or, for a Duplicate, the one the first
	// delivery with this id made.
	ExecutionID string
	// Duplicate is set when the delivery id was received before for this workflow: nothing
	// new runs.
	Duplicate bool
}

// TriggerWebhook delivers rawBody (a JSON document, as the webhook's provider sent it) to the
// webhook trigger at path, as POST /hooks/{path}: the execution gets the body as its trigger
// data and deliveryID as its idempotency key. This is what a gateway does with a provider's
// webhook when it does not call TriggerWorkflow; the service must serve webhooks
// (WFR_WEBHOOKS=true) and the trigger must have a secret.
//
// The delivery is signed with the path's secret (WithWebhookSecret, WithWebhookSecrets):
// Webhook-Id is deliveryID, Webhook-Timestamp the current Unix time, Webhook-Signature
// "v1=" and the hex HMAC-SHA256 of "<deliveryID>.<timestamp>.<rawBody>" under the secret.
// deliveryID is required (at most 255 bytes) and should be the provider's own delivery id,
// the same on each of its retries: the service answers a repeated id with the first
// execution (Duplicate). For the same reason the delivery is retried, signed anew each time,
// after unavailable (503, honouring Retry-After) and network failures.
//
// The service's refusals come back as *Error: invalid_argument (400: no JSON body),
// unauthenticated (401: bad or stale signature, a clock off by more than the service's
// tolerance), permission_denied (403: the trigger has no secret), not_found (404: no deployed
// workflow has the path, or the service does not serve webhooks), failed_precondition (409:
// the deployment is paused), resource_exhausted (413: body too large).
func (c *Client) TriggerWebhook(ctx context.Context, path string, rawBody []byte, deliveryID string) (*WebhookDelivery, error) {
	var violations []FieldViolation
	if !webhookPath.MatchString(path) {
		violations = append(violations, FieldViolation{Field: "path", Rule: "string.pattern",
			Message: "does not match regex pattern `" + webhookPath.String() + "`"})
	}
	switch {
	case deliveryID == "":
		violations = append(violations, FieldViolation{Field: "delivery_id", Rule: "required", Message: "value is required"})
	case len(deliveryID) > maxDeliveryIDBytes:
		violations = append(violations, FieldViolation{Field: "delivery_id", Rule: "string.max_bytes",
			Message: fmt.Sprintf("value length must be at most %d bytes", maxDeliveryIDBytes)})
	}
	if len(violations) > 0 {
		return nil, &Error{Code: connect.CodeInvalidArgument, Message: "invalid webhook delivery", FieldViolations: violations}
	}
	if c.cfg.webhookSecret == nil {
		return nil, &Error{Code: connect.CodeFailedPrecondition,
			Message: "TriggerWebhook signs with the trigger's secret: create the client WithWebhookSecret or WithWebhookSecrets"}
	}
	secret, err := c.cfg.webhookSecret(path)
	if err != nil {
		return nil, &Error{Code: connect.CodeFailedPrecondition, Message: fmt.Sprintf("webhook secret of %s: %v", path, err), cause: err}
	}
	if len(secret) == 0 {
		return nil, &Error{Code: connect.CodeFailedPrecondition, Message: "no webhook secret for " + path}
	}

	ctx, cancel := c.policy.withTimeout(ctx)
	defer cancel()
	d, err := retry(ctx, c.cfg.retry, func() (*WebhookDelivery, error) {
		return c.deliver(ctx, path, rawBody, deliveryID, secret)
	})
	return d, toError(err)
}

// deliver makes one attempt of a webhook delivery.
func (c *Client) deliver(ctx context.Context, path string, body []byte, id string, secret []byte) (*WebhookDelivery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/hooks/"+path, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Code: connect.CodeInvalidArgument, Message: err.Error(), cause: err}
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerWebhookID, id)
	req.Header.Set(headerWebhookTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(headerWebhookSignature, signWebhook(secret, id, ts, body))
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, contextError(ctx)
		}
		// The delivery may or may not have arrived: a repeat with the same id is safe.
		return nil, &Error{Code: connect.CodeUnavailable, Message: err.Error(), cause: err}
	}
	defer func() { _ = res.Body.Close() }()
	var answer struct {
		ExecutionID string `json:"executionId"`
		Error       string `json:"error"`
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxWebhookAnswerBytes))
	if err != nil {
		return nil, &Error{Code: connect.CodeUnavailable, Message: "read webhook answer: " + err.Error(), cause: err}
	}
	if jerr := json.Unmarshal(raw, &answer); jerr != nil {
		answer.Error = http.StatusText(res.StatusCode)
	}
	switch {
	case res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusOK:
		return &WebhookDelivery{ExecutionID: answer.ExecutionID}, nil
	case res.StatusCode == http.StatusConflict && answer.ExecutionID != "":
		return &WebhookDelivery{ExecutionID: answer.ExecutionID, Duplicate: true}, nil
	}
	rerr := &Error{Code: webhookCode(res.StatusCode), Message: answer.Error}
	if rerr.Message == "" {
		rerr.Message = res.Status
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		rerr.RetryDelay = time.Duration(s) * time.Second
	}
	rerr.cause = errors.New(res.Status)
	return nil, rerr
}

// webhookCode maps the HTTP status of a refused delivery to the code the same refusal has on
// the RPCs.
func webhookCode(status int) connect.Code {
	switch status {
	case http.StatusBadRequest:
		return connect.CodeInvalidArgument
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated
	case http.StatusForbidden:
		return connect.CodePermissionDenied
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return connect.CodeNotFound
	case http.StatusConflict:
		return connect.CodeFailedPrecondition
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return connect.CodeResourceExhausted
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return connect.CodeUnavailable
	case http.StatusInternalServerError:
		return connect.CodeInternal
	}
	return connect.CodeUnknown
}

// signWebhook is the Webhook-Signature of a delivery: "v1=" and the hex HMAC-SHA256 of
// "<id>.<timestamp>.<body>" under secret, as the service's internal/webhook/signature.Sign.
func signWebhook(secret []byte, id string, timestamp int64, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(timestamp, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return "v1=" + hex.EncodeToString(h.Sum(nil))
}
