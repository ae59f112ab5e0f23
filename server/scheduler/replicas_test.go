package scheduler_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/notify"
	"github.com/workflow-runtime/workflow-runtime/server/scheduler"
	"github.com/workflow-runtime/workflow-runtime/server/store"
	"github.com/workflow-runtime/workflow-runtime/server/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/server/testenv"
)

// cluster is N scheduler replicas as in N processes: each has its own services, go-quartz and
// Redis clients' view; they share PostgreSQL, Redis (locks, notifications) and nothing else.
type cluster struct {
	db       *store.DB
	api      *testBundle // the API role's deployment service, publishing changes
	replicas []*scheduler.Scheduler
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	db := storetest.OpenPostgres(t)
	rdb := testenv.Redis(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "wfr-test-" + hex.EncodeToString(b) + ":"
	pub := notify.NewRedis(rdb, prefix)
	c := &cluster{db: db}
	c.api = setup(t, db, nil, nil, func(ctx context.Context, workflowID string) {
		if err := pub.Publish(ctx, scheduler.ChangedChannel, workflowID); err != nil {
			t.Errorf("publish: %v", err)
		}
	})
	for range n {
		r := setup(t, db, nil, nil, nil)
		s := scheduler.New(r.svc, db, lock.NewRedisManager(rdb, lock.RedisConfig{Prefix: prefix}), notify.NewRedis(rdb, prefix),
			scheduler.Config{ResyncInterval: time.Hour, StandbyDelay: 300 * time.Millisecond}) // notifications only
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		c.replicas = append(c.replicas, s)
	}
	return c
}

// waitScheduled waits until every replica holds (or, want false, does not hold) the job.
func (c *cluster) waitScheduled(t *testing.T, job string, want bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		ok := true
		for _, r := range c.replicas {
			if slices.Contains(r.Scheduled(), job) != want {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %s scheduled=%v did not reach every replica within 3s", job, want)
}

// Three replicas, an every-second trigger, about five seconds: exactly one execution per
// scheduled time, none missing between the first and the last.
func TestReplicasFireOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	c := newCluster(t, 3)
	d, _, err := c.api.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("every-second"),
		Triggers:   []deployments.Trigger{cron("sec", "* * * * * ?", 0)},
		Config:     deployments.Config{OverlapPolicy: deployments.OverlapAllowAll},
	})
	is.NoErr(err)
	c.waitScheduled(t, "every-second/sec", true)
	time.Sleep(5 * time.Second)
	_, err = c.api.deployments.Delete(ctx, d.ID)
	is.NoErr(err)
	c.waitScheduled(t, "every-second/sec", false)
	time.Sleep(500 * time.Millisecond) // standby replicas finish their checks

	got := scheduledTimes(t, c.db, d.WorkflowID)
	var times []time.Time
	for at, n := range got {
		is.Equal(n, 1) // one execution per scheduled time
		times = append(times, at)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	is.True(len(times) >= 4) // about five seconds of fires
	for i := 1; i < len(times); i++ {
		is.Equal(times[i].Sub(times[i-1]), time.Second) // none missing
	}
	// The ledger has one FIRED per time; the other replicas' checks are DEDUPLICATED.
	l := ledger(t, c.db, d.ID)
	is.Equal(len(l[scheduler.OutcomeFired]), len(times))
}

// Pause stops the fires on every replica at once, resume restarts them, delete ends them.
func TestReplicasPauseResumeDelete(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	c := newCluster(t, 2)
	d, _, err := c.api.deployments.Deploy(ctx, &deployments.DeployParams{
		Definition: definition("lifecycle"),
		Triggers:   []deployments.Trigger{cron("sec", "* * * * * ?", 0)},
	})
	is.NoErr(err)
	c.waitScheduled(t, "lifecycle/sec", true)
	time.Sleep(1500 * time.Millisecond)

	count := func() int { return len(scheduledTimes(t, c.db, d.WorkflowID)) }
	setStatus := func(s deployments.Status) time.Time {
		_, err := c.api.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: s})
		is.NoErr(err)
		return time.Now()
	}

	pausedAt := setStatus(deployments.StatusPaused)
	c.waitScheduled(t, "lifecycle/sec", false)
	time.Sleep(500 * time.Millisecond) // a fire in flight at the pause lands
	before := count()
	is.True(before >= 1) // it fired while deployed
	time.Sleep(2 * time.Second)
	is.Equal(count(), before) // nothing while paused
	for at := range scheduledTimes(t, c.db, d.WorkflowID) {
		is.True(at.Before(pausedAt.Add(time.Second))) // no fire scheduled after the pause (but the one in flight)
	}

	setStatus(deployments.StatusDeployed)
	c.waitScheduled(t, "lifecycle/sec", true)
	time.Sleep(1500 * time.Millisecond)
	resumed := count()
	is.True(resumed > before) // fires again

	_, err = c.api.deployments.Delete(ctx, d.ID)
	is.NoErr(err)
	c.waitScheduled(t, "lifecycle/sec", false)
	time.Sleep(500 * time.Millisecond)
	ended := count()
	time.Sleep(1500 * time.Millisecond)
	is.Equal(count(), ended) // deleted: no more fires
	for _, n := range scheduledTimes(t, c.db, d.WorkflowID) {
		is.Equal(n, 1)
	}
}

// A replica that starts while another runs schedules what is deployed; the embedded mode (no
// lock, no notifier) fires on its own.
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
	s := scheduler.New(b.svc, db, nil, nil, scheduler.Config{ResyncInterval: 200 * time.Millisecond})
	is.NoErr(s.Start(ctx))
	defer s.Stop()
	is.Equal(s.Scheduled(), []string{"embedded/sec"}) // cron triggers only
	time.Sleep(2200 * time.Millisecond)
	is.True(len(scheduledTimes(t, db, d.WorkflowID)) >= 2)

	// Without notifications the resync removes a paused deployment's job; the fire-time check
	// stops it even before.
	_, err = b.deployments.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
	is.NoErr(err)
	// A fire that read the deployment just before the pause may still land; wait until the
	// resync has removed the job, then nothing more may come.
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Scheduled()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the paused deployment's job was not removed within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	n := len(scheduledTimes(t, db, d.WorkflowID))
	time.Sleep(1500 * time.Millisecond)
	is.Equal(len(scheduledTimes(t, db, d.WorkflowID)), n) // no fire after the pause took effect
	s.Stop()
	s.Stop() // idempotent
}
