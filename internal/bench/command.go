package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Command is `workflow-runtime bench`: one subcommand per measurement. Each flag states its
// default.
type Command struct {
	Trigger   TriggerCommand   `cmd:"" help:"TriggerWorkflow throughput and p50/p99 at a fixed concurrency, as a ratio to a minimal Connect handler measured in the same run."`
	E2E       E2ECommand       `cmd:"" name:"e2e" help:"Trigger-to-SUCCEEDED throughput of a noop workflow; fails unless every execution succeeds."`
	Pickup    PickupCommand    `cmd:"" help:"Pickup latency (trigger accepted to RUNNING) at a steady trigger rate, p50/p99."`
	Lock      LockCommand      `cmd:"" help:"Redis lock acquire+release latency as a ratio to a bare Redis SET round trip."`
	Scheduler SchedulerCommand `cmd:"" help:"One in-process scheduler holding N cron triggers: load time, memory, fire lateness against bare timers, and the jitter spread."`
	Workers   WorkersCommand   `cmd:"" help:"Trigger-to-done throughput with 1, 2, 4… worker processes of its own (PostgreSQL + Redis), as a ratio to the smallest count measured in the same run, with statements, Redis commands and CPU per execution."`

	BaselineServer BaselineServerCommand `cmd:"" hidden:"" help:"Serve the TriggerWorkflow baseline handler set up as serve sets up the service (started by bench trigger)."`
}

// BaselineServerCommand is `bench baseline-server`, the baseline process of `bench trigger`.
type BaselineServerCommand struct {
	Addr string `default:"127.0.0.1:0" placeholder:"HOST:PORT" help:"Listen address. Default ${default}."`
}

// Run serves until interrupted.
func (c *BaselineServerCommand) Run(ctx context.Context) error {
	return ServeBaseline(ctx, c.Addr, os.Stdout)
}

// service is the flags of the subcommands that call the service.
type service struct {
	Addr     string `default:"http://127.0.0.1:8080" placeholder:"URL" help:"Base URL of the service (cleartext HTTP/2). Default ${default}."`
	Workflow string `placeholder:"ID" help:"Workflow to trigger. Default: a noop workflow (ALLOW_ALL, one attempt) deployed for the run under a new id."`
}

// TriggerCommand is `bench trigger`.
type TriggerCommand struct {
	service
	jsonFlag
	Concurrency int           `default:"64" help:"Callers, each calling back to back. Default ${default}."`
	Duration    time.Duration `default:"10s" help:"Measuring window of each side (baseline, service). Default ${default}."`
	Warmup      time.Duration `default:"2s" help:"Warm-up before each window, not counted. Default ${default}."`
	Baseline    string        `default:"process" enum:"process,in-process" help:"Where the baseline handler runs: process (its own, set up as serve sets up the service) or in-process (inside the bench). Default ${default}."`
}

// Run runs the measurement.
func (c *TriggerCommand) Run(ctx context.Context) error {
	if c.Concurrency < 1 {
		return errors.New("--concurrency must be at least 1")
	}
	cfg := TriggerConfig{
		Addr: c.Addr, WorkflowID: c.Workflow, Concurrency: c.Concurrency, Duration: c.Duration, Warmup: c.Warmup,
	}
	if c.Baseline == "process" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this executable for the baseline process: %w", err)
		}
		cfg.BaselineCommand = []string{self, "bench", "baseline-server"}
	}
	return c.report(func(out io.Writer) (any, error) {
		r, err := RunTrigger(ctx, cfg, out)
		return r.JSON(), err
	})
}

// E2ECommand is `bench e2e`.
type E2ECommand struct {
	service
	jsonFlag
	DatabaseURL string        `name:"database-url" placeholder:"URL" help:"The service's database: count completions with SQL (and read row timings) instead of GetExecution calls. Default empty."`
	Count       int           `default:"10000" help:"Executions to trigger. Default ${default}."`
	Rate        float64       `default:"0" help:"Triggers per second; 0 is flat out. Default ${default}."`
	Concurrency int           `default:"64" help:"TriggerWorkflow calls in flight at most. Default ${default}."`
	Timeout     time.Duration `default:"5m" help:"How long to wait for every execution to end. Default ${default}."`
}

// Run runs the measurement.
func (c *E2ECommand) Run(ctx context.Context) error {
	if c.Count < 1 || c.Concurrency < 1 || c.Rate < 0 {
		return errors.New("--count and --concurrency must be at least 1, --rate not negative")
	}
	return c.report(func(out io.Writer) (any, error) {
		r, err := RunE2E(ctx, E2EConfig{
			Addr: c.Addr, WorkflowID: c.Workflow, DatabaseURL: c.DatabaseURL,
			Count: c.Count, Rate: c.Rate, Concurrency: c.Concurrency, Timeout: c.Timeout,
		}, out)
		return r.JSON(), err
	})
}

// PickupCommand is `bench pickup`.
type PickupCommand struct {
	service
	jsonFlag
	DatabaseURL string        `name:"database-url" placeholder:"URL" help:"The service's database: read created_at and started_at with SQL instead of GetExecution calls. Default empty."`
	Rate        float64       `default:"500" help:"Triggers per second, on a fixed schedule. Default ${default}."`
	Duration    time.Duration `default:"10s" help:"How long to trigger. Default ${default}."`
	Warmup      time.Duration `default:"2s" help:"Triggers at --rate before --duration, not measured. Default ${default}."`
	Concurrency int           `default:"64" help:"TriggerWorkflow calls in flight at most. Default ${default}."`
	Timeout     time.Duration `default:"2m" help:"How long to wait for every execution to end. Default ${default}."`
}

// Run runs the measurement.
func (c *PickupCommand) Run(ctx context.Context) error {
	if c.Rate <= 0 || c.Concurrency < 1 {
		return errors.New("--rate must be positive and --concurrency at least 1")
	}
	return c.report(func(out io.Writer) (any, error) {
		r, err := RunPickup(ctx, PickupConfig{
			Addr: c.Addr, WorkflowID: c.Workflow, DatabaseURL: c.DatabaseURL,
			Rate: c.Rate, Duration: c.Duration, Warmup: c.Warmup, Concurrency: c.Concurrency, Timeout: c.Timeout,
		}, out)
		return r.JSON(), err
	})
}

// LockCommand is `bench lock`.
type LockCommand struct {
	jsonFlag
	RedisURL    string        `name:"redis-url" default:"redis://127.0.0.1:6379/15" placeholder:"URL" help:"Redis server (keys under wfr-bench:). Default ${default}."`
	Concurrency int           `default:"1" help:"Callers, each on a key of its own, back to back. Default ${default}."`
	Duration    time.Duration `default:"5s" help:"Measuring window of each side (lock, SET). Default ${default}."`
	Warmup      time.Duration `default:"1s" help:"Warm-up before each window, not counted. Default ${default}."`
}

// Run runs the measurement.
func (c *LockCommand) Run(ctx context.Context) error {
	if c.Concurrency < 1 {
		return errors.New("--concurrency must be at least 1")
	}
	return c.report(func(out io.Writer) (any, error) {
		r, err := RunLock(ctx, LockConfig{RedisURL: c.RedisURL, Concurrency: c.Concurrency, Duration: c.Duration, Warmup: c.Warmup}, out)
		return r.JSON(), err
	})
}

// SchedulerCommand is `bench scheduler`.
type SchedulerCommand struct {
	Triggers    int           `default:"100000" help:"Workflows, one cron trigger each. Default ${default}."`
	Cron        string        `default:"* * * * *" help:"Their cron expression. Default ${default} (with --window 60: Triggers/60 fires per second)."`
	Window      uint32        `default:"60" help:"Their jitter window in seconds. Default ${default}."`
	Duration    time.Duration `default:"60s" help:"Measuring window (fires scheduled in it). Default ${default}."`
	Warmup      time.Duration `default:"2s" help:"Wait after the load before the window starts. Default ${default}."`
	Baseline    time.Duration `default:"20s" help:"Measuring window of the time.AfterFunc baseline at the same fire times; 0 skips it. Default ${default}."`
	Spread      int           `default:"100000" help:"Workflows of the jitter-spread table (\"0 * * * *\", 300 s window against none); 0 skips it. Default ${default}."`
	CPUProfile  string        `name:"cpu-profile" placeholder:"FILE" help:"Write CPU profiles of the load to FILE.load and of the warm-up and measuring window to FILE.fire."`
	HeapProfile string        `name:"heap-profile" placeholder:"FILE" help:"Write a heap profile taken after the load to FILE."`
}

// Run runs the measurement.
func (c *SchedulerCommand) Run(ctx context.Context) error {
	if c.Triggers < 1 || c.Duration <= 0 {
		return errors.New("--triggers must be at least 1 and --duration positive")
	}
	_, err := RunScheduler(ctx, SchedulerConfig{
		Triggers: c.Triggers, Cron: c.Cron, Window: c.Window,
		Duration: c.Duration, Warmup: c.Warmup, Baseline: c.Baseline, SpreadWorkflows: c.Spread,
		CPUProfile: c.CPUProfile, HeapProfile: c.HeapProfile,
	}, os.Stdout)
	return err
}

// WorkersCommand is `bench workers`.
type WorkersCommand struct {
	jsonFlag
	DatabaseURL         string        `name:"database-url" placeholder:"URL" help:"PostgreSQL database (postgres://) of the processes; one of the bench's own gives clean counts. Required."`
	RedisURL            string        `name:"redis-url" placeholder:"URL" help:"Redis of the processes (redis://). Required."`
	Workers             []int         `default:"1,2,4" sep:"," help:"Worker process counts, in the order of each repeat; the smallest is the baseline of the ratios. Default ${default}."`
	Repeats             int           `default:"3" help:"Rounds per worker count, interleaved (1,2,4,1,2,4…). Default ${default}."`
	Concurrency         int           `default:"4" help:"WFR_WORKER_CONCURRENCY of each worker process. Default ${default}."`
	Delay               time.Duration `default:"20ms" help:"Duration of the workflow's one delay node. Default ${default}."`
	ExecutionsPerWorker int           `name:"executions-per-worker" default:"1000" help:"Executions triggered per worker process in a round (a round of N workers triggers N times this). Default ${default}."`
	TriggerConcurrency  int           `default:"64" help:"TriggerWorkflow calls in flight at most. Default ${default}."`
	Timeout             time.Duration `default:"2m" help:"How long a round waits after its last trigger for every execution to end. Default ${default}."`
}

// Run runs the measurement, starting its processes from this executable.
func (c *WorkersCommand) Run(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this executable for the serve processes: %w", err)
	}
	cfg := WorkersConfig{
		ServeCommand: []string{self, "serve"}, DatabaseURL: c.DatabaseURL, RedisURL: c.RedisURL,
		Workers: c.Workers, Repeats: c.Repeats, Concurrency: c.Concurrency, Delay: c.Delay,
		ExecutionsPerWorker: c.ExecutionsPerWorker, TriggerConcurrency: c.TriggerConcurrency, Timeout: c.Timeout,
	}
	return c.report(func(out io.Writer) (any, error) {
		r, err := RunWorkers(ctx, cfg, out)
		return r.JSON(cfg), err
	})
}
