package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// Fires go-quartz skips. go-quartz does not run a fire it finds more than OutdatedThreshold late
// (the process was stalled, or starved of CPU): it reports the job on its misfired channel and
// moves it to its first time after now. The times so skipped are owed like the fires a store
// outage failed (outage.go) and settled the same way, under the trigger's fire lock, by the
// misfire policy and the catch-up window, with reasons that start "the scheduler fell behind".
// Before, such a time was made only if another replica happened to make it, or by the next
// restart's catch-up.

// misfiredBuffer is the room of go-quartz's misfired channel. go-quartz drops a report it cannot
// send at once, so the channel is the second of two reports: the first comes from the queue
// (lateJobs), which cannot lose one.
const misfiredBuffer = 4096

// lateShare is how late, as a share of OutdatedThreshold, a job the queue's Pop hands go-quartz
// must be for the queue to report it (cron.JobQueue.OnLate). go-quartz compares with its own
// clock a moment after Pop, so the report comes a little before the threshold: a job reported
// that go-quartz runs after all owes times its live fires make, which the settlement finds
// decided and leaves alone.
const lateShare = 0.9

// lateJobs are the jobs the queue's Pop found late enough for go-quartz to skip them: a list
// without a bound, so that no report is lost however many jobs a stall makes late at once (a
// job is popped once per time, so the list holds at most one entry per trigger between two
// drains). Before it, the only report was go-quartz's misfired channel, which drops what does
// not fit.
type lateJobs struct {
	mu     sync.Mutex
	jobs   []quartz.ScheduledJob
	signal chan struct{} // room for one: jobs has some
}

func newLateJobs() *lateJobs { return &lateJobs{signal: make(chan struct{}, 1)} }

// add takes note of j; it runs under the queue's lock and only appends.
func (l *lateJobs) add(j quartz.ScheduledJob) {
	l.mu.Lock()
	l.jobs = append(l.jobs, j)
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// take returns the jobs noted since the last take.
func (l *lateJobs) take() []quartz.ScheduledJob {
	l.mu.Lock()
	defer l.mu.Unlock()
	js := l.jobs
	l.jobs = nil
	return js
}

// misfireLoop owes the skipped times of each job the queue or go-quartz reports, until ctx ends.
// A burst is logged in one line.
func (s *Scheduler) misfireLoop(ctx context.Context, misfired <-chan quartz.ScheduledJob, late *lateJobs) {
	for {
		var first string
		n := 0
		select {
		case <-ctx.Done():
			return
		case sj := <-misfired:
			first = s.misfired(sj)
			n = 1
		drain:
			for n < 1000 {
				select {
				case sj := <-misfired:
					s.misfired(sj)
					n++
				default:
					break drain
				}
			}
		case <-late.signal:
			for _, sj := range late.take() {
				name := s.misfired(sj)
				if n == 0 {
					first = name
				}
				n++
			}
		}
		if n > 0 {
			s.cfg.Logger.Warn("fires found later than the outdated threshold were skipped; owed and settled by the misfire policy",
				slog.Int("triggers", n), slog.String("first", first), slog.Duration("outdated_threshold", s.cfg.OutdatedThreshold))
		}
	}
}

// misfired owes the times go-quartz skipped of sj: from its run time to its last time not after
// now (go-quartz moved it to the first one after now). A job removed or replaced since owes
// nothing, as with forgive. It returns the job's name.
func (s *Scheduler) misfired(sj quartz.ScheduledJob) string {
	j, ok := sj.JobDetail().Job().(*fireJob)
	if !ok {
		return sj.JobDetail().JobKey().String()
	}
	s.mu.Lock()
	cur, _ := s.jobs.get(j.name)
	s.mu.Unlock()
	if cur != j {
		return j.name
	}
	since := time.Unix(0, sj.NextRunTime()).UTC()
	s.oweSpan(j, since, lastNotAfter(j.Trigger(), since, time.Now()), causeStalled)
	return j.name
}

// maxSkippedSteps bounds the walk of lastNotAfter: past it (a per-second trigger stalled for
// more than a day) the gap ends at now, which the settlement's plan reads the same way.
const maxSkippedSteps = 100_000

// lastNotAfter is the last time of trig from first on that is not after now (first itself when
// the next is after now).
func lastNotAfter(trig quartz.Trigger, first, now time.Time) time.Time {
	last, end := first.UnixNano(), now.UnixNano()
	for range maxSkippedSteps {
		next, err := trig.NextFireTime(last)
		if err != nil || next > end {
			return time.Unix(0, last).UTC()
		}
		last = next
	}
	return now.UTC()
}
