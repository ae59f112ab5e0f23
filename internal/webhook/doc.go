// Package webhook serves signed webhook deliveries without a gateway: POST /hooks/{path...},
// mounted by internal/app when WFR_WEBHOOKS=true, outside bearer-token authentication (the
// signature is the authentication). It also holds Box, the AES-256-GCM sealing of the
// trigger secrets under WFR_WEBHOOK_SECRET_KEY. The signature scheme itself is the
// dependency-free subpackage signature, which a gateway can share.
//
// One delivery, in order:
//  1. The body is read whole, at most MaxBodyBytes (413 beyond).
//  2. The path's trigger is looked up: 404 when no live deployment has it, 403 when the trigger
//     has no secret (unsigned public triggering is not offered; TriggerWorkflow with a token is).
//  3. The signature is checked (signature.Verify): Webhook-Id required (400), Webhook-Timestamp
//     within Tolerance of now either way, and a v1 HMAC-SHA256 over "<id>.<timestamp>.<body>"
//     compared in constant time. Any failure answers 401 with one message; the log says which.
//  4. The body must be JSON (400); it becomes the execution's trigger_data.
//  5. execution.Service.Trigger, the call TriggerWorkflow makes, with the webhook path and
//     Webhook-Id as the idempotency key: 413 when the body is over WFR_MAX_TRIGGER_DATA_BYTES
//     (the rule Trigger applies to every caller); 202 {"executionId"} when recorded; 409 with the first
//     execution's id when that id was already received for the workflow (nothing new runs);
//     409 too when the deployment is not DEPLOYED; 503 (Retry-After) when the store or queue is
//     unavailable. A W3C traceparent header is taken into the request's context first, so
//     the execution's span continues the caller's trace.
//
// Why a replay triggers nothing: a replay older than Tolerance fails the timestamp check; a
// younger one carries the same Webhook-Id (the id is signed, so it cannot be changed without
// the secret) and the executions' unique (workflow_id, idempotency_key) finds the first
// execution. The deduplication lasts as long as that execution is kept (retention).
//
// Secrets: deployments.Service seals a trigger's secret before it is stored
// (triggers.webhook_secret holds only the sealed bytes) and no answer carries it
// (WebhookTrigger.has_secret instead). Rotating WFR_WEBHOOK_SECRET_KEY makes the stored
// secrets unreadable: their deliveries answer 500 until the secrets are sent again.
package webhook
