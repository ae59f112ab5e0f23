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

	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
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
		{"AcquireManyFreeKeys", testAcquireManyFreeKeys},
		{"AcquireManyMixesFreeAndHeld", testAcquireManyMixed},
		{"AcquireManySameKeyTwice", testAcquireManySameKeyTwice},
		{"ReleaseManyMixed", testReleaseManyMixed},
		{"BatchesEmpty", testBatchesEmpty},
		{"BatchesInvalidItems", testBatchesInvalidItems},
		{"BatchesConcurrentOneWinner", testBatchesConcurrent},
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

// eventually calls f until it reports true, failing t after a bound far above any expected
// wait. It polls (testenv.Poll): what it waits for follows the backend's clock, Redis's for
// the Redis backend, which the test can neither move nor hear.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	testenv.Poll(t, 5*time.Second, func() error {
		if !f() {
			return errors.New("waiting for " + what)
		}
		return nil
	})
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

// acquireMany calls m.AcquireMany and checks the shape of its answer: one lease or one error
// per key, never both, leases for the key asked with the batch's ttl.
func acquireMany(t *testing.T, m lock.Manager, keys []string, ttl time.Duration) ([]*lock.Lease, []error) {
	t.Helper()
	leases, errs := m.AcquireMany(t.Context(), keys, ttl)
	if len(leases) != len(keys) || len(errs) != len(keys) {
		t.Fatalf("AcquireMany of %d keys: %d leases, %d errors", len(keys), len(leases), len(errs))
	}
	for i := range keys {
		switch l, err := leases[i], errs[i]; {
		case (l == nil) == (err == nil):
			t.Fatalf("AcquireMany item %d (%q): lease %v, error %v: want exactly one", i, keys[i], l, err)
		case l != nil && (l.Key != keys[i] || l.Owner == "" || l.Fence < 1 || l.TTL != ttl):
			t.Fatalf("AcquireMany item %d (%q): bad lease %+v", i, keys[i], *l)
		}
	}
	return leases, errs
}

// releaseMany calls m.ReleaseMany and checks that it answers every lease.
func releaseMany(t *testing.T, m lock.Manager, ls []*lock.Lease) []error {
	t.Helper()
	errs := m.ReleaseMany(t.Context(), ls)
	if len(errs) != len(ls) {
		t.Fatalf("ReleaseMany of %d leases: %d errors", len(ls), len(errs))
	}
	return errs
}

func testAcquireManyFreeKeys(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	keys := []string{key(), key(), key(), key()}
	last := map[string]int64{}
	// Earlier fences: the first two keys were used by single leases before.
	for _, k := range keys[:2] {
		l, err := m.Acquire(ctx, k, time.Minute)
		is.NoErr(err)
		is.NoErr(m.Release(ctx, l))
		last[k] = l.Fence
	}
	for round := range 3 {
		leases, errs := acquireMany(t, m, keys, time.Minute)
		owners := map[string]bool{}
		for i, k := range keys {
			is.NoErr(errs[i])                  // every free key is acquired
			is.True(leases[i].Fence > last[k]) // fence above every earlier one of the key
			last[k] = leases[i].Fence
			is.True(!owners[leases[i].Owner]) // one owner token per lease
			owners[leases[i].Owner] = true
			_, err := m.Acquire(ctx, k, time.Minute)
			is.True(errors.Is(err, lock.ErrNotAcquired)) // and really held
			is.NoErr(m.Extend(ctx, leases[i], time.Minute))
		}
		if round == 1 {
			// Single releases free batch leases as well.
			for _, l := range leases {
				is.NoErr(m.Release(ctx, l))
			}
			continue
		}
		for i, err := range releaseMany(t, m, leases) {
			is.NoErr(err) // owned leases are released
			is.True(errors.Is(m.Extend(ctx, leases[i], time.Minute), lock.ErrLost))
		}
	}
	// And single acquisitions after batches keep growing the fences.
	for _, k := range keys {
		l, err := m.Acquire(ctx, k, time.Minute)
		is.NoErr(err)
		is.True(l.Fence > last[k])
	}
}

func testAcquireManyMixed(t *testing.T, m lock.Manager, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	held, err := m.Acquire(ctx, key(), time.Minute)
	is.NoErr(err)
	expiring, err := m.Acquire(ctx, key(), ShortTTL)
	is.NoErr(err)
	free1, free2 := key(), key()

	leases, errs := acquireMany(t, m, []string{free1, held.Key, free2}, time.Minute)
	is.NoErr(errs[0])                                // free: acquired
	is.True(errors.Is(errs[1], lock.ErrNotAcquired)) // held by another owner: refused
	is.NoErr(errs[2])                                // the refusal does not affect the others
	is.NoErr(m.Extend(ctx, held, time.Minute))       // the holder keeps its lease
	_, err = m.Acquire(ctx, held.Key, time.Minute)
	is.True(errors.Is(err, lock.ErrNotAcquired))
	for _, i := range []int{0, 2} {
		_, err = m.Acquire(ctx, leases[i].Key, time.Minute)
		is.True(errors.Is(err, lock.ErrNotAcquired)) // the acquired ones are held
	}

	// An expired lease's key is free for a batch, with a larger fence; a held one still is not.
	clock.Advance(ShortTTL)
	eventually(t, "expired lease frees the key for a batch", func() bool {
		leases, errs = acquireMany(t, m, []string{held.Key, expiring.Key}, time.Minute)
		is.True(errors.Is(errs[0], lock.ErrNotAcquired))
		if errors.Is(errs[1], lock.ErrNotAcquired) {
			return false
		}
		is.NoErr(errs[1])
		return true
	})
	is.True(leases[1].Fence > expiring.Fence)
	is.True(errors.Is(m.Release(ctx, expiring), lock.ErrLost)) // the old owner lost it
	is.NoErr(m.Release(ctx, leases[1]))
}

func testAcquireManySameKeyTwice(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k, other := key(), key()
	leases, errs := acquireMany(t, m, []string{k, other, k}, time.Minute)
	is.NoErr(errs[1])
	var winner *lock.Lease
	var refused int
	for _, i := range []int{0, 2} {
		switch {
		case errs[i] == nil:
			is.True(winner == nil) // at most one lease for the key
			winner = leases[i]
		case errors.Is(errs[i], lock.ErrNotAcquired):
			refused++
		default:
			is.NoErr(errs[i])
		}
	}
	is.True(winner != nil) // exactly one lease
	is.Equal(refused, 1)   // and one refusal
	is.NoErr(m.Extend(ctx, winner, time.Minute))
	_, err := m.Acquire(ctx, k, time.Minute)
	is.True(errors.Is(err, lock.ErrNotAcquired))

	// Released, the key can be taken again: twice in a batch still yields one lease.
	is.NoErr(m.Release(ctx, winner))
	leases, errs = acquireMany(t, m, []string{k, k, k}, time.Minute)
	var won int
	for i := range leases {
		if errs[i] == nil {
			won++
			is.True(leases[i].Fence > winner.Fence)
		} else {
			is.True(errors.Is(errs[i], lock.ErrNotAcquired))
		}
	}
	is.Equal(won, 1)
}

func testReleaseManyMixed(t *testing.T, m lock.Manager, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	owned, err := m.Acquire(ctx, key(), time.Minute)
	is.NoErr(err)
	owned2, err := m.Acquire(ctx, key(), time.Minute)
	is.NoErr(err)
	expired, err := m.Acquire(ctx, key(), ShortTTL) // expires, nobody takes it
	is.NoErr(err)
	lost, err := m.Acquire(ctx, key(), ShortTTL) // expires, then another owner takes it
	is.NoErr(err)
	held, err := m.Acquire(ctx, key(), time.Minute) // a non-owner tries to release it
	is.NoErr(err)
	released, err := m.Acquire(ctx, key(), time.Minute) // already released
	is.NoErr(err)
	is.NoErr(m.Release(ctx, released))
	clock.Advance(ShortTTL)
	var taker *lock.Lease
	eventually(t, "expired lease frees the key", func() bool {
		taker, err = m.Acquire(ctx, lost.Key, time.Minute)
		if errors.Is(err, lock.ErrNotAcquired) {
			return false
		}
		is.NoErr(err)
		return true
	})
	impostor := &lock.Lease{Key: held.Key, Owner: uuid.NewString(), Fence: held.Fence, TTL: time.Minute}

	errs := releaseMany(t, m, []*lock.Lease{owned, expired, lost, impostor, released, owned2})
	is.NoErr(errs[0])                         // owned: released
	is.True(errors.Is(errs[1], lock.ErrLost)) // expired
	is.True(errors.Is(errs[2], lock.ErrLost)) // expired and taken by another owner
	is.True(errors.Is(errs[3], lock.ErrLost)) // not the owner
	is.True(errors.Is(errs[4], lock.ErrLost)) // released before
	is.NoErr(errs[5])                         // the failures do not affect the others

	// The refused releases changed nothing for the current owners.
	is.NoErr(m.Extend(ctx, taker, time.Minute))
	is.NoErr(m.Extend(ctx, held, time.Minute))
	for _, k := range []string{lost.Key, held.Key} {
		_, err = m.Acquire(ctx, k, time.Minute)
		is.True(errors.Is(err, lock.ErrNotAcquired))
	}
	// The released keys are free.
	for _, l := range []*lock.Lease{owned, owned2, expired} {
		again, err := m.Acquire(ctx, l.Key, time.Minute)
		is.NoErr(err)
		is.True(again.Fence > l.Fence)
	}

	// The same lease twice: released once, then lost.
	errs = releaseMany(t, m, []*lock.Lease{taker, taker})
	is.NoErr(errs[0])
	is.True(errors.Is(errs[1], lock.ErrLost))
}

func testBatchesEmpty(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	for _, keys := range [][]string{nil, {}} {
		for _, ttl := range []time.Duration{time.Minute, 0} {
			leases, errs := m.AcquireMany(t.Context(), keys, ttl)
			is.Equal(len(leases), 0)
			is.Equal(len(errs), 0)
		}
	}
	is.Equal(len(m.ReleaseMany(t.Context(), nil)), 0)
	is.Equal(len(m.ReleaseMany(t.Context(), []*lock.Lease{})), 0)
}

func testBatchesInvalidItems(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	k1, k2 := key(), key()
	leases, errs := acquireMany(t, m, []string{"", k1, k2, ""}, time.Minute)
	is.True(errs[0] != nil && !errors.Is(errs[0], lock.ErrNotAcquired)) // empty key: invalid
	is.True(errs[3] != nil && !errors.Is(errs[3], lock.ErrNotAcquired))
	is.NoErr(errs[1]) // the others are acquired
	is.NoErr(errs[2])

	// A ttl below the minimum fails every item, and takes nothing.
	k3 := key()
	_, bad := acquireMany(t, m, []string{k3, key()}, 0)
	for _, err := range bad {
		is.True(err != nil && !errors.Is(err, lock.ErrNotAcquired))
	}
	l3, err := m.Acquire(ctx, k3, time.Minute)
	is.NoErr(err) // still free

	errs = releaseMany(t, m, []*lock.Lease{nil, leases[1], nil, leases[2], l3})
	is.True(errs[0] != nil && !errors.Is(errs[0], lock.ErrLost)) // nil lease: invalid
	is.True(errs[2] != nil && !errors.Is(errs[2], lock.ErrLost))
	is.NoErr(errs[1]) // the others are released
	is.NoErr(errs[3])
	is.NoErr(errs[4])
	for _, k := range []string{k1, k2, k3} {
		_, err := m.Acquire(ctx, k, time.Minute)
		is.NoErr(err)
	}
}

// testBatchesConcurrent races batches over the same keys (in different orders) with single
// acquirers: every key ends up with exactly one lease.
func testBatchesConcurrent(t *testing.T, m lock.Manager, _ Clock) {
	is := is.New(t)
	keys := []string{key(), key(), key(), key()}
	const n = 20
	var (
		mu    sync.Mutex
		wins  = map[string]int{}
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	win := func(k string, err error) {
		switch {
		case err == nil:
			mu.Lock()
			wins[k]++
			mu.Unlock()
		case !errors.Is(err, lock.ErrNotAcquired):
			t.Error(err)
		}
	}
	for g := range n {
		wg.Go(func() {
			<-start
			if g%4 == 0 {
				k := keys[g%len(keys)]
				_, err := m.Acquire(t.Context(), k, time.Minute)
				win(k, err)
				return
			}
			batch := make([]string, len(keys))
			for i := range keys {
				batch[i] = keys[(i+g)%len(keys)]
			}
			_, errs := m.AcquireMany(t.Context(), batch, time.Minute)
			for i, err := range errs {
				win(batch[i], err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, k := range keys {
		is.Equal(wins[k], 1) // exactly one winner per key
	}
}
