package execution

import (
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
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

// DeploymentRef is what recording an execution needs of its deployment.
type DeploymentRef struct {
	DeploymentID string
	WorkflowID   string
	Revision     int32
	Status       deployments.Status
	// TriggerID is the webhook trigger's id (DeploymentRefByWebhookPath only).
	TriggerID string
}

// TriggerRow is one row of TriggerStore.ExecutionTriggerBatch: an execution as ExecutionTrigger
// takes it, and the webhook path when it is a WEBHOOK trigger.
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

// ClaimParams is one claim of StepStore.ExecutionClaimMany.
type ClaimParams struct {
	ID    string
	Fence int64
	Now   time.Time
}

// FinishParams is the input of StepStore.ExecutionFinish.
type FinishParams struct {
	ID     string
	Fence  int64
	Status Status
	Output []byte
	Error  string
	Now    time.Time
}
