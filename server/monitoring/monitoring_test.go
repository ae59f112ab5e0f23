package monitoring_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/execution"
	"github.com/workflow-runtime/workflow-runtime/server/monitoring"
	"github.com/workflow-runtime/workflow-runtime/server/notify"
	"github.com/workflow-runtime/workflow-runtime/server/queue"
	"github.com/workflow-runtime/workflow-runtime/server/scheduler"
	"github.com/workflow-runtime/workflow-runtime/server/scheduling"
	"github.com/workflow-runtime/workflow-runtime/server/store"
	"github.com/workflow-runtime/workflow-runtime/server/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/server/testenv"
)

// eachBackend runs f against a fresh SQLite and PostgreSQL store.
func eachBackend(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open(t))
		})
	}
}

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
	eachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		const n = 60
		every := deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC", JitterWindowSeconds: 300}
		counts := make([]int64, 30)
		for i := range n {
			wf := fmt.Sprintf("wf-%03d", i)
			deploy(t, db, wf, deployments.StatusDeployed, every)
			counts[scheduling.JitterSeconds(wf, 300)/10]++
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
			{WorkflowID: "wf-007", TriggerID: "cron-0", OffsetSeconds: scheduling.JitterSeconds("wf-007", 300), WindowSeconds: 300},
			{WorkflowID: "unknown", OffsetSeconds: scheduling.JitterSeconds("unknown", 300), WindowSeconds: 300},
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
	eachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		hourly := deployments.CronSchedule{Expression: "0 * * * *", Timezone: "UTC", JitterWindowSeconds: 300}
		start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		withJitter := map[time.Time]int64{}
		const n = 5
		for i := range n {
			wf := fmt.Sprintf("hourly-%d", i)
			deploy(t, db, wf, deployments.StatusDeployed, hourly)
			withJitter[start.Add(scheduling.JitterOffset(wf, 300))]++
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
		is.True(errors.Is(err, apperr.ErrFailedPrecondition))
	})
}

func TestJanitor(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		insert := func(d *deployments.Deployment, at time.Time, s execution.Status) string {
			t.Helper()
			at = at.Truncate(time.Microsecond)
			e := &execution.Execution{
				ID: uuid.NewString(), DeploymentID: d.ID, WorkflowID: d.WorkflowID, Revision: 1,
				Status: s, TriggerType: execution.TriggerManual, CreatedAt: at, UpdatedAt: at,
			}
			_, _, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			return e.ID
		}

		// a: global policy (48h, keep 2). Six old terminal rows go; the old RUNNING one and the
		// two recent ones stay.
		a := deploy(t, db, "wf-a", deployments.StatusDeployed)
		for i := range 6 {
			insert(a, now.Add(-10*24*time.Hour).Add(time.Duration(i)*time.Minute), execution.StatusSucceeded)
		}
		running := insert(a, now.Add(-9*24*time.Hour), execution.StatusRunning)
		insert(a, now.Add(-time.Hour), execution.StatusFailed)
		insert(a, now.Add(-30*time.Minute), execution.StatusSucceeded)
		// b: its own policy (1h, keep 5): of seven rows older than an hour, the five newest stay.
		b := storetest.NewDeployment("wf-b")
		b.Config.RetentionAge = time.Hour
		b.Config.RetentionKeepLast = 5
		is.NoErr(storetest.Create(ctx, db, b))
		var bIDs []string
		for i := range 7 {
			bIDs = append(bIDs, insert(b, now.Add(-2*time.Hour).Add(time.Duration(i)*time.Minute), execution.StatusCancelled))
		}
		// c: one old row, fewer than keep-last: it stays.
		c := deploy(t, db, "wf-c", deployments.StatusArchived)
		insert(c, now.Add(-100*24*time.Hour), execution.StatusSkipped)
		// Fire ledger of a: three old rows go, one recent stays.
		var fires []scheduler.Fire
		for i, at := range []time.Time{now.Add(-20 * 24 * time.Hour), now.Add(-19 * 24 * time.Hour), now.Add(-18 * 24 * time.Hour), now.Add(-time.Hour)} {
			fires = append(fires, scheduler.Fire{
				WorkflowID: a.WorkflowID, DeploymentID: a.ID, TriggerID: "nightly",
				NominalAt: at, ScheduledAt: at.Add(time.Duration(i) * time.Second), FiredAt: at, Outcome: scheduler.OutcomeFired,
			})
		}
		is.NoErr(db.FireRecord(ctx, fires))

		passes := make(chan monitoring.JanitorResult, 10)
		j := monitoring.NewJanitor(db, monitoring.JanitorConfig{
			RetentionAge: 48 * time.Hour, KeepLast: 2, BatchSize: 2,
			Now:    func() time.Time { return now },
			OnPass: func(r monitoring.JanitorResult) { passes <- r },
		})
		res, err := j.RunOnce(ctx)
		is.NoErr(err)
		is.Equal(res, monitoring.JanitorResult{ExecutionsDeleted: 8, FiresDeleted: 3, Deployments: 3})

		left := func(d *deployments.Deployment) []string {
			page, err := monitoring.NewService(db, monitoring.ServiceConfig{}).History(ctx, &monitoring.HistoryQuery{
				HistoryFilter: monitoring.HistoryFilter{DeploymentID: d.ID}, PageSize: 100,
			})
			is.NoErr(err)
			var ids []string
			for _, e := range page.Executions {
				ids = append(ids, e.ID)
			}
			return ids
		}
		is.Equal(len(left(a)), 3)
		is.True(contains(left(a), running)) // not terminal: kept whatever its age
		is.Equal(left(b), []string{bIDs[6], bIDs[5], bIDs[4], bIDs[3], bIDs[2]})
		is.Equal(len(left(c)), 1)
		rest, err := db.FireList(ctx, &scheduler.FireListParams{DeploymentID: a.ID})
		is.NoErr(err)
		is.Equal(len(rest), 1)

		// Start runs a pass at once (nothing left to delete), Stop waits; both idempotent-safe.
		is.NoErr(j.Start(ctx))
		is.True(j.Start(ctx) != nil) // already started
		select {
		case r := <-passes:
			is.Equal(r.ExecutionsDeleted+r.FiresDeleted, int64(0))
		case <-time.After(10 * time.Second):
			t.Fatal("no pass after Start")
		}
		j.Stop()
		j.Stop()
	})
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestSchedulingMetrics(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
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

// A backfill of a range older than the retention age keeps its ledger rows (they are aged by
// when they were written, like its executions), and they go once they were written longer ago
// than the retention age.
func TestJanitorAgesBackfilledFiresByWriteTime(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		clock := testenv.NewFakeClock()
		deploys := deployments.NewService(db, deployments.ServiceConfig{Now: clock.Now})
		d, _, err := deploys.Deploy(ctx, &deployments.DeployParams{
			Definition: deployments.Definition{ID: "backfilled", Nodes: []deployments.Node{{ID: "a", Type: "noop"}}},
			Triggers:   []deployments.Trigger{{ID: "hourly", Cron: &deployments.CronSchedule{Expression: "0 * * * *"}}},
		})
		is.NoErr(err)
		executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
		svc := scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: clock.Now})
		// Sixty days ago, for six hours: older than the 30-day retention age.
		start := clock.Now().Add(-60 * 24 * time.Hour)
		res, err := svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: start, End: start.Add(6 * time.Hour)})
		is.NoErr(err)
		is.Equal(res.Created, 6)

		clock.Advance(2 * time.Minute)
		j := monitoring.NewJanitor(db, monitoring.JanitorConfig{RetentionAge: 30 * 24 * time.Hour, KeepLast: 1, Now: clock.Now})
		pass, err := j.RunOnce(ctx)
		is.NoErr(err)
		is.Equal(pass.FiresDeleted, int64(0)) // written two minutes ago: kept
		kept, err := db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID})
		is.NoErr(err)
		is.Equal(len(kept), 6)
		for _, f := range kept {
			is.True(f.CreatedAt.Equal(clock.Now().Add(-2 * time.Minute))) // when it was written
		}

		clock.Advance(31 * 24 * time.Hour)
		pass, err = j.RunOnce(ctx)
		is.NoErr(err)
		is.Equal(pass.FiresDeleted, int64(6)) // written longer ago than the retention age
		left, err := db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID})
		is.NoErr(err)
		is.Equal(len(left), 0)
	})
}

// SchedulingMetrics of some workflows counts their triggers and their fires only, PAUSED
// included.
func TestSchedulingMetricsByWorkflow(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
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
