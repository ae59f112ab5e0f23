package locktest

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// Redis returns a client for the Redis at WFR_TEST_REDIS_URL and a key prefix of its own
// ("wfrtest:<random>:"); every key under the prefix is deleted when tb ends. Without the
// variable tb is skipped, except under CI=true, where a missing or unreachable Redis fails.
func Redis(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	return testenv.RedisPrefixed(tb)
}
