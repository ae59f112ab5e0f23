package execution

import (
	"context"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/engine"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/queue"
)

// The collaborators of the execution package, declared here where they are consumed. Each has a
// Redis and an in-process implementation (server/lock, server/queue, server/waitlist,
// server/notify) and a remote or embedded engine (server/engine).

// Locker takes the workflow lock (or, for ALLOW_ALL, the execution's own lock) with a fencing
// token. lock.Manager implements it.
type Locker interface {
	Acquire(ctx context.Context, key string, ttl time.Duration) (*lock.Lease, error)
	Extend(ctx context.Context, l *lock.Lease, ttl time.Duration) error
	Release(ctx context.Context, l *lock.Lease) error
	AcquireMany(ctx context.Context, keys []string, ttl time.Duration) ([]*lock.Lease, []error)
	ReleaseMany(ctx context.Context, ls []*lock.Lease) []error
}

// Queue delivers execution ids to workers. queue.Queue implements it.
type Queue interface {
	Enqueue(ctx context.Context, m queue.Message) error
	EnqueueBatch(ctx context.Context, ms []queue.Message) error
	EnqueueAt(ctx context.Context, m queue.Message, t time.Time) error
	Receive(ctx context.Context, consumer string, max int, block time.Duration) ([]queue.Delivery, error)
	Ack(ctx context.Context, ids ...string) error
	ClaimStale(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]queue.Delivery, error)
	DeadLetter(ctx context.Context, d queue.Delivery, reason string) error
	PruneConsumers(ctx context.Context, live queue.LiveConsumers) (removed []string, err error)
}

// Engine runs a definition. engine.Engine (embedded) and the remote client implement it.
type Engine interface {
	Execute(ctx context.Context, req *engine.Request) (*engine.Result, error)
}

// Waitlist holds executions buffered behind a running one (BUFFER_ONE, BUFFER_ALL, CANCEL_OTHER).
type Waitlist interface {
	// Push appends id to the workflow's list when it holds fewer than max (0: no limit) and
	// reports whether it did. front puts it first (CANCEL_OTHER's newcomer runs next).
	Push(ctx context.Context, workflowID, id string, max int, front bool) (bool, error)
	// Pop removes and returns the first id; ok is false when the list is empty.
	Pop(ctx context.Context, workflowID string) (id string, ok bool, err error)
	// Len returns how many executions wait for the workflow.
	Len(ctx context.Context, workflowID string) (int, error)
	// List returns the ids of the executions that wait for the workflow, first first.
	List(ctx context.Context, workflowID string) ([]string, error)
}

// Notifier carries cancellation requests to the worker that runs the execution, whichever
// process that is.
type Notifier interface {
	Publish(ctx context.Context, channel, payload string) error
	Subscribe(ctx context.Context, channel string, fn func(payload string)) (unsubscribe func(), err error)
}

// CancelChannel is the Notifier channel of cancellation requests; the payload is the execution id.
const CancelChannel = "execution.cancel"
