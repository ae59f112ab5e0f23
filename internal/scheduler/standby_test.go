package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/shard"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// waitingStore is the real store with two hooks, each run once: decided before the first
// FireDecided (what happens while a standby waited for its primary, at the moment its wait
// ends), read after the first DeploymentGetByWorkflow (what happens right after a fire's first
// look).
type waitingStore struct {
	*store.DB
	mu            sync.Mutex
	decided, read func()
}

// take returns the hook *h and clears it.
func (s *waitingStore) take(h *func()) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := *h
	*h = nil
	return f
}

// set makes f the hook *h.
func (s *waitingStore) set(h *func(), f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*h = f
}

// deployNeverDue deploys workflow id with one cron trigger, "tick", never due in the test's
// lifetime: the test makes its fires, through FireForTest.
func deployNeverDue(t *testing.T, b *testBundle, id string) *deployments.Deployment {
	t.Helper()
	d, _, err := b.deployments.Deploy(context.Background(), &deployments.DeployParams{
		Definition: definition(id),
		Triggers:   []deployments.Trigger{cron("tick", "0 0 0 1 1 ? 2099", 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pausing returns a hook that pauses d.
func pausing(t *testing.T, b *testBundle, d *deployments.Deployment) func() {
	return func() {
		_, err := b.deployments.Update(context.Background(), &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
		if err != nil {
			t.Error(err)
		}
	}
}

func (s *waitingStore) FireDecided(ctx context.Context, wf, trig string, after, until time.Time) (map[time.Time]bool, error) {
	if hook := s.take(&s.decided); hook != nil {
		hook()
	}
	return s.DB.FireDecided(ctx, wf, trig, after, until)
}

func (s *waitingStore) DeploymentGetByWorkflow(ctx context.Context, wf string) (*deployments.Deployment, error) {
	d, err := s.DB.DeploymentGetByWorkflow(ctx, wf)
	if hook := s.take(&s.read); hook != nil {
		hook()
	}
	return d, err
}

// A standby whose primary died makes the time once its wait is over, by the deployment as it
// was when the time passed: a pause made during the wait does not drop a time that was due
// while the deployment was live (found in CI: three scheduler processes, the primary SIGKILLed,
// a pause 1.3 s after a time, and that time had no execution). A time that passes while the
// deployment is PAUSED is recorded PAUSED, as before.
func TestStandbyFiresWhatWasDueBeforeAPause(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		b := setup(t, db, nil, nil, nil)
		d := deployNeverDue(t, b, "standby-pause")

		// A membership of two where this replica is the trigger's standby; the primary never
		// fires (it died).
		self, primary := "standby", ""
		for i := 0; primary == ""; i++ {
			other := fmt.Sprintf("dead-%d", i)
			if shard.New(self, []string{self, other}).Role(d.WorkflowID+"/tick") == shard.Standby {
				primary = other
			}
		}
		st := &waitingStore{DB: db}
		s := scheduler.New(b.svc, st, nil, nil, scheduler.Config{
			ResyncInterval: time.Hour, StandbyDelay: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
			Sharding: &scheduler.Sharding{Self: self, Interval: time.Hour,
				Members: func(context.Context) ([]string, error) { return []string{self, primary}, nil }},
		})
		is.NoErr(s.Start(ctx))
		t.Cleanup(s.Stop)

		// The time passes while DEPLOYED; the pause comes while the standby waits.
		due := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Second)
		st.set(&st.decided, pausing(t, b, d))
		is.NoErr(s.FireForTest(ctx, d, "tick", due))
		is.Equal(scheduledTimes(t, db, d.WorkflowID)[due], 1) // made by the standby
		is.Equal(ledger(t, db, d.ID)[scheduler.OutcomeFired], []time.Time{due})

		// A time that passes while PAUSED is recorded PAUSED, without an execution.
		later := due.Add(time.Second)
		is.NoErr(s.FireForTest(ctx, d, "tick", later))
		is.Equal(scheduledTimes(t, db, d.WorkflowID)[later], 0)
		is.Equal(ledger(t, db, d.ID)[scheduler.OutcomePaused], []time.Time{later})
	})
}

// A fire that finds the trigger's fire lock held waits StandbyDelay, then makes its time unless
// the ledger or the executions show it made: the holder may be firing another time of the
// trigger (a sharded standby's wait outlasts the next second, whose primary fire takes the
// lock). A pause during that wait does not drop the time, which was due while the deployment
// was live (found in CI: the time before a rebalance and a pause had no execution).
func TestLockLoserFiresWhatWasDueBeforeAPause(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		b := setup(t, db, nil, nil, nil)
		d := deployNeverDue(t, b, "lock-pause")
		locker := lock.NewLocalManager(lock.LocalConfig{})
		st := &waitingStore{DB: db}
		s := scheduler.New(b.svc, st, locker, nil, scheduler.Config{
			ResyncInterval: time.Hour, StandbyDelay: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		})
		is.NoErr(s.Start(ctx))
		t.Cleanup(s.Stop)

		// Another fire of the trigger holds its lock for the whole test.
		held, err := locker.Acquire(ctx, "fire:"+d.WorkflowID+"/tick", time.Minute)
		is.NoErr(err)
		t.Cleanup(func() { _ = locker.Release(context.Background(), held) })

		due := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Second)
		// The pause comes right after the fire's first look, while it waits out the lock.
		st.set(&st.read, pausing(t, b, d))
		is.NoErr(s.FireForTest(ctx, d, "tick", due))
		is.Equal(scheduledTimes(t, db, d.WorkflowID)[due], 1) // made by the lock's loser
		fired := ledger(t, db, d.ID)[scheduler.OutcomeFired]
		is.Equal(fired, []time.Time{due})

		// Once made, a second loser of the lock finds the time made and adds nothing.
		is.NoErr(s.FireForTest(ctx, d, "tick", due))
		is.Equal(scheduledTimes(t, db, d.WorkflowID)[due], 1)
		is.Equal(len(ledger(t, db, d.ID)[scheduler.OutcomeDeduplicated]), 0)
	})
}
