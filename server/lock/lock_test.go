package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/lock/locktest"
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
