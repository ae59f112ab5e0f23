package execution

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/stack"
)

// message is the queue message of e, with traceparent: its workflow and deployment ids go
// along, so that the worker can claim the row without reading it first (handleDirect).
func message(e *Execution, traceparent string) queue.Message {
	return queue.Message{ExecutionID: e.ID, Traceparent: traceparent, WorkflowID: e.WorkflowID, DeploymentID: e.DeploymentID}
}

// outbox hands recorded executions to the queue in the background, so that enqueueing never
// holds up the answer to whoever recorded them: the row is the truth, and the caller's answer
// depends on it alone. A Trigger or a Fire answers as soon as its row is written; its message
// follows a moment later.
//
// Messages wait in memory, in order, and are sent in batches (ServiceQueue.EnqueueBatch), each
// attempt bounded by a short timeout. When the queue does not take them (Redis down), they are
// kept and sent again every retry interval, so they go out as soon as the queue answers,
// instead of waiting for the sweeper's stale age. At most max are kept; beyond that the oldest
// are dropped (their rows stay PENDING, and the sweeper enqueues them). A process that dies
// with messages kept loses them the same way, to the same effect.
//
// Like group, the outbox runs a goroutine only while it holds messages.
type outbox struct {
	queue   ServiceQueue
	logger  *slog.Logger
	timeout time.Duration // bounds one attempt
	retry   time.Duration // between attempts while the queue fails
	batch   int           // most messages per attempt
	max     int           // most messages kept

	mu      sync.Mutex
	pending []queue.Message
	running bool
	idle    chan struct{} // closed when the running loop ends
	failing bool          // the last attempt failed
}

func newOutbox(q ServiceQueue, logger *slog.Logger, timeout, retry time.Duration, max int) *outbox {
	return &outbox{queue: q, logger: logger, timeout: timeout, retry: retry, batch: 256, max: max}
}

// add keeps msgs and starts sending them.
func (o *outbox) add(msgs ...queue.Message) {
	if len(msgs) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = append(o.pending, msgs...)
	o.trim()
	if !o.running {
		o.running = true
		o.idle = make(chan struct{})
		go o.loop()
	}
}

// trim drops the oldest messages beyond max. o.mu must be held.
func (o *outbox) trim() {
	if n := len(o.pending) - o.max; n > 0 {
		o.logger.Warn("too many executions wait for the queue; the oldest are left to the sweeper",
			slog.Int("dropped", n), slog.String("first_execution_id", o.pending[0].ExecutionID))
		o.pending = append(o.pending[:0:0], o.pending[n:]...)
	}
}

// loop sends the kept messages until none is left.
func (o *outbox) loop() {
	stack.Reserve() // a new goroutine per burst, deep in go-redis
	for {
		o.mu.Lock()
		if len(o.pending) == 0 {
			o.running = false
			o.pending = nil // do not keep a large buffer from an outage
			close(o.idle)
			o.mu.Unlock()
			return
		}
		n := min(len(o.pending), o.batch)
		msgs := o.pending[:n:n]
		o.pending = o.pending[n:]
		o.mu.Unlock()

		err := o.send(msgs)

		o.mu.Lock()
		if err != nil {
			o.pending = append(msgs, o.pending...) // back in front, in order
			o.trim()
			if !o.failing {
				o.failing = true
				o.logger.Warn("enqueue failed; the executions are kept and enqueued as soon as the queue answers",
					slog.Int("kept", len(o.pending)), slog.Any("error", err))
			}
		} else if o.failing {
			o.failing = false
			o.logger.Info("the queue answers again; kept executions enqueued", slog.Int("still_kept", len(o.pending)))
		}
		o.mu.Unlock()
		if err != nil {
			time.Sleep(o.retry)
		}
	}
}

// send makes one bounded attempt to enqueue msgs.
func (o *outbox) send(msgs []queue.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if len(msgs) == 1 {
		return o.queue.Enqueue(ctx, msgs[0])
	}
	return o.queue.EnqueueBatch(ctx, msgs)
}

// flush waits until every kept message is enqueued, or ctx ends.
func (o *outbox) flush(ctx context.Context) error {
	o.mu.Lock()
	if !o.running {
		o.mu.Unlock()
		return nil
	}
	idle := o.idle
	o.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
