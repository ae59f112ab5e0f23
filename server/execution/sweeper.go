package execution

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/queue"
)

// SweeperConfig configures a Sweeper. Every field has a default.
type SweeperConfig struct {
	// Interval between sweeps. Default 5s.
	Interval time.Duration
	// StaleAfter is how long a due PENDING execution may sit untouched before it is enqueued
	// again. Default 30s: longer than any enqueue takes, shorter than anyone waits.
	StaleAfter time.Duration
	// Batch is the most executions one sweep enqueues. Default 500.
	Batch int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Sweeper enqueues PENDING executions whose message was lost (the process died between the
// insert and the enqueue, Redis lost a write, a buffered execution missed its wake-up). The row
// is the truth; the queue is only delivery, and a duplicate message is harmless because every
// worker checks the row before it runs anything.
type Sweeper struct {
	store Store
	queue Queue
	cfg   SweeperConfig

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// NewSweeper returns a Sweeper; Start runs it.
func NewSweeper(store Store, q Queue, cfg SweeperConfig) *Sweeper {
	cfg.Interval = cmp.Or(cfg.Interval, 5*time.Second)
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, 30*time.Second)
	cfg.Batch = cmp.Or(cfg.Batch, 500)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Sweeper{store: store, queue: q, cfg: cfg}
}

// Start runs sweeps in the background until Stop.
func (s *Sweeper) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
					s.cfg.Logger.Warn("sweep failed", slog.Any("error", err))
				}
			}
		}
	}()
	return nil
}

// Stop ends the sweeps and waits for the current one. Idempotent.
func (s *Sweeper) Stop() {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
	})
}

// Sweep runs one sweep and returns how many executions it enqueued.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.Now().UTC()
	ids, err := s.store.ExecutionTouchDue(ctx, now, now.Add(-s.cfg.StaleAfter), now, s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if err := s.queue.Enqueue(ctx, queue.Message{ExecutionID: id}); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		s.cfg.Logger.Info("re-enqueued executions whose message was lost", slog.Int("count", n))
	}
	return n, nil
}
