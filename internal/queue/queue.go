package queue

import (
	"context"
	"errors"
	"time"
)

// ErrNotPending is returned by DeadLetter when the delivery is no longer pending: it was acked
// or dead-lettered already (possibly by the consumer it was claimed by).
var ErrNotPending = errors.New("queue: delivery is not pending")

// Message is what travels from the producer (api, scheduler, retry) to a worker. The executions
// row is the truth; the message only says which row to look at.
type Message struct {
	// ExecutionID is the execution to run. Required.
	ExecutionID string
	// Traceparent is the W3C trace context of the producer, so the worker's span joins its trace.
	// Optional.
	Traceparent string
	// WorkflowID and DeploymentID are the execution's, as its row has them (they never change),
	// when the producer knows them: with both, a worker can apply its deployment's settings and
	// claim the row without reading it first. Optional: without them the worker reads the row.
	WorkflowID   string
	DeploymentID string
}

// values are m's fields of a stream entry (Redis); the optional ones only when set.
func (m Message) values() []any {
	v := make([]any, 0, 8)
	v = append(v, "execution_id", m.ExecutionID, "traceparent", m.Traceparent)
	if m.WorkflowID != "" {
		v = append(v, "workflow_id", m.WorkflowID)
	}
	if m.DeploymentID != "" {
		v = append(v, "deployment_id", m.DeploymentID)
	}
	return v
}

// Delivery is one delivery of a message to a consumer.
type Delivery struct {
	// ID identifies the message in the queue (the Redis stream entry id); it stays the same
	// across redeliveries. Ack and DeadLetter take it.
	ID string
	Message
	// Deliveries is how many times the message has been delivered, this delivery included.
	Deliveries int64
}

// Stats is a snapshot of the queue.
type Stats struct {
	// Depth is the number of messages ready and not yet delivered.
	Depth int64
	// Pending is the number of messages delivered and neither acked nor dead-lettered.
	Pending int64
	// Delayed is the number of messages waiting for their time (EnqueueAt).
	Delayed int64
	// DeadLettered is the number of messages in the dead-letter stream (bounded by the
	// backend's DeadLetterMaxLen).
	DeadLettered int64
	// OldestAge is how long the oldest message not yet acked (ready or pending) has been ready;
	// 0 when there is none. A delayed message counts from its due time.
	OldestAge time.Duration
}

// DeadLetter is a dead-lettered message, as LocalQueue.DeadLetters returns it. (In Redis the
// dead-letter stream holds the same fields.)
type DeadLetter struct {
	Delivery
	// Reason is what the consumer gave DeadLetter.
	Reason string
	// At is when the message was dead-lettered.
	At time.Time
}

// Queue hands execution ids to workers, at least once. RedisQueue shares it between processes;
// LocalQueue is the in-process backend of the embedded mode. Both pass the queuetest contract
// suite and have Start(ctx) error / Stop() for the background part that moves delayed messages.
type Queue interface {
	// Enqueue makes m ready for delivery now.
	Enqueue(ctx context.Context, m Message) error
	// EnqueueBatch is Enqueue for several messages at once (Redis: one pipelined round trip). On
	// an error some of them may have been enqueued.
	EnqueueBatch(ctx context.Context, ms []Message) error
	// EnqueueAt delivers m not before t (retries with backoff, buffered overlap). A t not in the
	// future is Enqueue.
	EnqueueAt(ctx context.Context, m Message, t time.Time) error
	// Receive delivers up to max (at least 1) ready messages to consumer. It blocks until at
	// least one message is ready, block elapses (then it returns no deliveries and no error) or
	// ctx ends (then it returns ctx's error). block == 0 waits for ctx alone; block < 0 does not
	// wait. A blocked Receive is woken by Enqueue, it does not poll.
	Receive(ctx context.Context, consumer string, max int, block time.Duration) ([]Delivery, error)
	// Ack marks deliveries as done; their messages are gone. Unknown or already acked ids are
	// ignored.
	Ack(ctx context.Context, ids ...string) error
	// ClaimStale hands up to max messages that have been pending (delivered, not acked) without
	// a new delivery for at least minIdle to consumer, oldest first (Redis: XAUTOCLAIM). Their
	// delivery count grows by one.
	ClaimStale(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]Delivery, error)
	// DeadLetter moves a pending delivery to the dead-letter stream with reason, and acks it.
	// It returns ErrNotPending when d is no longer pending.
	DeadLetter(ctx context.Context, d Delivery, reason string) error
	// Stats returns the queue's counts.
	Stats(ctx context.Context) (Stats, error)
	// PruneConsumers removes the consumers that live does not name and that have no pending
	// message, and returns their names: the entries workers that are gone leave in the consumer
	// group (Redis: XINFO CONSUMERS, then XGROUP DELCONSUMER). A consumer with a pending message
	// is kept, so no message loses its pending entry. Removing a consumer that is alive after all
	// is harmless: its next read creates it again. A nil live names none. LocalQueue has no
	// consumer entries and returns nil, nil.
	PruneConsumers(ctx context.Context, live LiveConsumers) (removed []string, err error)
}

// LiveConsumers returns the names of the consumers whose workers are alive: the instance ids
// the instance registry lists (a worker's consumer is named by its instance id). PruneConsumers
// asks it after it has listed the group's consumers, so a worker that registered before its
// first read is among them. An error stops the pruning: a failed listing must not look like an
// installation without workers.
type LiveConsumers func(ctx context.Context) (map[string]bool, error)

func validate(m Message) error {
	if m.ExecutionID == "" {
		return errors.New("queue: message without execution id")
	}
	return nil
}
