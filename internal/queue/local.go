package queue

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river/rivershared/startstop"
)

// LocalConfig configures a LocalQueue. Zero values take the defaults.
type LocalConfig struct {
	// Now tells the time: due times, idle times and ages are measured by it (default time.Now).
	// Tests pass a fake clock.
	Now func() time.Time
	// MoveInterval is how often the mover looks for due delayed messages when it knows of none
	// due sooner by the wall clock (default 50ms); with a fake clock, this is how quickly an
	// advance is noticed by a blocked Receive.
	MoveInterval time.Duration
	// DeadLetterMaxLen caps the dead letters kept; the oldest are dropped (default 100000).
	DeadLetterMaxLen int
}

// LocalQueue is a Queue inside one process, for the embedded mode. It behaves like RedisQueue:
// ids in the same "<ms>-<seq>" shape, a pending list with delivery counts for ClaimStale and
// DeadLetter, delayed messages in a heap moved by Start's mover (and by Receive and Stats).
// A blocked Receive waits on a channel that Enqueue closes, so it is woken, not polling.
type LocalQueue struct {
	now        func() time.Time
	interval   time.Duration
	deadMaxLen int

	mu      sync.Mutex
	seq     uint64
	ready   []*localEntry          // FIFO of messages not yet delivered
	pending map[string]*localEntry // delivered, not acked; by id
	delayed delayHeap
	dead    []DeadLetter
	wake    chan struct{} // closed (and replaced) when messages become ready
	kick    chan struct{} // EnqueueAt → mover

	startstop.BaseStartStop // the mover's lifecycle
}

type localEntry struct {
	id         string
	seq        uint64
	msg        Message
	readyAt    time.Time
	consumer   string
	deliveries int64
	deliverAt  time.Time // of the last delivery
}

var _ Queue = (*LocalQueue)(nil)

// NewLocalQueue returns an empty LocalQueue.
func NewLocalQueue(cfg LocalConfig) *LocalQueue {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &LocalQueue{
		now:        now,
		interval:   cmp.Or(cfg.MoveInterval, 50*time.Millisecond),
		deadMaxLen: cmp.Or(cfg.DeadLetterMaxLen, 100_000),
		pending:    map[string]*localEntry{},
		wake:       make(chan struct{}),
		kick:       make(chan struct{}, 1),
	}
}

// Start starts the mover of delayed messages. On a running queue it does nothing.
// Cancelling ctx does not stop it.
//
// Stop (startstop.BaseStartStop's) stops the mover and waits for it. It is idempotent; a
// stopped queue can be started again.
func (q *LocalQueue) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := q.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // already running: one start (River's startstop semantics)
	}
	go func() {
		defer stopped()
		started()
		q.runMover(ctx)
	}()
	return nil
}

// runMover promotes due messages until ctx (the lifecycle's, cancelled by Stop) ends.
func (q *LocalQueue) runMover(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-q.kick:
		}
		q.mu.Lock()
		now := q.now()
		q.promote(now)
		wait := q.interval
		if len(q.delayed) > 0 {
			wait = min(wait, max(q.delayed[0].due.Sub(now), 0))
		}
		q.mu.Unlock()
		timer.Reset(wait)
	}
}

// Enqueue implements Queue.
func (q *LocalQueue) Enqueue(ctx context.Context, m Message) error {
	return q.EnqueueBatch(ctx, []Message{m})
}

// EnqueueBatch implements Queue.
func (q *LocalQueue) EnqueueBatch(ctx context.Context, ms []Message) error {
	for _, m := range ms {
		if err := validate(m); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for _, m := range ms {
		q.push(m, now)
	}
	q.broadcast()
	return nil
}

// EnqueueAt implements Queue.
func (q *LocalQueue) EnqueueAt(ctx context.Context, m Message, t time.Time) error {
	if err := validate(m); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if now := q.now(); !t.After(now) {
		q.push(m, now)
		q.broadcast()
		return nil
	}
	q.seq++
	heap.Push(&q.delayed, delayed{due: t, seq: q.seq, msg: m})
	select {
	case q.kick <- struct{}{}:
	default:
	}
	return nil
}

// push appends m to the ready messages. q.mu must be held.
func (q *LocalQueue) push(m Message, now time.Time) {
	q.seq++
	q.ready = append(q.ready, &localEntry{
		id:      strconv.FormatInt(now.UnixMilli(), 10) + "-" + strconv.FormatUint(q.seq, 10),
		seq:     q.seq,
		msg:     m,
		readyAt: now,
	})
}

// broadcast wakes every blocked Receive. q.mu must be held.
func (q *LocalQueue) broadcast() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// promote makes the due delayed messages ready. q.mu must be held.
func (q *LocalQueue) promote(now time.Time) {
	moved := false
	for len(q.delayed) > 0 && !q.delayed[0].due.After(now) {
		d := heap.Pop(&q.delayed).(delayed)
		q.push(d.msg, now)
		moved = true
	}
	if moved {
		q.broadcast()
	}
}

// Receive implements Queue.
func (q *LocalQueue) Receive(ctx context.Context, consumer string, limit int, block time.Duration) ([]Delivery, error) {
	if consumer == "" {
		return nil, errors.New("queue: empty consumer name")
	}
	limit = cmp.Or(max(limit, 0), 1)
	var timeout <-chan time.Time
	if block > 0 {
		t := time.NewTimer(block)
		defer t.Stop()
		timeout = t.C
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.mu.Lock()
		now := q.now()
		q.promote(now)
		if len(q.ready) > 0 {
			n := min(limit, len(q.ready))
			out := make([]Delivery, n)
			for i, e := range q.ready[:n] {
				e.consumer, e.deliveries, e.deliverAt = consumer, 1, now
				q.pending[e.id] = e
				out[i] = Delivery{ID: e.id, Message: e.msg, Deliveries: 1}
			}
			clear(q.ready[:n])
			q.ready = q.ready[n:]
			q.mu.Unlock()
			return out, nil
		}
		wake := q.wake
		var (
			due     <-chan time.Time // the next delayed message, by the wall clock
			stopDue = func() bool { return false }
		)
		if len(q.delayed) > 0 && block >= 0 {
			t := time.NewTimer(max(q.delayed[0].due.Sub(now), time.Millisecond))
			due, stopDue = t.C, t.Stop
		}
		q.mu.Unlock()
		if block < 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			stopDue()
			return nil, ctx.Err()
		case <-timeout:
			stopDue()
			return nil, nil
		case <-wake:
		case <-due:
		}
		stopDue()
	}
}

// Ack implements Queue.
func (q *LocalQueue) Ack(ctx context.Context, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		delete(q.pending, id)
	}
	return nil
}

// ClaimStale implements Queue.
func (q *LocalQueue) ClaimStale(ctx context.Context, consumer string, minIdle time.Duration, limit int) ([]Delivery, error) {
	if consumer == "" {
		return nil, errors.New("queue: empty consumer name")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit = cmp.Or(max(limit, 0), 1)
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	var stale []*localEntry
	for _, e := range q.pending {
		if now.Sub(e.deliverAt) >= minIdle {
			stale = append(stale, e)
		}
	}
	slices.SortFunc(stale, func(a, b *localEntry) int { return cmp.Compare(a.seq, b.seq) })
	var out []Delivery
	for _, e := range stale[:min(limit, len(stale))] {
		e.consumer, e.deliverAt = consumer, now
		e.deliveries++
		out = append(out, Delivery{ID: e.id, Message: e.msg, Deliveries: e.deliveries})
	}
	return out, nil
}

// DeadLetter implements Queue.
func (q *LocalQueue) DeadLetter(ctx context.Context, d Delivery, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pending[d.ID]; !ok {
		return ErrNotPending
	}
	delete(q.pending, d.ID)
	if len(q.dead) >= q.deadMaxLen {
		q.dead = slices.Delete(q.dead, 0, len(q.dead)-q.deadMaxLen+1)
	}
	q.dead = append(q.dead, DeadLetter{Delivery: d, Reason: reason, At: q.now()})
	return nil
}

// DeadLetters returns the dead letters kept, oldest first.
func (q *LocalQueue) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.dead)
}

// Stats implements Queue.
func (q *LocalQueue) Stats(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	q.promote(now)
	s := Stats{
		Depth:        int64(len(q.ready)),
		Pending:      int64(len(q.pending)),
		Delayed:      int64(len(q.delayed)),
		DeadLettered: int64(len(q.dead)),
	}
	var oldest time.Time
	if len(q.ready) > 0 {
		oldest = q.ready[0].readyAt
	}
	for _, e := range q.pending {
		if oldest.IsZero() || e.readyAt.Before(oldest) {
			oldest = e.readyAt
		}
	}
	if !oldest.IsZero() {
		s.OldestAge = max(now.Sub(oldest), 0)
	}
	return s, nil
}

// PruneConsumers implements Queue. A LocalQueue keeps no consumer entries (a consumer is only a
// name on its pending messages), so there is nothing to prune.
func (q *LocalQueue) PruneConsumers(context.Context, LiveConsumers) ([]string, error) {
	return nil, nil
}

// delayed is a message waiting for its time.
type delayed struct {
	due time.Time
	seq uint64
	msg Message
}

// delayHeap orders delayed messages by due time, then by order of EnqueueAt.
type delayHeap []delayed

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	if c := h[i].due.Compare(h[j].due); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h delayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)   { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
