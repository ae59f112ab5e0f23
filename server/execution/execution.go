package execution

import (
	"context"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
)

// Status is an execution's state; the values are stored in executions.status.
type Status string

const (
	StatusPending   Status = "PENDING"
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusCancelled Status = "CANCELLED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusSkipped   Status = "SKIPPED"
)

// Terminal reports whether no further transition can happen.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusTimedOut, StatusSkipped:
		return true
	}
	return false
}

// TriggerType says what created an execution; stored in executions.trigger_type.
type TriggerType string

const (
	TriggerCron    TriggerType = "CRON"
	TriggerWebhook TriggerType = "WEBHOOK"
	TriggerManual  TriggerType = "MANUAL"
)

// Execution is one run of a deployment's revision: one row of the executions table.
type Execution struct {
	ID           string
	DeploymentID string
	WorkflowID   string
	Revision     int32
	Status       Status
	TriggerType  TriggerType
	// TriggerID is the cron or webhook trigger's id; "" for manual triggers.
	TriggerID string
	// TriggerData is the JSON document given to TriggerWorkflow; nil for cron fires.
	TriggerData []byte
	// IdempotencyKey makes one execution per (workflow, key); "" when none.
	IdempotencyKey string
	// ScheduledAt is the jittered fire time for cron fires, the trigger time otherwise.
	ScheduledAt time.Time
	// NominalAt is the slot the execution runs for: the cron expression's time for cron fires,
	// catch-ups and backfills (ScheduledAt less the jitter offset), the trigger time (=
	// ScheduledAt) otherwise. Always set on a row read from the store.
	NominalAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// Output is the engine's JSON output once SUCCEEDED.
	Output []byte
	Error  string
	// Attempt counts the runs started, from 1.
	Attempt int32
	// Deaths counts the runs that were claimed and never recorded what happened next because
	// their process died (or lost its lease): the next claim found the row still RUNNING.
	Deaths int32
	// FencingToken is the token of the lease under which the current attempt runs; every status
	// write after the claim is conditional on it.
	FencingToken int64
	// CancelRequested is set by CancelExecution on a RUNNING execution; its worker cancels the
	// engine call and records CANCELLED.
	CancelRequested bool
	// AvailableAt is when a PENDING execution may run (retries wait for their backoff).
	AvailableAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Store is what executions need from storage. server/store implements it for PostgreSQL and
// SQLite. Conditional writes that find their condition false return apperr.ErrConflict.
type Store interface {
	// ExecutionInsert inserts e. When (workflow_id, idempotency_key) or, for cron fires,
	// (workflow_id, trigger_id, scheduled_at) is taken, it inserts nothing and returns the existing
	// execution with inserted false.
	ExecutionInsert(ctx context.Context, e *Execution) (got *Execution, inserted bool, err error)
	// ExecutionTrigger records e (a MANUAL or, with webhookPath, a WEBHOOK trigger) against the
	// workflow's current revision, only if its deployment is DEPLOYED, filling in the
	// deployment id, revision and trigger id. A taken idempotency key returns the existing
	// execution with inserted false. apperr.ErrNotFound for an unknown workflow or webhook,
	// apperr.ErrFailedPrecondition when the deployment is not DEPLOYED.
	ExecutionTrigger(ctx context.Context, e *Execution, webhookPath string) (got *Execution, inserted bool, err error)
	// ExecutionTriggerBatch is ExecutionTrigger for many rows in one statement: result i answers
	// row i as ExecutionTrigger would have (its Err holds what ExecutionTrigger would return).
	// Two rows with the same workflow and idempotency key record one execution; the other gets
	// it with Inserted false. The error is for the batch as a whole (the statement failed).
	ExecutionTriggerBatch(ctx context.Context, rows []TriggerRow) ([]TriggerResult, error)
	// ExecutionGet returns one execution; apperr.ErrNotFound when there is none.
	ExecutionGet(ctx context.Context, id string) (*Execution, error)
	// ExecutionClaim moves a PENDING or RUNNING execution to RUNNING under fence, adds one to
	// attempt (and to deaths when it was RUNNING: the run before never recorded an outcome)
	// and sets started_at, only when its stored fencing token is smaller than fence (or
	// unset). apperr.ErrConflict otherwise (terminal, or a newer owner holds it).
	ExecutionClaim(ctx context.Context, id string, fence int64, now time.Time) (*Execution, error)
	// ExecutionFinish writes a terminal status, output and error, only while the row is RUNNING
	// under fence. apperr.ErrConflict otherwise.
	ExecutionFinish(ctx context.Context, p *FinishParams) error
	// ExecutionGetMany is ExecutionGet for several ids in one statement: the executions found,
	// by id (an id without a row, or not a UUID, is absent).
	ExecutionGetMany(ctx context.Context, ids []string) (map[string]*Execution, error)
	// ExecutionClaimMany is ExecutionClaim for several rows in one statement: out[i] is the
	// claimed row of ps[i], nil where ExecutionClaim would have said apperr.ErrConflict. When
	// two params name one row, at most one of them (the larger fence) claims it. The error is
	// for the batch as a whole.
	ExecutionClaimMany(ctx context.Context, ps []ClaimParams) ([]*Execution, error)
	// ExecutionFinishMany is ExecutionFinish for several rows in one statement: ok[i] reports
	// whether ps[i] was written (false where ExecutionFinish would have said
	// apperr.ErrConflict). The error is for the batch as a whole.
	ExecutionFinishMany(ctx context.Context, ps []*FinishParams) (ok []bool, err error)
	// ExecutionRetry returns a RUNNING execution under fence to PENDING until availableAt,
	// recording the attempt's error. apperr.ErrConflict otherwise.
	ExecutionRetry(ctx context.Context, id string, fence int64, availableAt time.Time, errMsg string) error
	// ExecutionRecover returns a RUNNING execution under fence whose process died (found at
	// start-up of the only worker) to PENDING, available at now, recording reason as the error
	// and counting the death (deaths + 1; the attempt stays counted). apperr.ErrConflict when
	// the row is not RUNNING under fence.
	ExecutionRecover(ctx context.Context, id string, fence int64, now time.Time, reason string) error
	// ExecutionHandBack returns a RUNNING execution under fence to PENDING, available at once,
	// without counting the attempt it was in (attempt goes back by one): the run was stopped by
	// its worker (shutdown, engine unreachable), not failed by the workflow. reason is recorded
	// as the error. apperr.ErrConflict when the row is not RUNNING under fence.
	ExecutionHandBack(ctx context.Context, id string, fence int64, now time.Time, reason string) error
	// ExecutionSkip ends a PENDING execution SKIPPED with reason. apperr.ErrConflict when it is
	// not PENDING any more.
	ExecutionSkip(ctx context.Context, id, reason string, now time.Time) error
	// ExecutionCancel cancels: a PENDING execution ends CANCELLED at once; a RUNNING one gets
	// cancel_requested; a terminal one is unchanged. It returns the row after the change.
	ExecutionCancel(ctx context.Context, id, reason string, now time.Time) (*Execution, error)
	// ExecutionListRunning returns the ids of the workflow's RUNNING executions.
	ExecutionListRunning(ctx context.Context, workflowID string) ([]string, error)
	// ExecutionAbandon ends a non-terminal execution FAILED with reason, whatever its fence
	// (its message was delivered too often). apperr.ErrConflict when it is terminal already.
	ExecutionAbandon(ctx context.Context, id, reason string, now time.Time) error
	// ExecutionTouchDue finds up to limit executions not updated since staleBefore that are
	// PENDING and available at due, or RUNNING (a live run heartbeats, so a silent one lost its
	// worker), sets their updated_at to now (so concurrent sweepers do not take the same rows)
	// and returns their ids, oldest first: executions whose message was lost.
	ExecutionTouchDue(ctx context.Context, due, staleBefore, now time.Time, limit int) ([]string, error)
	// ExecutionTouchRunning is ExecutionTouchDue for RUNNING executions only: those not updated
	// since staleBefore, however recently that was (their leases may have vanished with Redis).
	ExecutionTouchRunning(ctx context.Context, staleBefore, now time.Time, limit int) ([]string, error)
	// ExecutionHeartbeat marks a RUNNING execution under fence as alive (updated_at = now) and
	// reports whether a cancellation was requested. apperr.ErrConflict when the row is not
	// RUNNING under fence any more (another owner took it over).
	ExecutionHeartbeat(ctx context.Context, id string, fence int64, now time.Time) (cancelRequested bool, err error)
	// ExecutionLastSuccessNominal returns the nominal time of the latest SUCCEEDED execution of
	// the workflow's trigger whose nominal time is before before: the watermark of an attempt
	// (slot.go). ok is false when there is none.
	ExecutionLastSuccessNominal(ctx context.Context, workflowID, triggerID string, before time.Time) (nominal time.Time, ok bool, err error)
	// DeploymentRef reads what a trigger needs of a workflow's deployment.
	DeploymentRef(ctx context.Context, workflowID string) (*DeploymentRef, error)
	// DeploymentRefByWebhookPath is DeploymentRef for the live deployment owning a webhook path.
	DeploymentRefByWebhookPath(ctx context.Context, path string) (*DeploymentRef, error)
	// RevisionGet returns the definition of one revision of a workflow.
	RevisionGet(ctx context.Context, workflowID string, revision int32) (*deployments.Definition, error)
	// DeploymentGetByWorkflow returns the deployment of a workflow id.
	DeploymentGetByWorkflow(ctx context.Context, workflowID string) (*deployments.Deployment, error)
}

// DeploymentRef is what recording an execution needs of its deployment.
type DeploymentRef struct {
	DeploymentID string
	WorkflowID   string
	Revision     int32
	Status       deployments.Status
	// TriggerID is the webhook trigger's id (DeploymentRefByWebhookPath only).
	TriggerID string
}

// TriggerRow is one row of Store.ExecutionTriggerBatch: an execution as ExecutionTrigger takes
// it, and the webhook path when it is a WEBHOOK trigger.
type TriggerRow struct {
	Execution   *Execution
	WebhookPath string
}

// TriggerResult answers one TriggerRow: the recorded (Inserted) or existing execution, or Err.
type TriggerResult struct {
	Execution *Execution
	Inserted  bool
	Err       error
}

// ClaimParams is one claim of Store.ExecutionClaimMany.
type ClaimParams struct {
	ID    string
	Fence int64
	Now   time.Time
}

// FinishParams is the input of Store.ExecutionFinish.
type FinishParams struct {
	ID     string
	Fence  int64
	Status Status
	Output []byte
	Error  string
	Now    time.Time
}
