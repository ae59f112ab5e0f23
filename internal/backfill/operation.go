package backfill

import (
	"context"
	"errors"
	"time"
)

// State is where an operation is (backfill_operations.state).
type State string

// The states. RUNNING is the only one that changes; the others are final.
const (
	StateRunning   State = "RUNNING"
	StateSucceeded State = "SUCCEEDED"
	StateFailed    State = "FAILED"
	StateCancelled State = "CANCELLED"
)

// Operation is a backfill too large for one call, run in the background.
type Operation struct {
	ID           string
	DeploymentID string
	WorkflowID   string
	// TriggerID is the one cron trigger; "" for every cron trigger of the deployment.
	TriggerID string
	// Start and End are the range as requested, [Start, End). Until is where the fires stop:
	// End, or the time of the request when End was later.
	Start, End, Until time.Time
	State             State
	// Total is how many fires [Start, Until) held when the operation started.
	Total int64
	// Created, Deduplicated and BlackedOut count the fires made so far by what became of them.
	Created, Deduplicated, BlackedOut int64
	// Cursor is the operation's progress: every fire scheduled before it is made.
	Cursor time.Time
	// Error says why it FAILED.
	Error string
	// LeaseOwner is the instance that runs it until LeaseExpires; "" when nobody holds it.
	LeaseOwner   string
	LeaseExpires time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ListParams selects a page of Store.BackfillList: newest first, by (CreatedAt, ID) descending.
type ListParams struct {
	// DeploymentID filters; "" means every deployment.
	DeploymentID string
	// States filters; empty means all.
	States []State
	// Before is the keyset position: operations strictly before (BeforeCreatedAt, BeforeID) in
	// the order. Zero BeforeCreatedAt means from the newest.
	BeforeCreatedAt time.Time
	BeforeID        string
	// Limit is the most operations returned.
	Limit int
}

// AdvanceParams records one batch of an operation.
type AdvanceParams struct {
	ID string
	// Owner must hold the lease; otherwise nothing changes and BackfillAdvance answers
	// ErrLeaseLost.
	Owner string
	// Created, Deduplicated and BlackedOut are the batch's, added to the operation's.
	Created, Deduplicated, BlackedOut int64
	// Cursor is the new cursor.
	Cursor time.Time
	// Done turns a RUNNING operation SUCCEEDED and frees its lease; otherwise the lease is
	// renewed until LeaseExpires.
	Done         bool
	LeaseExpires time.Time
	Now          time.Time
}

// ErrLeaseLost says the runner does not hold the operation's lease any more: another process
// took it over after it expired, or the operation is gone.
var ErrLeaseLost = errors.New("backfill operation lease lost")

// Store is what the package needs from storage. internal/store implements it for PostgreSQL and
// SQLite.
type Store interface {
	// BackfillCreate inserts op, unless an operation of the same deployment, trigger and range
	// is RUNNING: then it returns that one, and created is false.
	BackfillCreate(ctx context.Context, op *Operation) (got *Operation, created bool, err error)
	// BackfillRunning returns the RUNNING operation of the deployment, trigger and range;
	// errdefs.ErrNotFound when there is none.
	BackfillRunning(ctx context.Context, deploymentID, triggerID string, start, end time.Time) (*Operation, error)
	// BackfillGet returns one operation; errdefs.ErrNotFound when there is none.
	BackfillGet(ctx context.Context, id string) (*Operation, error)
	// BackfillList returns one page of operations, newest first.
	BackfillList(ctx context.Context, p *ListParams) ([]*Operation, error)
	// BackfillCancel turns a RUNNING operation CANCELLED and returns it; an operation in
	// another state is returned unchanged. errdefs.ErrNotFound when there is none.
	BackfillCancel(ctx context.Context, id string, now time.Time) (*Operation, error)
	// BackfillClaim gives owner the lease, until leaseExpires, of the oldest RUNNING operation
	// whose lease is free or expired at now; nil when there is none. Two claimers never get
	// the same lease.
	BackfillClaim(ctx context.Context, owner string, now, leaseExpires time.Time) (*Operation, error)
	// BackfillAdvance records a batch (AdvanceParams) and returns the operation after it, in
	// whatever state it is (CANCELLED meanwhile: the runner stops). ErrLeaseLost when owner
	// does not hold the lease.
	BackfillAdvance(ctx context.Context, p *AdvanceParams) (*Operation, error)
	// BackfillFail turns the RUNNING operation owner holds FAILED with the message and frees
	// its lease. ErrLeaseLost when owner does not hold the lease.
	BackfillFail(ctx context.Context, id, owner, message string, now time.Time) error
}
