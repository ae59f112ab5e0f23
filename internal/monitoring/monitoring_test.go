package monitoring_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// deploy stores a deployment of wf in status s with the given cron triggers.
func deploy(t *testing.T, db *store.DB, wf string, s deployments.Status, crons ...deployments.CronSchedule) *deployments.Deployment {
	t.Helper()
	d := storetest.NewDeployment(wf)
	d.Status = s
	d.Triggers = nil
	for i := range crons {
		d.Triggers = append(d.Triggers, deployments.Trigger{ID: fmt.Sprintf("cron-%d", i), Cron: &crons[i]})
	}
	if err := storetest.Create(context.Background(), db, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestJitterDistribution(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		const n = 60
		every := deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC", JitterWindowSeconds: 300}
		counts := make([]int64, 30)
		for i := range n {
			wf := fmt.Sprintf("wf-%03d", i)
			deploy(t, db, wf, deployments.StatusDeployed, every)
			counts[cron.JitterSeconds(wf, 300)/10]++
		}
		deploy(t, db, "no-jitter", deployments.StatusDeployed, deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC"})
		deploy(t, db, "paused", deployments.StatusPaused, every)

		svc := monitoring.NewService(db, monitoring.ServiceConfig{})
		jd, err := svc.JitterDistribution(context.Background(), &monitoring.JitterQuery{WorkflowIDs: []string{"wf-007", "unknown"}})
		is.NoErr(err)
		is.Equal(jd.TriggerCount, int64(n)) // deployed, jitter on
		is.Equal(jd.WindowSeconds, 300)
		is.Equal(len(jd.Buckets), 30) // default
		var chi float64
		var top int64
		for i, b := range jd.Buckets {
			is.Equal(b.Count, counts[i])
			is.Equal(b.StartSeconds, float64(i*10))
			is.Equal(b.EndSeconds, float64(i*10+10))
			d := float64(counts[i]) - 2 // expected n/30 = 2 per bucket
			chi += d * d / 2
			top = max(top, counts[i])
		}
		is.True(abs(jd.ChiSquare-chi) < 1e-9)
		is.Equal(jd.MaxOverMean, float64(top)/2)
		is.Equal(jd.Offsets, []monitoring.WorkflowJitter{
			{WorkflowID: "wf-007", TriggerID: "cron-0", OffsetSeconds: cron.JitterSeconds("wf-007", 300), WindowSeconds: 300},
			{WorkflowID: "unknown", OffsetSeconds: cron.JitterSeconds("unknown", 300), WindowSeconds: 300},
		})

		// 7 buckets do not divide 300: the expected counts follow the integer offsets.
		jd, err = svc.JitterDistribution(context.Background(), &monitoring.JitterQuery{BucketCount: 7})
		is.NoErr(err)
		is.Equal(len(jd.Buckets), 7)
		var sum int64
		for _, b := range jd.Buckets {
			sum += b.Count
		}
		is.Equal(sum, int64(n))
	})
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestLoadDistribution(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		hourly := deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC", JitterWindowSeconds: 300}
		start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		withJitter := map[time.Time]int64{}
		const n = 5
		for i := range n {
			wf := fmt.Sprintf("hourly-%d", i)
			deploy(t, db, wf, deployments.StatusDeployed, hourly)
			withJitter[start.Add(cron.JitterOffset(wf, 300))]++
		}
		// Every 15 minutes without jitter: the same times with and without.
		deploy(t, db, "quarter", deployments.StatusDeployed, deployments.CronSchedule{Expression: "*/15 * * * *", Timezone: "UTC"})
		for q := range 4 {
			withJitter[start.Add(time.Duration(q)*15*time.Minute)]++
		}
		deploy(t, db, "paused", deployments.StatusPaused, hourly)

		svc := monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return start }})
		ld, err := svc.LoadDistribution(ctx, &monitoring.LoadQuery{}) // now, 1h, 1m
		is.NoErr(err)
		is.Equal(ld.Start, start)
		is.Equal(len(ld.Buckets), 60)
		is.Equal(ld.PeakPerSecondWithoutJitter, int64(n+1)) // every hourly trigger and the quarter at 10:00:00
		var peak int64
		for _, c := range withJitter {
			peak = max(peak, c)
		}
		is.Equal(ld.PeakPerSecond, peak)
		is.True(ld.PeakPerSecond < ld.PeakPerSecondWithoutJitter) // jitter spreads the top of the hour
		is.Equal(ld.MeanPerSecond, float64(n+4)/3600)
		var fires, without int64
		for i, b := range ld.Buckets {
			is.Equal(b.Start, start.Add(time.Duration(i)*time.Minute))
			var want int64
			for at, c := range withJitter {
				if !at.Before(b.Start) && at.Before(b.Start.Add(time.Minute)) {
					want += c
				}
			}
			is.Equal(b.Fires, want)
			fires += b.Fires
			without += b.FiresWithoutJitter
		}
		is.Equal(fires, int64(n+4))
		is.Equal(without, int64(n+4))
		is.Equal(ld.Buckets[0].FiresWithoutJitter, int64(n+1))
		is.Equal(ld.Buckets[15].FiresWithoutJitter, int64(1))

		// A window starting after the top of the hour still sees the jittered fires of 10:00
		// that fall inside it, and none of their nominal times.
		ld, err = svc.LoadDistribution(ctx, &monitoring.LoadQuery{Start: start.Add(time.Second), Window: 10 * time.Minute, Resolution: 10 * time.Minute})
		is.NoErr(err)
		is.Equal(len(ld.Buckets), 1)
		is.Equal(ld.Buckets[0].FiresWithoutJitter, int64(0))
		var want int64
		for at, c := range withJitter {
			if at.After(start) && at.Before(start.Add(10*time.Minute+time.Second)) {
				want += c
			}
		}
		is.Equal(ld.Buckets[0].Fires, want)

		// Work is capped.
		capped := monitoring.NewService(db, monitoring.ServiceConfig{MaxProjectedTimes: 10})
		_, err = capped.LoadDistribution(ctx, &monitoring.LoadQuery{Start: start, Window: 24 * time.Hour})
		is.True(errors.Is(err, errdefs.ErrFailedPrecondition))
	})
}

func TestSchedulingMetrics(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		hourly := deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC", JitterWindowSeconds: 300}
		a := deploy(t, db, "wf-a", deployments.StatusDeployed, hourly, hourly)
		deploy(t, db, "wf-b", deployments.StatusPaused, hourly)
		end := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		var fires []scheduler.Fire
		add := func(trigger string, at time.Time, late time.Duration, o scheduler.Outcome) {
			fires = append(fires, scheduler.Fire{
				WorkflowID: a.WorkflowID, DeploymentID: a.ID, TriggerID: trigger,
				NominalAt: at, ScheduledAt: at, FiredAt: at.Add(late), Outcome: o,
			})
		}
		// Lateness of FIRED/CAUGHT_UP: 100ms, 200ms, 300ms, 400ms, 10s.
		for i, late := range []time.Duration{100, 200, 300, 400} {
			add("cron-0", end.Add(-time.Duration(i+1)*time.Minute), late*time.Millisecond, scheduler.OutcomeFired)
		}
		add("cron-1", end.Add(-30*time.Minute), 10*time.Second, scheduler.OutcomeCaughtUp)
		add("cron-0", end.Add(-time.Minute), time.Hour, scheduler.OutcomeDeduplicated)
		add("cron-1", end.Add(-40*time.Minute), 0, scheduler.OutcomeMissed)
		add("cron-1", end.Add(-30*time.Minute), time.Hour, scheduler.OutcomeSkipped)
		add("cron-0", end.Add(-2*time.Hour), time.Hour, scheduler.OutcomeFired) // out of range
		is.NoErr(db.FireRecord(ctx, fires))

		svc := monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return end }})
		m, err := svc.SchedulingMetrics(ctx, &monitoring.SchedulingQuery{}) // the last hour
		is.NoErr(err)
		is.Equal(m.ScheduledTriggers, int64(2))
		is.Equal([]int64{m.Fired, m.CaughtUp, m.Deduplicated, m.Missed, m.Skipped}, []int64{4, 1, 1, 1, 1})
		is.Equal(m.FiresPerMinute, 5.0/60)
		is.Equal(m.LatenessP50, 300*time.Millisecond)
		is.Equal(m.LatenessP95, 8080*time.Millisecond) // rank 3.8: 0.4 + 0.8*(10-0.4) s
		is.Equal(m.LatenessP99, 9616*time.Millisecond) // rank 3.96: 0.4 + 0.96*9.6 s
	})
}

// SchedulingMetrics of some workflows counts their triggers and their fires only, PAUSED
// included.
func TestSchedulingMetricsByWorkflow(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		hourly := deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC"}
		a := deploy(t, db, "wf-a", deployments.StatusDeployed, hourly, hourly)
		b := deploy(t, db, "wf-b", deployments.StatusDeployed, hourly)
		c := deploy(t, db, "wf-c", deployments.StatusPaused, hourly)
		end := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		var fires []scheduler.Fire
		add := func(d *deployments.Deployment, minute int, o scheduler.Outcome) {
			at := end.Add(-time.Duration(minute) * time.Minute)
			fires = append(fires, scheduler.Fire{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "cron-0",
				NominalAt: at, ScheduledAt: at, FiredAt: at.Add(time.Second), Outcome: o})
		}
		add(a, 1, scheduler.OutcomeFired)
		add(a, 2, scheduler.OutcomeMissed)
		add(b, 1, scheduler.OutcomeFired)
		add(b, 2, scheduler.OutcomeFired)
		add(c, 1, scheduler.OutcomePaused)
		add(c, 2, scheduler.OutcomePaused)
		is.NoErr(db.FireRecord(ctx, fires))

		svc := monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return end }})
		m, err := svc.SchedulingMetrics(ctx, &monitoring.SchedulingQuery{})
		is.NoErr(err)
		is.Equal(m.ScheduledTriggers, int64(3))
		is.Equal([]int64{m.Fired, m.Missed, m.Paused}, []int64{3, 1, 2}) // all workflows
		m, err = svc.SchedulingMetrics(ctx, &monitoring.SchedulingQuery{WorkflowIDs: []string{"wf-a", "wf-c", "unknown"}})
		is.NoErr(err)
		is.Equal(m.ScheduledTriggers, int64(2))                          // wf-a's two; wf-c is paused
		is.Equal([]int64{m.Fired, m.Missed, m.Paused}, []int64{1, 1, 2}) // wf-a and wf-c
		is.Equal(m.LatenessP50, time.Second)                             // wf-a's one fire
	})
}
