package scheduler

import (
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// pausedPlan keeps the latest times and counts the earlier ones up to its cap.
func TestPausedPlanCaps(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig, err := NewTrigger("wf", &deployments.CronSchedule{Expression: "* * * * *"})
	is.NoErr(err)
	lo := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	hi := lo.Add(100 * time.Minute) // 100 times: 12:01 … 13:40

	fires, earlier, more, err := pausedPlan(trig, lo, hi, 10, 1000)
	is.NoErr(err)
	is.Equal(len(fires), 10)
	is.True(fires[0].Scheduled.Equal(lo.Add(91 * time.Minute))) // the latest ten
	is.True(fires[9].Scheduled.Equal(hi))
	is.Equal(earlier, 90) // all counted
	is.True(!more)

	_, earlier, more, err = pausedPlan(trig, lo, hi, 10, 50)
	is.NoErr(err)
	is.Equal(earlier, 50) // the count stopped at its cap
	is.True(more)

	fires, earlier, more, err = pausedPlan(trig, lo, lo.Add(5*time.Minute), 10, 50)
	is.NoErr(err)
	is.Equal(len(fires), 5) // fewer than the cap: all, nothing left out
	is.Equal(earlier, 0)
	is.True(!more)

	fires, _, _, err = pausedPlan(trig, lo, lo.Add(30*time.Second), 10, 50)
	is.NoErr(err)
	is.Equal(len(fires), 0) // no time in the range

	// The range: only a pause before the last deploy, from the later of the pause and the
	// ledger's last time.
	d := &deployments.Deployment{PausedAt: lo, DeployedAt: hi}
	from, to, ok := pausedRange(d, time.Time{})
	is.True(ok && from.Equal(lo) && to.Equal(hi))
	from, _, ok = pausedRange(d, lo.Add(time.Hour))
	is.True(ok && from.Equal(lo.Add(time.Hour)))
	_, _, ok = pausedRange(d, hi) // the ledger is at the resume already
	is.True(!ok)
	_, _, ok = pausedRange(&deployments.Deployment{DeployedAt: hi}, time.Time{}) // never paused
	is.True(!ok)
	_, _, ok = pausedRange(&deployments.Deployment{PausedAt: hi, DeployedAt: lo}, time.Time{}) // paused now
	is.True(!ok)
}
