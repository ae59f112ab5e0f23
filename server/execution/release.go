package execution

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/workflow-runtime/workflow-runtime/server/lock"
)

// Releasing a lease is retried.
//
// A lease that is not released stays held until its TTL runs out (LockTTL, 30s by default),
// and whoever asks for it meanwhile is told that another owner holds it. For the execution's
// own lease that owner is taken to be another worker running the execution, so its next
// delivery is put off by a whole LockTTL (handle). A release that fails for a moment — Redis
// has just restarted and the client still refuses some calls while it answers others, or one
// reply is lost — would therefore hold a PENDING execution back for LockTTL although nobody
// runs it. So a failed release is tried again with backoff until it is made, the lease is
// found gone (lock.ErrLost), the lease's TTL has run out (it has expired by itself then), or
// the worker stops (the TTL frees it, as before).
//
// While this worker is still releasing a lease (the retries take longer than ClaimIdle, or a
// delivery of the same execution comes meanwhile), a delivery that finds that lease held waits
// for the release to end and asks again (acquireOwnLease), instead of taking its own lease for
// another worker's.

// releaseRetryFirst and releaseRetryMax are the first and the longest wait between attempts.
const (
	releaseRetryFirst = 50 * time.Millisecond
	releaseRetryMax   = time.Second
)

// release frees l, retrying a failed attempt as said above.
func (w *Worker) release(ctx context.Context, log *slog.Logger, l *lock.Lease) {
	if l == nil {
		return
	}
	w.mu.Lock()
	if w.freeing[l.Key] == nil {
		done := make(chan struct{})
		w.freeing[l.Key] = done
		defer func() {
			w.mu.Lock()
			delete(w.freeing, l.Key)
			w.mu.Unlock()
			close(done)
		}()
	}
	w.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	err := w.steps.releaseLease(ctx, l) // the first attempt is made even when the worker stops
	if err == nil || errors.Is(err, lock.ErrLost) {
		return
	}
	// No renewal runs any more: the lease expires at most its TTL from now.
	ctx, cancel := context.WithTimeout(ctx, l.TTL)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-w.quit:
			cancel()
		case <-stop:
		}
	}()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = releaseRetryFirst
	b.MaxInterval = releaseRetryMax
	failures := 1
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		err := w.steps.releaseLease(ctx, l)
		switch {
		case err == nil:
			return struct{}{}, nil
		case errors.Is(err, lock.ErrLost):
			return struct{}{}, backoff.Permanent(err)
		}
		failures++
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	switch {
	case err != nil && !errors.Is(err, lock.ErrLost):
		log.Warn("release failed; the lease expires by its TTL", slog.String("key", l.Key), slog.Int("failures", failures), slog.Any("error", err))
	case err == nil && failures > 0:
		log.Info("lease released after retries", slog.String("key", l.Key), slog.Int("failures", failures))
	}
}

// acquireOwnLease takes the lease of key; when another owner holds it and that owner is this
// worker, still releasing it, it waits for the release to end and asks once more.
func (w *Worker) acquireOwnLease(ctx context.Context, key string) (*lock.Lease, error) {
	l, err := w.steps.acquireLease(ctx, key)
	if !errors.Is(err, lock.ErrNotAcquired) {
		return l, err
	}
	w.mu.Lock()
	done := w.freeing[key]
	w.mu.Unlock()
	if done == nil {
		return nil, err
	}
	select {
	case <-done:
	case <-w.quit:
		return nil, err
	}
	return w.steps.acquireLease(ctx, key)
}
