package execution

import (
	"context"
	"log/slog"
	"time"
)

// The gate decides whether the worker takes work from the queue. Two causes close it, each
// with a channel that is non-nil while it holds and closed when it ends:
//
//   - unready: Readiness says a dependency the worker needs (storage, queue, engine) does not
//     answer. It is asked at Start and every ReadinessInterval, and the gate opens by itself
//     once Readiness says yes again.
//   - paused: an execution found the engine unreachable (engine.ErrUnavailable); EngineProbe is
//     asked with backoff until it answers.
//
// While the gate is closed the receive and takeover loops make no queue call that takes work
// (Receive, ClaimStale), so messages stay in the queue for workers that can run them, and a
// dead worker's messages are claimed by one of those. Running executions are not touched: they
// finish, fail or are handed back as they would anyway.
//
// Closing for unreadiness takes gate for writing, which the loops hold for reading across each
// Receive and ClaimStale: when the worker reports that it takes no work, no such call is in
// flight, and none starts until it takes work again (a loop checks the gate again under the
// read lock before its call).

// readinessTimeout bounds one Readiness call.
const readinessTimeout = 5 * time.Second

// pausedBy returns a channel that closes when the worker may take work again, or nil when it
// takes work now.
func (w *Worker) pausedBy() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unready != nil {
		return w.unready
	}
	if w.paused != nil {
		return w.paused
	}
	return nil
}

// waitTaking waits until the worker takes work; false when Stop came first.
func (w *Worker) waitTaking() bool {
	for {
		p := w.pausedBy()
		if p == nil {
			return !w.quitting()
		}
		select {
		case <-p:
		case <-w.quit:
			return false
		}
	}
}

// reportTaking reports to the metrics whether the worker takes work, when that changed since
// the last report (and always the first time).
func (w *Worker) reportTaking() {
	w.mu.Lock()
	taking := w.unready == nil && w.paused == nil
	changed := taking != w.taking || !w.reported
	w.taking, w.reported = taking, true
	w.mu.Unlock()
	if changed {
		w.cfg.Metrics.TakingWork(context.Background(), taking)
	}
}

// readinessLoop asks Readiness every ReadinessInterval until Stop.
func (w *Worker) readinessLoop() {
	t := time.NewTicker(w.cfg.ReadinessInterval)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			w.checkReadiness()
		}
	}
}

// checkReadiness asks Readiness and closes or opens the gate when the answer changed.
func (w *Worker) checkReadiness() {
	ctx, cancel := context.WithTimeout(context.Background(), readinessTimeout)
	err := w.cfg.Readiness(ctx)
	cancel()
	w.mu.Lock()
	unready, since := w.unready, w.since
	w.mu.Unlock()
	switch {
	case err != nil && unready == nil:
		// Wait for the Receive or ClaimStale in flight (at most ReceiveBlock), so that none is
		// once the pause is reported.
		w.gate.Lock()
		w.mu.Lock()
		w.unready, w.since = make(chan struct{}), time.Now()
		w.mu.Unlock()
		w.gate.Unlock()
		w.log.Warn("worker not ready; taking no work until it is", slog.String("reason", err.Error()))
		w.reportTaking()
	case err == nil && unready != nil:
		w.mu.Lock()
		close(w.unready)
		w.unready = nil
		w.mu.Unlock()
		w.log.Info("worker ready again; taking work", slog.Duration("paused", time.Since(since)))
		w.reportTaking()
	}
}

// Slots returns how many executions the worker handles now and how many it handles at most
// (Concurrency): what the instance registry publishes.
func (w *Worker) Slots() (inUse, capacity int) {
	return int(w.busy.Load()), w.cfg.Concurrency
}

// pauseForEngine stops the taking of work until the engine answers (EngineProbe) again; it
// probes with backoff (100ms doubling to 5s) and resumes by itself. Calls while paused do
// nothing.
func (w *Worker) pauseForEngine() {
	w.mu.Lock()
	if w.paused != nil {
		w.mu.Unlock()
		return
	}
	resumed := make(chan struct{})
	w.paused = resumed
	w.mu.Unlock()
	w.log.Warn("engine unreachable; taking no work until it answers")
	w.reportTaking()
	go func() {
		started := time.Now()
		delay := 100 * time.Millisecond
		for {
			select {
			case <-time.After(delay):
			case <-w.quit:
			}
			if w.quitting() {
				break
			}
			if w.cfg.EngineProbe == nil {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := w.cfg.EngineProbe(ctx)
			cancel()
			if err == nil {
				break
			}
			delay = min(2*delay, 5*time.Second)
		}
		w.mu.Lock()
		w.paused = nil
		w.mu.Unlock()
		close(resumed)
		w.log.Info("engine answers again; taking work", slog.Duration("paused", time.Since(started)))
		w.reportTaking()
	}()
}
