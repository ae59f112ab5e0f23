// Package queuetest is the contract every queue.Queue passes, plus the clocks, the Redis helper
// and the benchmarks its tests use.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// ShortIdle is the idle time after which the suite claims a message: short enough for a real
// clock.
const ShortIdle = 50 * time.Millisecond

// ShortDelay is how far ahead the suite schedules delayed messages.
const ShortDelay = 150 * time.Millisecond

// Run runs the contract suite. newQueue returns a fresh, empty, started queue (its own key
// space; stopped when t ends) and the clock that drives it.
func Run(t *testing.T, newQueue func(t *testing.T) (queue.Queue, Clock)) {
	t.Helper()
	tests := []struct {
		name string
		f    func(t *testing.T, q queue.Queue, clock Clock)
	}{
		{"FIFO", testFIFO},
		{"EnqueueBatch", testEnqueueBatch},
		{"ReceiveWakesOnEnqueue", testReceiveWakes},
		{"ReceiveTimeouts", testReceiveTimeouts},
		{"ClaimStale", testClaimStale},
		{"DeadLetter", testDeadLetter},
		{"EnqueueAt", testEnqueueAt},
		{"EnqueueAtWakesReceive", testEnqueueAtWakesReceive},
		{"Stats", testStats},
		{"PruneConsumersKeepsPending", testPruneConsumersKeepsPending},
		{"Validation", testValidation},
		{"ConcurrentExactlyOnce", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, clock := newQueue(t)
			tt.f(t, q, clock)
		})
	}
}

// msg is the i-th test message; odd ones carry the optional workflow and deployment ids, so
// every test sees both kinds travel through its path (EnqueueAt's delayed one included).
func msg(i int) queue.Message {
	m := queue.Message{ExecutionID: fmt.Sprintf("exec-%03d", i), Traceparent: fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)}
	if i%2 == 1 {
		m.WorkflowID, m.DeploymentID = fmt.Sprintf("wf-%03d", i), fmt.Sprintf("dep-%03d", i)
	}
	return m
}

// eventually calls f until it reports true, failing t after a bound far above any expected
// wait. It polls (testenv.Poll): what it waits for follows the backend's clock, Redis's for
// the Redis backend, which the test can neither move nor hear.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	testenv.Poll(t, 5*time.Second, func() error {
		if !f() {
			return errors.New("waiting for " + what)
		}
		return nil
	})
}

// receiveN receives until it has n deliveries, failing t after a bound.
func receiveN(t *testing.T, q queue.Queue, consumer string, n int) []queue.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var out []queue.Delivery
	for len(out) < n {
		ds, err := q.Receive(ctx, consumer, n-len(out), time.Second)
		if err != nil {
			t.Fatalf("receive %d of %d: %v", len(out), n, err)
		}
		out = append(out, ds...)
	}
	return out
}

func stats(t *testing.T, q queue.Queue) queue.Stats {
	t.Helper()
	s, err := q.Stats(t.Context())
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return s
}

func testFIFO(t *testing.T, q queue.Queue, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	for i := range 10 {
		is.NoErr(q.Enqueue(ctx, msg(i)))
	}
	ds := receiveN(t, q, "a", 10)
	ids := map[string]bool{}
	for i, d := range ds {
		is.Equal(d.Message, msg(i)) // in order, traceparent kept
		is.Equal(d.Deliveries, int64(1))
		is.True(d.ID != "" && !ids[d.ID]) // distinct ids
		ids[d.ID] = true
	}
	none, err := q.Receive(ctx, "b", 10, -1)
	is.NoErr(err)
	is.Equal(len(none), 0) // each delivered once
	for _, d := range ds {
		is.NoErr(q.Ack(ctx, d.ID))
	}
	is.NoErr(q.Ack(ctx, ds[0].ID, "0-1")) // acking again, or an unknown id, is fine
	is.NoErr(q.Ack(ctx))                  // acking nothing is fine
	is.Equal(stats(t, q), queue.Stats{})  // nothing left
}

func testEnqueueBatch(t *testing.T, q queue.Queue, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	is.NoErr(q.EnqueueBatch(ctx, nil))                               // nothing to enqueue is fine
	is.True(q.EnqueueBatch(ctx, []queue.Message{msg(0), {}}) != nil) // execution id required
	is.Equal(stats(t, q).Depth, int64(0))                            // and then nothing is enqueued

	// A Receive blocked before the batch is woken by it.
	woken := make(chan []queue.Delivery, 1)
	go func() {
		ds, _ := q.Receive(ctx, "w", 1, 5*time.Second)
		woken <- ds
	}()
	var batch []queue.Message
	for i := range 20 {
		batch = append(batch, msg(i))
	}
	is.NoErr(q.EnqueueBatch(ctx, batch))
	first := <-woken
	is.Equal(len(first), 1)
	is.Equal(first[0].Message, msg(0)) // in order
	rest := receiveN(t, q, "a", 19)
	for i, d := range rest {
		is.Equal(d.Message, msg(i+1)) // in order, traceparent kept
	}
	is.NoErr(q.EnqueueBatch(ctx, []queue.Message{msg(20)})) // after a batch, one more
	last := receiveN(t, q, "a", 1)
	is.Equal(last[0].Message, msg(20))
}

func testReceiveWakes(t *testing.T, q queue.Queue, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	type result struct {
		ds  []queue.Delivery
		err error
		at  time.Time
	}
	got := make(chan result, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		ds, err := q.Receive(ctx, "a", 1, 30*time.Second)
		got <- result{ds, err, time.Now()}
	}()
	<-started
	time.Sleep(20 * time.Millisecond) // give Receive time to block; the test holds either way
	sent := time.Now()
	is.NoErr(q.Enqueue(ctx, msg(1)))
	select {
	case r := <-got:
		is.NoErr(r.err)
		is.Equal(len(r.ds), 1)
		is.Equal(r.ds[0].Message, msg(1))
		is.True(r.at.Sub(sent) < 500*time.Millisecond) // woken, far sooner than any poll
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked Receive was not woken by Enqueue")
	}
}

func testReceiveTimeouts(t *testing.T, q queue.Queue, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	start := time.Now()
	ds, err := q.Receive(ctx, "a", 1, 30*time.Millisecond)
	is.NoErr(err) // block elapsed: no error
	is.Equal(len(ds), 0)
	is.True(time.Since(start) >= 30*time.Millisecond) // waited the block

	ds, err = q.Receive(ctx, "a", 1, -1)
	is.NoErr(err) // no wait
	is.Equal(len(ds), 0)

	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err = q.Receive(short, "a", 1, 0)
	is.True(errors.Is(err, context.DeadlineExceeded)) // block 0 waits for ctx

	cancelled, cancel := context.WithCancel(ctx)
	go func() {
		// Likely once Receive blocks; the check holds either way (a Receive under a context
		// already cancelled ends at once with the same error).
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	_, err = q.Receive(cancelled, "a", 1, 30*time.Second)
	is.True(errors.Is(err, context.Canceled)) // cancellation ends the wait
}

func testClaimStale(t *testing.T, q queue.Queue, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	is.NoErr(q.Enqueue(ctx, msg(1)))
	is.NoErr(q.Enqueue(ctx, msg(2)))
	first := receiveN(t, q, "a", 2) // a dies without acking

	none, err := q.ClaimStale(ctx, "b", time.Hour, 10)
	is.NoErr(err)
	is.Equal(len(none), 0) // not idle long enough

	clock.Advance(ShortIdle)
	var claimed []queue.Delivery
	eventually(t, "stale messages claimable", func() bool {
		claimed, err = q.ClaimStale(ctx, "b", ShortIdle, 1)
		is.NoErr(err)
		return len(claimed) > 0
	})
	is.Equal(len(claimed), 1)                 // max respected
	is.Equal(claimed[0].ID, first[0].ID)      // oldest first, same id
	is.Equal(claimed[0].Message, msg(1))      // same message
	is.Equal(claimed[0].Deliveries, int64(2)) // delivered twice now

	again, err := q.ClaimStale(ctx, "c", time.Hour, 10)
	is.NoErr(err)
	is.Equal(len(again), 0) // the claim reset the idle time

	clock.Advance(ShortIdle)
	eventually(t, "claimed message claimable again", func() bool {
		again, err = q.ClaimStale(ctx, "c", ShortIdle, 10)
		is.NoErr(err)
		return len(again) == 2
	})
	is.Equal(again[0].ID, first[0].ID)
	is.Equal(again[0].Deliveries, int64(3)) // counts keep growing
	is.Equal(again[1].ID, first[1].ID)
	is.Equal(again[1].Deliveries, int64(2))

	is.NoErr(q.Ack(ctx, again[0].ID, again[1].ID))
	s := stats(t, q)
	is.Equal(s.Pending, int64(0)) // acked by the claimer
	clock.Advance(ShortIdle)
	none, err = q.ClaimStale(ctx, "d", 0, 10)
	is.NoErr(err)
	is.Equal(len(none), 0) // acked messages are not redelivered
}

func testDeadLetter(t *testing.T, q queue.Queue, _ Clock) {
	is := is.New(t)
	ctx := t.Context()
	is.NoErr(q.Enqueue(ctx, msg(1)))
	is.NoErr(q.Enqueue(ctx, msg(2)))
	ds := receiveN(t, q, "a", 2)
	is.Equal(stats(t, q).Pending, int64(2))
	is.NoErr(q.DeadLetter(ctx, ds[0], "engine rejected the definition"))
	s := stats(t, q)
	is.Equal(s.Pending, int64(1))      // removed from pending
	is.Equal(s.DeadLettered, int64(1)) // shown in stats
	is.Equal(s.Depth, int64(0))
	is.True(errors.Is(q.DeadLetter(ctx, ds[0], "again"), queue.ErrNotPending)) // only once
	is.NoErr(q.Ack(ctx, ds[1].ID))
	is.True(errors.Is(q.DeadLetter(ctx, ds[1], "late"), queue.ErrNotPending)) // acked: not pending
	claimed, err := q.ClaimStale(ctx, "b", 0, 10)
	is.NoErr(err)
	is.Equal(len(claimed), 0) // a dead letter is not redelivered
	is.Equal(stats(t, q), queue.Stats{DeadLettered: 1})
}

func testEnqueueAt(t *testing.T, q queue.Queue, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	due := clock.Now().Add(ShortDelay)
	is.NoErr(q.EnqueueAt(ctx, msg(1), due))
	is.NoErr(q.EnqueueAt(ctx, msg(0), clock.Now().Add(-time.Second))) // in the past: now
	is.NoErr(q.EnqueueAt(ctx, msg(2), clock.Now().Add(time.Hour)))    // far ahead

	ds := receiveN(t, q, "a", 1)
	is.Equal(ds[0].Message, msg(0)) // the past one is ready at once
	s := stats(t, q)
	is.Equal(s.Delayed, int64(2))

	early, err := q.Receive(ctx, "a", 10, -1)
	is.NoErr(err)
	for range early {
		is.True(!clock.Now().Before(due)) // anything delivered now is past its time
	}
	clock.Advance(ShortDelay)
	if len(early) == 0 {
		early = receiveN(t, q, "a", 1)
	}
	is.Equal(len(early), 1)
	is.Equal(early[0].Message, msg(1))
	is.True(!clock.Now().Before(due)) // not before its time
	s = stats(t, q)
	is.Equal(s.Delayed, int64(1)) // the hour-ahead one still waits
	none, err := q.Receive(ctx, "a", 10, -1)
	is.NoErr(err)
	is.Equal(len(none), 0)
}

func testEnqueueAtWakesReceive(t *testing.T, q queue.Queue, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	due := clock.Now().Add(ShortDelay)
	got := make(chan []queue.Delivery, 1)
	errs := make(chan error, 1)
	go func() {
		ds, err := q.Receive(ctx, "a", 1, 10*time.Second)
		got <- ds
		errs <- err
	}()
	is.NoErr(q.EnqueueAt(ctx, msg(1), due))
	clock.Advance(ShortDelay)
	select {
	case ds := <-got:
		is.NoErr(<-errs)
		is.Equal(len(ds), 1)
		is.Equal(ds[0].Message, msg(1))
		is.True(!clock.Now().Before(due))
	case <-time.After(5 * time.Second):
		t.Fatal("a due delayed message did not reach a blocked Receive")
	}
}

func testStats(t *testing.T, q queue.Queue, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	is.Equal(stats(t, q), queue.Stats{}) // empty
	for i := range 3 {
		is.NoErr(q.Enqueue(ctx, msg(i)))
	}
	is.NoErr(q.EnqueueAt(ctx, msg(9), clock.Now().Add(time.Hour)))
	clock.Advance(20 * time.Millisecond)
	ds := receiveN(t, q, "a", 1)
	s := stats(t, q)
	is.Equal(s.Depth, int64(2))
	is.Equal(s.Pending, int64(1))
	is.Equal(s.Delayed, int64(1))
	is.Equal(s.DeadLettered, int64(0))
	is.True(s.OldestAge >= 10*time.Millisecond) // the pending one has waited
	is.NoErr(q.Ack(ctx, ds[0].ID))
	is.Equal(stats(t, q).Depth, int64(2))
}

// testPruneConsumersKeepsPending: pruning, however eager, never costs a pending message its
// entry; the message of a consumer that went silent is still claimed by another.
func testPruneConsumersKeepsPending(t *testing.T, q queue.Queue, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	is.NoErr(q.Enqueue(ctx, msg(1)))
	first := receiveN(t, q, "a", 1) // a dies without acking
	clock.Advance(ShortIdle)
	_, err := q.PruneConsumers(ctx, nil) // none live
	is.NoErr(err)
	var claimed []queue.Delivery
	eventually(t, "the message of the silent consumer claimable after a prune", func() bool {
		claimed, err = q.ClaimStale(ctx, "b", ShortIdle, 10)
		is.NoErr(err)
		return len(claimed) > 0
	})
	is.Equal(len(claimed), 1)
	is.Equal(claimed[0].ID, first[0].ID)
	is.Equal(claimed[0].Deliveries, int64(2))
	is.Equal(stats(t, q).Pending, int64(1))
}

func testValidation(t *testing.T, q queue.Queue, clock Clock) {
	is := is.New(t)
	ctx := t.Context()
	is.True(q.Enqueue(ctx, queue.Message{}) != nil)                               // execution id required
	is.True(q.EnqueueAt(ctx, queue.Message{}, clock.Now().Add(time.Hour)) != nil) // here too
	_, err := q.Receive(ctx, "", 1, -1)
	is.True(err != nil) // consumer required
	_, err = q.ClaimStale(ctx, "", 0, 1)
	is.True(err != nil) // consumer required
	is.NoErr(q.Enqueue(ctx, queue.Message{ExecutionID: "no-trace"}))
	ds, err := q.Receive(ctx, "a", 0, time.Second) // max < 1 means 1
	is.NoErr(err)
	is.Equal(len(ds), 1)
	is.Equal(ds[0].Message, queue.Message{ExecutionID: "no-trace"}) // empty traceparent kept empty
}

func testConcurrent(t *testing.T, q queue.Queue, _ Clock) {
	is := is.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const producers, perProducer, consumers = 8, 500, 4
	const total = producers * perProducer
	var (
		mu       sync.Mutex
		seen     = make(map[string]int, total)
		received atomic.Int64
		wg       sync.WaitGroup
		errs     = make(chan error, producers+consumers)
	)
	for p := range producers {
		wg.Go(func() {
			for i := range perProducer {
				if err := q.Enqueue(ctx, queue.Message{ExecutionID: fmt.Sprintf("p%d-%d", p, i)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for c := range consumers {
		wg.Go(func() {
			name := fmt.Sprintf("consumer-%d", c)
			for received.Load() < total && ctx.Err() == nil {
				ds, err := q.Receive(ctx, name, 64, 100*time.Millisecond)
				if err != nil {
					errs <- err
					return
				}
				ids := make([]string, len(ds))
				mu.Lock()
				for i, d := range ds {
					seen[d.ExecutionID]++
					ids[i] = d.ID
				}
				mu.Unlock()
				if err := q.Ack(ctx, ids...); err != nil {
					errs <- err
					return
				}
				received.Add(int64(len(ds)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	is.Equal(len(seen), total) // every message received
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times", id, n)
		}
	}
	is.Equal(stats(t, q), queue.Stats{}) // all acked
}

// BenchRoundTrip measures Enqueue, Receive and Ack of one message.
func BenchRoundTrip(b *testing.B, q queue.Queue) {
	ctx := b.Context()
	m := queue.Message{ExecutionID: uuid.NewString(), Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	for b.Loop() {
		if err := q.Enqueue(ctx, m); err != nil {
			b.Fatal(err)
		}
		ds, err := q.Receive(ctx, "bench", 1, time.Second)
		if err != nil || len(ds) != 1 {
			b.Fatalf("receive: %v (%d deliveries)", err, len(ds))
		}
		if err := q.Ack(ctx, ds[0].ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchPickup measures pickup latency: from the start of Enqueue to the return of a Receive
// that was already blocked. It reports the p50 and p99 in microseconds.
func BenchPickup(b *testing.B, q queue.Queue) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	picked := make(chan time.Time)
	go func() {
		for ctx.Err() == nil {
			ds, err := q.Receive(ctx, "bench", 1, 0)
			if err != nil {
				return
			}
			at := time.Now()
			_ = q.Ack(ctx, ds[0].ID)
			picked <- at
		}
	}()
	var lat []time.Duration
	m := queue.Message{ExecutionID: uuid.NewString()}
	for b.Loop() {
		time.Sleep(200 * time.Microsecond) // let the consumer block again
		sent := time.Now()
		if err := q.Enqueue(ctx, m); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-picked).Sub(sent))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
