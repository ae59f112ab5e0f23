// Package testenv gives tests the real servers they need: the Redis and PostgreSQL URLs from
// WFR_TEST_REDIS_URL and WFR_TEST_DATABASE_URL. Without a URL a test is skipped, except under
// CI=true, where a missing or unreachable server fails the test: CI never passes by skipping.
package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// CI reports whether the tests run under CI=true.
func CI() bool { return os.Getenv("CI") == "true" }

// Require returns the value of the environment variable name, skipping the test when it is
// unset (failing under CI=true).
func Require(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if CI() {
			t.Fatalf("%s is not set; under CI=true backend tests must run", name)
		}
		t.Skipf("%s is not set", name)
	}
	return v
}

// Redis returns a client for WFR_TEST_REDIS_URL, closed when the test ends. It fails the test
// when the server does not answer.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(Require(t, "WFR_TEST_REDIS_URL"))
	if err != nil {
		t.Fatalf("parse WFR_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at WFR_TEST_REDIS_URL does not answer: %v", err)
	}
	return c
}

// RedisPrefixed returns a client for WFR_TEST_REDIS_URL and a key prefix of the test's own
// ("wfrtest:<random>:"); every key under the prefix is deleted when tb ends.
func RedisPrefixed(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	client := Redis(tb)
	prefix := "wfrtest:" + uuid.NewString()[:13] + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("scan test keys %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := client.Unlink(ctx, keys...).Err(); err != nil {
				tb.Errorf("delete test keys %s*: %v", prefix, err)
			}
		}
	})
	return client, prefix
}
