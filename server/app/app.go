// Package app assembles the service of one role from the configuration and runs it: it starts
// the parts in dependency order (store, then the domain services, then the HTTP server, which
// marks the process ready) and stops them in reverse order (the server first, so that readiness
// goes false and in-flight requests finish while the store is still open).
//
// Roles (DESIGN.md, "One binary, four roles"): all and api serve WorkflowRuntimeService; all
// and worker run the execution worker and the sweeper; engine serves WorkflowEngineService. With
// WFR_REDIS_URL the lock, queue, waitlist and notifications are Redis; without it they are in
// process (role all only). All and scheduler run the scheduler (server/scheduler), after the
// workers and before the HTTP server.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1/workflowenginev1connect"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/server/api"
	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/config"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/engine"
	"github.com/workflow-runtime/workflow-runtime/server/execution"
	"github.com/workflow-runtime/workflow-runtime/server/health"
	"github.com/workflow-runtime/workflow-runtime/server/httpserver"
	"github.com/workflow-runtime/workflow-runtime/server/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/server/scheduler"
	"github.com/workflow-runtime/workflow-runtime/server/store"
)

// Version is the server's version, set at build time:
//
//	go build -ldflags "-X github.com/workflow-runtime/workflow-runtime/server/app.Version=v1.2.3" ./server/cmd/workflow-runtime
var Version = "dev"

// Run starts the service for cfg.Role, serves until ctx is done (SIGINT/SIGTERM) or the server
// fails, then stops it within cfg.ShutdownGrace. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	a, err := New(cfg, logger)
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		// Undo what did start; ctx may be done already.
		stopErr := a.Stop(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			// Asked to stop while starting: not a failure.
			logger.Info("shutdown requested during start-up", "error", err.Error())
			return stopErr
		}
		return errors.Join(err, stopErr)
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "cause", context.Cause(ctx).Error())
	case <-a.server.Done():
		logger.Error("http server stopped unexpectedly; shutting down")
	}
	// Shutdown must not inherit the cancelled ctx: it gets its own grace period.
	return a.Stop(context.WithoutCancel(ctx))
}

// Migrate applies the database migrations to cfg.DatabaseURL and returns: the `migrate`
// command.
func Migrate(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	logger.Info("applying migrations", "dialect", db.Dialect())
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	logger.Info("migrations applied", "dialect", db.Dialect())
	return nil
}

// App is the service of one role. Build it with New; Start and Stop it.
type App struct {
	cfg     config.Config
	logger  *slog.Logger
	checker *health.Checker

	// Set by Start, in this order; nil when that part did not start (or is not in the role).
	db       *store.DB
	redis    *redis.Client
	backends *backends
	workers  []lifecycle
	server   *httpserver.Server
	profiler *profiler     // WFR_PPROF_ADDR
	obs      observability // traces and metrics; see telemetry.go

	stopOnce sync.Once
	stopErr  error
}

// pageTokens is the codec of every list's page tokens, keyed by WFR_PAGE_TOKEN_KEY (or the
// database URL), so that every api replica reads the tokens of the others.
func (a *App) pageTokens() *pagetoken.Codec {
	return pagetoken.New(pagetoken.DeriveKey(a.cfg.PageTokenSecret()))
}

// lifecycle is a background part: Start backgrounds itself, Stop blocks and is idempotent.
type lifecycle interface {
	Start(ctx context.Context) error
	Stop()
}

// New validates cfg and returns the App; nothing starts until Start.
func New(cfg config.Config, logger *slog.Logger, opts ...Option) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	a := &App{
		cfg:     cfg,
		logger:  logger,
		checker: health.NewChecker(health.Options{Version: Version}),
	}
	for _, opt := range opts {
		opt(a)
	}
	return a, nil
}

// Start opens the store (and migrates it when cfg.MigrateOnStart) and Redis, builds the role's
// services, starts the background parts (worker, sweeper, queue mover) and finally the HTTP
// server, which marks the process ready. On error, call Stop to release what did start.
func (a *App) Start(ctx context.Context) error {
	role := a.cfg.Role
	a.logger.Info("starting workflow-runtime", "version", Version, "role", string(role), "addr", a.cfg.Addr)
	if err := a.startTelemetry(ctx); err != nil {
		return err
	}
	if a.cfg.PprofAddr != "" {
		p := &profiler{addr: a.cfg.PprofAddr, logger: a.logger}
		if err := p.Start(ctx); err != nil {
			return err
		}
		a.profiler = p
	}

	if role == config.RoleEngine {
		eng := engine.New(engine.Config{TracerProvider: a.tracerProvider()})
		return a.startServer(ctx, nil, httpserver.Service{
			Name: workflowenginev1connect.WorkflowEngineServiceName,
			Handler: func(opts ...connect.HandlerOption) (string, http.Handler) {
				return workflowenginev1connect.NewWorkflowEngineServiceHandler(engine.NewHandler(eng), opts...)
			},
		})
	}

	db, err := store.Open(ctx, a.cfg.DatabaseURL, a.storeOptions())
	if err != nil {
		return fmt.Errorf("start store: %w", err)
	}
	a.db = db
	a.logger.Info("database opened", "dialect", db.Dialect())
	if a.cfg.MigrateOnStart {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("start store: %w", err)
		}
		a.logger.Info("database migrated", "dialect", db.Dialect())
	}
	a.checker.Register("database", db.Ping)

	if a.cfg.RedisURL != "" {
		opts, err := redis.ParseURL(a.cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("WFR_REDIS_URL: %w", err)
		}
		a.redis = redis.NewClient(opts)
		if err := a.instrumentRedis(); err != nil {
			return err
		}
		if err := a.redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("connect to redis: %w", err)
		}
		a.checker.Register("redis", func(ctx context.Context) error { return a.redis.Ping(ctx).Err() })
	}
	a.backends = newBackends(a.redis, a.logger)
	if err := a.observeQueue(); err != nil {
		return err
	}

	eng, err := a.engine()
	if err != nil {
		return err
	}
	executions := execution.NewService(db, a.backends.queue, a.backends.notifier, execution.ServiceConfig{Logger: a.logger})
	mon := newMonitoring(db, string(role), Version, a.logger, a.janitorMetrics, a.pageTokens())

	if role == config.RoleAll || role == config.RoleWorker {
		// The queue's mover delivers delayed messages (retries, requeues); workers run it.
		a.workers = append(a.workers,
			a.backends.queue,
			execution.NewWorker(db, a.backends.queue, a.backends.locker, eng, a.backends.waitlist, a.backends.notifier, execution.WorkerConfig{
				Concurrency: a.cfg.WorkerConcurrency,
				LockTTL:     a.cfg.LockTTL,
				Logger:      a.logger,

				TracerProvider: a.tracerProvider(),
				Metrics:        a.obs.provider.Metrics(),
				Ledger:         scheduler.NewSkipLedger(db),
			}),
			execution.NewSweeper(db, a.backends.queue, execution.SweeperConfig{Logger: a.logger}),
			mon.janitor,
		)
	}
	for i, w := range a.workers {
		if err := w.Start(ctx); err != nil {
			a.workers = a.workers[:i]
			return fmt.Errorf("start background part: %w", err)
		}
	}

	scheduling := a.schedulingService(db, executions)
	if err := a.startScheduler(ctx, scheduling); err != nil {
		return err
	}

	var svc workflowruntimev1connect.WorkflowRuntimeServiceHandler
	if role.ServesAPI() {
		svc = api.NewHandler(api.Deps{
			Deployments: deployments.NewService(db, deployments.ServiceConfig{
				KnownNodeTypes: engine.NodeTypes(),
				CheckParams:    checkParams(engine.New(engine.Config{})),
				OnChange:       a.publishChange,
				PageTokens:     a.pageTokens(),
			}),
			Executions: executions,
			Scheduling: scheduling,
			Monitoring: mon.service,
			Instance:   &mon.instance,
			Health:     a.checker,
			Logger:     a.logger,
		})
	}
	return a.startServer(ctx, svc)
}

// engine returns the remote engine client when WFR_ENGINE_URL is set, else the embedded engine.
func (a *App) engine() (execution.Engine, error) {
	if a.cfg.EngineURL == "" {
		return engine.New(engine.Config{TracerProvider: a.tracerProvider()}), nil
	}
	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetUnencryptedHTTP2(true)
	transport.Protocols.SetHTTP1(true)
	client := &http.Client{Transport: transport}
	a.checker.Register("workflow_engine", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.EngineURL+"/livez", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("engine /livez answered %s", resp.Status)
		}
		return nil
	})
	clientOpts, err := a.engineClientOptions()
	if err != nil {
		return nil, err
	}
	return engine.NewClient(client, a.cfg.EngineURL, append(clientOpts, connect.WithGRPC())...), nil
}

func (a *App) startServer(ctx context.Context, svc workflowruntimev1connect.WorkflowRuntimeServiceHandler, extra ...httpserver.Service) error {
	a.server = httpserver.New(a.cfg, svc, a.checker, a.logger, a.serverOptions(extra)...)
	if err := a.server.Start(ctx); err != nil {
		a.server = nil
		return fmt.Errorf("start http server: %w", err)
	}
	a.logger.Info("workflow-runtime ready", "role", string(a.cfg.Role), "addr", a.server.Addr())
	return nil
}

// checkParams adapts the engine's parameter check to the deployment service's.
func checkParams(eng *engine.Engine) func(d *deployments.Definition) []apperr.Violation {
	return func(d *deployments.Definition) []apperr.Violation {
		var out []apperr.Violation
		for _, pe := range eng.ValidateParams(d) {
			field := fmt.Sprintf("nodes[%d]", pe.NodeIndex)
			if pe.Param != "" {
				field += ".params." + pe.Param
			}
			out = append(out, apperr.Violation{Field: field, Rule: "node.params", Message: pe.Message})
		}
		return out
	}
}

// Stop stops what Start started, in reverse order: the HTTP server (readiness false, in-flight
// requests finish within cfg.ShutdownGrace and ctx), then the store. Idempotent: later calls
// return the first call's result.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		var errs []error
		if a.server != nil {
			if err := a.server.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop http server: %w", err))
			}
		}
		// Background parts in reverse: the worker hands running executions back, then the
		// sweeper and the queue's mover stop.
		for i := len(a.workers) - 1; i >= 0; i-- {
			a.workers[i].Stop()
		}
		if a.profiler != nil {
			a.profiler.Stop()
		}
		if a.redis != nil {
			if err := a.redis.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close redis: %w", err))
			}
		}
		if a.db != nil {
			if err := a.db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close store: %w", err))
			}
		}
		if err := a.stopTelemetry(ctx); err != nil {
			errs = append(errs, err)
		}
		a.stopErr = errors.Join(errs...)
		a.logger.Info("workflow-runtime stopped")
	})
	return a.stopErr
}

// Addr is the HTTP server's bound address once started ("" before).
func (a *App) Addr() string {
	if a.server == nil {
		return ""
	}
	return a.server.Addr()
}
