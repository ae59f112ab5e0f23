package execution

import (
	"fmt"
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// AwaitWaitingTriggers waits until n Trigger calls wait for the next batch, and fails the test
// after timeout with how many do.
func (s *Service) AwaitWaitingTriggers(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	g := s.triggers.group
	var joined testenv.Signal
	g.mu.Lock()
	g.joined = joined.Fire
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.joined = nil
		g.mu.Unlock()
	}()
	joined.Await(t, timeout, func() error {
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.waiting) < n {
			return fmt.Errorf("%d calls waiting, want %d", len(g.waiting), n)
		}
		return nil
	})
}

// Quit closes when Stop has begun.
func (w *Worker) Quit() <-chan struct{} { return w.quit }

// OnOwnLeaseWait has f called each time a delivery waits for another delivery in w that holds
// or asks for the same execution's lease (release.go).
func (w *Worker) OnOwnLeaseWait(f func()) {
	w.own.mu.Lock()
	w.own.waiting = f
	w.own.mu.Unlock()
}

// HandlerGoroutines is how many handler goroutines w has started.
func (w *Worker) HandlerGoroutines() int64 { return w.handlers.Load() }

// OnHandlerIdle has f called each time a handler goroutine of w begins to wait for its next
// delivery. Set it before Start.
func (w *Worker) OnHandlerIdle(f func()) { w.onHandlerIdle = f }
