package queuetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Redis returns a client for the Redis at WFR_TEST_REDIS_URL and a key prefix of its own
// ("wfrtest:<random>:"); every key under the prefix is deleted when tb ends. Without the
// variable tb is skipped, except under CI=true, where a missing or unreachable Redis fails.
func Redis(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	url := os.Getenv("WFR_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("CI=true requires the Redis tests to run: set WFR_TEST_REDIS_URL")
		}
		tb.Skip("WFR_TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("parse WFR_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		tb.Fatalf("redis at WFR_TEST_REDIS_URL is unreachable: %v", err)
	}
	prefix := "wfrtest:" + uuid.NewString()[:13] + ":"
	tb.Cleanup(func() {
		defer client.Close()
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
