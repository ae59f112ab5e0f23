package schedulehealth

import (
	"fmt"
	"slices"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// Remedy is what to do when a trigger's runs outlast its interval.
type Remedy int

const (
	// RemedyNone: runs fit in the interval.
	RemedyNone Remedy = iota
	// RemedyLongerInterval: runs take longer than the interval most of the time.
	RemedyLongerInterval
	// RemedyBufferOne: runs outlast the interval now and then and the overlap policy SKIPs.
	RemedyBufferOne
	// RemedyMoreWorkers: runs wait for a worker longer than they run.
	RemedyMoreWorkers
)

// Cadence window and sample: the latest MaxRuns finished runs of the last RunWindow.
const (
	MaxRuns   = 100
	RunWindow = 24 * time.Hour
)

// Run is one finished run of a trigger.
type Run struct {
	ScheduledAt, StartedAt, FinishedAt time.Time
}

// RunStats are a trigger's recent runs and the ledger's counts over their span.
type RunStats struct {
	// Runs are the latest finished runs (at most MaxRuns, within RunWindow), newest first.
	Runs []Run
	// Settled counts the ledger's scheduled times from the oldest run's on; Skipped its
	// SKIPPED rows in the same span.
	Settled, Skipped int64
}

// Cadence compares a trigger's recent runs with its interval.
type Cadence struct {
	Interval     time.Duration
	RunTimeP95   time.Duration
	PickupP95    time.Duration
	Runs         int64
	SkippedRatio float64
	Overrun      bool
	Remedy       Remedy
	Message      string
}

// Advise compares the runs with the interval under the overlap policy (OverlapUnspecified is
// policy.DefaultOverlap). It is pure.
//
// Overrun when run_time_p95 + pickup_p95 > interval. The remedy then: MORE_WORKERS when the
// wait dominates (pickup_p95 > run_time_p95 and pickup_p95 > interval/2); BUFFER_ONE when the
// overlap policy is SKIP and fewer than half the settled times were skipped (runs overrun now
// and then); LONGER_INTERVAL otherwise.
func Advise(interval time.Duration, overlapPolicy policy.Overlap, stats *RunStats) Cadence {
	c := Cadence{Interval: interval}
	if stats == nil || len(stats.Runs) == 0 {
		c.Message = "no finished run in the last 24h"
		return c
	}
	c.Runs = int64(len(stats.Runs))
	runTimes := make([]float64, 0, len(stats.Runs))
	pickups := make([]float64, 0, len(stats.Runs))
	for _, r := range stats.Runs {
		runTimes = append(runTimes, float64(max(r.FinishedAt.Sub(r.StartedAt), 0)))
		pickups = append(pickups, float64(max(r.StartedAt.Sub(r.ScheduledAt), 0)))
	}
	slices.Sort(runTimes)
	slices.Sort(pickups)
	c.RunTimeP95 = time.Duration(monitoring.Percentile(runTimes, 0.95))
	c.PickupP95 = time.Duration(monitoring.Percentile(pickups, 0.95))
	if stats.Settled > 0 {
		c.SkippedRatio = min(float64(stats.Skipped)/float64(stats.Settled), 1)
	}
	if interval <= 0 {
		c.Message = "the trigger has no interval to compare with"
		return c
	}
	c.Overrun = c.RunTimeP95+c.PickupP95 > interval
	if !c.Overrun {
		c.Message = fmt.Sprintf("runs fit: p95 run %s + p95 wait %s within the %s interval", short(c.RunTimeP95), short(c.PickupP95), short(interval))
		return c
	}
	overrun := fmt.Sprintf("p95 run %s + p95 wait %s exceed the %s interval", short(c.RunTimeP95), short(c.PickupP95), short(interval))
	switch {
	case c.PickupP95 > c.RunTimeP95 && c.PickupP95 > interval/2:
		c.Remedy = RemedyMoreWorkers
		c.Message = overrun + ": runs wait for a worker longer than they run; add workers"
	case overlapPolicy.OrDefault() == policy.OverlapSkip && c.SkippedRatio < 0.5:
		c.Remedy = RemedyBufferOne
		c.Message = fmt.Sprintf("%s now and then (%.0f%% of fires skipped): let one fire wait with overlap policy BUFFER_ONE", overrun, c.SkippedRatio*100)
	default:
		c.Remedy = RemedyLongerInterval
		c.Message = overrun + ": fire less often"
	}
	return c
}

// short rounds a duration for a message.
func short(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}
