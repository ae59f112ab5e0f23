package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/lock"
)

// LockConfig configures RunLock.
type LockConfig struct {
	// RedisURL is the Redis server.
	RedisURL string
	// Concurrency is the number of callers, each on a key of its own, back to back.
	Concurrency int
	// Duration is each measuring window (lock, then bare SET); Warmup precedes each.
	Duration, Warmup time.Duration
}

// LockResult is what RunLock measured.
type LockResult struct {
	// Lock is one Acquire plus one Release; Set is one bare SET.
	Lock, Set Summary
}

// lockPrefix keeps the bench's keys apart from the service's ("wfr:").
const lockPrefix = "wfr-bench:"

// RunLock measures the Redis lock manager's Acquire+Release against a bare SET round trip, same
// client, same run, and writes the table.
func RunLock(ctx context.Context, cfg LockConfig, out io.Writer) (*LockResult, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	opts.PoolSize = max(opts.PoolSize, 2*cfg.Concurrency)
	client := redis.NewClient(opts)
	defer func() { _ = client.Close() }()
	if err := client.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("ping redis: %w", err)
	}
	m := lock.NewRedisManager(client, lock.RedisConfig{Prefix: lockPrefix})

	// Each caller has a key of its own.
	keys := make([]string, cfg.Concurrency)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:%d", i)
	}
	defer func() {
		// The lock manager keeps each key's fence counter; the bench's are not needed later.
		for _, k := range keys {
			client.Del(context.WithoutCancel(ctx), lockPrefix+"fence:{"+k+"}", lockPrefix+"bare:"+k)
		}
	}()
	measure := func(op func(ctx context.Context, key string) error) (Summary, error) {
		r := closedLoop(ctx, cfg.Concurrency, cfg.Warmup, cfg.Duration, func(ctx context.Context, caller int) error {
			return op(ctx, keys[caller])
		})
		if r.firstErr != nil {
			return Summary{}, r.firstErr
		}
		return summarize(r.latencies, r.errors, r.elapsed), nil
	}
	res := &LockResult{}
	res.Lock, err = measure(func(ctx context.Context, key string) error {
		l, err := m.Acquire(ctx, key, time.Minute)
		if err != nil {
			return fmt.Errorf("acquire %s: %w", key, err)
		}
		return m.Release(ctx, l)
	})
	if err != nil {
		return nil, err
	}
	res.Set, err = measure(func(ctx context.Context, key string) error {
		return client.Set(ctx, lockPrefix+"bare:"+key, "v", time.Minute).Err()
	})
	if err != nil {
		return nil, err
	}

	l, s := res.Lock, res.Set
	if _, err := fmt.Fprintf(out, "Redis lock acquire+release vs bare SET, %d callers, %s each (after %s warm-up)\n", cfg.Concurrency, cfg.Duration, cfg.Warmup); err != nil {
		return res, err
	}
	return res, table(out, [][]string{
		{"", "ops", "throughput", "mean", "p50", "p99", "max"},
		{"lock acquire+release (2 Lua calls)", fmt.Sprint(l.Count), perSec(l.Throughput()), ms(l.Mean), ms(l.P50), ms(l.P99), ms(l.Max)},
		{"bare SET (1 round trip)", fmt.Sprint(s.Count), perSec(s.Throughput()), ms(s.Mean), ms(s.P50), ms(s.P99), ms(s.Max)},
		{"lock / SET", "", "", times(ratio(float64(l.Mean), float64(s.Mean))), times(ratio(float64(l.P50), float64(s.P50))), times(ratio(float64(l.P99), float64(s.P99))), ""},
	})
}
