package scheduler_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/registry"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/shard"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// shardTriggers is how many triggers TestShardedReplicas deploys (in workflows of 100): 10,000,
// or 1,000 under the race detector (race_on_test.go).
var shardTriggers = flag.Int("scheduler.shard-triggers", defaultShardTriggers, "triggers of TestShardedReplicas, a multiple of 100")

// shardPeriods are the trigger periods of the sharded cluster's test (seconds) and how many
// triggers have each: per-second to per-minute, most of them per minute, so that the 10,000
// triggers make about 190 fires a second, which a shared test database keeps up with.
var shardPeriods = []struct{ every, triggers int }{
	{1, 5}, {2, 5}, {5, 10}, {10, 30}, {15, 50}, {30, 400}, {60, 9500},
}

// shardedCluster is scheduler replicas that share the triggers through a real instance
// registry (Redis) over one PostgreSQL database, as separate processes would: each has its
// own services, registry client and go-quartz.
type shardedCluster struct {
	t      *testing.T
	db     *store.DB // the test's and the API's
	dbURL  string    // each replica opens its own pool, as a process would
	rdb    *redis.Client
	prefix string
	obs    *observer
	live   map[string]*shardedReplica
	n      int
	logger *slog.Logger
}

type shardedReplica struct {
	id    string
	reg   *registry.Registry
	regDB *redis.Client // the registry's own client: closing it is the kill
	db    *store.DB     // its own pool, closed when it dies
	s     *scheduler.Scheduler

	mu        sync.Mutex
	lastBegun time.Time         // the latest scheduled time of a live fire begun
	inflight  map[time.Time]int // live fires begun and not ended, by scheduled time
}

// onEvent tracks the replica's fires, then tells the cluster's observer.
func (r *shardedReplica) onEvent(obs *observer) func(scheduler.Event) {
	return func(e scheduler.Event) {
		r.mu.Lock()
		switch e.Kind {
		case scheduler.EventFireBegan:
			r.inflight[e.Scheduled]++
			if e.Scheduled.After(r.lastBegun) {
				r.lastBegun = e.Scheduled
			}
		case scheduler.EventFireEnded:
			if r.inflight[e.Scheduled]--; r.inflight[e.Scheduled] == 0 {
				delete(r.inflight, e.Scheduled)
			}
		}
		r.mu.Unlock()
		obs.OnEvent(e)
	}
}

// doneUntil says whether every live fire of the replica scheduled up to until has ended:
// go-quartz begins the fires in time order, so once one after until has begun, none before is
// still to begin.
func (r *shardedReplica) doneUntil(until time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.lastBegun.After(until) {
		return false
	}
	for at := range r.inflight {
		if !at.After(until) {
			return false
		}
	}
	return true
}

// add starts a replica: its registry first (as the app does), then its scheduler.
func (c *shardedCluster) add() *shardedReplica {
	c.t.Helper()
	r := c.register()
	if err := r.s.Start(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	return r
}

// register makes a replica and registers it in the instance registry; its scheduler is made,
// not started.
func (c *shardedCluster) register() *shardedReplica {
	c.t.Helper()
	c.n++
	r := &shardedReplica{id: fmt.Sprintf("scheduler-%d-%s", c.n, uuid.NewString()[:8]), inflight: map[time.Time]int{}}
	r.regDB = redis.NewClient(c.rdb.Options())
	c.t.Cleanup(func() { _ = r.regDB.Close() })
	r.reg = registry.New(r.regDB, registry.Config{
		Self:     registry.Instance{ID: r.id, Role: "scheduler"},
		Interval: 250 * time.Millisecond, TTL: time.Second, Prefix: c.prefix,
	})
	if err := r.reg.Start(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(r.reg.Stop)
	db, err := store.Open(context.Background(), c.dbURL, store.Options{MaxOpenConns: 4})
	if err != nil {
		c.t.Fatal(err)
	}
	r.db = db
	c.t.Cleanup(func() { _ = db.Close() })
	b := setup(c.t, db, nil, nil, nil)
	r.s = scheduler.New(b.svc, db, lock.NewRedisManager(c.rdb, lock.RedisConfig{Prefix: c.prefix}), notify.NewRedis(c.rdb, c.prefix),
		scheduler.Config{
			// A fire however late still runs: the test asserts what holds whatever the load.
			ResyncInterval: time.Hour, StandbyDelay: 300 * time.Millisecond, OutdatedThreshold: time.Hour, OnEvent: r.onEvent(c.obs), Logger: c.logger,
			Sharding: &scheduler.Sharding{Self: r.id, Members: schedulers(r.reg), Interval: 250 * time.Millisecond, Handoff: 2 * time.Second},
		})
	c.t.Cleanup(r.s.Stop)
	c.live[r.id] = r
	return r
}

// schedulers lists the live schedulers of the registry, as the app does.
func schedulers(reg *registry.Registry) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		list, err := reg.List(ctx)
		var ids []string
		for _, in := range list {
			if in.Role == "scheduler" || in.Role == "all" {
				ids = append(ids, in.ID)
			}
		}
		return ids, err
	}
}

// kill stops a replica the way a killed process stops: its heartbeats end without a
// deregistration (its registry's client is closed), so it stays listed until its TTL runs out;
// its scheduler stops firing.
func (c *shardedCluster) kill(r *shardedReplica) {
	_ = r.regDB.Close()
	r.s.Stop()
	_ = r.db.Close()
	delete(c.live, r.id)
}

// leave stops a replica gracefully: the scheduler, then the deregistration.
func (c *shardedCluster) leave(r *shardedReplica) {
	r.s.Stop()
	r.reg.Stop()
	_ = r.db.Close()
	delete(c.live, r.id)
}

// settled waits until the live replicas share the triggers as rendezvous hashing over them
// says: every trigger held by exactly its two owners, nothing else held (the handoffs over).
func (c *shardedCluster) settled(keys []string) {
	c.t.Helper()
	var ids []string
	for id := range c.live {
		ids = append(ids, id)
	}
	ring := shard.New(ids[0], ids)
	want := map[string]map[string]bool{}
	for _, k := range keys {
		p, s := ring.Owners(k)
		for _, i := range []int{p, s} {
			id := ring.Members()[i]
			if want[id] == nil {
				want[id] = map[string]bool{}
			}
			want[id][k] = true
		}
	}
	c.obs.wait(c.t, fmt.Sprintf("the triggers shared by %d replicas", len(ids)), func() bool {
		for id, r := range c.live {
			held := r.s.Scheduled()
			if len(held) != len(want[id]) {
				return false
			}
			for _, k := range held {
				if !want[id][k] {
					return false
				}
			}
		}
		return true
	})
}

// Four replicas share 10,000 triggers (-scheduler.shard-triggers) (per-second to per-minute); replicas are killed (two at
// once, too), leave and join while they fire. Each scheduled time from the deploy to the end is
// made exactly once, by a live fire or a catch-up, and nothing is MISSED; with four replicas
// live each holds about 2/4 of the triggers. A real clock: which replica makes which time, and
// whether live or caught up, is up to the timing; that each is made once is not.
func TestShardedReplicas(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	dbURL := storetest.PostgresSchemaURL(t)
	db, err := store.Open(ctx, dbURL, store.Options{MaxOpenConns: 4})
	is.NoErr(err)
	t.Cleanup(func() { _ = db.Close() })
	is.NoErr(db.Migrate(ctx))
	rdb := testenv.Redis(t)
	c := &shardedCluster{t: t, db: db, dbURL: dbURL, rdb: rdb, prefix: "wfr-test-" + uuid.NewString()[:12] + ":", obs: newObserver(), live: map[string]*shardedReplica{},
		logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}

	// Workflows of 100 triggers each.
	deploys := deployments.NewService(db, deployments.ServiceConfig{Limits: deployments.Limits{MaxTriggers: 100}})
	var keys []string
	period := map[string][2]int64{} // every, second
	var deployed time.Time
	next := 0
	for w := range *shardTriggers / 100 {
		wf := fmt.Sprintf("shard-%02d", w)
		var triggers []deployments.Trigger
		for i := range 100 {
			n := next
			next++
			every := 0
			for _, p := range shardPeriods {
				if n < p.triggers**shardTriggers/10_000 || p.every == 60 {
					every = p.every
					break
				}
				n -= p.triggers
			}
			// The second of its first time in the minute spreads the triggers of one period.
			second := next % every
			expr := fmt.Sprintf("%d/%d * * * * ?", second, every)
			if every == 60 {
				expr = fmt.Sprintf("%d * * * * ?", second)
			}
			id := fmt.Sprintf("t%02d", i)
			triggers = append(triggers, cron(id, expr, 0))
			keys = append(keys, wf+"/"+id)
			period[wf+"/"+id] = [2]int64{int64(every), int64(second)}
		}
		d, _, err := deploys.Deploy(ctx, &deployments.DeployParams{
			Definition: definition(wf), Triggers: triggers,
			Config: deployments.Config{OverlapPolicy: policy.OverlapAllowAll, MisfirePolicy: policy.MisfireFireAll, CatchUpWindow: time.Hour},
		})
		is.NoErr(err)
		deployed = d.DeployedAt
	}
	from := deployed.Truncate(time.Second).Add(time.Second) // every time after the deploys is checked

	// Four replicas, registered before they start, as a fleet that starts together: each
	// loads its share at once, and holds about 2/4 of the triggers.
	var rs []*shardedReplica
	for range 4 {
		rs = append(rs, c.register())
	}
	var starts sync.WaitGroup
	for _, r := range rs {
		starts.Go(func() { is.NoErr(r.s.Start(ctx)) })
	}
	starts.Wait()
	c.settled(keys)
	balanced := func() {
		for _, r := range c.live {
			n := len(r.s.Scheduled())
			is.True(n > len(keys)*2/4*9/10 && n < len(keys)*2/4*11/10) // about N·2/4 held by each of 4
		}
	}
	balanced()

	step := func(what string) { t.Logf("%s: %s", time.Now().Format(time.TimeOnly), what) }
	step("settled over 4")
	c.kill(rs[1]) // the others rebalance once its entry expires; its triggers' standbys fire meanwhile
	c.settled(keys)
	step("settled over 3")
	c.add()
	c.settled(keys)
	step("settled over 4 again")
	c.kill(rs[2]) // two at once: the triggers they both held are caught up by their new owners
	c.kill(rs[3])
	c.add()
	c.leave(rs[0]) // graceful: deregistered at once
	c.add()
	c.add()
	c.settled(keys)
	step("settled over 4 after the double kill, a leave and three joins")
	balanced()

	// The checked interval ends now; the replicas stop once their fires of it have ended.
	until := time.Now().Truncate(time.Second)
	c.obs.wait(t, "the fires of the checked interval ended on every replica", func() bool {
		for _, r := range c.live {
			if !r.doneUntil(until) {
				return false
			}
		}
		return true
	})
	step("fires after the interval seen")
	for _, r := range c.live {
		r.s.Stop()
	}

	// Each time in [from, until] of each trigger made once, none missing, none MISSED.
	var rows []struct {
		WorkflowID  string    `bun:"workflow_id"`
		TriggerID   string    `bun:"trigger_id"`
		ScheduledAt time.Time `bun:"scheduled_at"`
		Outcome     string    `bun:"outcome"`
	}
	is.NoErr(db.Bun().NewSelect().Table("fire_ledger").Column("workflow_id", "trigger_id", "scheduled_at", "outcome").
		Where("scheduled_at >= ?", from).Where("scheduled_at <= ?", until).Scan(ctx, &rows))
	made := map[string]map[int64]int{}
	recorded := map[string]map[int64]bool{} // any row
	deduplicated := 0
	for _, r := range rows {
		k := r.WorkflowID + "/" + r.TriggerID
		if recorded[k] == nil {
			recorded[k] = map[int64]bool{}
		}
		recorded[k][r.ScheduledAt.Unix()] = true
		switch r.Outcome {
		case string(scheduler.OutcomeFired), string(scheduler.OutcomeCaughtUp):
			if made[k] == nil {
				made[k] = map[int64]int{}
			}
			made[k][r.ScheduledAt.Unix()]++
		case string(scheduler.OutcomeDeduplicated):
			deduplicated++
		default:
			t.Errorf("%s at %s: %s", k, r.ScheduledAt, r.Outcome)
		}
	}
	var executions []struct {
		WorkflowID  string    `bun:"workflow_id"`
		TriggerID   string    `bun:"trigger_id"`
		ScheduledAt time.Time `bun:"scheduled_at"`
	}
	is.NoErr(db.Bun().NewSelect().Table("executions").Column("workflow_id", "trigger_id", "scheduled_at").
		Where("trigger_type = 'CRON'").Where("scheduled_at >= ?", from).Where("scheduled_at <= ?", until).Scan(ctx, &executions))
	runs := map[string]map[int64]int{}
	for _, e := range executions {
		k := e.WorkflowID + "/" + e.TriggerID
		if runs[k] == nil {
			runs[k] = map[int64]int{}
		}
		runs[k][e.ScheduledAt.Unix()]++
	}
	slots, lost, unrecorded := 0, 0, 0
	for _, k := range keys {
		for at := from.Unix(); at <= until.Unix(); at++ {
			if at%period[k][0] != period[k][1] {
				continue
			}
			slots++
			if !recorded[k][at] {
				unrecorded++ // made by a replica killed before its ledger write
			}
			if made[k][at] > 1 || runs[k][at] != 1 {
				lost++
				if lost <= 10 {
					t.Errorf("%s at %s: made %d times in the ledger, %d executions; want one execution", k, time.Unix(at, 0).UTC(), made[k][at], runs[k][at])
				}
			}
		}
	}
	is.Equal(lost, 0)                // every time made exactly once
	is.Equal(len(executions), slots) // and no other time
	t.Logf("%d times of %d triggers from %s to %s, each made once; %d deduplicated attempts; %d times without a ledger row",
		slots, len(keys), from.Format(time.TimeOnly), until.Format(time.TimeOnly), deduplicated, unrecorded)
}

// With one live scheduler, or while the membership cannot be read, a sharded scheduler holds
// every trigger, as an unsharded one does; with three it holds exactly its share.
func TestShardingShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	b := setup(t, db, nil, nil, nil)
	var all []string
	for w := range 10 {
		wf := fmt.Sprintf("share-%d", w)
		var triggers []deployments.Trigger
		for i := range 10 {
			triggers = append(triggers, cron(fmt.Sprintf("t%d", i), "0 0 * * * ?", 0))
			all = append(all, fmt.Sprintf("%s/t%d", wf, i))
		}
		if _, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{Definition: definition(wf), Triggers: triggers}); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		members []string
		err     error
	}{
		"alone":      {members: []string{"me"}},
		"unlisted":   {members: nil},
		"unreadable": {err: errors.New("redis does not answer")},
		"two":        {members: []string{"me", "other"}},
		"three":      {members: []string{"me", "other", "third"}},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			s := scheduler.New(b.svc, db, nil, nil, scheduler.Config{Sharding: &scheduler.Sharding{
				Self:    "me",
				Members: func(context.Context) ([]string, error) { return tc.members, tc.err },
			}})
			is.NoErr(s.Start(ctx))
			defer s.Stop()
			held := s.Scheduled()
			slices.Sort(held)
			if len(tc.members) < 3 {
				is.Equal(held, all) // one or two schedulers: each holds everything
				return
			}
			ring := shard.New("me", tc.members)
			var want []string
			for _, k := range all {
				if ring.Role(k) != shard.None {
					want = append(want, k)
				}
			}
			is.Equal(held, want)                      // its share, primary and standby
			is.True(len(held) > 50 && len(held) < 84) // about 2/3 of 100
		})
	}
}
