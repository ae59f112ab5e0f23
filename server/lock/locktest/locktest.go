// Package locktest is the contract every lock.Manager passes, plus the clocks and the Redis
// helper its tests use.
package locktest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/testenv"
)

// Clock moves a backend's time forward.
type Clock interface {
	// Advance lets at least d pass for the manager.
	Advance(d time.Duration)
}

// FakeClock and RealClock are the shared test clocks.
type (
	FakeClock = testenv.FakeClock
	RealClock = testenv.RealClock
)

// NewFakeClock returns a FakeClock set to a fixed instant.
func NewFakeClock() *FakeClock { return testenv.NewFakeClock() }

// ShortTTL is the TTL the suite lets expire: short enough for a real clock.
const ShortTTL = 100 * time.Millisecond

// Run runs the contract suite. newManager returns a fresh manager (its own key space) and the
// clock that drives its expiry.
func Run(t *testing.T, newManager func(t *testing.T) (lock.Manager, Clock)) {
	t.Helper()
	tests := []struct {
		name string
		f    func(t *testing.T, m lock.Manager, clock Clock)
	}{
		{"AcquireIsExclusive", testAcquireIsExclusive},
		{"FenceGrowsAcrossRelease", testFenceGrowsAcrossRelease},
		{"ExpiryFreesKey", testExpiryFreesKey},
		{"ExtendKeepsLease", testExtendKeepsLease},
		{"ReleaseByNonOwnerRefused", testReleaseByNonOwnerRefused},
		{"ExtendAfterLoss", testExtendAfterLoss},
		{"InvalidArguments", testInvalidArguments},
		{"HoldRenews", testHoldRenews},
		{"HoldCancelsOnLoss", testHoldCancelsOnLoss},
		{"HoldStop", testHoldStop},
		{"ConcurrentAcquirersOneWinner", testConcurrentAcquirers},
		{"FencesUniqueUnderChurn", testFencesUniqueUnderChurn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, clock := newManager(t)
			tt.f(t, m, clock)
		})
	}
}

func key() string { return "wf-" + uuid.NewString() }

// eventually calls f until it reports true, failing t after a bound far above any expected wait.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testAcquireIsExclusive(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	l, err := m.Acquire(ctx, k, time.Minute)
	is.NoErr(err)
	is.Equal(l.Key, k)
	is.True(l.Owner != "")       // owner token set
	is.True(l.Fence >= 1)        // fences start at 1
	is.Equal(l.TTL, time.Minute) // ttl recorded
	_, err = m.Acquire(ctx, k, time.Minute)
	is.True(errors.Is(err, lock.ErrNotAcquired)) // second acquirer refused
	other, err := m.Acquire(ctx, key(), time.Minute)
	is.NoErr(err) // other keys are independent
	is.True(other.Owner != l.Owner)
}

func testFenceGrowsAcrossRelease(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	var last int64
	for range 5 {
		l, err := m.Acquire(ctx, k, time.Minute)
		is.NoErr(err)
		is.True(l.Fence > last) // fence strictly greater than every earlier one
		last = l.Fence
		is.NoErr(m.Release(ctx, l))
	}
}

func testExpiryFreesKey(t *testing.T, m lock.Manager, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	old, err := m.Acquire(ctx, k, ShortTTL)
	is.NoErr(err)
	clock.Advance(ShortTTL)
	var cur *lock.Lease
	eventually(t, "expired lease frees the key", func() bool {
		cur, err = m.Acquire(ctx, k, time.Minute)
		if errors.Is(err, lock.ErrNotAcquired) {
			return false
		}
		is.NoErr(err)
		return true
	})
	is.True(cur.Fence > old.Fence)                                    // fence grows across expiry
	is.True(errors.Is(m.Extend(ctx, old, time.Minute), lock.ErrLost)) // the expired owner cannot extend
	is.True(errors.Is(m.Release(ctx, old), lock.ErrLost))             // nor release the new owner's lease
	_, err = m.Acquire(ctx, k, time.Minute)
	is.True(errors.Is(err, lock.ErrNotAcquired)) // the new owner still holds it
	is.NoErr(m.Release(ctx, cur))
}

func testExtendKeepsLease(t *testing.T, m lock.Manager, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	l, err := m.Acquire(ctx, k, ShortTTL)
	is.NoErr(err)
	is.NoErr(m.Extend(ctx, l, time.Minute))
	clock.Advance(2 * ShortTTL) // past the original TTL
	_, err = m.Acquire(ctx, k, time.Minute)
	is.True(errors.Is(err, lock.ErrNotAcquired)) // still held after the original TTL
	is.NoErr(m.Extend(ctx, l, time.Minute))      // and extendable again
	is.NoErr(m.Release(ctx, l))
}

func testReleaseByNonOwnerRefused(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	l, err := m.Acquire(ctx, k, time.Minute)
	is.NoErr(err)
	impostor := &lock.Lease{Key: k, Owner: uuid.NewString(), Fence: l.Fence, TTL: time.Minute}
	is.True(errors.Is(m.Release(ctx, impostor), lock.ErrLost))             // non-owner release refused
	is.True(errors.Is(m.Extend(ctx, impostor, time.Minute), lock.ErrLost)) // non-owner extend refused
	_, err = m.Acquire(ctx, k, time.Minute)
	is.True(errors.Is(err, lock.ErrNotAcquired)) // and changed nothing
	is.NoErr(m.Release(ctx, l))
	is.True(errors.Is(m.Release(ctx, l), lock.ErrLost)) // releasing twice: no longer held
}

func testExtendAfterLoss(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	l, err := m.Acquire(ctx, k, time.Minute)
	is.NoErr(err)
	is.NoErr(m.Release(ctx, l))
	is.True(errors.Is(m.Extend(ctx, l, time.Minute), lock.ErrLost)) // released: lost
	taker, err := m.Acquire(ctx, k, time.Minute)
	is.NoErr(err)
	is.True(errors.Is(m.Extend(ctx, l, time.Minute), lock.ErrLost)) // taken by another: lost
	is.NoErr(m.Extend(ctx, taker, time.Minute))
}

func testInvalidArguments(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	_, err := m.Acquire(ctx, "", time.Minute)
	is.True(err != nil && !errors.Is(err, lock.ErrNotAcquired)) // empty key
	_, err = m.Acquire(ctx, key(), 0)
	is.True(err != nil && !errors.Is(err, lock.ErrNotAcquired)) // zero ttl
	l, err := m.Acquire(ctx, key(), time.Minute)
	is.NoErr(err)
	is.True(m.Extend(ctx, l, 0) != nil)             // zero ttl
	is.True(m.Extend(ctx, nil, time.Minute) != nil) // nil lease
	is.True(m.Release(ctx, nil) != nil)             // nil lease
}

// counting counts the Extend calls that succeed.
type counting struct {
	lock.Manager
	extends atomic.Int64
}

func (c *counting) Extend(ctx context.Context, l *lock.Lease, ttl time.Duration) error {
	err := c.Manager.Extend(ctx, l, ttl)
	if err == nil {
		c.extends.Add(1)
	}
	return err
}

func testHoldRenews(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	l, err := m.Acquire(ctx, k, ShortTTL)
	is.NoErr(err)
	c := &counting{Manager: m}
	work, stop := lock.Hold(ctx, c, l, ShortTTL/5)
	defer stop()
	start := time.Now()
	// Wait for renewals spanning well over the TTL: with a real clock the lease would have
	// expired twice without them.
	eventually(t, "renewals", func() bool { return c.extends.Load() >= 10 && time.Since(start) > 2*ShortTTL })
	is.NoErr(work.Err()) // work goes on
	_, err = m.Acquire(ctx, k, time.Minute)
	is.True(errors.Is(err, lock.ErrNotAcquired)) // still held
	stop()
	is.NoErr(m.Release(ctx, l))
}

func testHoldCancelsOnLoss(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	l, err := m.Acquire(ctx, k, time.Minute)
	is.NoErr(err)
	work, stop := lock.Hold(ctx, m, l, 10*time.Millisecond)
	defer stop()
	// The lease is lost: freed behind the holder's back and taken by someone else.
	is.NoErr(m.Release(ctx, l))
	_, err = m.Acquire(ctx, k, time.Minute)
	is.NoErr(err)
	select {
	case <-work.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("losing the lock did not cancel the work")
	}
	is.True(errors.Is(context.Cause(work), lock.ErrLost)) // cause is ErrLost
	stop()
	is.True(errors.Is(context.Cause(work), lock.ErrLost)) // stop keeps the cause
}

func testHoldStop(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	l, err := m.Acquire(ctx, key(), time.Minute)
	is.NoErr(err)
	work, stop := lock.Hold(ctx, m, l, 0)
	is.NoErr(work.Err())
	stop()
	stop()                                                    // idempotent
	is.True(errors.Is(context.Cause(work), context.Canceled)) // stopped, not lost
	is.NoErr(m.Release(ctx, l))                               // stop leaves the release to the caller

	parent, cancel := context.WithCancel(ctx)
	l, err = m.Acquire(ctx, key(), time.Minute)
	is.NoErr(err)
	work, stop = lock.Hold(parent, m, l, time.Millisecond)
	cancel()
	<-work.Done() // the parent's end ends the work
	stop()
	is.True(errors.Is(context.Cause(work), context.Canceled))
}

func testConcurrentAcquirers(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	const n = 50
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		winners atomic.Int64
		errs    = make(chan error, n)
	)
	for range n {
		wg.Go(func() {
			<-start
			_, err := m.Acquire(ctx, k, time.Minute)
			switch {
			case err == nil:
				winners.Add(1)
			case !errors.Is(err, lock.ErrNotAcquired):
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	is.Equal(winners.Load(), int64(1)) // exactly one winner
}

func testFencesUniqueUnderChurn(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k := key()
	var (
		mu     sync.Mutex
		fences = map[int64]bool{}
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			var last int64
			for range 25 {
				l, err := m.Acquire(ctx, k, time.Minute)
				if errors.Is(err, lock.ErrNotAcquired) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if l.Fence <= last {
					t.Errorf("fence %d after %d", l.Fence, last)
				}
				last = l.Fence
				mu.Lock()
				if fences[l.Fence] {
					t.Errorf("fence %d handed out twice", l.Fence)
				}
				fences[l.Fence] = true
				mu.Unlock()
				if err := m.Release(ctx, l); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	is.True(len(fences) > 0) // someone won
}
