package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river/rivershared/startstop"
)

// RedisConfig configures a RedisQueue. Zero values take the defaults.
type RedisConfig struct {
	// Prefix is put in front of every key (default "wfr:"). It must not contain '{' or '}'.
	Prefix string
	// Name names the queue (default "executions"); keys are <prefix>queue:{<name>}:….
	Name string
	// Group is the consumer group every worker reads with (default "workers").
	Group string
	// MoveInterval is how often the mover looks for due delayed messages (default 50ms). The
	// mover also wakes at the earliest due time it knows of and on EnqueueAt in this process.
	MoveInterval time.Duration
	// MoveBatch is the most delayed messages one mover step moves (default 256).
	MoveBatch int
	// MaxBlock is the longest single XREADGROUP BLOCK (default 1s). go-redis does not abandon a
	// blocked read when its context is cancelled, so this bounds how long a cancelled Receive
	// takes to return.
	MaxBlock time.Duration
	// DeadLetterMaxLen caps the dead-letter stream, approximately (default 100000). The executions
	// row records the failure; the stream is for operators.
	DeadLetterMaxLen int64
	// Now tells the time: the due time of delayed messages is compared with it, and Stats'
	// OldestAge is measured by it (default time.Now).
	Now func() time.Time
	// Logger receives the mover's errors (default slog.Default()).
	Logger *slog.Logger
}

// RedisQueue is a Queue on a Redis stream read by one consumer group:
//
//	<prefix>queue:{<name>}:stream   ready and pending messages (fields execution_id, traceparent,
//	                                and workflow_id, deployment_id when set)
//	<prefix>queue:{<name>}:delayed  ZSET of delayed messages, scored by due time (unix ms)
//	<prefix>queue:{<name>}:dead     dead-letter stream (execution_id, traceparent, reason,
//	                                deliveries, id)
//
// The stream is never trimmed: Ack deletes (XDEL) exactly the entries it acknowledged, so an
// undelivered message can never be dropped and XLEN is ready + pending.
type RedisQueue struct {
	client      redis.UniversalClient
	group       string
	stream      string
	delayed     string
	dead        string
	interval    time.Duration
	batch       int
	maxBlock    time.Duration
	deadMaxLen  int64
	now         func() time.Time
	logger      *slog.Logger
	groupExists atomic.Bool
	down        atomic.Bool    // a call found Redis unreachable; see redis_recovery.go
	recovered   chan time.Time // Recovered
	recoveryMu  sync.Mutex     // guards downAt, upAt and sending on recovered
	downAt      time.Time      // when the last outage was noticed
	upAt        time.Time      // when Redis answered again after it

	kick chan struct{} // EnqueueAt → mover: a new delayed message, maybe due sooner

	startstop.BaseStartStop // the mover's lifecycle
}

var _ Queue = (*RedisQueue)(nil)

// NewRedisQueue returns a RedisQueue that uses client. Call Start to run the mover of delayed
// messages; the rest works without it.
func NewRedisQueue(client redis.UniversalClient, cfg RedisConfig) *RedisQueue {
	base := cmp.Or(cfg.Prefix, "wfr:") + "queue:{" + cmp.Or(cfg.Name, "executions") + "}:"
	q := &RedisQueue{
		client:     client,
		group:      cmp.Or(cfg.Group, "workers"),
		stream:     base + "stream",
		delayed:    base + "delayed",
		dead:       base + "dead",
		interval:   cmp.Or(cfg.MoveInterval, 50*time.Millisecond),
		batch:      cmp.Or(cfg.MoveBatch, 256),
		maxBlock:   cmp.Or(cfg.MaxBlock, time.Second),
		deadMaxLen: cmp.Or(cfg.DeadLetterMaxLen, 100_000),
		now:        cfg.Now,
		logger:     cmp.Or(cfg.Logger, slog.Default()),
		kick:       make(chan struct{}, 1),
		recovered:  make(chan time.Time, 1),
	}
	if q.now == nil {
		q.now = time.Now
	}
	return q
}

// ackScript acknowledges entries and deletes the ones it acknowledged. An entry that was not
// pending (never delivered, or acked already) is left alone, so Ack can never delete a message
// no one has received.
//
// KEYS[1] -> the stream
// ARGV[1] -> the consumer group
// ARGV[2..] -> entry ids
//
// Returns the number of entries acknowledged.
var ackScript = redis.NewScript(`
local n = 0
for i = 2, #ARGV do
	if redis.call("XACK", KEYS[1], ARGV[1], ARGV[i]) == 1 then
		redis.call("XDEL", KEYS[1], ARGV[i])
		n = n + 1
	end
end
return n
`)

// deadLetterScript moves a pending entry to the dead-letter stream: acknowledge, delete, and
// add to the dead-letter stream, all or nothing.
//
// KEYS[1] -> the stream
// KEYS[2] -> the dead-letter stream
// ARGV[1] -> the consumer group
// ARGV[2] -> entry id
// ARGV[3] -> execution id
// ARGV[4] -> traceparent
// ARGV[5] -> reason
// ARGV[6] -> deliveries
// ARGV[7] -> approximate maximum length of the dead-letter stream (0: unbounded)
//
// Returns 1 when the entry was moved, 0 when it was not pending (nothing changes).
var deadLetterScript = redis.NewScript(`
if redis.call("XACK", KEYS[1], ARGV[1], ARGV[2]) == 0 then
	return 0
end
redis.call("XDEL", KEYS[1], ARGV[2])
local fields = {"execution_id", ARGV[3], "traceparent", ARGV[4], "reason", ARGV[5], "deliveries", ARGV[6], "id", ARGV[2]}
if tonumber(ARGV[7]) > 0 then
	redis.call("XADD", KEYS[2], "MAXLEN", "~", ARGV[7], "*", unpack(fields))
else
	redis.call("XADD", KEYS[2], "*", unpack(fields))
end
return 1
`)

// moveScript moves due delayed messages to the stream. Each is removed from the ZSET in the same
// script that adds it to the stream, so it is moved exactly once however many movers run.
//
// KEYS[1] -> the delayed ZSET (members: JSON {"n": nonce, "e": execution id, "t": traceparent,
//
//	"w": workflow id and "d": deployment id when set},
//
//	scores: due time in unix ms)
//
// KEYS[2] -> the stream
// ARGV[1] -> now, unix ms
// ARGV[2] -> the most messages to move
//
// Returns {moved, next}: the number of messages moved, and the due time (unix ms) of the
// earliest message still delayed, or -1 when none is.
var moveScript = redis.NewScript(`
local due = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, ARGV[2])
for _, member in ipairs(due) do
	local m = cjson.decode(member)
	local fields = {"execution_id", m.e, "traceparent", m.t}
	if m.w then
		fields[#fields + 1] = "workflow_id"
		fields[#fields + 1] = m.w
	end
	if m.d then
		fields[#fields + 1] = "deployment_id"
		fields[#fields + 1] = m.d
	end
	redis.call("XADD", KEYS[2], "*", unpack(fields))
	redis.call("ZREM", KEYS[1], member)
end
local first = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
if #first == 0 then
	return {#due, -1}
end
return {#due, tonumber(first[2])}
`)

// pruneScript deletes consumers that have no pending entry. The check and the delete are one
// script because XGROUP DELCONSUMER drops the consumer's pending entries: a consumer that read a
// message between a separate check and the delete would lose that message's pending entry, and
// the message, pending for no one, would never be claimed again. A consumer that does not exist
// (another pruner was first) counts as deleted; XGROUP DELCONSUMER answers 0 for it as for an
// empty one.
//
// KEYS[1] -> the stream
// ARGV[1] -> the consumer group
// ARGV[2..] -> consumer names
//
// Returns the names of the consumers deleted, in argument order.
var pruneScript = redis.NewScript(`
local removed = {}
for i = 2, #ARGV do
	if #redis.call("XPENDING", KEYS[1], ARGV[1], "-", "+", 1, ARGV[i]) == 0 then
		redis.call("XGROUP", "DELCONSUMER", KEYS[1], ARGV[1], ARGV[i])
		removed[#removed + 1] = ARGV[i]
	end
end
return removed
`)

// pruneBatch is the most consumers one pruneScript call checks, so one call holds Redis briefly.
const pruneBatch = 100

// delayedMember is a delayed message in the ZSET. The nonce keeps two equal messages apart, and
// since members of equal score sort by their bytes and "n" comes first, a time-ordered nonce
// keeps messages due at the same time in the order they were enqueued.
type delayedMember struct {
	Nonce        string `json:"n"`
	ExecutionID  string `json:"e"`
	Traceparent  string `json:"t"`
	WorkflowID   string `json:"w,omitempty"`
	DeploymentID string `json:"d,omitempty"`
}

// ensureGroup creates the stream and the consumer group if they do not exist. The group starts
// at 0, so messages added before it existed are delivered too.
func (q *RedisQueue) ensureGroup(ctx context.Context) error {
	if q.groupExists.Load() {
		return nil
	}
	err := q.client.XGroupCreateMkStream(ctx, q.stream, q.group, "0").Err()
	q.observe(err)
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s on %s: %w", q.group, q.stream, err)
	}
	q.groupExists.Store(true)
	return nil
}

// retryNoGroup runs f, and once more after re-creating the group when f found it missing (the
// stream was deleted from outside).
func (q *RedisQueue) retryNoGroup(ctx context.Context, f func() error) error {
	if err := q.ensureGroup(ctx); err != nil {
		return err
	}
	err := f()
	q.observe(err)
	if !isNoGroup(err) {
		return err
	}
	// The stream or its group vanished, and with them any messages: the sweeper enqueues
	// their executions again.
	q.groupVanished()
	q.groupExists.Store(false)
	if err := q.ensureGroup(ctx); err != nil {
		return err
	}
	return f()
}

// Enqueue implements Queue.
func (q *RedisQueue) Enqueue(ctx context.Context, m Message) error {
	if err := validate(m); err != nil {
		return err
	}
	err := q.client.XAdd(ctx, &redis.XAddArgs{
		Stream: q.stream,
		Values: m.values(),
	}).Err()
	q.observe(err)
	if err != nil {
		return fmt.Errorf("enqueue execution %s: %w", m.ExecutionID, err)
	}
	return nil
}

// EnqueueBatch implements Queue: one XADD per message, pipelined (no MULTI: each XADD stands
// alone, as Enqueue's does).
func (q *RedisQueue) EnqueueBatch(ctx context.Context, ms []Message) error {
	for _, m := range ms {
		if err := validate(m); err != nil {
			return err
		}
	}
	if len(ms) == 0 {
		return nil
	}
	pipe := q.client.Pipeline()
	for _, m := range ms {
		pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: q.stream,
			Values: m.values(),
		})
	}
	_, err := pipe.Exec(ctx)
	q.observe(err)
	if err != nil {
		return fmt.Errorf("enqueue %d executions: %w", len(ms), err)
	}
	return nil
}

// EnqueueAt implements Queue.
func (q *RedisQueue) EnqueueAt(ctx context.Context, m Message, t time.Time) error {
	if err := validate(m); err != nil {
		return err
	}
	if !t.After(q.now()) {
		return q.Enqueue(ctx, m)
	}
	nonce, err := uuid.NewV7() // time-ordered: equal due times keep EnqueueAt order
	if err != nil {
		return fmt.Errorf("enqueue execution %s at %s: %w", m.ExecutionID, t, err)
	}
	member, err := json.Marshal(delayedMember{Nonce: nonce.String(), ExecutionID: m.ExecutionID, Traceparent: m.Traceparent,
		WorkflowID: m.WorkflowID, DeploymentID: m.DeploymentID})
	if err != nil {
		return fmt.Errorf("enqueue execution %s at %s: %w", m.ExecutionID, t, err)
	}
	err = q.client.ZAdd(ctx, q.delayed, redis.Z{Score: float64(ceilMilli(t)), Member: member}).Err()
	q.observe(err)
	if err != nil {
		return fmt.Errorf("enqueue execution %s at %s: %w", m.ExecutionID, t, err)
	}
	select {
	case q.kick <- struct{}{}:
	default:
	}
	return nil
}

// Receive implements Queue.
func (q *RedisQueue) Receive(ctx context.Context, consumer string, limit int, block time.Duration) ([]Delivery, error) {
	if consumer == "" {
		return nil, errors.New("queue: empty consumer name")
	}
	limit = cmp.Or(max(limit, 0), 1)
	var until time.Time
	if block > 0 {
		until = time.Now().Add(block)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wait := time.Duration(-1) // XREADGROUP without BLOCK
		if block >= 0 {
			wait = q.maxBlock
			if !until.IsZero() {
				wait = min(wait, time.Until(until))
			}
			if d, ok := ctx.Deadline(); ok {
				wait = min(wait, time.Until(d))
			}
			wait = max(wait, time.Millisecond) // BLOCK 0 would wait forever
		}
		var streams []redis.XStream
		err := q.retryNoGroup(ctx, func() error {
			var err error
			streams, err = q.client.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group:    q.group,
				Consumer: consumer,
				Streams:  []string{q.stream, ">"},
				Count:    int64(limit),
				Block:    wait,
			}).Result()
			return err
		})
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("receive for %s: %w", consumer, err)
		case len(streams) > 0 && len(streams[0].Messages) > 0:
			out := make([]Delivery, 0, len(streams[0].Messages))
			for _, x := range streams[0].Messages {
				out = append(out, delivery(x, 1))
			}
			return out, nil
		}
		if block < 0 || (!until.IsZero() && !time.Now().Before(until)) {
			return nil, nil
		}
	}
}

func delivery(x redis.XMessage, n int64) Delivery {
	s := func(k string) string { v, _ := x.Values[k].(string); return v }
	return Delivery{ID: x.ID, Message: Message{ExecutionID: s("execution_id"), Traceparent: s("traceparent"),
		WorkflowID: s("workflow_id"), DeploymentID: s("deployment_id")}, Deliveries: n}
}

// Ack implements Queue.
func (q *RedisQueue) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, q.group)
	for _, id := range ids {
		args = append(args, id)
	}
	err := q.retryNoGroup(ctx, func() error {
		return ackScript.Run(ctx, q.client, []string{q.stream}, args...).Err()
	})
	if err != nil {
		return fmt.Errorf("ack %s: %w", strings.Join(ids, ","), err)
	}
	return nil
}

// ClaimStale implements Queue.
func (q *RedisQueue) ClaimStale(ctx context.Context, consumer string, minIdle time.Duration, limit int) ([]Delivery, error) {
	if consumer == "" {
		return nil, errors.New("queue: empty consumer name")
	}
	limit = cmp.Or(max(limit, 0), 1)
	var claimed []redis.XMessage
	err := q.retryNoGroup(ctx, func() error {
		claimed = claimed[:0]
		start := "0-0"
		for len(claimed) < limit {
			msgs, next, err := q.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream:   q.stream,
				Group:    q.group,
				Consumer: consumer,
				MinIdle:  minIdle,
				Start:    start,
				Count:    int64(limit - len(claimed)),
			}).Result()
			if err != nil {
				return err
			}
			claimed = append(claimed, msgs...)
			if next == "0-0" {
				return nil
			}
			start = next
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim stale messages for %s: %w", consumer, err)
	}
	if len(claimed) == 0 {
		return nil, nil
	}
	// The delivery counts, which XAUTOCLAIM has just incremented.
	pipe := q.client.Pipeline()
	counts := make([]*redis.XPendingExtCmd, len(claimed))
	for i, x := range claimed {
		counts[i] = pipe.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: q.stream, Group: q.group, Start: x.ID, End: x.ID, Count: 1})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("claim stale messages for %s: delivery counts: %w", consumer, err)
	}
	out := make([]Delivery, 0, len(claimed))
	for i, x := range claimed {
		n := int64(1)
		if p := counts[i].Val(); len(p) == 1 {
			n = p[0].RetryCount
		}
		out = append(out, delivery(x, n))
	}
	return out, nil
}

// DeadLetter implements Queue.
func (q *RedisQueue) DeadLetter(ctx context.Context, d Delivery, reason string) error {
	var moved int64
	err := q.retryNoGroup(ctx, func() error {
		var err error
		moved, err = deadLetterScript.Run(ctx, q.client, []string{q.stream, q.dead},
			q.group, d.ID, d.ExecutionID, d.Traceparent, reason, d.Deliveries, q.deadMaxLen).Int64()
		return err
	})
	if err != nil {
		return fmt.Errorf("dead-letter execution %s (%s): %w", d.ExecutionID, d.ID, err)
	}
	if moved == 0 {
		return ErrNotPending
	}
	return nil
}

// Stats implements Queue.
func (q *RedisQueue) Stats(ctx context.Context) (Stats, error) {
	var (
		length, delayed, dead *redis.IntCmd
		pending               *redis.XPendingCmd
		first                 *redis.XMessageSliceCmd
	)
	err := q.retryNoGroup(ctx, func() error {
		_, err := q.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			length = p.XLen(ctx, q.stream)
			pending = p.XPending(ctx, q.stream, q.group)
			delayed = p.ZCard(ctx, q.delayed)
			dead = p.XLen(ctx, q.dead)
			first = p.XRangeN(ctx, q.stream, "-", "+", 1)
			return nil
		})
		return err
	})
	if err != nil {
		return Stats{}, fmt.Errorf("queue stats: %w", err)
	}
	s := Stats{Pending: pending.Val().Count, Delayed: delayed.Val(), DeadLettered: dead.Val()}
	s.Depth = max(length.Val()-s.Pending, 0)
	if msgs := first.Val(); len(msgs) > 0 {
		ms, _, _ := strings.Cut(msgs[0].ID, "-")
		if v, err := strconv.ParseInt(ms, 10, 64); err == nil {
			s.OldestAge = max(q.now().Sub(time.UnixMilli(v)), 0)
		}
	}
	return s, nil
}

// PruneConsumers implements Queue. It lists the group's consumers (XINFO CONSUMERS), then asks
// live which are alive, and hands those that are not and have no pending entry to pruneScript,
// which checks again that each has no pending entry (XPENDING … <consumer>) and deletes it
// (XGROUP DELCONSUMER) in the same step. A worker registers before it reads, so any consumer
// the listing shows of a live worker is among live's names. When another pruner runs at the
// same time, both may name the same consumer. A missing stream or group has no consumers: nil,
// nil.
func (q *RedisQueue) PruneConsumers(ctx context.Context, live LiveConsumers) ([]string, error) {
	consumers, err := q.client.XInfoConsumers(ctx, q.stream, q.group).Result()
	if err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "NOGROUP") || strings.HasPrefix(msg, "ERR no such key") {
			return nil, nil
		}
		return nil, fmt.Errorf("prune consumers: list: %w", err)
	}
	if len(consumers) == 0 {
		return nil, nil
	}
	alive := map[string]bool{}
	if live != nil {
		if alive, err = live(ctx); err != nil {
			return nil, fmt.Errorf("prune consumers: live workers: %w", err)
		}
	}
	var idle []any
	for _, c := range consumers {
		if !alive[c.Name] && c.Pending == 0 {
			idle = append(idle, c.Name)
		}
	}
	var removed []string
	for len(idle) > 0 {
		n := min(len(idle), pruneBatch)
		args := append([]any{q.group}, idle[:n]...)
		idle = idle[n:]
		names, err := pruneScript.Run(ctx, q.client, []string{q.stream}, args...).StringSlice()
		if err != nil {
			if strings.HasPrefix(err.Error(), "NOGROUP") { // the stream or group is gone, and its consumers
				return removed, nil
			}
			return removed, fmt.Errorf("prune consumers: %w", err)
		}
		removed = append(removed, names...)
	}
	return removed, nil
}

// ceilMilli is t in unix milliseconds, rounded up so a message is never due before t.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}
