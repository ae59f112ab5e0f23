package execution_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// flakyLocker is a real lock.Manager whose first workflow-lock acquisition and first releases fail
// as a Redis that has just restarted answers some calls ("connection refused" from the
// client's dial back-off) while it answers others.
type flakyLocker struct {
	lock.Manager
	failAcquire  atomic.Int64 // workflow-lock acquisitions still to fail
	failReleases atomic.Int64 // releases still to fail
}

var errRefused = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (l *flakyLocker) acquireFails(key string) bool {
	return strings.HasPrefix(key, "workflow:") && l.failAcquire.Add(-1) >= 0
}

func (l *flakyLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (*lock.Lease, error) {
	if l.acquireFails(key) {
		return nil, errRefused
	}
	return l.Manager.Acquire(ctx, key, ttl)
}

func (l *flakyLocker) AcquireMany(ctx context.Context, keys []string, ttl time.Duration) ([]*lock.Lease, []error) {
	leases, errs := l.Manager.AcquireMany(ctx, keys, ttl)
	for i, k := range keys {
		if errs[i] == nil && l.acquireFails(k) {
			_ = l.Manager.Release(ctx, leases[i])
			leases[i], errs[i] = nil, errRefused
		}
	}
	return leases, errs
}

func (l *flakyLocker) Release(ctx context.Context, le *lock.Lease) error {
	if l.failReleases.Add(-1) >= 0 {
		return errRefused
	}
	return l.Manager.Release(ctx, le)
}

func (l *flakyLocker) ReleaseMany(ctx context.Context, ls []*lock.Lease) []error {
	errs := make([]error, len(ls))
	for i, le := range ls {
		errs[i] = l.Release(ctx, le)
	}
	return errs
}

// TestFailedReleaseDoesNotHoldBackTheExecution: a delivery that gives up after taking the
// execution's lease (its workflow lock could not be taken) and whose release of that lease
// fails leaves no lease behind once the locker answers again: the next delivery runs the
// execution instead of finding its own abandoned lease and waiting a whole LockTTL for it.
func TestFailedReleaseDoesNotHoldBackTheExecution(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			o := m.opts
			o.noWorker = true
			b := setup(t, o)
			locker := &flakyLocker{Manager: b.locker}
			locker.failAcquire.Store(1)
			locker.failReleases.Store(2)
			w := execution.NewWorker(b.db, b.queue, locker, b.engine, b.waitlist, b.notifier, execution.WorkerConfig{
				Concurrency:  4,
				LockTTL:      time.Hour, // a lease left behind would hold the execution back for an hour
				ClaimIdle:    200 * time.Millisecond,
				ReceiveBlock: 100 * time.Millisecond,
				Logger:       slog.New(slog.DiscardHandler),
			})
			startStop(t, w)
			wf := b.deploy(t, noop, deployments.Config{})
			e := b.trigger(t, wf)
			got := b.waitStatus(t, e.ID, execution.StatusSucceeded)
			is.Equal(got.Attempt, int32(1))
			is.True(locker.failReleases.Load() < 0) // the failed releases happened, and one more
		})
	}
}

// heldLocker is a real lock.Manager whose first call matching hold waits until proceed is
// closed, and then fails as refused when fail is set.
type heldLocker struct {
	lock.Manager
	hold    func(call, key string) bool // "acquire" or "release", and the lease's key
	fail    bool
	proceed chan struct{}
	once    sync.Once
	held    atomic.Bool
}

func newHeldLocker(m lock.Manager, hold func(call, key string) bool, fail bool) *heldLocker {
	return &heldLocker{Manager: m, hold: hold, fail: fail, proceed: make(chan struct{})}
}

func (l *heldLocker) open() { l.once.Do(func() { close(l.proceed) }) }

// wait holds the first matching call until open; it reports whether the call is to fail.
func (l *heldLocker) wait(call, key string) bool {
	if !l.hold(call, key) || !l.held.CompareAndSwap(false, true) {
		return false
	}
	<-l.proceed
	return l.fail
}

func (l *heldLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (*lock.Lease, error) {
	if l.wait("acquire", key) {
		return nil, errRefused
	}
	return l.Manager.Acquire(ctx, key, ttl)
}

func (l *heldLocker) AcquireMany(ctx context.Context, keys []string, ttl time.Duration) ([]*lock.Lease, []error) {
	leases, errs := make([]*lock.Lease, len(keys)), make([]error, len(keys))
	for i, k := range keys {
		leases[i], errs[i] = l.Acquire(ctx, k, ttl)
	}
	return leases, errs
}

func (l *heldLocker) Release(ctx context.Context, le *lock.Lease) error {
	if l.wait("release", le.Key) {
		return errRefused
	}
	return l.Manager.Release(ctx, le)
}

func (l *heldLocker) ReleaseMany(ctx context.Context, ls []*lock.Lease) []error {
	errs := make([]error, len(ls))
	for i, le := range ls {
		errs[i] = l.Release(ctx, le)
	}
	return errs
}

// runWithHeldLocker runs one execution on a worker over locker (LockTTL an hour, ClaimIdle
// 200ms), opens locker once a second delivery of the execution waits for the first one's
// lease, and returns the execution once it has succeeded.
func runWithHeldLocker(t *testing.T, b *testBundle, locker *heldLocker) *execution.Execution {
	t.Helper()
	w := execution.NewWorker(b.db, b.queue, locker, b.engine, b.waitlist, b.notifier, execution.WorkerConfig{
		Concurrency:  4,
		LockTTL:      time.Hour, // a delivery put off by LockTTL would hold the execution back for an hour
		ClaimIdle:    200 * time.Millisecond,
		ReceiveBlock: 100 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	})
	var waits atomic.Int64
	var waited testenv.Signal
	w.OnOwnLeaseWait(func() {
		waits.Add(1)
		waited.Fire()
	})
	startStop(t, w)
	t.Cleanup(locker.open) // before the worker stops, should the test fail first
	wf := b.deploy(t, noop, deployments.Config{})
	e := b.trigger(t, wf)
	waited.Await(t, 15*time.Second, func() error {
		if waits.Load() == 0 {
			return errors.New("no second delivery waits for the first one's lease")
		}
		return nil
	})
	locker.open()
	return b.waitStatus(t, e.ID, execution.StatusSucceeded)
}

// TestRedeliveryWaitsForTheAdmittingDelivery: the takeover of a message whose first delivery
// still holds the execution's lease before running it (here: held in the workflow-lock
// acquisition, which then fails) waits for that delivery to give up and runs the execution;
// it does not take the lease for another worker's run and put the execution off by LockTTL.
func TestRedeliveryWaitsForTheAdmittingDelivery(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			o := m.opts
			o.noWorker = true
			b := setup(t, o)
			locker := newHeldLocker(b.locker, func(call, key string) bool {
				return call == "acquire" && strings.HasPrefix(key, "workflow:")
			}, true)
			got := runWithHeldLocker(t, b, locker)
			is.Equal(got.Attempt, int32(1)) // the first delivery never ran it
		})
	}
}

// TestRedeliveryWaitsForTheReleasingDelivery: the takeover of a message whose first delivery
// is still releasing the execution's lease (after its workflow lock could not be taken) waits
// for the release to end and runs the execution; it never finds the lease held while this
// worker's release of it is ending.
func TestRedeliveryWaitsForTheReleasingDelivery(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			o := m.opts
			o.noWorker = true
			b := setup(t, o)
			flaky := &flakyLocker{Manager: b.locker}
			flaky.failAcquire.Store(1)
			locker := newHeldLocker(flaky, func(call, key string) bool {
				return call == "release" && strings.HasPrefix(key, "execution:")
			}, false)
			got := runWithHeldLocker(t, b, locker)
			is.Equal(got.Attempt, int32(1)) // the first delivery never ran it
		})
	}
}
