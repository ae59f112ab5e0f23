package lock_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/lock/locktest"
)

// BenchmarkRedisAcquireRelease is one Acquire (Lua: SET NX PX + INCR) and one Release (Lua:
// compare-and-delete): two round trips. Compare with BenchmarkRedisBareSet, one round trip.
func BenchmarkRedisAcquireRelease(b *testing.B) {
	client, prefix := locktest.Redis(b)
	m := lock.NewRedisManager(client, lock.RedisConfig{Prefix: prefix})
	ctx := b.Context()
	for b.Loop() {
		l, err := m.Acquire(ctx, "bench", time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Release(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisBareSet is a plain SET round trip: the floor for any Redis operation.
func BenchmarkRedisBareSet(b *testing.B) {
	client, prefix := locktest.Redis(b)
	ctx := b.Context()
	for b.Loop() {
		if err := client.Set(ctx, prefix+"bare", "v", time.Minute).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// batchKeys is the batch size of the batch benchmarks: a worker's group of concurrent
// executions.
const batchKeys = 16

func benchKeys() []string {
	keys := make([]string, batchKeys)
	for i := range keys {
		keys[i] = "bench-" + strconv.Itoa(i)
	}
	return keys
}

// BenchmarkRedisAcquireReleaseMany16 is AcquireMany and ReleaseMany of 16 keys: two round trips
// (pipelines of 16 EVALSHA) for the 16. Compare its ns/key with
// BenchmarkRedisAcquireReleaseSingle16's.
func BenchmarkRedisAcquireReleaseMany16(b *testing.B) {
	client, prefix := locktest.Redis(b)
	m := lock.NewRedisManager(client, lock.RedisConfig{Prefix: prefix})
	ctx := b.Context()
	keys := benchKeys()
	for b.Loop() {
		leases, errs := m.AcquireMany(ctx, keys, time.Minute)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		for _, err := range m.ReleaseMany(ctx, leases) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchKeys), "ns/key")
}

// BenchmarkRedisAcquireReleaseSingle16 is Acquire and Release of the same 16 keys one by one:
// 32 round trips.
func BenchmarkRedisAcquireReleaseSingle16(b *testing.B) {
	client, prefix := locktest.Redis(b)
	m := lock.NewRedisManager(client, lock.RedisConfig{Prefix: prefix})
	ctx := b.Context()
	keys := benchKeys()
	leases := make([]*lock.Lease, len(keys))
	for b.Loop() {
		for i, k := range keys {
			l, err := m.Acquire(ctx, k, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			leases[i] = l
		}
		for _, l := range leases {
			if err := m.Release(ctx, l); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchKeys), "ns/key")
}
