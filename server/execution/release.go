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
	// No renewal runs any more: the lease expires at most its TTL from now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.TTL)
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
	failures := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
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
