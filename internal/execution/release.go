package execution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/workflow-runtime/workflow-runtime/internal/lock"
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
// # This worker's own execution leases
//
// Two deliveries of one execution may be in this worker at once: the takeover (ClaimStale
// after ClaimIdle) of a message whose first delivery is still being handled, or a duplicate
// message. The second must not take the first's lease for another worker's: that puts the
// execution off by LockTTL, and if the first then gives up (its workflow lock could not be
// taken), nobody runs it meanwhile. So the worker keeps an entry per execution lease it
// holds (ownLeases), from before it asks for the lease until its release has ended, with the
// phase its holder is in:
//
//   - admitting: from asking for the lease until the claim (loading the config, taking the
//     workflow lock, an abandon); short, bounded by those calls' own timeouts;
//   - running: the claim has been made and the engine runs it;
//   - releasing: release is freeing it, retrying as said above.
//
// A delivery that finds an entry for its execution (acquireOwnLease) waits, while the holder
// is admitting or releasing, for that phase to end (or the worker to stop) and looks again;
// when the holder runs, it is told the lease is held (lock.ErrNotAcquired) without asking,
// and handle puts it off by LockTTL as for another worker's run, rather than keep a slot for
// a whole run. Since the entry exists before the lease is asked for and is removed only once
// its release has ended, a lease this worker holds or frees is never found without its entry.
// Gate (workflow:) leases have no entry: their release is retried the same way.

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
	if o := w.own.releasing(l); o != nil {
		defer w.own.end(l.Key, o)
	}
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

// leasePhase is what the holder of an execution lease of this worker is doing.
type leasePhase int

const (
	leaseAdmitting leasePhase = iota
	leaseRunning
	leaseReleasing
)

// ownLease is the entry of one execution lease of this worker.
type ownLease struct {
	lease   *lock.Lease   // nil until acquired
	phase   leasePhase    // what its holder does
	changed chan struct{} // closed when phase changes or the entry ends
}

// ownLeases holds this worker's execution leases by key, from before each is asked for until
// its release has ended.
type ownLeases struct {
	mu sync.Mutex
	m  map[string]*ownLease
	// waiting, when set, is called with mu held each time a delivery waits for this worker's
	// holder of its lease (tests).
	waiting func()
}

// enter makes the entry of key in phase admitting and returns it, or returns the current
// entry's wait channel when there is one: nil when its holder runs.
func (s *ownLeases) enter(key string) (o *ownLease, wait <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*ownLease{}
	}
	if cur := s.m[key]; cur != nil {
		if cur.phase == leaseRunning {
			return nil, nil
		}
		if s.waiting != nil {
			s.waiting()
		}
		return nil, cur.changed
	}
	o = &ownLease{phase: leaseAdmitting, changed: make(chan struct{})}
	s.m[key] = o
	return o, nil
}

// set moves the entry of l, if it is l's, to phase p and returns it.
func (s *ownLeases) set(l *lock.Lease, p leasePhase) *ownLease {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.m[l.Key]
	if o == nil || o.lease != l || o.phase == p {
		return nil
	}
	o.phase = p
	close(o.changed)
	o.changed = make(chan struct{})
	return o
}

// releasing moves the entry of l to releasing; nil when l has none (a gate lease) or it is
// already being released.
func (s *ownLeases) releasing(l *lock.Lease) *ownLease { return s.set(l, leaseReleasing) }

// end removes o, the entry of key, and wakes who waits for it. A newer entry of key is left.
func (s *ownLeases) end(key string, o *ownLease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key] == o {
		delete(s.m, key)
	}
	close(o.changed)
}

// runs tells that the holder of l has claimed the row and runs the execution.
func (s *ownLeases) runs(l *lock.Lease) { s.set(l, leaseRunning) }

// acquireOwnLease takes the lease of key for a delivery of its execution. When a delivery in
// this worker holds it or is asking for it, it waits while that one admits or releases and
// looks again; while that one runs, it returns lock.ErrNotAcquired without asking.
func (w *Worker) acquireOwnLease(ctx context.Context, key string) (*lock.Lease, error) {
	for {
		o, wait := w.own.enter(key)
		if o != nil {
			l, err := w.steps.acquireLease(ctx, key)
			if err != nil {
				w.own.end(key, o)
				return nil, err
			}
			w.own.mu.Lock()
			o.lease = l
			w.own.mu.Unlock()
			return l, nil
		}
		if wait == nil {
			return nil, fmt.Errorf("%s: run by this worker: %w", key, lock.ErrNotAcquired)
		}
		select {
		case <-wait:
		case <-w.quit:
			return nil, fmt.Errorf("%s: still held by this worker at stop: %w", key, lock.ErrNotAcquired)
		}
	}
}
