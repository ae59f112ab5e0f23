package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// `bench workers`: how trigger-to-done throughput grows with the number of worker processes.
//
// Every round starts its own processes from the bench's executable: one api-role process and N
// worker-role processes, each worker with a small fixed concurrency, on the PostgreSQL and
// Redis given. The workflow is one delay node, so an execution holds its slot for a fixed time
// and N workers can at most run N × concurrency / delay executions per second: with a small
// concurrency that ideal stays far below what the machine does flat out, so what limits the
// throughput is the workers, which is what is measured. The round deploys a new workflow,
// triggers N × executions-per-worker executions as fast as the api takes them (so the queue is
// never empty), samples the count of finished executions and the CPU time of every process
// every 100 ms until all are done, then stops its processes. Throughput is taken over the steady
// part: from the first sample after the last trigger was accepted with at least 10% done, to
// the first with 90% done. Rounds run interleaved (1, 2, 4, 1, 2, 4, …) so that the machine's
// noise falls on every worker count alike, and each count is compared with the smallest one
// measured in the same repeat.
//
// Per execution it also counts what the servers did (statements from pg_stat_statements when
// the server preloads it, else transactions from pg_stat_database; Redis commands and read
// events from INFO) and the CPU time of each process (from /proc; PostgreSQL's whole process
// tree when it runs on this machine, Redis's from INFO), which says where the next limit is.
// Those server figures count everything the servers do: on a server others use at the same
// time, they are not the bench's alone.

// sweepAfter is the sweeper's default StaleAfter: an execution PENDING this long is enqueued
// again, so a round that lasts longer measures some duplicate deliveries too.
const sweepAfter = 30 * time.Second

// Bounds of the steady window, as fractions of a round's executions done.
const (
	steadyFrom = 0.1
	steadyTo   = 0.9
)

// WorkersConfig configures RunWorkers. Zero fields take the defaults stated.
type WorkersConfig struct {
	// ServeCommand runs `workflow-runtime serve` (configured by WFR_* variables, which the bench
	// sets): {executable, "serve"}.
	ServeCommand []string
	// DatabaseURL (postgres://) and RedisURL are the servers the processes use. The bench
	// migrates the database once; the processes do not. A database of the bench's own gives
	// clean counts (pg_stat_database is per database).
	DatabaseURL, RedisURL string
	// Workers are the worker process counts, in the order of each repeat; the smallest is the
	// baseline of the ratios. Default 1, 2, 4.
	Workers []int
	// Repeats is how many times each count is measured, interleaved. Default 3.
	Repeats int
	// Concurrency is WFR_WORKER_CONCURRENCY of each worker. Default 4.
	Concurrency int
	// Delay is the workflow's one delay node. Default 20ms.
	Delay time.Duration
	// ExecutionsPerWorker × N executions are triggered in a round of N workers, so that rounds
	// last about as long. Default 1000.
	ExecutionsPerWorker int
	// TriggerConcurrency bounds the TriggerWorkflow calls in flight. Default 64.
	TriggerConcurrency int
	// SampleEvery is the sampling period. Default 100ms.
	SampleEvery time.Duration
	// Timeout bounds how long a round waits, after the last trigger, for every execution to
	// end. Default 2m.
	Timeout time.Duration
	// ReadyTimeout bounds the start of a round's processes. Default 60s.
	ReadyTimeout time.Duration
}

func (c WorkersConfig) withDefaults() WorkersConfig {
	if len(c.Workers) == 0 {
		c.Workers = []int{1, 2, 4}
	}
	c.Repeats = cmp.Or(c.Repeats, 3)
	c.Concurrency = cmp.Or(c.Concurrency, 4)
	c.Delay = cmp.Or(c.Delay, 20*time.Millisecond)
	c.ExecutionsPerWorker = cmp.Or(c.ExecutionsPerWorker, 1000)
	c.TriggerConcurrency = cmp.Or(c.TriggerConcurrency, 64)
	c.SampleEvery = cmp.Or(c.SampleEvery, 100*time.Millisecond)
	c.Timeout = cmp.Or(c.Timeout, 2*time.Minute)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, 60*time.Second)
	return c
}

func (c WorkersConfig) validate() error {
	var errs []error
	if len(c.ServeCommand) == 0 {
		errs = append(errs, errors.New("no command to start serve processes with"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("--database-url is required: a postgres:// database"))
	}
	if c.RedisURL == "" {
		errs = append(errs, errors.New("--redis-url is required: workers in processes of their own share a Redis queue"))
	}
	for _, n := range c.Workers {
		if n < 1 {
			errs = append(errs, fmt.Errorf("--workers: %d is not a process count (at least 1)", n))
		}
	}
	if c.Repeats < 1 || c.Concurrency < 1 || c.ExecutionsPerWorker < 1 || c.TriggerConcurrency < 1 {
		errs = append(errs, errors.New("--repeats, --concurrency, --executions-per-worker and --trigger-concurrency must be at least 1"))
	}
	if c.Delay <= 0 {
		errs = append(errs, errors.New("--delay must be positive"))
	}
	return errors.Join(errs...)
}

// ideal is the throughput n workers reach when an execution costs nothing but its delay.
func (c WorkersConfig) ideal(n int) float64 {
	return float64(n*c.Concurrency) / c.Delay.Seconds()
}

// WorkersRound is one round: N worker processes draining N × ExecutionsPerWorker executions.
type WorkersRound struct {
	Repeat, Workers int
	// Triggered executions, Succeeded of them; TriggerPhase is how long triggering took,
	// Duration from the first trigger until every execution was done.
	Triggered, Succeeded   int
	TriggerPhase, Duration time.Duration
	// Statuses counts the executions by final status.
	Statuses map[string]int
	// Steady says whether the steady window was found; without it Throughput is over the whole
	// round (first trigger to last done).
	Steady bool
	// Window and WindowDone: the steady window and the executions finished in it.
	Window     time.Duration
	WindowDone int
	// Throughput is executions finished per second over the window.
	Throughput float64
	// Cores is the CPU used in the window, in cores (CPU seconds per second), -1 unknown.
	Cores RoundCores
	// Usage is what the round cost, from just before the first trigger until every
	// execution was done (the CPU) or the processes had stopped (the servers' counters).
	Usage Usage
}

// RoundCores is the CPU used in a round's steady window, in cores; -1 where unknown.
type RoundCores struct {
	// Machine is every process of the machine; Steal is what the hypervisor took.
	Machine, Steal float64
	// Workers (together), API, Postgres (the server's process tree), Redis and Bench (this
	// process: triggering is over, so mostly sampling).
	Workers, API, Postgres, Redis, Bench float64
}

// Usage is what a round cost. Counts are -1 where unknown.
type Usage struct {
	// Executions the figures are for.
	Executions int
	// Statements (pg_stat_statements) and Transactions (pg_stat_database) of the database,
	// without the bench's own; RowsWritten are the rows inserted, updated and deleted.
	Statements, Transactions, RowsWritten int64
	// RedisCommands (without INFO) and RedisReads (read events, about one per round trip) of
	// the Redis server, without the bench's own.
	RedisCommands, RedisReads int64
	// CPU time of the processes.
	CPU CPUSet
	// ByStatement and ByCommand split Statements and RedisCommands.
	ByStatement, ByCommand map[string]int64
	// Evicted is how many pg_stat_statements entries were evicted meanwhile (whose counts
	// are lost: Statements is then too low).
	Evicted int64
}

// CPUSet is CPU time by process; -1 where unknown.
type CPUSet struct {
	Workers, API, Postgres, Redis, Bench time.Duration
}

func (c CPUSet) sub(o CPUSet) CPUSet {
	d := func(a, b time.Duration) time.Duration {
		if a < 0 || b < 0 {
			return -1
		}
		return a - b
	}
	return CPUSet{d(c.Workers, o.Workers), d(c.API, o.API), d(c.Postgres, o.Postgres), d(c.Redis, o.Redis), d(c.Bench, o.Bench)}
}

// WorkersResult is what RunWorkers measured.
type WorkersResult struct {
	Rounds  []WorkersRound
	Scaling []ScalingRow
	// Statements says where statement counts come from: "pg_stat_statements", or why not.
	Statements string
}

// RunWorkers runs the rounds and writes a line per round and the tables to out. It fails when
// an execution did not succeed.
func RunWorkers(ctx context.Context, cfg WorkersConfig, out io.Writer) (*WorkersResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	appName := "wfr-bench-" + randomID()
	childURL, err := withApplicationName(cfg.DatabaseURL, appName)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	if db.Dialect() != store.DialectPostgres {
		return nil, errors.New("--database-url must be a postgres:// database: worker processes of their own share one")
	}
	// Once here, so that the processes, which start together, do not race to migrate.
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	rdb := redis.NewClient(ropts)
	defer func() { _ = rdb.Close() }()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("ping redis: %w", err)
	}
	var backendPID int
	if err := db.Bun().NewRaw("SELECT pg_backend_pid()").Scan(ctx, &backendPID); err != nil {
		return nil, fmt.Errorf("read pg_backend_pid: %w", err)
	}
	b := &workersBench{
		cfg: cfg, db: db, rdb: rdb, pg: newPGStats(ctx, db), postgres: findPostgres(backendPID),
		appName: appName, childURL: childURL, cpus: runtime.NumCPU(),
	}
	res := &WorkersResult{Statements: "pg_stat_statements"}
	if b.pg.view == "" {
		res.Statements = "pg_stat_database transactions only: " + b.pg.why
	}
	if _, err := fmt.Fprintf(out, "worker scaling: workers %v, concurrency %d each, one %s delay node, %d executions per worker per round, %d repeats interleaved, %d CPUs\nstatements: %s\n",
		cfg.Workers, cfg.Concurrency, cfg.Delay, cfg.ExecutionsPerWorker, cfg.Repeats, b.cpus, res.Statements); err != nil {
		return nil, err
	}
	var failed []error
	for repeat := 1; repeat <= cfg.Repeats; repeat++ {
		for _, n := range cfg.Workers {
			r, err := b.round(ctx, repeat, n)
			if err != nil {
				return res, fmt.Errorf("round %d of %d workers: %w", repeat, n, err)
			}
			res.Rounds = append(res.Rounds, r)
			if r.Succeeded != r.Triggered {
				failed = append(failed, fmt.Errorf("round %d of %d workers: %d of %d executions did not succeed (%v)", repeat, n, r.Triggered-r.Succeeded, r.Triggered, r.Statuses))
			}
			if err := writeRoundLine(out, r, cfg.ideal(n)); err != nil {
				return res, err
			}
		}
	}
	res.Scaling = scaling(res.Rounds, cfg.ideal)
	if err := writeWorkersReport(out, res, cfg, b.cpus); err != nil {
		return res, err
	}
	return res, errors.Join(failed...)
}

// withApplicationName sets application_name in a postgres:// URL, by which the bench knows the
// connections of its processes.
func withApplicationName(databaseURL, name string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("--database-url must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// workersBench is the state of one RunWorkers.
type workersBench struct {
	cfg      WorkersConfig
	db       *store.DB
	rdb      *redis.Client
	pg       *pgStats
	postgres postgresTree
	appName  string // application_name of the processes' connections
	childURL string // the database URL the processes get
	cpus     int

	// The processes of the current round.
	api     *child
	workers []*child
	// ownStatements and ownRedisReads count what the bench itself sent since the round's
	// first counter read, to take it out of the figures.
	ownStatements, ownRedisReads int64
}

// serve starts a `serve` process of role.
func (b *workersBench) serve(ctx context.Context, name, role string, env ...string) (*child, error) {
	addr, err := freeAddr(ctx)
	if err != nil {
		return nil, err
	}
	return startChild(ctx, childSpec{
		name:    name,
		command: b.cfg.ServeCommand,
		env: append([]string{
			"WFR_ROLE=" + role,
			"WFR_ADDR=" + addr,
			"WFR_DATABASE_URL=" + b.childURL,
			"WFR_REDIS_URL=" + b.cfg.RedisURL,
			"WFR_ENGINE_URL=", // the embedded engine: the delay is the only cost of a run
			"WFR_MIGRATE_ON_START=false",
			"WFR_TRIGGER_RATE=0", // the bench is one caller triggering flat out
		}, env...),
		addr: addr, ready: "/readyz", readyTimeout: b.cfg.ReadyTimeout,
	})
}

// stopAll stops the round's processes, the workers first, and returns the errors of those
// that did not stop cleanly.
func (b *workersBench) stopAll() error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, w := range b.workers {
		wg.Go(func() {
			if err := w.stop(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", w.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.workers = nil
	if b.api != nil {
		if err := b.api.stop(); err != nil {
			errs = append(errs, fmt.Errorf("api: %w", err))
		}
		b.api = nil
	}
	return errors.Join(errs...)
}

// round runs one round of n workers.
func (b *workersBench) round(ctx context.Context, repeat, n int) (WorkersRound, error) {
	r := WorkersRound{Repeat: repeat, Workers: n}
	defer func() { _ = b.stopAll() }()
	var err error
	if b.api, err = b.serve(ctx, "api", "api"); err != nil {
		return r, err
	}
	c := NewClient(b.api.url)
	workflowID, err := deployDelay(ctx, c, b.cfg.Delay)
	if err != nil {
		return r, err
	}
	if err := b.startWorkers(ctx, n); err != nil {
		return r, err
	}

	pgBefore, err := b.pg.read(ctx)
	if err != nil {
		return r, err
	}
	redisBefore, err := readRedis(ctx, b.rdb)
	if err != nil {
		return r, err
	}
	b.ownStatements, b.ownRedisReads = int64(b.pg.statementsPerRead()), 0
	first := b.sample(ctx, "")

	count := n * b.cfg.ExecutionsPerWorker
	triggers := paced(ctx, 0, count, 0, b.cfg.TriggerConcurrency, func(ctx context.Context) error {
		_, err := triggerOnce(ctx, c, workflowID)
		return err
	})
	r.Triggered, r.TriggerPhase = len(triggers.latencies), triggers.elapsed
	triggerEnd := time.Now()
	if triggers.firstErr != nil {
		return r, fmt.Errorf("%d of %d triggers failed, first: %w", triggers.errors, count, triggers.firstErr)
	}

	samples, err := b.waitDone(ctx, workflowID, first, r.Triggered, triggerEnd)
	if err != nil {
		return r, err
	}
	if err := b.stopAll(); err != nil {
		return r, fmt.Errorf("stop the round's processes: %w", err)
	}
	// Their connections closing flushes their backends' statistics (pg_stat_database).
	if err := b.waitConnectionsGone(ctx); err != nil {
		return r, err
	}
	pgAfter, err := b.pg.read(ctx)
	if err != nil {
		return r, err
	}
	redisAfter, err := readRedis(ctx, b.rdb)
	if err != nil {
		return r, err
	}
	if r.Statuses, err = b.statuses(ctx, workflowID); err != nil {
		return r, err
	}
	r.Succeeded = r.Statuses["SUCCEEDED"]

	last := samples[len(samples)-1]
	r.Duration = last.at.Sub(first.at)
	r.Usage = usageOf(pgBefore, pgAfter, redisBefore, redisAfter, b.ownStatements, b.ownRedisReads)
	r.Usage.Executions = r.Triggered
	r.Usage.CPU = last.cpu.sub(first.cpu)
	from, to, ok := steadyWindow(samples, r.Triggered, triggerEnd)
	r.Steady = ok
	if !ok {
		from, to = 0, len(samples)-1
	}
	a, z := samples[from], samples[to]
	r.Window, r.WindowDone = z.at.Sub(a.at), z.done-a.done
	r.Throughput = ratio(float64(r.WindowDone), r.Window.Seconds())
	r.Cores = coresBetween(a, z, b.cpus)
	return r, nil
}

// startWorkers starts n worker processes at once and waits until each is ready.
func (b *workersBench) startWorkers(ctx context.Context, n int) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			w, err := b.serve(ctx, "worker "+strconv.Itoa(i+1), "worker", "WFR_WORKER_CONCURRENCY="+strconv.Itoa(b.cfg.Concurrency))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			b.workers = append(b.workers, w)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deployDelay deploys a new workflow of one delay node (ALLOW_ALL, one attempt).
func deployDelay(ctx context.Context, c Client, delay time.Duration) (string, error) {
	params, err := structpb.NewStruct(map[string]any{"duration": delay.String()})
	if err != nil {
		return "", err
	}
	return deployOneNode(ctx, c, "bench-workers", &v1.Node{Id: "wait", Type: "delay", Params: params})
}

// sample is the state of a round at one moment.
type sample struct {
	at      time.Time
	done    int // executions of the round's workflow in a terminal status
	machine machineCPU
	cpu     CPUSet
}

// sample reads the CPU times now and, unless workflowID is "", how many of its executions
// are done (-1 when the count failed).
func (b *workersBench) sample(ctx context.Context, workflowID string) sample {
	s := sample{machine: readMachineCPU()}
	if workflowID != "" {
		s.done = b.countDone(ctx, workflowID)
	}
	s.cpu = CPUSet{API: processCPU(b.api.pid()), Postgres: b.postgres.cpu(), Bench: processCPU(os.Getpid())}
	for _, w := range b.workers {
		c := processCPU(w.pid())
		if c < 0 || s.cpu.Workers < 0 {
			s.cpu.Workers = -1
			continue
		}
		s.cpu.Workers += c
	}
	s.cpu.Redis = readRedisCPU(ctx, b.rdb)
	b.ownRedisReads++
	s.at = time.Now()
	return s
}

// countDone counts the workflow's executions in a terminal status; -1 when the count fails.
func (b *workersBench) countDone(ctx context.Context, workflowID string) int {
	b.ownStatements++
	n, err := b.db.ExecutionCountTerminal(ctx, workflowID)
	if err != nil {
		return -1
	}
	return n
}

// waitDone samples every SampleEvery until want executions are done, and returns the samples,
// first included.
func (b *workersBench) waitDone(ctx context.Context, workflowID string, first sample, want int, triggerEnd time.Time) ([]sample, error) {
	samples := []sample{first}
	t := time.NewTicker(b.cfg.SampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		s := b.sample(ctx, workflowID)
		if s.done < 0 {
			continue // the count failed; the next sample counts again
		}
		samples = append(samples, s)
		if s.done >= want {
			return samples, nil
		}
		if time.Since(triggerEnd) > b.cfg.Timeout {
			return nil, fmt.Errorf("%d of %d executions not done %s after the last trigger", want-s.done, want, b.cfg.Timeout)
		}
	}
}

// waitConnectionsGone waits until the round's processes have no connection left: a backend
// that ends flushes its statistics.
func (b *workersBench) waitConnectionsGone(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.ownStatements++
		var n int
		err := b.db.Bun().NewRaw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", b.appName).Scan(ctx, &n)
		if err != nil {
			return fmt.Errorf("read pg_stat_activity: %w", err)
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d connections of the stopped processes still open after 30s", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// statuses counts the workflow's executions by status.
func (b *workersBench) statuses(ctx context.Context, workflowID string) (map[string]int, error) {
	byStatus, err := b.db.ExecutionCountByStatus(ctx, workflowID, time.Time{})
	if err != nil {
		return nil, err
	}
	return statusCounts(byStatus), nil
}

// steadyWindow picks the samples bounding the steady part of a round of total executions:
// from the first sample taken after triggerEnd with at least steadyFrom of them done, to the
// first with steadyTo done. ok is false when no such pair spans at least one sampling period.
func steadyWindow(samples []sample, total int, triggerEnd time.Time) (from, to int, ok bool) {
	from, to = -1, -1
	for i, s := range samples {
		if from < 0 && !s.at.Before(triggerEnd) && float64(s.done) >= steadyFrom*float64(total) {
			from = i
		}
		if float64(s.done) >= steadyTo*float64(total) {
			to = i
			break
		}
	}
	if from < 0 || to <= from {
		return 0, 0, false
	}
	return from, to, true
}

// coresBetween is the CPU used between two samples, in cores.
func coresBetween(a, z sample, cpus int) RoundCores {
	span := z.at.Sub(a.at).Seconds()
	per := func(x, y time.Duration) float64 {
		if x < 0 || y < 0 || span <= 0 {
			return -1
		}
		return (y - x).Seconds() / span
	}
	c := RoundCores{
		Workers: per(a.cpu.Workers, z.cpu.Workers), API: per(a.cpu.API, z.cpu.API),
		Postgres: per(a.cpu.Postgres, z.cpu.Postgres), Redis: per(a.cpu.Redis, z.cpu.Redis), Bench: per(a.cpu.Bench, z.cpu.Bench),
	}
	c.Machine, c.Steal = busyCores(a.machine, z.machine, cpus)
	return c
}

// usageOf is the difference of the servers' counters, without what the bench sent itself.
func usageOf(pgA, pgZ pgCounters, rA, rZ redisCounters, ownStatements, ownRedisReads int64) Usage {
	u := Usage{
		Statements:   -1,
		Transactions: pgZ.transactions - pgA.transactions - ownStatements,
		RowsWritten:  (pgZ.inserted + pgZ.updated + pgZ.deleted) - (pgA.inserted + pgA.updated + pgA.deleted),
		RedisReads:   rZ.reads - rA.reads - ownRedisReads,
		ByCommand:    map[string]int64{},
	}
	if pgA.statements >= 0 && pgZ.statements >= 0 {
		u.Statements = pgZ.statements - pgA.statements - ownStatements
		u.ByStatement = deltas(pgA.byStatement, pgZ.byStatement)
		for text := range u.ByStatement {
			if benchStatement(text) {
				delete(u.ByStatement, text)
			}
		}
		u.Evicted = pgZ.dealloc - pgA.dealloc
	}
	for cmd, n := range deltas(rA.commands, rZ.commands) {
		if cmd == "info" { // the bench's own
			continue
		}
		u.ByCommand[cmd] = n
		u.RedisCommands += n
	}
	return u
}

// benchStatement reports whether a statement text (as pg_stat_statements shows it) is one the
// bench sends itself.
func benchStatement(text string) bool {
	for _, prefix := range []string{
		store.ExecutionCountTerminalStatement,   // countDone
		"SELECT count(*) FROM pg_stat_activity", // waitConnectionsGone
		"SELECT xact_commit + xact_rollback",    // pgStats.read
		"SELECT left(regexp_replace(",
		"SELECT dealloc FROM",
	} {
		if strings.HasPrefix(text, prefix) {
			return true
		}
	}
	return false
}

// deltas is z - a by key, keys whose count did not grow left out.
func deltas(a, z map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, n := range z {
		if n > a[k] {
			d[k] = n - a[k]
		}
	}
	return d
}
