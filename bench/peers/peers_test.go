package main

import (
	"context"
	"io"
	"net/url"
	"os"
	"testing"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

// testURLs returns the test servers of the repository's test environment: the PostgreSQL
// database (River's schema goes into it) and the Redis URL with database 15 (asynq's, flushed).
// It skips without them, and fails under CI=true, where they must be set.
func testURLs(t *testing.T) (databaseURL, redisURL string) {
	t.Helper()
	databaseURL, redisURL = os.Getenv("WFR_TEST_DATABASE_URL"), os.Getenv("WFR_TEST_REDIS_URL")
	if databaseURL == "" || redisURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("WFR_TEST_DATABASE_URL and WFR_TEST_REDIS_URL must be set under CI")
		}
		t.Skip("WFR_TEST_DATABASE_URL or WFR_TEST_REDIS_URL not set")
	}
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatalf("parse WFR_TEST_REDIS_URL: %v", err)
	}
	u.Path = "/15"
	return databaseURL, u.String()
}

// quickShapes are the three shapes at a size that only proves they run.
var quickShapes = map[string][]string{
	"enqueue": {"--concurrency", "8", "--duration", "500ms", "--warmup", "100ms"},
	"e2e":     {"--count", "300", "--concurrency", "16"},
	"pickup":  {"--rate", "100", "--duration", "1s", "--warmup", "200ms"},
}

// TestPeers runs every shape of each peer once against the real servers: every job enqueued
// starts once and completes, and the result line says so.
func TestPeers(t *testing.T) {
	t.Parallel()
	databaseURL, redisURL := testURLs(t)

	for _, variant := range []struct{ name, cooldown string }{{"stock", "100ms"}, {"tuned", "1ms"}} {
		for shape, flags := range quickShapes {
			t.Run("river "+variant.name+" "+shape, func(t *testing.T) {
				t.Parallel()
				args := append([]string{"river", shape, "--database-url", databaseURL, "--fetch-cooldown", variant.cooldown, "--workers", "16", "--max-conns", "4"}, flags...)
				checkRun(t, args)
			})
		}
	}
	// asynq's runs share database 15, so they run one after another.
	t.Run("asynq", func(t *testing.T) {
		t.Parallel()
		for _, shape := range []string{"enqueue", "e2e", "pickup"} {
			t.Run(shape, func(t *testing.T) {
				args := append([]string{"asynq", shape, "--redis-url", redisURL, "--workers", "16"}, quickShapes[shape]...)
				checkRun(t, args)
			})
		}
	})
}

func checkRun(t *testing.T, args []string) {
	t.Helper()
	is := is.New(t)
	res, err := run(t.Context(), args, io.Discard, io.Discard)
	is.NoErr(err)
	is.True(res.Count > 0) // something was enqueued
	is.Equal(res.Errors, 0)
	is.Equal(res.Lost, 0)
	is.Equal(res.Duplicates, 0)
	switch res.Shape {
	case "e2e":
		is.Equal(res.Completed, int64(300)) // every job completed
		is.True(res.PerSec > 0)
	case "pickup":
		is.Equal(res.Started, res.Count) // every measured job started, and the warm-up's are not counted
		is.True(res.P50Ms > 0 && res.P99Ms >= res.P50Ms)
	}
}

// TestAsynqRefusesForeignKeys: asynq's database is flushed only when it holds asynq's keys
// alone. Not parallel: it runs before TestPeers's asynq runs use database 15.
func TestAsynqRefusesForeignKeys(t *testing.T) {
	is := is.New(t)
	_, redisURL := testURLs(t)
	opts, err := redis.ParseURL(redisURL)
	is.NoErr(err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	is.NoErr(rdb.Set(t.Context(), "peers-test:not-asynq", "1", 0).Err())
	t.Cleanup(func() { _ = rdb.Del(context.Background(), "peers-test:not-asynq").Err() })

	_, err = run(t.Context(), []string{"asynq", "e2e", "--redis-url", redisURL, "--count", "1"}, io.Discard, io.Discard)
	is.True(err != nil)                                                       // refused
	is.Equal(rdb.Exists(t.Context(), "peers-test:not-asynq").Val(), int64(1)) // and the key is still there
}
