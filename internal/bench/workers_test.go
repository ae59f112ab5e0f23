package bench_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/bench"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// The workers benchmark end to end with tiny sizes: real api and worker processes (this test
// binary serving, see serveEnv) on PostgreSQL and Redis. What it measured is not checked (no
// timing assertions); that every round ran its executions to SUCCEEDED and the tables were
// written is.
func TestWorkersEndToEnd(t *testing.T) {
	is := is.New(t)
	databaseURL := storetest.PostgresSchemaURL(t)
	redisURL := testenv.RedisDatabase(t)
	t.Setenv(serveEnv, "1") // the processes inherit it and serve

	var out bytes.Buffer
	res, err := bench.RunWorkers(t.Context(), bench.WorkersConfig{
		ServeCommand: []string{os.Args[0]},
		DatabaseURL:  databaseURL, RedisURL: redisURL,
		Workers: []int{1, 2}, Repeats: 2, Concurrency: 2, Delay: 5 * time.Millisecond,
		ExecutionsPerWorker: 20, TriggerConcurrency: 4, SampleEvery: 20 * time.Millisecond,
	}, &out)
	t.Log(out.String())
	is.NoErr(err)
	is.Equal(len(res.Rounds), 4) // interleaved: 1, 2, 1, 2
	for i, r := range res.Rounds {
		is.Equal(r.Workers, []int{1, 2}[i%2])
		is.Equal(r.Repeat, i/2+1)
		is.Equal(r.Triggered, 20*r.Workers) // executions per worker × workers
		is.Equal(r.Succeeded, r.Triggered)  // every execution ran to SUCCEEDED
		is.Equal(r.Usage.Executions, r.Triggered)
		is.True(r.Usage.RedisCommands > 0) // the queue and the leases are Redis commands
		is.True(r.Usage.ByCommand["xadd"] > 0)
	}
	is.Equal(len(res.Scaling), 2)
	is.Equal(res.Scaling[0].Workers, 1)
	is.Equal(res.Scaling[0].Ratio, 1.0) // the baseline against itself
	is.Equal(res.Scaling[1].Repeats, 2)
	is.True(strings.Contains(out.String(), "scaling (median of 2 interleaved repeats"))
	is.True(strings.Contains(out.String(), "per execution, trigger to done"))
	is.True(strings.Contains(out.String(), "redis commands per execution"))
}

func TestWorkersRefusesBadConfig(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, tc := range []struct {
		name string
		cfg  bench.WorkersConfig
		want string
	}{
		{"no database", bench.WorkersConfig{ServeCommand: []string{"x"}, RedisURL: "redis://127.0.0.1:1"}, "--database-url"},
		{"no redis", bench.WorkersConfig{ServeCommand: []string{"x"}, DatabaseURL: "postgres://h/db"}, "--redis-url"},
		{"zero workers", bench.WorkersConfig{ServeCommand: []string{"x"}, DatabaseURL: "postgres://h/db", RedisURL: "redis://h", Workers: []int{1, 0}}, "--workers: 0"},
		{"negative delay", bench.WorkersConfig{ServeCommand: []string{"x"}, DatabaseURL: "postgres://h/db", RedisURL: "redis://h", Delay: -time.Second}, "--delay"},
		{"no command", bench.WorkersConfig{DatabaseURL: "postgres://h/db", RedisURL: "redis://h"}, "no command"},
		{"sqlite", bench.WorkersConfig{ServeCommand: []string{"x"}, DatabaseURL: "sqlite://x.db", RedisURL: "redis://h"}, "postgres://"},
	} {
		_, err := bench.RunWorkers(t.Context(), tc.cfg, &bytes.Buffer{})
		is.True(err != nil) // tc.name
		is.True(strings.Contains(err.Error(), tc.want))
	}
}

func TestWorkersCommandNeedsServers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	err := (&bench.WorkersCommand{}).Run(t.Context())
	is.True(err != nil) // no database, no Redis
	is.True(strings.Contains(err.Error(), "--database-url"))
}
