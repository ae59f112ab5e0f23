package scheduler_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// liveFireStore is the real store where the trigger's live fire lands between the scheduling
// of its job and the catch-up's read of the ledger: the first read of the trigger's latest
// time records a FIRED row at live first, as the job scheduled a moment before does when its
// first time comes at once.
type liveFireStore struct {
	*store.DB
	t    *testing.T
	fire scheduler.Fire
	once sync.Once
}

func (s *liveFireStore) land(ctx context.Context) {
	s.once.Do(func() {
		if err := s.FireRecord(ctx, []scheduler.Fire{s.fire}); err != nil {
			s.t.Error(err)
		}
	})
}

func (s *liveFireStore) FireLastScheduled(ctx context.Context, wf, trig string) (time.Time, error) {
	s.land(ctx)
	return s.DB.FireLastScheduled(ctx, wf, trig)
}

func (s *liveFireStore) FireLastScheduledBefore(ctx context.Context, wf, trig string, before time.Time) (time.Time, error) {
	s.land(ctx)
	return s.DB.FireLastScheduledBefore(ctx, wf, trig, before)
}

// A trigger new to this process through a change notification (Resync, not the bulk load) is
// caught up from the latest time on record before its job was scheduled: its own first live
// fire, landing before the catch-up reads the ledger, does not hide the times missed before it.
// (Found by reading: the catch-up read the ledger's latest time after scheduling the job, so
// such a fire started the catch-up after itself and the missed times were neither fired nor
// recorded.)
func TestResyncCatchUpIgnoresItsOwnLiveFire(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	start := time.Now().UTC()
	deployedAt := start.Add(-10 * time.Minute)
	b := setup(t, db, func() time.Time { return deployedAt }, nil, nil)
	st := &liveFireStore{DB: db, t: t}
	s := scheduler.New(b.svc, st, nil, nil, scheduler.Config{ResyncInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	is.NoErr(s.Start(ctx))
	t.Cleanup(s.Stop)

	// Deployed after the scheduler's load: only the notification's Resync schedules it.
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("resync-live"),
		Triggers:   []deployments.Trigger{cron("tick", "0 * * * * ?", 0)},
		Config:     deployments.Config{MisfirePolicy: policy.MisfireFireAll, CatchUpWindow: time.Hour},
	})
	is.NoErr(err)
	live := start.Truncate(time.Minute).Add(time.Minute) // the job's first time
	st.fire = scheduler.Fire{
		WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "tick", NominalAt: live, ScheduledAt: live,
		FiredAt: live, Outcome: scheduler.OutcomeFired, Reason: "the live fire (test)",
	}
	is.NoErr(s.Resync(ctx, d.WorkflowID))

	// Every minute since the deployment up to the test's start was caught up, once.
	var missed []time.Time
	for m := deployedAt.Truncate(time.Minute).Add(time.Minute); !m.After(start); m = m.Add(time.Minute) {
		missed = append(missed, m)
	}
	is.True(len(missed) >= 9)
	caughtUp := map[time.Time]bool{}
	for _, at := range ledger(t, db, d.ID)[scheduler.OutcomeCaughtUp] {
		caughtUp[at] = true
	}
	times := scheduledTimes(t, db, d.WorkflowID)
	for _, m := range missed {
		if !caughtUp[m] || times[m] != 1 {
			t.Errorf("%s: caught up %v, executions %d; want CAUGHT_UP with one execution", m.Format(time.TimeOnly), caughtUp[m], times[m])
		}
	}
}
