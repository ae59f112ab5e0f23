package testenv

import (
	"sync"
	"testing"
	"time"
)

// Two ways for a test to wait, and no third: what the test's own process does announces
// itself on a Signal (a hook, a subscription, a wrapper the test hands in) and the test
// Awaits it; what only asking can tell (the state of another process, of a server across the
// network, of a clock the test cannot move such as Redis's) the test Polls for. Neither is a
// sleep: both end as soon as the condition holds, and both fail the test with what they last
// saw once their bound has passed.

// PollInterval is how often Poll asks.
const PollInterval = 50 * time.Millisecond

// Poll calls cond until it returns nil, every PollInterval, and fails the test with cond's
// last error once timeout has passed. cond runs on the test's goroutine, so it may fail the
// test itself; its error says what it saw ("status RUNNING, want SUCCEEDED").
func Poll(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	PollEvery(t, PollInterval, timeout, cond)
}

// PollEvery is Poll asking every interval, for a cond whose asking is not cheap (one call per
// execution of a batch).
func PollEvery(t testing.TB, interval, timeout time.Duration, cond func() error) {
	t.Helper()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("gave up after %s: %v", timeout, err)
		}
	}
}

// Signal tells the goroutines that wait on it that something happened again (a change
// published, a message acknowledged, a span exported): Fire wakes every waiter. It carries no
// value; the waiter looks at the state the signal announces. The zero Signal is ready for use.
type Signal struct {
	mu   sync.Mutex
	next chan struct{}
}

// Next returns a channel closed at the next Fire. Taken before looking at the state, it
// cannot miss a change made between the look and the wait.
func (s *Signal) Next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = make(chan struct{})
	}
	return s.next
}

// Fire wakes every goroutine waiting on a channel from Next.
func (s *Signal) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != nil {
		close(s.next)
		s.next = nil
	}
}

// Await calls cond until it returns nil, again after each Fire, and fails the test with
// cond's last error once timeout has passed. cond runs on the test's goroutine, so it may fail
// the test itself; its error says what it saw.
func (s *Signal) Await(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		fired := s.Next()
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-fired:
		case <-deadline.C:
			t.Fatalf("gave up after %s: %v", timeout, err)
		}
	}
}
