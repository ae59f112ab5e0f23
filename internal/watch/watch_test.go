package watch_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
	"github.com/workflow-runtime/workflow-runtime/internal/watch"
)

// notifier publishes and subscribes: notify.Local or notify.Redis.
type notifier interface {
	watch.Subscriber
	Publish(ctx context.Context, channel, payload string) error
}

// testBundle is a store with one deployment, a notifier and a hub on them.
type testBundle struct {
	db       *store.DB
	notifier notifier
	sub      *countingSubscriber
	hub      *watch.Hub
	dep      string // the deployment's id
	wf       string
	fence    atomic.Int64
}

type setupOpts struct {
	redis bool // PostgreSQL and Redis; else SQLite and in process
	cfg   watch.Config
	// failSubscribe makes every subscription fail.
	failSubscribe bool
}

var modes = []struct {
	name string
	opts setupOpts
}{
	{"embedded", setupOpts{}},
	{"redis+postgres", setupOpts{redis: true}},
}

func setup(t *testing.T, o setupOpts) *testBundle {
	t.Helper()
	b := &testBundle{}
	if o.redis {
		b.db = storetest.OpenPostgres(t)
		b.notifier = notify.NewRedis(testenv.RedisPrefixed(t))
	} else {
		b.db = storetest.OpenSQLite(t)
		b.notifier = notify.NewLocal()
	}
	d := storetest.NewDeployment("wf-" + uuid.NewString()[:8])
	if err := storetest.Create(context.Background(), b.db, d); err != nil {
		t.Fatal(err)
	}
	b.dep, b.wf = d.ID, d.WorkflowID
	b.sub = &countingSubscriber{inner: b.notifier, fail: o.failSubscribe, unsubscribed: make(chan struct{}, 10)}
	b.hub = watch.New(b.db, b.sub, o.cfg)
	t.Cleanup(b.hub.Stop)
	return b
}

// countingSubscriber counts subscriptions, keeps their gap callbacks and may refuse them.
type countingSubscriber struct {
	inner        watch.Subscriber
	fail         bool
	subscribes   atomic.Int32
	unsubscribed chan struct{} // a value per unsubscribe
	mu           sync.Mutex
	gaps         []func()
}

func (s *countingSubscriber) SubscribeWithGaps(ctx context.Context, channel string, fn func(string), gap func()) (func(), error) {
	if s.fail {
		return nil, errors.New("redis: connection refused")
	}
	unsubscribe, err := s.inner.SubscribeWithGaps(ctx, channel, fn, gap)
	if err != nil {
		return nil, err
	}
	s.subscribes.Add(1)
	s.mu.Lock()
	s.gaps = append(s.gaps, gap)
	s.mu.Unlock()
	return func() {
		unsubscribe()
		s.unsubscribed <- struct{}{}
	}, nil
}

// gap calls the gap callback of the latest subscription, as a lost connection would.
func (s *countingSubscriber) gap() {
	s.mu.Lock()
	g := s.gaps[len(s.gaps)-1]
	s.mu.Unlock()
	g()
}

// create records a PENDING execution of the deployment and, when publish, says so.
func (b *testBundle) create(t *testing.T, publish bool) *execution.Execution {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := &execution.Execution{
		ID: uuid.Must(uuid.NewV7()).String(), DeploymentID: b.dep, WorkflowID: b.wf, Revision: 1,
		Status: execution.StatusPending, TriggerType: execution.TriggerManual,
		ScheduledAt: now, AvailableAt: now, CreatedAt: now, UpdatedAt: now,
	}
	e.IdempotencyKey = e.ID
	got, _, err := b.db.ExecutionInsert(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if publish {
		b.publish(t, got.ID, execution.StatusPending)
	}
	return got
}

// claim makes id RUNNING under a new fence and returns the fence.
func (b *testBundle) claim(t *testing.T, id string, publish bool) int64 {
	t.Helper()
	fence := b.fence.Add(1)
	if _, err := b.db.ExecutionClaim(context.Background(), id, fence, time.Now()); err != nil {
		t.Fatal(err)
	}
	if publish {
		b.publish(t, id, execution.StatusRunning)
	}
	return fence
}

// finish ends id, held under fence, with status.
func (b *testBundle) finish(t *testing.T, id string, fence int64, status execution.Status, publish bool) {
	t.Helper()
	err := b.db.ExecutionFinish(context.Background(), &execution.FinishParams{ID: id, Fence: fence, Status: status, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if publish {
		b.publish(t, id, status)
	}
}

func (b *testBundle) publish(t *testing.T, id string, status execution.Status) {
	t.Helper()
	if err := b.notifier.Publish(context.Background(), execution.ChangedChannel, b.dep+" "+id+" "+string(status)); err != nil {
		t.Fatal(err)
	}
}

// stream is one running watch.
type stream struct {
	events chan watch.Event
	done   chan error
	cancel context.CancelFunc

	once sync.Once
	err  error
}

// watch starts a watch of q; send fails with sendErr when set.
func (b *testBundle) watch(t *testing.T, q watch.Query) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{events: make(chan watch.Event, 1000), done: make(chan error, 1), cancel: cancel}
	go func() {
		s.done <- b.hub.Watch(ctx, q, func(ev watch.Event) error {
			s.events <- ev
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		_ = s.result(t)
	})
	return s
}

// next returns the next event (bounded: 60 s). Events sent before the watch ended come first:
// the last one and the end can both be ready (the events are buffered), and select picks
// between ready cases at random.
func (s *stream) next(t *testing.T) watch.Event {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case err := <-s.done:
		s.once.Do(func() { s.err = err })
		select {
		case ev := <-s.events:
			return ev
		default:
		}
		t.Fatalf("the watch ended before its next event: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no event within 60s")
	}
	return watch.Event{}
}

// nextExecution returns the next event that carries an execution, skipping heartbeats.
func (s *stream) nextExecution(t *testing.T) *execution.Execution {
	t.Helper()
	for {
		if ev := s.next(t); ev.Execution != nil {
			return ev.Execution
		}
	}
}

// result waits for the watch to end and returns its error (bounded: 60 s).
func (s *stream) result(t *testing.T) error {
	t.Helper()
	s.once.Do(func() {
		select {
		case s.err = <-s.done:
		case <-time.After(60 * time.Second):
			t.Error("the watch did not end within 60s")
		}
	})
	return s.err
}

// TestWatchExecution: the first event is the current state, marked synced; then one per
// change; the watch ends after the terminal state.
func TestWatchExecution(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, m.opts)
			e := b.create(t, true)
			s := b.watch(t, watch.Query{ExecutionID: e.ID})
			first := s.next(t)
			is.True(first.Synced)
			is.Equal(first.Execution.Status, execution.StatusPending)

			fence := b.claim(t, e.ID, true)
			running := s.nextExecution(t)
			is.Equal(running.Status, execution.StatusRunning)
			is.Equal(running.Attempt, int32(1))

			// A heartbeat changes updated_at only: nothing is sent for it.
			_, err := b.db.ExecutionHeartbeat(context.Background(), e.ID, fence, time.Now())
			is.NoErr(err)
			b.publish(t, e.ID, execution.StatusRunning)

			b.finish(t, e.ID, fence, execution.StatusSucceeded, true)
			done := s.nextExecution(t)
			is.Equal(done.Status, execution.StatusSucceeded) // not a second RUNNING
			is.NoErr(s.result(t))                            // ended after the terminal state

			// A terminal execution: its state, and the end.
			again := b.watch(t, watch.Query{ExecutionID: e.ID})
			is.Equal(again.next(t).Execution.Status, execution.StatusSucceeded)
			is.NoErr(again.result(t))
		})
	}
}

// TestWatchDeployment: the unfinished executions, the synced mark, then every change of the
// deployment's executions, new ones included; other deployments' changes are not sent.
func TestWatchDeployment(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, m.opts)
			before := b.create(t, true)
			s := b.watch(t, watch.Query{DeploymentID: b.dep})
			is.Equal(s.next(t).Execution.ID, before.ID) // unfinished at the start
			synced := s.next(t)
			is.True(synced.Synced)
			is.True(synced.Execution == nil)

			b.publish(t, uuid.NewString(), execution.StatusPending) // no such execution: nothing
			if err := b.notifier.Publish(context.Background(), execution.ChangedChannel, uuid.NewString()+" "+before.ID+" RUNNING"); err != nil {
				t.Fatal(err) // another deployment's line: not followed
			}
			e := b.create(t, true)
			got := s.nextExecution(t)
			is.Equal(got.ID, e.ID)
			is.Equal(got.Status, execution.StatusPending)
			fence := b.claim(t, before.ID, true)
			is.Equal(s.nextExecution(t).Status, execution.StatusRunning)
			b.finish(t, before.ID, fence, execution.StatusFailed, true)
			got = s.nextExecution(t)
			is.Equal(got.ID, before.ID)
			is.Equal(got.Status, execution.StatusFailed)

			s.cancel()
			is.True(errors.Is(s.result(t), context.Canceled)) // only the caller ends it
		})
	}
}

// TestLostSignalsOnlyDelay: a change whose notification is lost reaches the watch by its
// periodic resync.
func TestLostSignalsOnlyDelay(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{cfg: watch.Config{ResyncInterval: 50 * time.Millisecond}})
	e := b.create(t, false)
	byID := b.watch(t, watch.Query{ExecutionID: e.ID})
	byDeployment := b.watch(t, watch.Query{DeploymentID: b.dep})
	is.Equal(byID.next(t).Execution.Status, execution.StatusPending)
	is.Equal(byDeployment.next(t).Execution.Status, execution.StatusPending)
	is.True(byDeployment.next(t).Synced)

	fence := b.claim(t, e.ID, false) // no notification
	is.Equal(byID.nextExecution(t).Status, execution.StatusRunning)
	is.Equal(byDeployment.nextExecution(t).Status, execution.StatusRunning)
	other := b.create(t, false)
	got := byDeployment.nextExecution(t)
	is.Equal(got.ID, other.ID)
	b.finish(t, e.ID, fence, execution.StatusSucceeded, false)
	is.Equal(byID.nextExecution(t).Status, execution.StatusSucceeded)
	is.NoErr(byID.result(t))
	got = byDeployment.nextExecution(t)
	is.Equal(got.ID, e.ID)
	is.Equal(got.Status, execution.StatusSucceeded)
}

// TestGapResyncs: when the subscription says it had a gap, every watch resyncs at once, not
// at its next interval.
func TestGapResyncs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{cfg: watch.Config{ResyncInterval: time.Hour}})
	e := b.create(t, false)
	byID := b.watch(t, watch.Query{ExecutionID: e.ID})
	byDeployment := b.watch(t, watch.Query{DeploymentID: b.dep})
	byID.next(t)
	byDeployment.next(t)
	is.True(byDeployment.next(t).Synced)

	b.claim(t, e.ID, false)
	b.sub.gap()
	is.Equal(byID.nextExecution(t).Status, execution.StatusRunning)
	is.Equal(byDeployment.nextExecution(t).Status, execution.StatusRunning)
}

// TestTooManyDirtyResyncs: beyond MaxDirty executions to read, a watch resyncs instead.
func TestTooManyDirtyResyncs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{cfg: watch.Config{ResyncInterval: time.Hour, MaxDirty: 1, PageSize: 2}})
	s := b.watch(t, watch.Query{DeploymentID: b.dep})
	is.True(s.next(t).Synced)
	var ids []string
	payload := ""
	for range 5 {
		e := b.create(t, false)
		ids = append(ids, e.ID)
		payload += b.dep + " " + e.ID + " PENDING\n"
	}
	if err := b.notifier.Publish(context.Background(), execution.ChangedChannel, payload); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < len(ids) {
		seen[s.nextExecution(t).ID] = true
	}
	for _, id := range ids {
		is.True(seen[id]) // every one, over three pages
	}
}

// TestFilterAndHeartbeats: a status filter sends only those statuses (the first state of a
// watch by id whatever it is); heartbeats are empty events.
func TestFilterAndHeartbeats(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})
	e := b.create(t, true)
	terminal := []execution.Status{execution.StatusSucceeded, execution.StatusFailed}
	byID := b.watch(t, watch.Query{ExecutionID: e.ID, Statuses: terminal})
	byDeployment := b.watch(t, watch.Query{DeploymentID: b.dep, Statuses: terminal, Heartbeat: 20 * time.Millisecond})
	is.Equal(byID.next(t).Execution.Status, execution.StatusPending) // the first, whatever it is
	first := byDeployment.next(t)
	is.True(first.Synced) // PENDING filtered out
	for range 2 {
		beat := byDeployment.next(t)
		is.True(beat.Execution == nil && !beat.Synced)
	}
	fence := b.claim(t, e.ID, true)
	b.finish(t, e.ID, fence, execution.StatusSucceeded, true)
	is.Equal(byID.nextExecution(t).Status, execution.StatusSucceeded) // RUNNING filtered out
	is.Equal(byDeployment.nextExecution(t).Status, execution.StatusSucceeded)
	is.NoErr(byID.result(t))
}

// TestWatchErrors: an unknown execution, one deleted while watched, a failing send, a
// subscription that cannot be made, and a stopped hub.
func TestWatchErrors(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})
	ctx := context.Background()
	send := func(watch.Event) error { return nil }

	err := b.hub.Watch(ctx, watch.Query{ExecutionID: uuid.NewString()}, send)
	is.True(errors.Is(err, errdefs.ErrNotFound))
	err = b.hub.Watch(ctx, watch.Query{}, send)
	is.True(err != nil) // neither an execution nor a deployment

	e := b.create(t, true)
	boom := errors.New("client went away")
	err = b.hub.Watch(ctx, watch.Query{ExecutionID: e.ID}, func(watch.Event) error { return boom })
	is.Equal(err, boom)

	s := b.watch(t, watch.Query{ExecutionID: e.ID})
	s.next(t)
	_, err = b.db.Bun().NewDelete().TableExpr("executions").Where("id = ?", e.ID).Exec(ctx)
	is.NoErr(err)
	b.publish(t, e.ID, execution.StatusPending)
	is.True(errors.Is(s.result(t), errdefs.ErrNotFound)) // gone

	refused := setup(t, setupOpts{failSubscribe: true})
	err = refused.hub.Watch(ctx, watch.Query{DeploymentID: refused.dep}, send)
	is.True(errors.Is(err, errdefs.ErrUnavailable))

	running := b.watch(t, watch.Query{DeploymentID: b.dep})
	is.True(running.next(t).Synced)
	b.hub.Stop()
	is.Equal(running.result(t), watch.ErrStopped)
	is.Equal(b.hub.Watch(ctx, watch.Query{DeploymentID: b.dep}, send), watch.ErrStopped)
	b.hub.Stop() // idempotent
}

// TestOneSubscription: watches share one subscription, kept Linger after the last ends, then
// dropped; the next watch subscribes again.
func TestOneSubscription(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{cfg: watch.Config{Linger: 10 * time.Millisecond}})
	first := b.watch(t, watch.Query{DeploymentID: b.dep})
	second := b.watch(t, watch.Query{DeploymentID: b.dep})
	is.True(first.next(t).Synced)
	is.True(second.next(t).Synced)
	is.Equal(b.sub.subscribes.Load(), int32(1))
	is.Equal(b.hub.Watches(), 2)
	first.cancel()
	second.cancel()
	_ = first.result(t)
	_ = second.result(t)
	select {
	case <-b.sub.unsubscribed:
	case <-time.After(60 * time.Second):
		t.Fatal("still subscribed 60s after the last watch ended")
	}
	is.Equal(b.hub.Watches(), 0)

	third := b.watch(t, watch.Query{DeploymentID: b.dep})
	is.True(third.next(t).Synced)
	is.Equal(b.sub.subscribes.Load(), int32(2))
	b.hub.Stop() // with a watch running: the watch's end unsubscribes
	is.Equal(third.result(t), watch.ErrStopped)
	select {
	case <-b.sub.unsubscribed:
	case <-time.After(60 * time.Second):
		t.Fatal("still subscribed 60s after the hub stopped")
	}
}
