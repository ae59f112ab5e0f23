package execution_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/execution"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
)

// flakyLocker is a real Locker whose first workflow-lock acquisition and first releases fail
// as a Redis that has just restarted answers some calls ("connection refused" from the
// client's dial back-off) while it answers others.
type flakyLocker struct {
	execution.Locker
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
	return l.Locker.Acquire(ctx, key, ttl)
}

func (l *flakyLocker) AcquireMany(ctx context.Context, keys []string, ttl time.Duration) ([]*lock.Lease, []error) {
	leases, errs := l.Locker.AcquireMany(ctx, keys, ttl)
	for i, k := range keys {
		if errs[i] == nil && l.acquireFails(k) {
			_ = l.Locker.Release(ctx, leases[i])
			leases[i], errs[i] = nil, errRefused
		}
	}
	return leases, errs
}

func (l *flakyLocker) Release(ctx context.Context, le *lock.Lease) error {
	if l.failReleases.Add(-1) >= 0 {
		return errRefused
	}
	return l.Locker.Release(ctx, le)
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
			locker := &flakyLocker{Locker: b.locker}
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
