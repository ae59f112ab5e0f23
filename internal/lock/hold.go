package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Extender is what Hold needs of a Manager: renewing a lease.
type Extender interface {
	Extend(ctx context.Context, l *Lease, ttl time.Duration) error
}

// Hold keeps l alive while the work runs: it extends the lease by l.TTL every `every` (default
// l.TTL/3, also used when every <= 0 or every > l.TTL/2, which would leave no time for a retry)
// and returns a context for the work, derived from ctx.
//
// Losing the lock cancels the run: when an Extend returns ErrLost, or when no Extend has
// succeeded for l.TTL (Redis unreachable: the lease must be assumed expired), the returned
// context is cancelled with a cause that matches ErrLost (errors.Is(context.Cause(ctx2),
// ErrLost)). Other Extend errors are retried at the next tick.
//
// The returned context also carries the lease's deadline (Deadline): Acquired + TTL, moved on by
// each successful renewal to the renewal's start + TTL, on the monotonic clock. Unlike the
// cancellation, which needs the renewing goroutine to run, the deadline is true the moment the
// process wakes from a freeze, so work can check it before each step.
//
// stop ends the renewals, waits for the renewing goroutine, and cancels the returned context
// (cause context.Canceled unless it was lost before). It does not release the lease; the caller
// does that after stop. stop is idempotent. Call Hold right after Acquire: the first renewal is
// `every` after the call, and the TTL budget is counted from the call.
func Hold(ctx context.Context, m Extender, l *Lease, every time.Duration) (context.Context, func()) {
	if every <= 0 || every > l.TTL/2 {
		every = max(l.TTL/3, time.Millisecond)
	}
	start := l.Acquired
	if start.IsZero() {
		start = time.Now()
	}
	dl := &deadline{parent: deadlineOf(ctx)}
	dl.until.Store(start.Add(l.TTL))
	work, cancel := context.WithCancelCause(context.WithValue(ctx, deadlineKey{}, dl))
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		renew(work, m, l, every, start, dl, quit, cancel)
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
func renew(work context.Context, m Extender, l *Lease, every time.Duration, lastOK time.Time, dl *deadline, quit <-chan struct{}, lose context.CancelCauseFunc) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
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
			dl.until.Store(started.Add(l.TTL))
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

// deadline is the time a held lease lasts until without a further renewal; parent is the
// deadline of a lease held around this one (Hold inside Hold), which bounds it too.
type deadline struct {
	parent *deadline
	until  atomic.Value // time.Time, with its monotonic reading
}

type deadlineKey struct{}

func deadlineOf(ctx context.Context) *deadline {
	d, _ := ctx.Value(deadlineKey{}).(*deadline)
	return d
}

// Deadline reports the earliest deadline of the leases that ctx is held under (see Hold), and
// whether there is one. Compare it with time.Now(): both carry the monotonic clock, which goes
// on while a process is frozen.
func Deadline(ctx context.Context) (time.Time, bool) {
	var out time.Time
	for d := deadlineOf(ctx); d != nil; d = d.parent {
		if t := d.until.Load().(time.Time); out.IsZero() || t.Before(out) {
			out = t
		}
	}
	return out, !out.IsZero()
}
