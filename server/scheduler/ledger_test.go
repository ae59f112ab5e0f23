package scheduler_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/engine"
	"github.com/workflow-runtime/workflow-runtime/server/execution"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/notify"
	"github.com/workflow-runtime/workflow-runtime/server/queue"
	"github.com/workflow-runtime/workflow-runtime/server/scheduler"
	"github.com/workflow-runtime/workflow-runtime/server/store"
	"github.com/workflow-runtime/workflow-runtime/server/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/server/waitlist"
)

// A cron execution that the overlap policy SKIP skips (the previous one still runs) is
// recorded SKIPPED in the fire ledger, with its execution, its reason and its nominal time.
func TestSkipLedger(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	q := queue.NewLocalQueue(queue.LocalConfig{MoveInterval: 10 * time.Millisecond})
	is.NoErr(q.Start(ctx))
	t.Cleanup(q.Stop)
	notifier := notify.NewLocal()
	executions := execution.NewService(db, q, notifier, execution.ServiceConfig{Logger: slog.New(slog.DiscardHandler)})
	deploys := deployments.NewService(db, deployments.ServiceConfig{KnownNodeTypes: engine.NodeTypes()})
	d, _, err := deploys.Deploy(ctx, &deployments.DeployParams{
		Definition: deployments.Definition{ID: "skipper", Nodes: []deployments.Node{{ID: "wait", Type: "delay", Params: map[string]any{"duration": "3s"}}}},
		Triggers:   []deployments.Trigger{cron("minutely", "* * * * *", 30)},
		Config:     deployments.Config{OverlapPolicy: deployments.OverlapSkip},
	})
	is.NoErr(err)

	w := execution.NewWorker(db, q, lock.NewLocalManager(lock.LocalConfig{}), engine.New(engine.Config{}), waitlist.NewLocal(), notifier, execution.WorkerConfig{
		Concurrency: 4, LockTTL: 2 * time.Second, ReceiveBlock: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
		Ledger: scheduler.NewSkipLedger(db),
	})
	is.NoErr(w.Start(ctx))
	t.Cleanup(w.Stop)

	trig, err := scheduler.NewTrigger(d.WorkflowID, d.Triggers[0].Cron)
	is.NoErr(err)
	nominal := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	first, _, err := executions.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "minutely", ScheduledAt: nominal.Add(trig.Offset())})
	is.NoErr(err)
	waitFor(t, func() bool {
		e, err := db.ExecutionGet(ctx, first.ID)
		return err == nil && e.Status == execution.StatusRunning
	})
	// Due while the first one runs (it started before this scheduled time): an overlap in the
	// schedule, so SKIP skips it. (One scheduled before the first started would wait instead.)
	second, _, err := executions.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "minutely", ScheduledAt: time.Now().UTC().Truncate(time.Millisecond)})
	is.NoErr(err)
	waitFor(t, func() bool {
		e, err := db.ExecutionGet(ctx, second.ID)
		return err == nil && e.Status == execution.StatusSkipped
	})

	var skipped []scheduler.Fire
	waitFor(t, func() bool {
		skipped, err = db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID, Outcomes: []scheduler.Outcome{scheduler.OutcomeSkipped}})
		return err == nil && len(skipped) > 0
	})
	is.Equal(len(skipped), 1)                                                   // one SKIPPED row
	is.Equal(skipped[0].ExecutionID, second.ID)                                 // the skipped execution's
	is.Equal(skipped[0].TriggerID, "minutely")                                  // its trigger
	is.True(skipped[0].ScheduledAt.Equal(second.ScheduledAt))                   // its scheduled time
	is.True(skipped[0].NominalAt.Equal(second.ScheduledAt.Add(-trig.Offset()))) // less the jitter offset
	is.True(skipped[0].Reason != "")                                            // says why
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FireLastScheduledMany answers what FireLastScheduled answers, for many triggers at once, on
// both dialects.
func TestFireLastScheduledMany(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			db := open(t)
			b := setup(t, db, nil, nil, nil)
			ids := map[string]string{}
			for _, wf := range []string{"a", "b", "c"} {
				d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{Definition: definition(wf),
					Triggers: []deployments.Trigger{cron("x", "* * * * *", 0), cron("y", "* * * * *", 0)}})
				is.NoErr(err)
				ids[wf] = d.ID
			}
			rec := func(wf, trig string, at time.Time, o scheduler.Outcome) {
				is.NoErr(db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: wf, DeploymentID: ids[wf], TriggerID: trig,
					NominalAt: at, ScheduledAt: at, FiredAt: at, Outcome: o}}))
			}
			rec("a", "x", t0, scheduler.OutcomeFired)
			rec("a", "x", t0.Add(time.Minute), scheduler.OutcomeMissed)
			rec("a", "y", t0.Add(2*time.Minute), scheduler.OutcomeFired)
			rec("b", "x", t0.Add(3*time.Minute), scheduler.OutcomeFired)
			rec("c", "x", t0.Add(4*time.Minute), scheduler.OutcomeFired)
			got, err := db.FireLastScheduledMany(ctx, []string{"a", "b", "none"})
			is.NoErr(err)
			is.Equal(len(got), 3)                                                                              // a/x, a/y, b/x
			is.True(got[scheduler.TriggerKey{WorkflowID: "a", TriggerID: "x"}].Equal(t0.Add(time.Minute)))     // the latest, whatever the outcome
			is.True(got[scheduler.TriggerKey{WorkflowID: "a", TriggerID: "y"}].Equal(t0.Add(2 * time.Minute))) //
			is.True(got[scheduler.TriggerKey{WorkflowID: "b", TriggerID: "x"}].Equal(t0.Add(3 * time.Minute))) //
		})
	}
}
