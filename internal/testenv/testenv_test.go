package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

// A claimed database that holds a key of someone else's is refused and keeps its keys; one that
// holds only the service's keys ("wfr:…", what the tests' processes leave) is flushed.
func TestPrepareRedisDatabaseRefusesForeignKeys(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	opts, err := redis.ParseURL(RedisDatabase(t)) // claimed and flushed
	is.NoErr(err)
	client := redis.NewClient(opts)
	defer func() { _ = client.Close() }()
	ctx := t.Context()
	n := opts.DB

	const foreign, leftover = "someone:else", "wfr:queue:{executions}:stream"
	is.NoErr(client.Set(ctx, leftover, "x", 0).Err())
	is.NoErr(client.Set(ctx, foreign, "precious", 0).Err())
	defer func() { _ = client.Del(context.Background(), foreign).Err() }()

	err = prepareRedisDatabase(ctx, client, n)
	is.True(err != nil) // a foreign key: refused
	is.Equal(err.Error(), fmt.Sprintf("redis database %d of WFR_TEST_REDIS_URL holds keys that are not the tests' own "+
		"(e.g. \"someone:else\"; theirs all start with \"wfr:\"), so the tests will not flush it: they flush databases 1 to 14 "+
		"of that server. Point WFR_TEST_REDIS_URL at a Redis server of the tests' own, or, if nothing in it matters, "+
		"empty it yourself: redis-cli -n %d flushdb", n, n))
	v, err := client.Get(ctx, foreign).Result()
	is.NoErr(err)
	is.Equal(v, "precious")                                // not flushed
	is.Equal(client.Exists(ctx, leftover).Val(), int64(1)) // nothing was

	is.NoErr(client.Del(ctx, foreign).Err())
	is.NoErr(prepareRedisDatabase(ctx, client, n)) // only the service's keys
	is.Equal(client.DBSize(ctx).Val(), int64(0))   // flushed
}

// Unavailable skips (outside CI) and records the skip for scripts/test.sh.
func TestUnavailableLogsSkip(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "skips")
	t.Setenv(SkipLogEnv, path)
	t.Setenv("CI", "")
	t.Run("missing", func(t *testing.T) {
		Unavailable(t, "THING is not set: set it, e.g. %s", "thing://here")
		t.Error("Unavailable returned")
	})
	t.Run("missing again", func(t *testing.T) {
		Unavailable(t, "no thing binaries under /usr/lib/thing")
	})
	dir, err := os.Getwd()
	is.NoErr(err)
	log, err := os.ReadFile(path)
	is.NoErr(err)
	is.Equal(string(log), dir+"\tTestUnavailableLogsSkip/missing\tTHING is not set\n"+
		dir+"\tTestUnavailableLogsSkip/missing_again\tno thing binaries under /usr/lib/thing\n")
}
