package scheduler_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/waitlist"
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
	// The worker publishes each status it writes: the test waits on those.
	changes := make(chan execution.Change, 1000)
	unsubscribe, err := notifier.Subscribe(ctx, execution.ChangedChannel, func(payload string) {
		for _, c := range execution.ParseChanges(payload) {
			select {
			case changes <- c:
			default:
				t.Errorf("execution change %v dropped: the test's buffer is full", c)
			}
		}
	})
	is.NoErr(err)
	t.Cleanup(unsubscribe)
	executions := execution.NewService(db, q, notifier, execution.ServiceConfig{Logger: slog.New(slog.DiscardHandler)})
	deploys := deployments.NewService(db, deployments.ServiceConfig{KnownNodeTypes: engine.NodeTypes()})
	d, _, err := deploys.Deploy(ctx, &deployments.DeployParams{
		// The first execution runs until the worker stops: the second one overlaps it whatever
		// the timing.
		Definition: deployments.Definition{ID: "skipper", Nodes: []deployments.Node{{ID: "wait", Type: "delay", Params: map[string]any{"duration": "1h"}}}},
		Triggers:   []deployments.Trigger{cron("minutely", "* * * * *", 30)},
		Config:     deployments.Config{OverlapPolicy: policy.OverlapSkip},
	})
	is.NoErr(err)

	recorded := make(chan string, 10)
	w := execution.NewWorker(db, q, lock.NewLocalManager(lock.LocalConfig{}), engine.New(engine.Config{}), waitlist.NewLocal(), notifier, execution.WorkerConfig{
		Concurrency: 4, LockTTL: 2 * time.Second, ReceiveBlock: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
		Ledger: signalledLedger{Ledger: scheduler.NewSkipLedger(db), recorded: recorded},
	})
	is.NoErr(w.Start(ctx))
	t.Cleanup(w.Stop)

	trig, err := scheduler.NewTrigger(d.WorkflowID, d.Triggers[0].Cron)
	is.NoErr(err)
	nominal := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	first, _, err := executions.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "minutely", ScheduledAt: nominal.Add(trig.Offset())})
	is.NoErr(err)
	awaitChange(t, changes, first.ID, execution.StatusRunning)
	running, err := db.ExecutionGet(ctx, first.ID)
	is.NoErr(err)
	// Due while the first one runs (it started before this scheduled time): an overlap in the
	// schedule, so SKIP skips it. (One scheduled before the first started would wait instead.)
	dueAt := running.StartedAt.UTC().Truncate(time.Millisecond).Add(time.Millisecond)
	second, _, err := executions.Fire(ctx, &execution.FireParams{Deployment: d, TriggerID: "minutely", ScheduledAt: dueAt})
	is.NoErr(err)
	awaitChange(t, changes, second.ID, execution.StatusSkipped)
	select {
	case id := <-recorded:
		is.Equal(id, second.ID) // the ledger recorded the skipped execution
	case <-time.After(waitLimit):
		t.Fatal("the SKIPPED ledger row was not recorded")
	}

	e, err := db.ExecutionGet(ctx, second.ID)
	is.NoErr(err)
	is.Equal(e.Status, execution.StatusSkipped)
	skipped, err := db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID, Outcomes: []scheduler.Outcome{scheduler.OutcomeSkipped}})
	is.NoErr(err)
	is.Equal(len(skipped), 1)                                                   // one SKIPPED row
	is.Equal(skipped[0].ExecutionID, second.ID)                                 // the skipped execution's
	is.Equal(skipped[0].TriggerID, "minutely")                                  // its trigger
	is.True(skipped[0].ScheduledAt.Equal(second.ScheduledAt))                   // its scheduled time
	is.True(skipped[0].NominalAt.Equal(second.ScheduledAt.Add(-trig.Offset()))) // less the jitter offset
	is.True(skipped[0].Reason != "")                                            // says why
}

// signalledLedger is the worker's ledger, telling recorded of each execution once its SKIPPED
// row is written.
type signalledLedger struct {
	execution.Ledger
	recorded chan<- string
}

func (l signalledLedger) RecordSkipped(ctx context.Context, e *execution.Execution, reason string) error {
	err := l.Ledger.RecordSkipped(ctx, e, reason)
	l.recorded <- e.ID
	return err
}

// awaitChange waits until a change on the worker's ChangedChannel says execution id was
// written with status.
func awaitChange(t *testing.T, changes <-chan execution.Change, id string, status execution.Status) {
	t.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	for {
		select {
		case c := <-changes:
			if c.ExecutionID == id && c.Status == status {
				return
			}
		case <-limit.C:
			t.Fatalf("execution %s did not become %s", id, status)
		}
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
