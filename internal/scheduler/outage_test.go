package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// errDown is what every call of a switched-off store returns.
var errDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused (test outage)")

// outageStore is the real store behind a switch: while down, every call the scheduler makes
// fails as a stopped database's would.
type outageStore struct {
	*store.DB
	down *atomic.Bool
}

func (s outageStore) fail() error {
	if s.down.Load() {
		return errDown
	}
	return nil
}

func (s outageStore) FireRecord(ctx context.Context, fires []scheduler.Fire) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.DB.FireRecord(ctx, fires)
}

func (s outageStore) FireLastScheduled(ctx context.Context, wf, trig string) (time.Time, error) {
	if err := s.fail(); err != nil {
		return time.Time{}, err
	}
	return s.DB.FireLastScheduled(ctx, wf, trig)
}

func (s outageStore) FireLastScheduledBefore(ctx context.Context, wf, trig string, before time.Time) (time.Time, error) {
	if err := s.fail(); err != nil {
		return time.Time{}, err
	}
	return s.DB.FireLastScheduledBefore(ctx, wf, trig, before)
}

func (s outageStore) FireDecided(ctx context.Context, wf, trig string, after, until time.Time) (map[time.Time]bool, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.DB.FireDecided(ctx, wf, trig, after, until)
}

func (s outageStore) DeploymentGetByWorkflow(ctx context.Context, wf string) (*deployments.Deployment, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.DB.DeploymentGetByWorkflow(ctx, wf)
}

// outageExecutions is the execution service behind a switch of its own.
type outageExecutions struct {
	scheduler.Executions
	down *atomic.Bool
}

func (e outageExecutions) Fire(ctx context.Context, p *execution.FireParams) (*execution.Execution, bool, error) {
	if e.down.Load() {
		return nil, false, errDown
	}
	return e.Executions.Fire(ctx, p)
}

func (e outageExecutions) FireMany(ctx context.Context, ps []*execution.FireParams) ([]execution.FireResult, error) {
	if e.down.Load() {
		return nil, errDown
	}
	return e.Executions.FireMany(ctx, ps)
}

// clock is the settlement's clock, set by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// replica is one scheduler over the shared database, with its own switches and clock.
type replica struct {
	s                       *scheduler.Scheduler
	storeDown, executionsDn atomic.Bool
	clock                   clock
}

const settleAfter = time.Minute

func newReplica(t *testing.T, b *testBundle, locker scheduler.Locker) *replica {
	t.Helper()
	r := &replica{}
	st := outageStore{DB: b.db, down: &r.storeDown}
	svc := scheduler.NewService(st, outageExecutions{Executions: b.executions, down: &r.executionsDn}, scheduler.ServiceConfig{Now: r.clock.Now})
	r.s = scheduler.New(svc, st, locker, nil, scheduler.Config{
		SettleAfter: settleAfter, SettleRetryInitial: time.Second, SettleRetryMax: 4 * time.Second,
		Now: r.clock.Now, Logger: slog.New(slog.DiscardHandler),
	})
	return r
}

// A per-second trigger (FIRE_ONCE, window 10 min) whose fires fail while the store is down:
// each failed fire is owed; settling is retried with backoff while the store does not answer,
// waits for the live fires' horizon (SettleAfter after the last failed time), keeps what it
// did when it fails halfway, and in the end the gap holds one CAUGHT_UP (the latest) and the
// rest MISSED, saying the store was unavailable. A second replica that owes the same gap
// waits for the fire lock and then changes nothing: the gap is settled once.
func TestOutageSettled(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Second)
	b := setup(t, storetest.OpenSQLite(t), func() time.Time { return base.Add(-time.Hour) }, nil, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("outage"),
		Triggers:   []deployments.Trigger{cron("tick", "* * * * * ?", 0)},
		Config:     deployments.Config{MisfirePolicy: policy.MisfireFireOnce, CatchUpWindow: 10 * time.Minute},
	})
	is.NoErr(err)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	name := d.WorkflowID + "/tick"
	locks := lock.NewLocalManager(lock.LocalConfig{})
	r1 := newReplica(t, b, locks)
	r1.clock.Set(at(0))

	is.NoErr(r1.s.FireForTest(ctx, d, "tick", at(0))) // the store answers
	is.Equal(len(r1.s.Owed()), 0)

	// Down: the deployment cannot be read; fires 1 to 3 are owed.
	r1.storeDown.Store(true)
	r1.executionsDn.Store(true)
	for s := 1; s <= 3; s++ {
		is.NoErr(r1.s.FireForTest(ctx, d, "tick", at(s)))
	}
	is.Equal(r1.s.Owed(), []string{name})
	// Settling while it is down fails and backs off.
	r1.clock.Set(at(3).Add(settleAfter))
	next := r1.s.SettleDue(ctx)
	is.True(next.After(at(3).Add(settleAfter)))                  // retried later
	is.True(!next.After(at(3).Add(settleAfter + 2*time.Second))) // the first backoff: 1 s ± 50%
	r1.clock.Set(next)
	next2 := r1.s.SettleDue(ctx)
	is.True(next2.Sub(next) > next.Sub(at(3).Add(settleAfter))/2) // the backoff grows (2 s ± 50% after 1 s ± 50%)
	is.Equal(r1.s.Owed(), []string{name})

	// The deployment reads again, the execution insert still fails: fire 4 is owed too, and a
	// settlement fails halfway, after recording the MISSED times; what it did stays done.
	r1.storeDown.Store(false)
	is.NoErr(r1.s.FireForTest(ctx, d, "tick", at(4)))
	r1.clock.Set(at(4).Add(settleAfter - time.Second))
	next = r1.s.SettleDue(ctx)
	is.True(!next.Before(at(4).Add(settleAfter))) // not before the live fires' horizon
	is.Equal(len(ledger(t, b.db, d.ID)[scheduler.OutcomeMissed]), 0)
	r1.clock.Set(next)
	r1.s.SettleDue(ctx)
	is.Equal(r1.s.Owed(), []string{name})
	is.Equal(ledger(t, b.db, d.ID)[scheduler.OutcomeMissed], []time.Time{at(1), at(2), at(3)})

	// The store answers: a fire that reaches it makes the settlement due at once.
	r1.executionsDn.Store(false)
	is.NoErr(r1.s.FireForTest(ctx, d, "tick", at(5)))
	is.True(r1.s.SettleDue(ctx).IsZero()) // before the backoff's next attempt; nothing left
	is.Equal(len(r1.s.Owed()), 0)

	check := func() {
		t.Helper()
		l := ledger(t, b.db, d.ID)
		is.Equal(l[scheduler.OutcomeFired], []time.Time{at(0), at(5)})
		is.Equal(l[scheduler.OutcomeMissed], []time.Time{at(1), at(2), at(3)})
		is.Equal(l[scheduler.OutcomeCaughtUp], []time.Time{at(4)}) // FIRE_ONCE: the latest of the gap
		is.Equal(len(l[scheduler.OutcomeDeduplicated]), 0)
		times := scheduledTimes(t, b.db, d.WorkflowID)
		is.Equal(times, map[time.Time]int{at(0): 1, at(4): 1, at(5): 1}) // one execution each, none for MISSED
	}
	check()
	fires, err := b.db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID, Outcomes: []scheduler.Outcome{scheduler.OutcomeMissed, scheduler.OutcomeCaughtUp}})
	is.NoErr(err)
	for _, f := range fires {
		is.True(strings.Contains(f.Reason, "the store was unavailable")) // the reason says why
		if f.Outcome == scheduler.OutcomeMissed {
			is.True(strings.Contains(f.Reason, "misfire policy FIRE_ONCE")) // and by which policy
		}
	}

	// A second replica failed the same fires, and 5 too, which the first made. It settles after
	// the first, under the fire lock, and changes nothing: 5 is neither fired again nor MISSED.
	r2 := newReplica(t, b, locks)
	r2.clock.Set(at(0))
	r2.storeDown.Store(true)
	for s := 1; s <= 5; s++ {
		is.NoErr(r2.s.FireForTest(ctx, d, "tick", at(s)))
	}
	r2.storeDown.Store(false)
	is.Equal(r2.s.Owed(), []string{name})
	lease, err := locks.Acquire(ctx, "fire:"+name, time.Minute) // a live fire holds the lock
	is.NoErr(err)
	r2.clock.Set(at(5).Add(settleAfter))
	r2.s.SettleDue(ctx)
	is.Equal(r2.s.Owed(), []string{name}) // waits for the lock
	is.NoErr(locks.Release(ctx, lease))
	r2.clock.Set(at(5).Add(settleAfter + 10*time.Second))
	is.True(r2.s.SettleDue(ctx).IsZero())
	is.Equal(len(r2.s.Owed()), 0)
	check()
}

// A trigger paused while its fires were owed owes nothing: a pause is not a misfire.
func TestOutageForgivenWhenPaused(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Second)
	b := setup(t, storetest.OpenSQLite(t), func() time.Time { return base.Add(-time.Hour) }, nil, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("paused-outage"),
		Triggers:   []deployments.Trigger{cron("tick", "* * * * * ?", 0)},
		Config:     deployments.Config{MisfirePolicy: policy.MisfireFireAll, CatchUpWindow: 10 * time.Minute},
	})
	is.NoErr(err)
	r := newReplica(t, b, nil)
	r.clock.Set(base)
	is.NoErr(r.s.FireForTest(ctx, d, "tick", base))
	r.storeDown.Store(true)
	is.NoErr(r.s.FireForTest(ctx, d, "tick", base.Add(time.Second)))
	r.storeDown.Store(false)
	_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Status: deployments.StatusPaused, Paths: []string{"status"}})
	is.NoErr(err)
	r.clock.Set(base.Add(time.Second + settleAfter))
	is.True(r.s.SettleDue(ctx).IsZero())
	is.Equal(len(r.s.Owed()), 0)
	is.Equal(len(ledger(t, b.db, d.ID)[scheduler.OutcomeMissed]), 0)
	is.Equal(len(scheduledTimes(t, b.db, d.WorkflowID)), 1)
}

// A replica that starts while another is still making recent fires (the other's fire lock
// holder died, so it fires them StandbyDelay late) does not record MISSED the times that the
// live replica may still make. Its catch-up fires the latest time at once (FIRE_ONCE) and
// leaves the older ones undecided until SettleAfter has passed since them; then it records
// MISSED only those that still have no execution and no ledger row. No time ends with both
// an execution and a MISSED row, and none with neither.
func TestCatchUpLeavesLiveFiresTheirTimes(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	// Four times, ten seconds apart, once a year, next year: go-quartz's real clock fires none
	// of them while the test runs, and the fires' deadlines (scheduled time + SettleAfter) have
	// not passed; the replicas' clocks are set by the test.
	base := time.Date(time.Now().Year()+1, 3, 2, 12, 0, 0, 0, time.UTC)
	b := setup(t, storetest.OpenSQLite(t), func() time.Time { return base.Add(-time.Hour) }, nil, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("restarted"),
		Triggers:   []deployments.Trigger{cron("tick", "0,10,20,30 0 12 2 3 ?", 0)},
		Config:     deployments.Config{MisfirePolicy: policy.MisfireFireOnce, CatchUpWindow: 10 * time.Minute},
	})
	is.NoErr(err)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	locks := lock.NewLocalManager(lock.LocalConfig{})

	// The live replica fired 12:00:00; its fires of :10 and :20 are late (standby).
	live := newReplica(t, b, locks)
	live.clock.Set(at(0))
	is.NoErr(live.s.FireForTest(ctx, d, "tick", at(0)))

	// The restarted replica starts at :35: its catch-up sees :10, :20 and :30 unfired.
	restarted := newReplica(t, b, locks)
	restarted.clock.Set(at(35))
	is.NoErr(restarted.s.Start(ctx))
	t.Cleanup(restarted.s.Stop)
	l := ledger(t, b.db, d.ID)
	is.Equal(l[scheduler.OutcomeCaughtUp], []time.Time{at(30)}) // FIRE_ONCE: the latest, at once
	is.Equal(len(l[scheduler.OutcomeMissed]), 0)                // :10 and :20 may still be fired live

	// The live replica makes :10 after all; :20 it never makes (its fire gave up).
	live.clock.Set(at(12))
	is.NoErr(live.s.FireForTest(ctx, d, "tick", at(10)))

	// Before the live fires' horizon (SettleAfter after :20) nothing is recorded.
	restarted.clock.Set(at(20).Add(settleAfter - time.Second))
	restarted.s.SettleDue(ctx)
	is.Equal(len(ledger(t, b.db, d.ID)[scheduler.OutcomeMissed]), 0)
	// At it, the store does not answer, then a live fire holds the fire lock: tried again
	// after SettleRetryInitial (1 s) each time, recording nothing meanwhile.
	restarted.storeDown.Store(true)
	restarted.clock.Set(at(20).Add(settleAfter))
	next := restarted.s.SettleDue(ctx)
	is.Equal(next, at(20).Add(settleAfter+time.Second))
	restarted.storeDown.Store(false)
	lease, err := locks.Acquire(ctx, "fire:"+d.WorkflowID+"/tick", time.Minute)
	is.NoErr(err)
	restarted.clock.Set(next)
	next = restarted.s.SettleDue(ctx)
	is.Equal(next, at(20).Add(settleAfter+2*time.Second))
	is.Equal(len(ledger(t, b.db, d.ID)[scheduler.OutcomeMissed]), 0)
	is.NoErr(locks.Release(ctx, lease))
	// Then the time nobody made is recorded MISSED, the one the live replica made is not.
	restarted.clock.Set(next)
	is.True(restarted.s.SettleDue(ctx).IsZero()) // nothing left to decide
	l = ledger(t, b.db, d.ID)
	is.Equal(l[scheduler.OutcomeFired], []time.Time{at(0), at(10)})
	is.Equal(l[scheduler.OutcomeCaughtUp], []time.Time{at(30)})
	is.Equal(l[scheduler.OutcomeMissed], []time.Time{at(20)})
	is.Equal(scheduledTimes(t, b.db, d.WorkflowID), map[time.Time]int{at(0): 1, at(10): 1, at(30): 1}) // none for MISSED
}
