package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Hold keeps l alive while the work runs: it extends the lease by l.TTL every `every` (default
// l.TTL/3, also used when every <= 0 or every > l.TTL/2, which would leave no time for a retry)
// and returns a context for the work, derived from ctx.
//
// Losing the lock cancels the run: when an Extend returns ErrLost, or when no Extend has
// succeeded for l.TTL (Redis unreachable: the lease must be assumed expired), the returned
// context is cancelled with a cause that matches ErrLost (errors.Is(context.Cause(ctx2),
// ErrLost)). Other Extend errors are retried at the next tick.
//
// stop ends the renewals, waits for the renewing goroutine, and cancels the returned context
// (cause context.Canceled unless it was lost before). It does not release the lease; the caller
// does that after stop. stop is idempotent. Call Hold right after Acquire: the first renewal is
// `every` after the call, and the TTL budget is counted from the call.
func Hold(ctx context.Context, m Manager, l *Lease, every time.Duration) (context.Context, func()) {
	if every <= 0 || every > l.TTL/2 {
		every = max(l.TTL/3, time.Millisecond)
	}
	work, cancel := context.WithCancelCause(ctx)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		renew(work, m, l, every, quit, cancel)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			close(quit)
			<-done
			cancel(nil)
		})
	}
	return work, stop
}

// renew runs the renewal loop of Hold until quit closes, work ends or the lease is lost.
func renew(work context.Context, m Manager, l *Lease, every time.Duration, quit <-chan struct{}, lose context.CancelCauseFunc) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-quit:
			return
		case <-work.Done():
			return
		case <-ticker.C:
		}
		// An attempt may not outlive the time the lease has left.
		deadline := lastOK.Add(l.TTL)
		attempt, cancel := context.WithDeadline(work, deadline)
		started := time.Now()
		err := m.Extend(attempt, l, l.TTL)
		cancel()
		switch {
		case err == nil:
			lastOK = started
		case errors.Is(err, ErrLost):
			lose(fmt.Errorf("renew lock %s (fence %d): %w", l.Key, l.Fence, ErrLost))
			return
		case work.Err() != nil:
			return
		case !time.Now().Before(deadline):
			// Only ErrLost is wrapped: the cause must not match the last error (a timeout would
			// look like the execution's own deadline); that one is there to be read.
			lose(fmt.Errorf("renew lock %s (fence %d): not renewed for %s: %w (last error: %v)", l.Key, l.Fence, l.TTL, ErrLost, err)) //nolint:errorlint // see above
			return
		}
	}
}
