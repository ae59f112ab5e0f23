// Package testenv gives tests the real servers they need: the Redis and PostgreSQL URLs from
// WFR_TEST_REDIS_URL and WFR_TEST_DATABASE_URL. Without a URL a test is skipped, except under
// CI=true, where a missing or unreachable server fails the test: CI never passes by skipping.
package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
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

// Redis databases RedisDatabase hands out; 0 is the shared one, 15 is left for benchmarks.
const (
	firstRedisDB = 1
	lastRedisDB  = 14
)

// RedisDatabase claims a Redis database number of its own for the test (for processes that use
// fixed key names, such as the service's "wfr:" keys), flushes it and returns its URL. A claim
// is the key wfr-e2e:db:<n> in WFR_TEST_REDIS_URL's database, held until the test ends (and
// expiring after ten minutes), so that packages running at the same time never share one.
func RedisDatabase(t testing.TB) string {
	t.Helper()
	base := Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token := uuid.NewString()
	for n := firstRedisDB; n <= lastRedisDB; n++ {
		key := fmt.Sprintf("wfr-e2e:db:%d", n)
		ok, err := base.SetNX(ctx, key, token, 10*time.Minute).Result()
		if err != nil {
			t.Fatalf("claim redis database %d: %v", n, err)
		}
		if !ok {
			continue
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if v, _ := base.Get(ctx, key).Result(); v == token {
				base.Del(ctx, key)
			}
		})
		u, err := url.Parse(os.Getenv("WFR_TEST_REDIS_URL"))
		if err != nil {
			t.Fatalf("parse WFR_TEST_REDIS_URL: %v", err)
		}
		u.Path = "/" + strconv.Itoa(n)
		opts, err := redis.ParseURL(u.String())
		if err != nil {
			t.Fatalf("parse redis url: %v", err)
		}
		client := redis.NewClient(opts)
		defer func() { _ = client.Close() }()
		if err := client.FlushDB(ctx).Err(); err != nil {
			t.Fatalf("flush redis database %d: %v", n, err)
		}
		return u.String()
	}
	t.Fatalf("no free redis database in %d..%d (claims are keys wfr-e2e:db:<n>)", firstRedisDB, lastRedisDB)
	return ""
}
