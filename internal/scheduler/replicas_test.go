package scheduler_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// cluster is N scheduler replicas as in N processes: each has its own services, go-quartz and
// Redis clients' view; they share PostgreSQL, Redis (locks, notifications) and nothing else.
// One observer hears the events of all of them.
type cluster struct {
	db       *store.DB
	api      *testBundle // the API role's deployment service, publishing changes
	replicas []*scheduler.Scheduler
	obs      *observer
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	db := storetest.OpenPostgres(t)
	rdb := testenv.Redis(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "wfr-test-" + hex.EncodeToString(b) + ":"
	pub := notify.NewRedis(rdb, prefix)
	c := &cluster{db: db, obs: newObserver()}
	c.api = setup(t, db, nil, nil, func(ctx context.Context, workflowID string) {
		if err := pub.Publish(ctx, scheduler.ChangedChannel, workflowID); err != nil {
			t.Errorf("publish: %v", err)
		}
	})
	for range n {
		r := setup(t, db, nil, nil, nil)
		s := scheduler.New(r.svc, db, lock.NewRedisManager(rdb, lock.RedisConfig{Prefix: prefix}), notify.NewRedis(rdb, prefix),
			scheduler.Config{ResyncInterval: time.Hour, StandbyDelay: 300 * time.Millisecond, OnEvent: c.obs.OnEvent}) // notifications only
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		c.replicas = append(c.replicas, s)
	}
	return c
}

// waitScheduled waits until every replica holds (or, want false, does not hold) the job, and
// returns when it saw that. A replica removes a job after its workflow's cache entry was
// invalidated and after the catch-ups its earlier resyncs made: once none holds it, a fire
// that begins reads the deployment from the database.
func (c *cluster) waitScheduled(t *testing.T, job string, want bool) time.Time {
	t.Helper()
	c.obs.wait(t, fmt.Sprintf("job %s scheduled=%v on every replica", job, want), func() bool {
		for _, r := range c.replicas {
			if slices.Contains(r.Scheduled(), job) != want {
				return false
			}
		}
		return true
	})
	return time.Now()
}

// deploy deploys an every-second cron trigger "sec" of workflow id, FIRE_ALL over an hour: a
// catch-up (a replica that got the notification after the first second) makes every time.
func deploy(t *testing.T, svc *deployments.Service, id string) *deployments.Deployment {
	t.Helper()
	d, _, err := svc.Deploy(context.Background(), &deployments.DeployParams{
		Definition: definition(id),
		Triggers:   []deployments.Trigger{cron("sec", "* * * * * ?", 0)},
		Config: deployments.Config{OverlapPolicy: policy.OverlapAllowAll,
			MisfirePolicy: policy.MisfireFireAll, CatchUpWindow: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Three replicas, an every-second trigger, five scheduled times and more: exactly one execution
// per scheduled time, none missing between the first and the last, and each time made once in
// the ledger. Which replica makes a time, and whether by its live fire (FIRED) or by the
// catch-up of a replica that scheduled the job after the time passed (CAUGHT_UP), is up to the
// timing; that each time is made once is not.
func TestReplicasFireOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	c := newCluster(t, 3)
	d := deploy(t, c.api.deployments, "every-second")
	c.waitScheduled(t, "every-second/sec", true)
	c.obs.wait(t, "live fires of five scheduled times", func() bool { return c.obs.firesEnded(d.WorkflowID, time.Time{}) >= 5 })
	_, err := c.api.deployments.Delete(ctx, d.ID)
	is.NoErr(err)
	c.waitScheduled(t, "every-second/sec", false)
	c.obs.wait(t, "the fires under way (standbys' checks) end", func() bool { return c.obs.idle(d.WorkflowID) })

	got := scheduledTimes(t, c.db, d.WorkflowID)
	var times []time.Time
	for at, n := range got {
		is.Equal(n, 1) // one execution per scheduled time
		times = append(times, at)
	}
	slices.SortFunc(times, time.Time.Compare)
	is.True(len(times) >= 5) // the five times whose fires ended, at least
	for i := 1; i < len(times); i++ {
		is.Equal(times[i].Sub(times[i-1]), time.Second) // none missing
	}
	// The ledger: every time made exactly once, FIRED or CAUGHT_UP, and no other time; the
	// other replicas' fires of a time are DEDUPLICATED; nothing MISSED.
	l := ledger(t, c.db, d.ID)
	var made []time.Time
	for _, at := range append(l[scheduler.OutcomeFired], l[scheduler.OutcomeCaughtUp]...) {
		made = append(made, at.UTC())
	}
	slices.SortFunc(made, time.Time.Compare)
	is.Equal(made, times) // each time FIRED or CAUGHT_UP once
	for _, at := range l[scheduler.OutcomeDeduplicated] {
		is.Equal(got[at.UTC()], 1) // a DEDUPLICATED time has its execution
	}
	is.Equal(len(l[scheduler.OutcomeMissed]), 0) // FIRE_ALL: nothing missed
}

// Pause stops the fires on every replica at once, resume restarts them, delete ends them. A
// second workflow that stays deployed is the witness that the replicas went on firing while
// the first one was paused and after it was deleted: each wait is two of its scheduled times.
func TestReplicasPauseResumeDelete(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	c := newCluster(t, 2)
	d := deploy(t, c.api.deployments, "lifecycle")
	witness := deploy(t, c.api.deployments, "witness")
	witnessed := func(since time.Time) {
		c.obs.wait(t, "two witness fires", func() bool { return c.obs.firesEnded(witness.WorkflowID, since) >= 2 })
	}
	setStatus := func(s deployments.Status) *deployments.Deployment {
		got, err := c.api.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: s})
		is.NoErr(err)
		return got
	}
	c.waitScheduled(t, "lifecycle/sec", true)
	c.obs.wait(t, "a live fire", func() bool { return c.obs.firesEnded(d.WorkflowID, time.Time{}) >= 1 })

	setStatus(deployments.StatusPaused)
	// From here no fire is scheduled (a fire in flight has its time before).
	paused := c.waitScheduled(t, "lifecycle/sec", false)
	witnessed(paused)

	resumed := setStatus(deployments.StatusDeployed).DeployedAt // the catch-up starts there
	c.waitScheduled(t, "lifecycle/sec", true)
	c.obs.wait(t, "a live fire after the resume", func() bool { return c.obs.firesEnded(d.WorkflowID, resumed) >= 1 })

	_, err := c.api.deployments.Delete(ctx, d.ID)
	is.NoErr(err)
	deleted := c.waitScheduled(t, "lifecycle/sec", false)
	witnessed(deleted)
	c.obs.wait(t, "the fires under way end", func() bool { return c.obs.idle(d.WorkflowID) })

	var before, between int
	for at, n := range scheduledTimes(t, c.db, d.WorkflowID) {
		is.Equal(n, 1) // one execution per scheduled time
		switch {
		case !at.After(paused):
			before++
		case !at.After(resumed):
			t.Errorf("an execution scheduled at %s, while paused (%s to %s)", at, paused, resumed)
		case !at.After(deleted):
			between++
		default:
			t.Errorf("an execution scheduled at %s, after the delete took effect at %s", at, deleted)
		}
	}
	is.True(before >= 1)  // it fired while deployed
	is.True(between >= 1) // and again once resumed
}

// A replica that starts while another runs schedules what is deployed; the embedded mode (no
// lock, no notifier) fires on its own. A second workflow is the witness that it went on
// firing after the pause.
func TestEmbeddedScheduler(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	b := setup(t, db, nil, nil, nil)
	d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("embedded"),
		Triggers:   []deployments.Trigger{cron("sec", "* * * * * ?", 0), {ID: "hook", Webhook: &deployments.Webhook{Path: "embedded"}}},
	})
	is.NoErr(err)
	witness := deploy(t, b.deployments, "witness")
	obs := newObserver()
	s := scheduler.New(b.svc, db, nil, nil, scheduler.Config{ResyncInterval: 200 * time.Millisecond, OnEvent: obs.OnEvent})
	is.NoErr(s.Start(ctx))
	defer s.Stop()
	scheduled := s.Scheduled()
	slices.Sort(scheduled)
	is.Equal(scheduled, []string{"embedded/sec", "witness/sec"}) // cron triggers only
	obs.wait(t, "live fires of two scheduled times", func() bool { return obs.firesEnded(d.WorkflowID, time.Time{}) >= 2 })
	is.True(len(scheduledTimes(t, db, d.WorkflowID)) >= 2)

	// Without notifications the resync removes a paused deployment's job; the fire-time check
	// stops it even before. A fire that read the deployment just before the pause may still
	// land, with its time before the job was gone; nothing after.
	_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
	is.NoErr(err)
	obs.wait(t, "the paused deployment's job removed", func() bool { return !slices.Contains(s.Scheduled(), "embedded/sec") })
	paused := time.Now()
	obs.wait(t, "two witness fires", func() bool { return obs.firesEnded(witness.WorkflowID, paused) >= 2 })
	obs.wait(t, "the fires under way end", func() bool { return obs.idle(d.WorkflowID) })
	for at := range scheduledTimes(t, db, d.WorkflowID) {
		is.True(!at.After(paused)) // no fire after the pause took effect
	}
	s.Stop()
	s.Stop() // idempotent

	// Restartable: deployed again, a restart schedules its job on a new go-quartz.
	_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusDeployed})
	is.NoErr(err)
	is.NoErr(s.Start(ctx))
	is.NoErr(s.Start(ctx)) // running already: nothing more
	scheduled = s.Scheduled()
	slices.Sort(scheduled)
	is.Equal(scheduled, []string{"embedded/sec", "witness/sec"})
	s.Stop()
}
