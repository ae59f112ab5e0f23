package execution_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
	"github.com/workflow-runtime/workflow-runtime/internal/waitlist"
)

// signalWait bounds how long a gate test waits for one signal of the worker.
const signalWait = 20 * time.Second

// readinessSource is a controllable Readiness: it answers what the test set and signals each
// call on polls.
type readinessSource struct {
	err   atomic.Pointer[error]
	polls chan struct{}
}

func newReadinessSource() *readinessSource {
	return &readinessSource{polls: make(chan struct{}, 1)}
}

func (s *readinessSource) set(err error) { s.err.Store(&err) }

func (s *readinessSource) check(context.Context) error {
	defer func() {
		select {
		case s.polls <- struct{}{}:
		default:
		}
	}()
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// waitPolls waits until the worker has asked n more times.
func (s *readinessSource) waitPolls(t *testing.T, n int) {
	t.Helper()
	select { // a call made before now does not count
	case <-s.polls:
	default:
	}
	for range n {
		select {
		case <-s.polls:
		case <-time.After(signalWait):
			t.Fatalf("readiness not asked within %s", signalWait)
		}
	}
}

// takingMetrics records what the worker reports through TakingWork.
type takingMetrics struct{ taking chan bool }

func (takingMetrics) ExecutionFinished(context.Context, string) {}
func (takingMetrics) LockWait(context.Context, string)          {}
func (m takingMetrics) TakingWork(_ context.Context, taking bool) {
	m.taking <- taking
}

// next waits for the worker's next TakingWork report.
func (m takingMetrics) next(t *testing.T) bool {
	t.Helper()
	select {
	case v := <-m.taking:
		return v
	case <-time.After(signalWait):
		t.Fatalf("no TakingWork reported within %s", signalWait)
		return false
	}
}

// countingQueue counts the queue calls that take work, started and returned.
type countingQueue struct {
	execution.WorkerQueue
	started, returned atomic.Int64
}

func (q *countingQueue) Receive(ctx context.Context, consumer string, max int, block time.Duration) ([]queue.Delivery, error) {
	q.started.Add(1)
	defer q.returned.Add(1)
	return q.WorkerQueue.Receive(ctx, consumer, max, block)
}

func (q *countingQueue) ClaimStale(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]queue.Delivery, error) {
	q.started.Add(1)
	defer q.returned.Add(1)
	return q.WorkerQueue.ClaimStale(ctx, consumer, minIdle, max)
}

// TestWorkerNotReadyTakesNoWork: while its readiness says no, the worker makes no queue call
// that takes work, and it resumes by itself when the readiness says yes; TakingWork reports
// each change.
func TestWorkerNotReadyTakesNoWork(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{noWorker: true})
	wf := b.deploy(t, noop, deployments.Config{})
	src := newReadinessSource()
	src.set(errors.New("database: connection refused"))
	metrics := takingMetrics{taking: make(chan bool, 16)}
	q := &countingQueue{WorkerQueue: b.queue}
	w := execution.NewWorker(b.db, q, b.locker, b.engine, b.waitlist, b.notifier, execution.WorkerConfig{
		Concurrency:       16,
		ClaimIdle:         40 * time.Millisecond, // the takeover loop asks every 10ms
		ReceiveBlock:      50 * time.Millisecond,
		Readiness:         src.check,
		ReadinessInterval: 10 * time.Millisecond,
		Metrics:           metrics,
		Logger:            slog.New(slog.DiscardHandler),
	})
	startStop(t, w)
	is.Equal(metrics.next(t), false) // not ready at start: paused from the first moment

	e1 := b.trigger(t, wf)
	src.waitPolls(t, 3)
	is.Equal(q.started.Load(), int64(0)) // neither Receive nor ClaimStale
	got, err := b.execs.Get(t.Context(), e1.ID)
	is.NoErr(err)
	is.Equal(got.Status, execution.StatusPending)

	src.set(nil)
	is.Equal(metrics.next(t), true) // resumed by itself
	b.waitStatus(t, e1.ID, execution.StatusSucceeded)
	is.True(q.started.Load() > 0)

	src.set(errors.New("redis: connection refused"))
	is.Equal(metrics.next(t), false)
	n := q.started.Load()
	is.Equal(q.returned.Load(), n) // once paused, no call is in flight
	e2 := b.trigger(t, wf)
	src.waitPolls(t, 3)
	is.Equal(q.started.Load(), n) // and none starts
	got, err = b.execs.Get(t.Context(), e2.ID)
	is.NoErr(err)
	is.Equal(got.Status, execution.StatusPending)

	src.set(nil)
	is.Equal(metrics.next(t), true)
	b.waitStatus(t, e2.ID, execution.StatusSucceeded)
	inUse, capacity := w.Slots()
	is.Equal(capacity, 16)
	is.True(inUse >= 0 && inUse <= capacity)
}

// logLines is a slog sink a test reads while the worker writes.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(string(p)))
	return len(p), nil
}

// dumpIfFailed logs every line when t failed, so that a failure shows what the worker did.
func (l *logLines) dumpIfFailed(t *testing.T) {
	if !t.Failed() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		t.Log(line)
	}
}

// first returns the first line containing s, "" when none does.
func (l *logLines) first(s string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// between returns the lines after the first containing from, up to the first after it
// containing to.
func (l *logLines) between(from, to string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	in := false
	for _, line := range l.lines {
		switch {
		case !in && strings.Contains(line, from):
			in = true
		case in && strings.Contains(line, to):
			return out
		case in:
			out = append(out, line)
		}
	}
	return out
}

// TestWorkerPausesWhileRedisIsDown: on a real Redis that goes away, the worker whose readiness
// checks Redis (as the worker role's does) stops taking work, without a failed read once it
// says so, and takes work again by itself when Redis is back.
func TestWorkerPausesWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := testenv.StartRedis(t)
	opts, err := redis.ParseURL(srv.URL())
	is.NoErr(err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })

	db := storetest.OpenSQLite(t)
	logs := &logLines{}
	t.Cleanup(func() { logs.dumpIfFailed(t) })
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q := queue.NewRedisQueue(client, queue.RedisConfig{MoveInterval: 10 * time.Millisecond, MaxBlock: 50 * time.Millisecond, Logger: logger})
	startStop(t, q)
	notifier := notify.NewRedis(client, "")
	b := &testBundle{db: db, queue: q, notifier: notifier, engine: newCountingEngine()}
	b.deploys = deployments.NewService(db, deployments.ServiceConfig{KnownNodeTypes: []string{"noop"}})
	b.execs = execution.NewService(db, q, notifier, execution.ServiceConfig{Logger: logger})
	wf := b.deploy(t, noop, deployments.Config{})

	metrics := takingMetrics{taking: make(chan bool, 16)}
	w := execution.NewWorker(db, q, lock.NewRedisManager(client, lock.RedisConfig{}), b.engine, waitlist.NewRedis(client, ""), notifier, execution.WorkerConfig{
		Concurrency:  8,
		ClaimIdle:    200 * time.Millisecond,
		ReceiveBlock: 50 * time.Millisecond,
		Readiness: func(ctx context.Context) error {
			if err := db.Ping(ctx); err != nil {
				return err
			}
			return client.Ping(ctx).Err()
		},
		ReadinessInterval: 20 * time.Millisecond,
		Metrics:           metrics,
		Logger:            logger,
	})
	startStop(t, w)
	is.Equal(metrics.next(t), true) // ready at start

	srv.Stop()
	is.Equal(metrics.next(t), false) // Redis down: paused
	srv.Start()
	is.Equal(metrics.next(t), true) // back: resumed by itself

	quiet := logs.between("worker not ready; taking no work", "worker ready again; taking work")
	for _, line := range quiet {
		is.True(!strings.Contains(line, "receive failed"))              // no read while paused
		is.True(!strings.Contains(line, "claim stale messages failed")) // no claim either
	}
	pause := logs.first("worker not ready; taking no work")
	is.True(strings.Contains(pause, "level=WARN"))  // the pause is logged
	is.True(strings.Contains(pause, "reason="))     // with why
	is.True(logs.first("worker ready again") != "") // and the resumption

	// Works again on the restarted Redis. Polled, not awaited on the change notifications: for
	// about a second after the restart go-redis's pool still answers new dials with the last
	// dial error (it redials once a second in the background), so the worker's publishes of
	// the changes can fail, and those notifications are best effort by design (a watcher
	// learns a lost one from its resync). Seen in the race step: the row SUCCEEDED while the
	// test, waiting on the notifications, had last seen it PENDING.
	e := b.trigger(t, wf)
	testenv.Poll(t, 15*time.Second, func() error {
		got, err := b.execs.Get(context.Background(), e.ID)
		if err != nil {
			return err
		}
		if got.Status != execution.StatusSucceeded {
			return fmt.Errorf("execution %s is %s (error %q), want SUCCEEDED", e.ID, got.Status, got.Error)
		}
		return nil
	})
}
