// Package testenv gives tests the real servers they need: the Redis and PostgreSQL URLs from
// WFR_TEST_REDIS_URL and WFR_TEST_DATABASE_URL. Without a URL a test is skipped, except under
// CI=true, where a missing or unreachable server fails the test: CI never passes by skipping.
// It also holds the two ways a test waits (wait.go): on a Signal for what its own process does,
// by Poll for what only asking another process or server can tell.
package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
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
		Unavailable(t, "%s is not set", name)
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

// redisServicePrefix starts every key the service writes (its lock, queue, registry, waitlist and
// notifier keep their default prefix; the service sets none). The processes tests run on a
// claimed database write nothing else, so a database holding any other key holds someone
// else's keys.
const redisServicePrefix = "wfr:"

// RedisDatabase claims a Redis database number of its own for the test (for processes that use
// fixed key names, such as the service's "wfr:" keys), flushes it and returns its URL. A claim
// is the key wfr-e2e:db:<n> in WFR_TEST_REDIS_URL's database, held until the test ends (and
// expiring after ten minutes), so that packages running at the same time never share one.
//
// Only a database whose keys are all the service's ("wfr:…") is flushed; one holding any other
// key fails the test and keeps its keys (see prepareRedisDatabase).
func RedisDatabase(t testing.TB) string {
	t.Helper()
	base := Redis(t)
	baseDB := base.Options().DB
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token := uuid.NewString()
	for n := firstRedisDB; n <= lastRedisDB; n++ {
		if n == baseDB {
			continue // the claims and RedisPrefixed's keys live there
		}
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
		if err := prepareRedisDatabase(ctx, client, n); err != nil {
			t.Fatal(err)
		}
		return u.String()
	}
	t.Fatalf("no free redis database in %d..%d (claims are keys wfr-e2e:db:<n>)", firstRedisDB, lastRedisDB)
	return ""
}

// prepareRedisDatabase empties database n (client's) for a test that claimed it, if every key in
// it is one the tests' processes write (under redisServicePrefix: a run before this one left
// them). Otherwise nothing is deleted and the error names the database and a key that is not.
//
// Only the claimed database is looked at: another may be in a test's hands at the moment.
func prepareRedisDatabase(ctx context.Context, client *redis.Client, n int) error {
	iter := client.Scan(ctx, 0, "", 1000).Iterator()
	for iter.Next(ctx) {
		if key := iter.Val(); !strings.HasPrefix(key, redisServicePrefix) {
			return fmt.Errorf("redis database %d of WFR_TEST_REDIS_URL holds keys that are not the tests' own (e.g. %q; "+
				"theirs all start with %q), so the tests will not flush it: they flush databases %d to %d of that server. "+
				"Point WFR_TEST_REDIS_URL at a Redis server of the tests' own, or, if nothing in it matters, empty it "+
				"yourself: redis-cli -n %d flushdb", n, key, redisServicePrefix, firstRedisDB, lastRedisDB, n)
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("list the keys of redis database %d: %w", n, err)
	}
	if err := client.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis database %d: %w", n, err)
	}
	return nil
}
