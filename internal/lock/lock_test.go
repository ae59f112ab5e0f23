package lock_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/lock/locktest"
)

func TestLocalManager(t *testing.T) {
	t.Parallel()
	locktest.Run(t, func(t *testing.T) (lock.Manager, locktest.Clock) {
		clock := locktest.NewFakeClock()
		return lock.NewLocalManager(lock.LocalConfig{Now: clock.Now}), clock
	})
}

func TestRedisManager(t *testing.T) {
	t.Parallel()
	locktest.Run(t, func(t *testing.T) (lock.Manager, locktest.Clock) {
		client, prefix := locktest.Redis(t)
		return lock.NewRedisManager(client, lock.RedisConfig{Prefix: prefix}), locktest.RealClock{}
	})
}

func TestRedisManagerKeys(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	client, prefix := locktest.Redis(t)
	m := lock.NewRedisManager(client, lock.RedisConfig{Prefix: prefix})
	l, err := m.Acquire(ctx, "orders", time.Minute)
	is.NoErr(err)
	owner, err := client.Get(ctx, prefix+"lock:{orders}").Result()
	is.NoErr(err)
	is.Equal(owner, l.Owner) // the lock key holds the owner token
	ttl, err := client.PTTL(ctx, prefix+"lock:{orders}").Result()
	is.NoErr(err)
	is.True(ttl > 50*time.Second && ttl <= time.Minute) // with the lease's TTL
	fence, err := client.Get(ctx, prefix+"fence:{orders}").Int64()
	is.NoErr(err)
	is.Equal(fence, l.Fence) // the fence key holds the last fence
	fenceTTL, err := client.PTTL(ctx, prefix+"fence:{orders}").Result()
	is.NoErr(err)
	is.True(fenceTTL > 23*time.Hour)                          // and outlives the lease by far, then goes
	is.True(l.Fence > time.Now().Add(-time.Hour).UnixMicro()) // not behind the clock

	// A lost counter (Redis restarted without persistence, or expired) does not make tokens
	// go back: the next one is still larger.
	is.NoErr(m.Release(ctx, l))
	is.NoErr(client.Del(ctx, prefix+"fence:{orders}").Err())
	again, err := m.Acquire(ctx, "orders", time.Minute)
	is.NoErr(err)
	is.True(again.Fence > l.Fence)
	l = again

	// The lock is held, so a failed acquisition consumes no fence.
	_, err = m.Acquire(ctx, "orders", time.Minute)
	is.True(errors.Is(err, lock.ErrNotAcquired))
	fence, err = client.Get(ctx, prefix+"fence:{orders}").Int64()
	is.NoErr(err)
	is.Equal(fence, l.Fence)
}

// scriptCounter counts the EVALSHA and EVAL commands the client sends in pipelines, and the
// pipelines that carry them.
type scriptCounter struct {
	mu                        sync.Mutex
	pipelines, evalsha, evals int
}

func (*scriptCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*scriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (c *scriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		scripts := false
		for _, cmd := range cmds {
			switch cmd.Name() {
			case "evalsha":
				c.evalsha++
				scripts = true
			case "eval":
				c.evals++
				scripts = true
			}
		}
		if scripts { // not the connection's handshake (HELLO, CLIENT SETINFO)
			c.pipelines++
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *scriptCounter) take() (pipelines, evalsha, evals int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pipelines, evalsha, evals = c.pipelines, c.evalsha, c.evals
	c.pipelines, c.evalsha, c.evals = 0, 0, 0
	return pipelines, evalsha, evals
}

// TestRedisManagerBatchesOneRoundTrip checks that a batch is one pipeline of EVALSHA, and that
// after the script cache is flushed (SCRIPT FLUSH; a restarted or failed-over server) a batch
// runs its items again with EVAL, in a second pipeline, with the same results. Not parallel:
// the flush must not race the other tests of the package re-loading the scripts.
func TestRedisManagerBatchesOneRoundTrip(t *testing.T) {
	is := is.New(t)
	ctx := t.Context()
	client, prefix := locktest.Redis(t)
	counter := &scriptCounter{}
	client.AddHook(counter)
	m := lock.NewRedisManager(client, lock.RedisConfig{Prefix: prefix})
	held, err := m.Acquire(ctx, "held", time.Minute)
	is.NoErr(err)

	// Both scripts cached: one pipeline, one EVALSHA per valid item.
	keys := []string{"a", "held", "", "b", "a"}
	leases, errs := m.AcquireMany(ctx, keys, time.Minute)
	pipelines, evalsha, evals := counter.take()
	is.Equal([]int{pipelines, evalsha, evals}, []int{1, 4, 0})
	is.NoErr(errs[0])
	is.True(errors.Is(errs[1], lock.ErrNotAcquired))
	is.True(errs[2] != nil && !errors.Is(errs[2], lock.ErrNotAcquired))
	is.NoErr(errs[3])
	is.True(errors.Is(errs[4], lock.ErrNotAcquired))
	rerrs := m.ReleaseMany(ctx, []*lock.Lease{leases[0], nil, leases[3]})
	pipelines, evalsha, evals = counter.take()
	is.Equal([]int{pipelines, evalsha, evals}, []int{1, 2, 0})
	is.NoErr(rerrs[0])
	is.True(rerrs[1] != nil)
	is.NoErr(rerrs[2])

	// Flushed: the items are answered NOSCRIPT, then run once more with EVAL.
	is.NoErr(client.ScriptFlush(ctx).Err())
	leases, errs = m.AcquireMany(ctx, keys, time.Minute)
	pipelines, evalsha, evals = counter.take()
	is.Equal([]int{pipelines, evalsha, evals}, []int{2, 4, 4})
	is.NoErr(errs[0])
	is.True(errors.Is(errs[1], lock.ErrNotAcquired)) // same semantics as before the flush
	is.True(errs[2] != nil && !errors.Is(errs[2], lock.ErrNotAcquired))
	is.NoErr(errs[3])
	is.True(errors.Is(errs[4], lock.ErrNotAcquired)) // the key named twice is still taken once
	owner, err := client.Get(ctx, prefix+"lock:{a}").Result()
	is.NoErr(err)
	is.Equal(owner, leases[0].Owner)

	is.NoErr(client.ScriptFlush(ctx).Err())
	impostor := &lock.Lease{Key: "held", Owner: "someone else", Fence: held.Fence, TTL: time.Minute}
	rerrs = m.ReleaseMany(ctx, []*lock.Lease{leases[0], impostor, leases[3], leases[0]})
	pipelines, evalsha, evals = counter.take()
	is.Equal([]int{pipelines, evalsha, evals}, []int{2, 4, 4})
	is.NoErr(rerrs[0])
	is.True(errors.Is(rerrs[1], lock.ErrLost))
	is.NoErr(rerrs[2])
	is.True(errors.Is(rerrs[3], lock.ErrLost))
	owner, err = client.Get(ctx, prefix+"lock:{held}").Result()
	is.NoErr(err)
	is.Equal(owner, held.Owner) // the refused release changed nothing

	// EVAL put the script back: one pipeline again.
	c, err := m.Acquire(ctx, "c", time.Minute)
	is.NoErr(err)
	is.NoErr(m.ReleaseMany(ctx, []*lock.Lease{c})[0])
	pipelines, _, evals = counter.take()
	is.Equal([]int{pipelines, evals}, []int{1, 0})

	// Nothing to send: no round trip.
	leases, errs = m.AcquireMany(ctx, []string{"", ""}, time.Minute)
	is.True(errs[0] != nil && errs[1] != nil && leases[0] == nil && leases[1] == nil)
	is.Equal(len(m.ReleaseMany(ctx, nil)), 0)
	pipelines, _, _ = counter.take()
	is.Equal(pipelines, 0)
}

func TestRedisManagerUnreachable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	m := lock.NewRedisManager(client, lock.RedisConfig{})
	ctx := t.Context()
	_, err := m.Acquire(ctx, "k", time.Second)
	is.True(err != nil && !errors.Is(err, lock.ErrNotAcquired)) // transport error, not a refusal
	l := &lock.Lease{Key: "k", Owner: "o", Fence: 1, TTL: time.Second}
	err = m.Extend(ctx, l, time.Second)
	is.True(err != nil && !errors.Is(err, lock.ErrLost))
	err = m.Release(ctx, l)
	is.True(err != nil && !errors.Is(err, lock.ErrLost))
	leases, errs := m.AcquireMany(ctx, []string{"k", "", "k2"}, time.Second)
	is.Equal(len(leases), 3)
	for i, err := range errs {
		is.True(leases[i] == nil && err != nil && !errors.Is(err, lock.ErrNotAcquired)) // transport (or validation) error
	}
	for _, err := range m.ReleaseMany(ctx, []*lock.Lease{l, nil, l}) {
		is.True(err != nil && !errors.Is(err, lock.ErrLost))
	}
}

func TestLocalManagerCancelledContext(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	m := lock.NewLocalManager(lock.LocalConfig{})
	l, err := m.Acquire(t.Context(), "k", time.Minute)
	is.NoErr(err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = m.Acquire(ctx, "k2", time.Minute)
	is.True(errors.Is(err, context.Canceled))
	is.True(errors.Is(m.Extend(ctx, l, time.Minute), context.Canceled))
	is.True(errors.Is(m.Release(ctx, l), context.Canceled))
}

// flaky is a Manager whose Extend always fails with a transport error.
type flaky struct{ lock.Manager }

func (flaky) Extend(context.Context, *lock.Lease, time.Duration) error {
	return errors.New("connection refused")
}

func TestHoldGivesUpAfterTTL(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	l := &lock.Lease{Key: "k", Owner: "o", Fence: 7, TTL: 60 * time.Millisecond}
	start := time.Now()
	work, stop := lock.Hold(t.Context(), flaky{}, l, 10*time.Millisecond)
	defer stop()
	select {
	case <-work.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("unrenewable lease did not cancel the work")
	}
	is.True(time.Since(start) >= l.TTL)                   // not before the lease could have expired
	is.True(errors.Is(context.Cause(work), lock.ErrLost)) // then as lost
}

func TestLocalFencesSurviveRestart(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	first := lock.NewLocalManager(lock.LocalConfig{})
	l, err := first.Acquire(ctx, "execution:x", time.Minute)
	is.NoErr(err)
	// The process restarted (which takes time); rows in the database keep l.Fence.
	restarted := lock.NewLocalManager(lock.LocalConfig{Now: func() time.Time { return time.Now().Add(time.Second) }})
	again, err := restarted.Acquire(ctx, "execution:x", time.Minute)
	is.NoErr(err)
	is.True(again.Fence > l.Fence) // a new owner's token still wins the claim
	other, err := restarted.Acquire(ctx, "execution:y", time.Minute)
	is.NoErr(err)
	is.True(other.Fence > again.Fence) // one counter for all keys
}

// never answers a renewal until the work ends: the lease's deadline stays where Hold put it.
type never struct{ lock.Manager }

func (never) Extend(ctx context.Context, _ *lock.Lease, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestHoldDeadline(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	_, ok := lock.Deadline(t.Context())
	is.True(!ok) // no lease, no deadline

	acquired := time.Now()
	outer := &lock.Lease{Key: "a", Owner: "o", Fence: 1, TTL: time.Hour, Acquired: acquired}
	ctx, stop := lock.Hold(t.Context(), never{}, outer, 0)
	defer stop()
	dl, ok := lock.Deadline(ctx)
	is.True(ok)
	is.Equal(dl, acquired.Add(time.Hour)) // Acquired + TTL, before any renewal

	inner := &lock.Lease{Key: "b", Owner: "o", Fence: 2, TTL: time.Minute, Acquired: acquired}
	ctx2, stop2 := lock.Hold(ctx, never{}, inner, 0)
	defer stop2()
	dl, _ = lock.Deadline(ctx2)
	is.Equal(dl, acquired.Add(time.Minute)) // the earliest of the leases held around the work

	later := &lock.Lease{Key: "c", Owner: "o", Fence: 3, TTL: 2 * time.Hour, Acquired: acquired}
	ctx3, stop3 := lock.Hold(ctx, never{}, later, 0)
	defer stop3()
	dl, _ = lock.Deadline(ctx3)
	is.Equal(dl, acquired.Add(time.Hour)) // an inner lease that lasts longer does not extend the outer one
}

// signalling reports each renewal on extended once it has returned.
type signalling struct {
	lock.Manager
	extended chan struct{}
}

func (m signalling) Extend(ctx context.Context, l *lock.Lease, ttl time.Duration) error {
	err := m.Manager.Extend(ctx, l, ttl)
	m.extended <- struct{}{}
	return err
}

// A successful renewal moves the deadline on; Acquired is set by the managers.
func TestHoldDeadlineMovesWithRenewals(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	m := signalling{Manager: lock.NewLocalManager(lock.LocalConfig{}), extended: make(chan struct{}, 8)}
	l, err := m.Acquire(t.Context(), "k", 300*time.Millisecond)
	is.NoErr(err)
	is.True(!l.Acquired.IsZero()) // the manager stamps the lease
	ctx, stop := lock.Hold(t.Context(), m, l, 0)
	defer stop()
	first, _ := lock.Deadline(ctx)
	is.Equal(first, l.Acquired.Add(l.TTL))
	// Renewals run one after another: once the second has returned, the first one's new
	// deadline is stored.
	<-m.extended
	<-m.extended
	moved, _ := lock.Deadline(ctx)
	is.True(moved.After(first)) // a renewal moved it
	is.True(ctx.Err() == nil)
}
