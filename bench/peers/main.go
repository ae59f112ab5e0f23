// Command peers runs River and asynq, the two job queues the service is compared with, under the
// load shapes of `workflow-runtime bench`, so that scripts/bench-compare.sh can measure the
// service and its peers in one sitting on one machine (docs/benchmarks.md, "Peers").
//
//	peers river enqueue --concurrency 64 --duration 8s [--fetch-cooldown 1ms]
//	peers river e2e     --count 20000 --rate 0 --concurrency 64
//	peers river pickup  --rate 500 --duration 10s --warmup 2s
//	peers asynq enqueue|e2e|pickup …   (same flags; --redis-url instead of --database-url)
//
// Each run prints one JSON line (the result, for scripts) and one line for people, and exits
// non-zero when a job is lost or ran twice. The module is one of its own so that the service's
// go.mod never requires either queue.
//
// Shapes:
//   - enqueue: --concurrency callers enqueue noop jobs back to back for --duration after
//     --warmup, with the workers running (as `bench trigger` calls a role-all process);
//     calls/s and call latency.
//   - e2e: --count jobs enqueued (flat out at --rate 0, at most --concurrency in flight), time
//     from the first enqueue until the queue records the last completed; jobs/s. Fails unless
//     every job started once and completed.
//   - pickup: enqueues at --rate for --warmup (not measured), then for --duration; per job of
//     the second phase, enqueue → its worker starting, p50/p99. The enqueue time is River's row created_at (set by PostgreSQL in the insert, as
//     the service measures from its execution row's created_at); asynq keeps no enqueue time a
//     handler can read, so for asynq it is the client's clock just before the Enqueue call.
//
// Isolation: River migrates into a PostgreSQL schema created for the run and drops it after;
// asynq uses a Redis database (default 15) that it flushes before and after, and refuses one
// that holds keys other than asynq's.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		quietLogger().Error("peers", "err", err)
		stop()
		os.Exit(1)
	}
}

const usage = `usage: peers river|asynq enqueue|e2e|pickup [flags]   (peers river e2e -h: the flags)`

// run parses args (peer, shape, flags), runs the measurement and writes its JSON and human
// lines to out. The result is returned also when the run found lost or duplicate jobs.
func run(ctx context.Context, args []string, out, errOut io.Writer) (*result, error) {
	if len(args) < 2 {
		return nil, errors.New(usage)
	}
	peerName, shape := args[0], args[1]
	if peerName != "river" && peerName != "asynq" {
		return nil, fmt.Errorf("unknown peer %q; %s", peerName, usage)
	}
	cfg := shapeConfig{}
	fs := flag.NewFlagSet("peers "+peerName+" "+shape, flag.ContinueOnError)
	fs.SetOutput(errOut)
	switch shape {
	case "enqueue":
		fs.IntVar(&cfg.Concurrency, "concurrency", 64, "Callers, each enqueuing back to back.")
		fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "Measuring window.")
		fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "Warm-up before the window, not counted.")
	case "e2e":
		fs.IntVar(&cfg.Count, "count", 10000, "Jobs to enqueue.")
		fs.Float64Var(&cfg.Rate, "rate", 0, "Enqueues per second; 0 is flat out.")
		fs.IntVar(&cfg.Concurrency, "concurrency", 64, "Enqueue calls in flight at most.")
		fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "How long to wait for every job to complete.")
	case "pickup":
		fs.Float64Var(&cfg.Rate, "rate", 500, "Enqueues per second, on a fixed schedule.")
		fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "How long to enqueue.")
		fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "Enqueues at --rate before --duration, not measured.")
		fs.IntVar(&cfg.Concurrency, "concurrency", 64, "Enqueue calls in flight at most.")
		fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "How long to wait for every job to start.")
	default:
		return nil, fmt.Errorf("unknown shape %q; %s", shape, usage)
	}
	workers := fs.Int("workers", 128, "Jobs worked at once (River MaxWorkers, asynq Concurrency); the service's WFR_WORKER_CONCURRENCY is 128.")
	var rc riverConfig
	var maxConns int
	var ac asynqConfig
	if peerName == "river" {
		fs.StringVar(&rc.DatabaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL database; River's tables go into a schema created for the run and dropped after.")
		fs.DurationVar(&rc.FetchCooldown, "fetch-cooldown", 100*time.Millisecond, "River's FetchCooldown: 100ms is its default (stock), 1ms its minimum (tuned).")
		fs.IntVar(&maxConns, "max-conns", 32, "pgx pool size.")
	} else {
		fs.StringVar(&ac.RedisURL, "redis-url", "redis://127.0.0.1:6379/15", "Redis database, flushed before and after; refused when it holds keys other than asynq's.")
		fs.DurationVar(&ac.TaskCheckInterval, "task-check-interval", 0, "asynq's TaskCheckInterval; 0 keeps its default (1s).")
	}
	if err := fs.Parse(args[2:]); err != nil {
		return nil, err
	}
	if cfg.Concurrency < 1 || *workers < 1 || cfg.Rate < 0 || (shape == "pickup" && cfg.Rate == 0) || (shape == "e2e" && cfg.Count < 1) {
		return nil, errors.New("--concurrency, --workers and --count must be at least 1, --rate positive for pickup and not negative for e2e")
	}
	if peerName == "river" {
		if maxConns < 1 || maxConns > 1000 {
			return nil, errors.New("--max-conns must be between 1 and 1000")
		}
		rc.MaxConns = int32(maxConns)
	}

	res := &result{Peer: peerName, Shape: shape, Settings: map[string]string{"workers": fmt.Sprint(*workers)}}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "database-url" && f.Name != "redis-url" {
			res.Settings[f.Name] = f.Value.String()
		}
	})
	rec := newRecorder(shape != "enqueue")
	var p peer
	var err error
	if peerName == "river" {
		rc.Workers = *workers
		res.Version = moduleVersion("github.com/riverqueue/river")
		res.Settings["fetch-cooldown"] = rc.FetchCooldown.String()
		p, err = startRiver(ctx, rc, rec)
	} else {
		ac.Workers = *workers
		res.Version = moduleVersion("github.com/hibiken/asynq")
		res.Settings["task-check-interval"] = "1s (default)"
		if ac.TaskCheckInterval > 0 {
			res.Settings["task-check-interval"] = ac.TaskCheckInterval.String()
		}
		p, err = startAsynq(ctx, ac, rec)
	}
	if err != nil {
		return nil, err
	}
	switch shape {
	case "enqueue":
		err = runEnqueue(ctx, p, cfg, res)
	case "e2e":
		err = runE2E(ctx, p, rec, cfg, res)
	case "pickup":
		err = runPickup(ctx, p, rec, cfg, res)
	}
	p.stop()
	if werr := writeResult(out, res); werr != nil {
		return res, errors.Join(err, werr)
	}
	return res, err
}

// writeResult writes the JSON line and the line for people.
func writeResult(out io.Writer, r *result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	name := r.Peer + " " + r.Version
	if cd, ok := r.Settings["fetch-cooldown"]; ok {
		name += ", fetch cooldown " + cd
	}
	var human string
	switch r.Shape {
	case "enqueue":
		human = fmt.Sprintf("%s: enqueue, %s callers: %d calls in %.1fs, %.0f/s, p50 %.2f ms, p99 %.2f ms, %d errors",
			name, r.Settings["concurrency"], r.Count, r.Seconds, r.PerSec, r.P50Ms, r.P99Ms, r.Errors)
	case "e2e":
		human = fmt.Sprintf("%s: e2e, %d jobs: %d completed, %d lost, %d started twice, %.2fs, %.0f/s",
			name, r.Count, r.Completed, r.Lost, r.Duplicates, r.Seconds, r.PerSec)
	case "pickup":
		human = fmt.Sprintf("%s: pickup (enqueue → worker start) at %.0f/s: %d jobs, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d not started",
			name, r.PerSec, r.Count, r.P50Ms, r.P99Ms, r.MaxMs, r.Lost)
	}
	_, err = fmt.Fprintf(out, "%s\n%s\n", b, human)
	return err
}

// moduleVersion is the version of module path this binary was built with.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "unknown"
}
