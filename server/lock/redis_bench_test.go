package lock_test

import (
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/lock/locktest"
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
