package execution

import (
	"context"

	"github.com/workflow-runtime/workflow-runtime/internal/engine"
)

// The collaborators of the execution package besides storage, the queue and the lock, declared
// here where they are consumed. Each has a Redis and an in-process implementation
// (internal/waitlist, internal/notify) or a remote and an embedded one (internal/engine).
//
// Storage and the queue are declared by each consumer, with the methods it calls (doc.go,
// "Storage, queue and lock").

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
