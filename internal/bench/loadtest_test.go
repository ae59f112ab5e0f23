package bench_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/bench"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// testBundle is a service (role all, SQLite file, in-process coordination) to load.
type testBundle struct {
	addr        string // base URL, http://host:port
	databaseURL string // the service's database, for the --database-url variants
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite")
	a, err := app.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		_ = a.Stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return &testBundle{addr: "http://" + a.Addr(), databaseURL: cfg.DatabaseURL}
}

func TestTrigger(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tb := setup(t)
	var out bytes.Buffer
	res, err := bench.RunTrigger(t.Context(), bench.TriggerConfig{
		Addr: tb.addr, Concurrency: 4, Duration: 400 * time.Millisecond, Warmup: 50 * time.Millisecond,
	}, &out)
	is.NoErr(err)
	is.True(res.Baseline.Count > 0)             // the baseline handler answered
	is.True(res.Service.Count > 0)              // the service answered
	is.Equal(res.Service.Errors, 0)             // every trigger was accepted
	is.True(res.Service.Throughput() > 0)       // calls per second
	is.True(res.Service.P50 <= res.Service.P99) // percentiles in order
	is.True(res.Service.P99 <= res.Service.Max)
	is.True(res.Service.Mean > 0)
	is.True(strings.Contains(out.String(), "service / baseline")) // the ratio row
	is.True(strings.Contains(out.String(), "bench-trigger-"))     // the deployed workflow is named
}

func TestE2EByRPC(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tb := setup(t)
	var out bytes.Buffer
	res, err := bench.RunE2E(t.Context(), bench.E2EConfig{
		Addr: tb.addr, Count: 100, Concurrency: 8, Timeout: 30 * time.Second,
	}, &out)
	is.NoErr(err)
	is.Equal(res.Triggered, 100)
	is.Equal(res.TriggerErrors, 0)
	is.Equal(res.Statuses["SUCCEEDED"], 100) // every execution read back as SUCCEEDED
	is.Equal(res.Lost(), 0)
	is.Equal(res.ServerSpan, time.Duration(0)) // no rows to read without a database
	is.True(res.Elapsed >= res.TriggerPhase)
	is.True(strings.Contains(out.String(), "flat out"))
}

func TestE2EBySQLAtARate(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tb := setup(t)
	var out bytes.Buffer
	res, err := bench.RunE2E(t.Context(), bench.E2EConfig{
		Addr: tb.addr, DatabaseURL: tb.databaseURL, Count: 100, Rate: 400, Concurrency: 8, Timeout: 30 * time.Second,
	}, &out)
	is.NoErr(err)
	is.Equal(res.Statuses["SUCCEEDED"], 100) // counted with SQL
	is.Equal(res.Lost(), 0)
	is.True(res.TriggerPhase >= 200*time.Millisecond) // 100 at 400/s take at least 99/400 s
	is.True(res.ServerSpan > 0)                       // first created_at to last finished_at
	is.True(strings.Contains(out.String(), "400/s"))
	is.True(strings.Contains(out.String(), "throughput (rows)"))
}

func TestE2EFailsWhenExecutionsDoNotSucceed(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tb := setup(t)
	// A workflow that does not exist: every trigger fails, so nothing can succeed.
	var out bytes.Buffer
	res, err := bench.RunE2E(t.Context(), bench.E2EConfig{
		Addr: tb.addr, WorkflowID: "no-such-workflow", Count: 5, Concurrency: 2, Timeout: 5 * time.Second,
	}, &out)
	is.True(err != nil) // the run fails
	is.Equal(res.Triggered, 0)
	is.Equal(res.TriggerErrors, 5)
	is.True(strings.Contains(out.String(), "warning: 5 triggers failed"))
}

func TestPickup(t *testing.T) {
	t.Parallel()
	for _, bySQL := range []bool{false, true} {
		t.Run(map[bool]string{false: "RPC", true: "SQL"}[bySQL], func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			tb := setup(t)
			cfg := bench.PickupConfig{
				Addr: tb.addr, Rate: 200, Duration: 500 * time.Millisecond, Warmup: 200 * time.Millisecond,
				Concurrency: 8, Timeout: 30 * time.Second,
			}
			if bySQL {
				cfg.DatabaseURL = tb.databaseURL
			}
			var out bytes.Buffer
			res, err := bench.RunPickup(t.Context(), cfg, &out)
			is.NoErr(err)
			is.True(res.Triggered >= 50) // about 100 at 200/s for 500 ms
			is.Equal(res.TriggerErrors, 0)
			is.Equal(res.NotStarted, 0)               // every execution was picked up
			is.Equal(res.Pickup.Count, res.Triggered) // one pickup latency per measured execution, none for the warm-up's
			is.True(res.Pickup.P50 >= 0)
			is.True(res.Pickup.P50 <= res.Pickup.Max)
			is.Equal(res.Trigger.Count, res.Triggered)
			is.True(strings.Contains(out.String(), "after a 200ms warm-up"))
		})
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	redisURL := testenv.Require(t, "WFR_TEST_REDIS_URL")
	testenv.Redis(t) // fails when the server does not answer
	var out bytes.Buffer
	res, err := bench.RunLock(t.Context(), bench.LockConfig{
		RedisURL: redisURL, Concurrency: 2, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
	}, &out)
	is.NoErr(err)
	is.True(res.Lock.Count > 0) // acquire+release pairs
	is.True(res.Set.Count > 0)
	is.Equal(res.Lock.Errors, 0)
	is.True(res.Lock.Throughput() > 0)
	is.True(res.Lock.Mean > 0)
	is.True(strings.Contains(out.String(), "lock / SET"))
}

func TestLockRejectsBadURL(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	_, err := bench.RunLock(t.Context(), bench.LockConfig{RedisURL: "http://not-redis", Concurrency: 1}, &bytes.Buffer{})
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "--redis-url"))

	_, err = bench.RunLock(t.Context(), bench.LockConfig{RedisURL: "redis://127.0.0.1:1/0", Concurrency: 1}, &bytes.Buffer{})
	is.True(err != nil) // nothing listens: the ping fails before any measurement
	is.True(strings.Contains(err.Error(), "ping redis"))
}

func TestCommandsRejectBadFlags(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	is.True((&bench.TriggerCommand{Concurrency: 0}).Run(ctx) != nil)
	is.True((&bench.E2ECommand{Count: 0, Concurrency: 1}).Run(ctx) != nil)
	is.True((&bench.E2ECommand{Count: 1, Concurrency: 1, Rate: -1}).Run(ctx) != nil)
	is.True((&bench.PickupCommand{Rate: 0, Concurrency: 1}).Run(ctx) != nil)
	is.True((&bench.LockCommand{Concurrency: 0}).Run(ctx) != nil)
}

func TestCommandsRun(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tb := setup(t)
	ctx := t.Context()
	// The commands print to stdout; what they measured is checked above, here that the flags
	// reach the measurement and a clean run reports no error.
	trigger := &bench.TriggerCommand{Concurrency: 2, Duration: 100 * time.Millisecond}
	trigger.Addr = tb.addr
	is.NoErr(trigger.Run(ctx))

	e2e := &bench.E2ECommand{DatabaseURL: tb.databaseURL, Count: 20, Concurrency: 4, Timeout: 30 * time.Second}
	e2e.Addr = tb.addr
	is.NoErr(e2e.Run(ctx))

	pickup := &bench.PickupCommand{Rate: 100, Duration: 100 * time.Millisecond, Concurrency: 4, Timeout: 30 * time.Second}
	pickup.Addr = tb.addr
	is.NoErr(pickup.Run(ctx))

	unreachable := &bench.E2ECommand{Count: 1, Concurrency: 1, Timeout: time.Second}
	unreachable.Addr = "http://127.0.0.1:1"
	is.True(unreachable.Run(ctx) != nil) // the deploy fails
}
