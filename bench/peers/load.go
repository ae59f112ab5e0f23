package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The load shapes of `workflow-runtime bench` (internal/bench), rebuilt here without importing the service: a closed loop of callers calling back to
// back (bench trigger), a fixed-schedule pacer (bench pickup) and a flat-out run of N calls with
// a bound on the calls in flight (bench e2e with --rate 0).

// loopResult is what a load loop measured.
type loopResult struct {
	latencies []time.Duration // of the calls that succeeded, in the measuring window
	errors    int
	firstErr  error
	elapsed   time.Duration // the measuring window
}

// closedLoop runs callers goroutines, each calling call back to back, for warmup and then
// duration; only the calls that start in the window after warmup are counted.
func closedLoop(ctx context.Context, callers int, warmup, duration time.Duration, call func(context.Context) error) loopResult {
	windowStart := time.Now().Add(warmup)
	end := windowStart.Add(duration)
	var (
		mu  sync.Mutex
		res loopResult
		wg  sync.WaitGroup
	)
	for range callers {
		wg.Go(func() {
			var lat []time.Duration
			var errs int
			var first error
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				err := call(ctx)
				if t0.Before(windowStart) {
					continue
				}
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(windowStart)
	return res
}

// paced calls call count times (count > 0) or at rate per second on a fixed schedule for
// duration (rate > 0; call i starts at i/rate), with at most inFlight calls at once. Call i gets
// its index. rate 0 is flat out.
func paced(ctx context.Context, rate float64, count int, duration time.Duration, inFlight int, call func(context.Context, int) error) loopResult {
	if count <= 0 {
		count = int(rate * duration.Seconds())
	}
	var (
		mu  sync.Mutex
		res loopResult
		wg  sync.WaitGroup
	)
	sem := make(chan struct{}, inFlight)
	start := time.Now()
	for i := range count {
		if rate > 0 {
			at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if wait := time.Until(at); wait > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		}
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			err := call(ctx, i)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.errors++
				if res.firstErr == nil {
					res.firstErr = err
				}
				return
			}
			res.latencies = append(res.latencies, d)
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// percentile returns the p-th percentile (0 < p ≤ 1) of ds, nearest rank; 0 when empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// recorder is what the noop worker of either peer reports to: how many jobs ran, and, when a
// run tracks jobs by sequence number, the pickup latency of each (enqueue → worker start) and
// how many ran twice.
type recorder struct {
	done atomic.Int64 // jobs whose work returned

	track      bool
	mu         sync.Mutex
	pickups    map[int64]time.Duration // by sequence number, the first start
	duplicates int
}

func newRecorder(track bool) *recorder {
	return &recorder{track: track, pickups: map[int64]time.Duration{}}
}

// started records that job seq, enqueued at enqueuedAt (Unix nanoseconds), starts now.
func (r *recorder) started(seq, enqueuedAt int64) {
	if !r.track {
		return
	}
	d := time.Since(time.Unix(0, enqueuedAt))
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.pickups[seq]; ok {
		r.duplicates++
		return
	}
	r.pickups[seq] = d
}

// snapshot returns the distinct jobs started, their pickup latencies and the duplicate starts.
func (r *recorder) snapshot() (distinct int, pickups []time.Duration, duplicates int) {
	return r.snapshotFrom(0)
}

// snapshotFrom is snapshot of the jobs numbered from on; duplicates counts every job's.
func (r *recorder) snapshotFrom(from int64) (distinct int, pickups []time.Duration, duplicates int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for seq, d := range r.pickups {
		if seq >= from {
			pickups = append(pickups, d)
		}
	}
	return len(pickups), pickups, r.duplicates
}

// waitDone waits until want jobs are done or timeout passes; it returns how many are done.
func (r *recorder) waitDone(ctx context.Context, want int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := r.done.Load()
		if n >= want || time.Now().After(deadline) {
			return n
		}
		select {
		case <-ctx.Done():
			return r.done.Load()
		case <-tick.C:
		}
	}
}
