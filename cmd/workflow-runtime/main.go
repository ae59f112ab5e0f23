// Command workflow-runtime is the workflow runtime: `serve` runs a role (all, api, scheduler,
// worker, engine), `migrate` applies the database migrations, `bench` measures a running
// service, `version` prints the version; the operator commands (deploy, get, trigger,
// executions, ...) call a running service and live in internal/cli.
// Every setting is a WFR_* environment variable or the matching flag; `serve --help` lists them
// with their defaults, and `config docs` writes the reference (docs/configuration.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// IANA time zones inside the binary: cron triggers name zones, and a minimal container
	// image may have no zoneinfo of its own.
	_ "time/tzdata"

	"github.com/alecthomas/kong"

	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/bench"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

type command struct {
	Serve   serveCmd         `cmd:"" group:"server" help:"Run the service (the API, scheduler and worker per --role) until SIGINT or SIGTERM."`
	Migrate migrateCmd       `cmd:"" group:"server" help:"Apply the database migrations to WFR_DATABASE_URL and exit."`
	Version versionCmd       `cmd:"" group:"server" help:"Print the version and exit."`
	Bench   benchCmd         `cmd:"" group:"server" help:"Measure a running service (trigger, e2e, pickup), the Redis lock, or worker scaling over processes it starts (workers), against baselines measured in the same run."`
	Config  configCmd        `cmd:"" group:"server" help:"Describe the settings (config docs)."`
	V       kong.VersionFlag `name:"version" help:"Print the version and exit."`

	// The operator commands: deploy, get, trigger, executions, ... (internal/cli).
	cli.Commands `embed:""`
}

type serveCmd struct {
	config.Config `embed:""`
}

// Help implements kong.HelpProvider.
func (*serveCmd) Help() string {
	return `Examples:

    workflow-runtime serve
    WFR_DATABASE_URL=postgres://wfr@db/wfr WFR_REDIS_URL=redis://cache:6379/0 workflow-runtime serve --role=api --addr=:8080`
}

func (c *serveCmd) Run(ctx context.Context) error {
	logger, logFile, err := telemetry.OpenLogger(os.Stdout, telemetry.LogOptions{
		Level: c.LogLevel, Format: c.LogFormat,
		File: c.LogFile, FileMaxSizeMB: c.LogMaxSizeMB, FileMaxBackups: c.LogMaxBackups,
		FileMaxAgeDays: c.LogMaxAgeDays, FileCompress: c.LogCompress,
	})
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	if err := app.Run(ctx, c.Config, logger); err != nil {
		logger.Error("workflow-runtime failed", "error", err)
		return err
	}
	return nil
}

// migrateCmd takes only what migrating needs; the tags match config.Config's.
type migrateCmd struct {
	DatabaseURL string `name:"database-url" env:"WFR_DATABASE_URL" default:"sqlite://data/workflow-runtime.db" placeholder:"URL" help:"postgres://user:pass@host/db or sqlite://path. Default ${default}."`
	LogLevel    string `env:"WFR_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level: ${enum}. Default ${default}."`
	LogFormat   string `env:"WFR_LOG_FORMAT" default:"json" enum:"json,text" help:"Log format on stdout: ${enum}. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*migrateCmd) Help() string {
	return `Examples:

    WFR_DATABASE_URL=postgres://wfr@db/wfr workflow-runtime migrate`
}

func (c *migrateCmd) Run(ctx context.Context) error {
	cfg := config.Default()
	cfg.DatabaseURL, cfg.LogLevel, cfg.LogFormat = c.DatabaseURL, c.LogLevel, c.LogFormat
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := telemetry.NewLogger(os.Stdout, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	return app.Migrate(ctx, cfg, logger)
}

// benchCmd is the load command; the measurements live in internal/bench.
type benchCmd struct {
	bench.Command `embed:""`
}

// Help implements kong.HelpProvider.
func (*benchCmd) Help() string {
	return `Examples:

    workflow-runtime bench trigger --help`
}

type versionCmd struct{}

// Help implements kong.HelpProvider.
func (versionCmd) Help() string {
	return `Examples:

    workflow-runtime version`
}

func (versionCmd) Run() error {
	_, err := fmt.Println(app.Version)
	return err
}

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var c command
	parser, err := kong.New(&c, append([]kong.Option{
		kong.Name("workflow-runtime"),
		kong.Description("Deploys workflows, fires them on cron schedules and webhooks, and runs each execution once."),
		kong.Vars{"version": app.Version},
		// Like kong's own env handling, but a bad value is reported with its variable's name.
		kong.Resolvers(config.EnvResolver(os.LookupEnv)),
	}, cli.Options(kong.Group{Key: "server", Title: "Server:"})...)...)
	if err != nil {
		panic(err) // the command line's own definition is wrong: a bug, found by any test
	}
	cli.Complete(parser) // answers and exits when the shell asks for completions
	return cli.Run(ctx, parser, cli.SystemEnv(), os.Args[1:])
}
