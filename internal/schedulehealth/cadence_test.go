package schedulehealth

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// runs makes n runs that each wait pickup and take took.
func runs(n int, pickup, took time.Duration) []Run {
	out := make([]Run, n)
	for i := range out {
		at := t0.Add(time.Duration(i) * time.Minute)
		out[i] = Run{ScheduledAt: at, StartedAt: at.Add(pickup), FinishedAt: at.Add(pickup + took)}
	}
	return out
}

func TestAdvise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		interval time.Duration
		policy   policy.Overlap
		stats    *RunStats
		overrun  bool
		remedy   Remedy
		message  string
	}{
		{"no runs", time.Minute, policy.OverlapSkip, nil, false, RemedyNone, "no finished run"},
		{"fits", time.Minute, policy.OverlapSkip, &RunStats{Runs: runs(10, time.Second, 20*time.Second), Settled: 10}, false, RemedyNone, "runs fit"},
		{"waits for workers", time.Minute, policy.OverlapSkip, &RunStats{Runs: runs(10, 50*time.Second, 20*time.Second), Settled: 10}, true, RemedyMoreWorkers, "add workers"},
		{"skip now and then", time.Minute, policy.OverlapSkip, &RunStats{Runs: runs(10, time.Second, 70*time.Second), Settled: 14, Skipped: 4}, true, RemedyBufferOne, "BUFFER_ONE"},
		{"skip most of the time", time.Minute, policy.OverlapSkip, &RunStats{Runs: runs(10, time.Second, 70*time.Second), Settled: 20, Skipped: 10}, true, RemedyLongerInterval, "less often"},
		{"another policy", time.Minute, policy.OverlapBufferAll, &RunStats{Runs: runs(10, time.Second, 70*time.Second), Settled: 10}, true, RemedyLongerInterval, "less often"},
		{"pickup long but under half", time.Minute, policy.OverlapAllowAll, &RunStats{Runs: runs(10, 25*time.Second, 20*time.Second), Settled: 10}, false, RemedyNone, "runs fit"},
		{"no interval", 0, policy.OverlapSkip, &RunStats{Runs: runs(3, time.Second, time.Second), Settled: 3}, false, RemedyNone, "no interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			c := Advise(tc.interval, tc.policy, tc.stats)
			is.Equal(c.Overrun, tc.overrun)
			is.Equal(c.Remedy, tc.remedy)
			is.True(strings.Contains(c.Message, tc.message)) // the message says it
			is.Equal(c.Interval, tc.interval)
		})
	}
}

func TestAdviseFigures(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// Run times 1..100 s, pickups 0: p95 by linear interpolation is 95.05 s.
	var rs []Run
	for i := 1; i <= 100; i++ {
		rs = append(rs, Run{ScheduledAt: t0, StartedAt: t0, FinishedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	c := Advise(time.Hour, policy.OverlapSkip, &RunStats{Runs: rs, Settled: 200, Skipped: 50})
	is.Equal(c.Runs, int64(100))
	is.Equal(c.RunTimeP95, 95050*time.Millisecond)
	is.Equal(c.PickupP95, time.Duration(0))
	is.Equal(c.SkippedRatio, 0.25)
	is.True(!c.Overrun)
}
