package registry_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/registry"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// testBundle is a Redis client and a key prefix of the test's own.
type testBundle struct {
	client redis.UniversalClient
	prefix string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	client, prefix := testenv.RedisPrefixed(t)
	return &testBundle{client: client, prefix: prefix}
}

// newRegistry returns a registry of role on the bundle's keys, stopped when the test ends.
func (b *testBundle) newRegistry(t *testing.T, role string, cfg registry.Config) *registry.Registry {
	t.Helper()
	cfg.Prefix = b.prefix
	cfg.Self.Role = role
	cfg.Self.Version = "v-test"
	cfg.Self.Address = "10.0.0.1:8080"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := registry.New(b.client, cfg)
	t.Cleanup(r.Stop)
	return r
}

func ids(list []registry.Instance) []string {
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = in.ID
	}
	return out
}

// waitListed waits until listed(r.List()) holds, bounded by 10 s. It polls: expiry is Redis's
// clock, which nothing in the test can advance or hear.
func waitListed(t *testing.T, r *registry.Registry, what string, listed func([]registry.Instance) bool) {
	t.Helper()
	testenv.Poll(t, 10*time.Second, func() error {
		list, err := r.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !listed(list) {
			return fmt.Errorf("%s: not so; listed: %v", what, ids(list))
		}
		return nil
	})
}

func TestRegisterAndListByRole(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t)
	var inUse atomic.Int64
	inUse.Store(3)
	worker := b.newRegistry(t, "worker", registry.Config{
		Self:  registry.Instance{ID: "w-1"},
		Slots: func() (int, int) { return int(inUse.Load()), 16 },
	})
	api := b.newRegistry(t, "api", registry.Config{Self: registry.Instance{ID: "a-1"}})
	sched := b.newRegistry(t, "scheduler", registry.Config{Self: registry.Instance{ID: "s-1"}})
	for _, r := range []*registry.Registry{worker, api, sched} {
		is.NoErr(r.Start(t.Context()))
	}

	list, err := api.List(t.Context())
	is.NoErr(err)
	is.Equal(ids(list), []string{"a-1", "s-1", "w-1"}) // by role, then id
	w := list[2]
	is.Equal(w.Role, "worker")
	is.Equal(w.Version, "v-test")
	is.Equal(w.Address, "10.0.0.1:8080")
	is.Equal(w.SlotsInUse, 3)
	is.Equal(w.SlotCapacity, 16)
	is.True(!w.Started.IsZero())
	is.True(!w.Heartbeat.Before(w.Started)) // stamped at the heartbeat
	is.Equal(list[0].SlotCapacity, 0)       // no worker in the api role

	byRole := registry.ByRole(list)
	is.Equal(len(byRole), 3)
	is.Equal(ids(byRole["worker"]), []string{"w-1"})

	// A heartbeat publishes the current slots and a new address.
	inUse.Store(7)
	worker.SetAddress("10.0.0.2:9090")
	is.NoErr(worker.Beat(t.Context()))
	list, err = worker.List(t.Context())
	is.NoErr(err)
	is.Equal(list[2].SlotsInUse, 7)
	is.Equal(list[2].Address, "10.0.0.2:9090")
	is.Equal(worker.Self().Address, "10.0.0.2:9090")

	live, err := sched.LiveIDs(t.Context())
	is.NoErr(err)
	is.Equal(live, map[string]bool{"a-1": true, "s-1": true, "w-1": true})
}

// TestHeartbeatRenewsTTL: each heartbeat advances the instance's last_heartbeat and pushes its
// expiry forward, so an instance that heartbeats stays listed.
func TestHeartbeatRenewsTTL(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t)
	ctx := t.Context()
	// A TTL far above the interval: a slow machine delays a heartbeat, it must not drop the
	// instance while the test watches.
	const ttl = 10 * time.Second
	var beat testenv.Signal
	r := b.newRegistry(t, "worker", registry.Config{Interval: 20 * time.Millisecond, TTL: ttl, OnBeat: func(error) { beat.Fire() }})
	is.Equal(r.TTL(), ttl)
	is.NoErr(r.Start(ctx))
	live := b.prefix + "registry:{instances}:live"
	expiry := func() float64 {
		score, err := b.client.ZScore(ctx, live, r.Self().ID).Result()
		is.NoErr(err)
		return score
	}
	heartbeat := func() time.Time {
		list, err := r.List(ctx)
		is.NoErr(err)
		is.Equal(len(list), 1) // listed all along
		return list[0].Heartbeat
	}

	lastBeat, lastExpiry := heartbeat(), expiry()
	for range 3 {
		beat.Await(t, 10*time.Second, func() error {
			// Read the expiry first: a heartbeat seen afterwards has the same or a later one.
			e := expiry()
			hb := heartbeat()
			if !hb.After(lastBeat) {
				return errors.New("no new heartbeat")
			}
			is.True(expiry() > lastExpiry) // the heartbeat pushed the expiry forward
			lastBeat, lastExpiry = hb, e
			return nil
		})
	}
	pttl, err := b.client.PTTL(ctx, b.prefix+"registry:{instances}:instance:"+r.Self().ID).Result()
	is.NoErr(err)
	is.True(pttl > 0 && pttl <= ttl) // the record expires by itself
}

// TestSilentInstanceExpires: an instance that stops heartbeating without deregistering (killed)
// drops out once its TTL has passed, and its keys are gone.
func TestSilentInstanceExpires(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t)
	ctx := t.Context()
	observer := b.newRegistry(t, "api", registry.Config{Interval: time.Hour})
	is.NoErr(observer.Start(ctx))
	killed := b.newRegistry(t, "worker", registry.Config{Interval: 50 * time.Millisecond, TTL: 200 * time.Millisecond})
	is.NoErr(killed.Beat(ctx)) // one heartbeat, then nothing: a process killed after it
	list, err := observer.List(ctx)
	is.NoErr(err)
	is.Equal(len(list), 2) // listed while its TTL runs

	waitListed(t, observer, "the silent instance dropped out", func(l []registry.Instance) bool { return len(l) == 1 })
	list, err = observer.List(ctx)
	is.NoErr(err)
	is.Equal(ids(list), []string{observer.Self().ID}) // the live one stays
	n, err := b.client.Exists(ctx, b.prefix+"registry:{instances}:instance:"+killed.Self().ID).Result()
	is.NoErr(err)
	is.Equal(n, int64(0)) // its record expired
	members, err := b.client.ZRange(ctx, b.prefix+"registry:{instances}:live", 0, -1).Result()
	is.NoErr(err)
	is.Equal(members, []string{observer.Self().ID}) // and the listing pruned its id
}

// TestStopDeregisters: a stopping instance is gone from the next listing, without waiting for
// its TTL.
func TestStopDeregisters(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t)
	ctx := t.Context()
	a := b.newRegistry(t, "api", registry.Config{Interval: time.Hour})
	w := b.newRegistry(t, "worker", registry.Config{Interval: time.Hour})
	is.NoErr(a.Start(ctx))
	is.NoErr(w.Start(ctx))
	list, err := a.List(ctx)
	is.NoErr(err)
	is.Equal(len(list), 2)

	w.Stop()
	w.Stop() // idempotent
	list, err = a.List(ctx)
	is.NoErr(err)
	is.Equal(ids(list), []string{a.Self().ID})
	n, err := b.client.Exists(ctx, b.prefix+"registry:{instances}:instance:"+w.Self().ID).Result()
	is.NoErr(err)
	is.Equal(n, int64(0))

	// Started again, it registers again; stopped, it is gone again.
	is.NoErr(w.Start(ctx))
	is.NoErr(w.Start(ctx)) // running already: nothing more
	list, err = a.List(ctx)
	is.NoErr(err)
	is.Equal(len(list), 2)
	w.Stop()
	list, err = a.List(ctx)
	is.NoErr(err)
	is.Equal(ids(list), []string{a.Self().ID})
}

// TestRecordLostComesBack: an instance whose keys were lost (Redis restarted empty) is listed
// again after its next heartbeat; a live id whose record is gone is skipped and pruned.
func TestRecordLostComesBack(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t)
	ctx := t.Context()
	r := b.newRegistry(t, "scheduler", registry.Config{Interval: time.Hour})
	is.NoErr(r.Start(ctx))
	record := b.prefix + "registry:{instances}:instance:" + r.Self().ID
	is.NoErr(b.client.Del(ctx, record).Err()) // evicted

	list, err := r.List(ctx)
	is.NoErr(err)
	is.Equal(len(list), 0) // skipped
	n, err := b.client.ZCard(ctx, b.prefix+"registry:{instances}:live").Result()
	is.NoErr(err)
	is.Equal(n, int64(0)) // and pruned

	is.NoErr(r.Beat(ctx))
	list, err = r.List(ctx)
	is.NoErr(err)
	is.Equal(ids(list), []string{r.Self().ID}) // back

	is.NoErr(b.client.Set(ctx, record, "{not json", time.Minute).Err())
	list, err = r.List(ctx)
	is.NoErr(err)
	is.Equal(len(list), 0) // an undecodable record is skipped
}

// TestRedisDown: a registry whose Redis does not answer starts anyway (it is informational),
// logs the failed heartbeat once, and its listing fails rather than pretending to be alone.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	var logs bytes.Buffer
	r := registry.New(client, registry.Config{
		Self:     registry.Instance{Role: "engine"},
		Interval: time.Hour,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})
	is.NoErr(r.Start(t.Context())) // not a start failure
	is.True(r.Beat(t.Context()) != nil)
	is.Equal(strings.Count(logs.String(), "instance heartbeat failed"), 1) // once per streak
	list, err := r.List(t.Context())
	is.True(err != nil)
	is.Equal(len(list), 0)
	_, err = r.LiveIDs(t.Context())
	is.True(err != nil)
	r.Stop() // the deregistration fails, logged
	is.True(strings.Contains(logs.String(), "instance deregistration failed"))
}

// TestLocal: without Redis the registry is this process alone.
func TestLocal(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	now := started.Add(time.Minute)
	r := registry.New(nil, registry.Config{
		Self:  registry.Instance{Role: "all", Version: "v1", Address: "127.0.0.1:8080", Started: started},
		Slots: func() (int, int) { return 2, 128 },
		Now:   func() time.Time { return now },
	})
	is.NoErr(r.Start(t.Context()))
	defer r.Stop()
	is.NoErr(r.Beat(t.Context()))
	list, err := r.List(t.Context())
	is.NoErr(err)
	is.Equal(len(list), 1)
	self := list[0]
	is.True(self.ID != "")
	is.Equal(self.Role, "all")
	is.Equal(self.Started, started)
	is.Equal(self.Heartbeat, now)
	is.Equal(self.SlotsInUse, 2)
	is.Equal(self.SlotCapacity, 128)
	is.Equal(r.Interval(), registry.DefaultInterval)
	is.Equal(r.TTL(), 3*registry.DefaultInterval)
	r.Stop()
	r.Stop()
}

func TestTTLDefaults(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	r := registry.New(nil, registry.Config{Interval: time.Second, TTL: time.Second})
	is.Equal(r.TTL(), 3*time.Second) // a TTL not above the interval would drop live instances
	r = registry.New(nil, registry.Config{Interval: time.Second, TTL: 10 * time.Second})
	is.Equal(r.TTL(), 10*time.Second)
}

func TestNewID(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	host, _ := os.Hostname()
	a, b := registry.NewID(), registry.NewID()
	is.True(a != b)
	is.True(strings.HasPrefix(a, host+"-")) // host-pid-random
}

func TestAdvertiseAddr(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	host, _ := os.Hostname()
	is.Equal(registry.AdvertiseAddr("127.0.0.1:8080"), "127.0.0.1:8080")
	is.Equal(registry.AdvertiseAddr("10.1.2.3:9000"), "10.1.2.3:9000")
	is.Equal(registry.AdvertiseAddr(":8080"), host+":8080")
	is.Equal(registry.AdvertiseAddr("0.0.0.0:8080"), host+":8080")
	is.Equal(registry.AdvertiseAddr("[::]:8080"), host+":8080")
	is.Equal(registry.AdvertiseAddr("[::1]:8080"), "[::1]:8080")
	is.Equal(registry.AdvertiseAddr("no-port"), "no-port") // left as given
}
