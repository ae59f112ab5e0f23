package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// A scheduler whose go-quartz loop stalls for longer than the outdated threshold (a process
// starved of CPU) does not lose the times go-quartz then skips: they are owed and settled by
// the misfire policy (FIRE_ALL here: each made CAUGHT_UP, saying the scheduler fell behind), so
// every second of a per-second trigger, before, during and after the stall, has exactly one
// execution. Before, the skipped seconds had none and no ledger row.
//
// Twice: with both reports of a skipped fire, and with the job queue's alone (go-quartz's
// misfired channel left out), which must lose none of them either: go-quartz drops a report
// that does not fit in its channel, the queue's list has no bound.
func TestStalledLoopOwesSkippedFires(t *testing.T) {
	t.Parallel()
	for _, queueOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("queue reports only=%t", queueOnly), func(t *testing.T) {
			t.Parallel()
			testStalledLoopOwesSkippedFires(t, queueOnly)
		})
	}
}

func testStalledLoopOwesSkippedFires(t *testing.T, queueOnly bool) {
	const threshold = 200 * time.Millisecond // go-quartz's OutdatedThreshold
	is := is.New(t)
	ctx := context.Background()
	b := setup(t, storetest.OpenSQLite(t), nil, nil, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("stalled"),
		Triggers:   []deployments.Trigger{cron("tick", "* * * * * ?", 0)},
		Config:     deployments.Config{MisfirePolicy: policy.MisfireFireAll, CatchUpWindow: 10 * time.Minute},
	})
	is.NoErr(err)

	var mu sync.Mutex
	var fired []time.Time // scheduled times of the live fires that ended
	var ended testenv.Signal
	s := scheduler.New(b.svc, b.db, lock.NewLocalManager(lock.LocalConfig{}), nil, scheduler.Config{
		OutdatedThreshold: threshold,
		SettleAfter:       time.Second,
		Logger:            slog.New(slog.DiscardHandler),
		OnEvent: func(e scheduler.Event) {
			if e.Kind == scheduler.EventFireEnded {
				mu.Lock()
				fired = append(fired, e.Scheduled)
				mu.Unlock()
				ended.Fire()
			}
		},
	})
	if queueOnly {
		s.WithoutQuartzMisfiresForTest()
	}
	is.NoErr(s.Start(ctx))
	t.Cleanup(s.Stop)
	liveFires := func(n int) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			if len(fired) < n {
				return fmt.Errorf("%d live fires, want %d", len(fired), n)
			}
			return nil
		}
	}
	ended.Await(t, 30*time.Second, liveFires(1))
	mu.Lock()
	first := fired[0]
	mu.Unlock()

	// The stall: the test's input, three seconds of a loop that cannot run.
	held := time.Now()
	release := s.HoldLoopForTest()
	time.Sleep(3 * time.Second)
	released := time.Now()
	stallEnd := released.UTC().Truncate(time.Second)
	release()
	mu.Lock()
	n := len(fired)
	mu.Unlock()
	ended.Await(t, 30*time.Second, liveFires(n+1)) // firing again

	// Every second from the first fire to the end of the stall: one execution each.
	testenv.Poll(t, 30*time.Second, func() error {
		times := scheduledTimes(t, b.db, d.WorkflowID)
		for at := first; !at.After(stallEnd); at = at.Add(time.Second) {
			if times[at] != 1 {
				return fmt.Errorf("%s has %d executions, want 1 (owed: %v)", at.Format(time.TimeOnly), times[at], s.Owed())
			}
		}
		return nil
	})
	l := ledger(t, b.db, d.ID)
	is.Equal(len(l[scheduler.OutcomeMissed]), 0)
	// The reasons say why. A time that passed while the loop was held, at least the outdated
	// threshold before its release, was skipped by go-quartz: "fell behind". A time around the
	// stall's edges may also have been fired live and run past its deadline (scheduled time plus
	// SettleAfter) on a loaded machine, as the settlement wrote next to it: owed as an outage,
	// which is as right.
	fires, err := b.db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID, Outcomes: []scheduler.Outcome{scheduler.OutcomeCaughtUp}})
	is.NoErr(err)
	behind := 0
	for _, f := range fires {
		skipped := f.ScheduledAt.After(held) && !f.ScheduledAt.After(released.Add(-threshold))
		switch {
		case strings.Contains(f.Reason, "the scheduler fell behind"):
			behind++
		case !skipped && strings.Contains(f.Reason, "the store was unavailable"):
		default:
			t.Errorf("CAUGHT_UP fire at %s (loop held %s to %s): reason %q, want one that says the scheduler fell behind",
				f.ScheduledAt.Format(time.TimeOnly), held.Format(time.TimeOnly), released.Format(time.TimeOnly), f.Reason)
		}
	}
	is.True(behind >= 2) // the stall skipped at least two seconds
}
