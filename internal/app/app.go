// Package app assembles the service of one role from the configuration and runs it: it starts
// the parts in dependency order (store, then the domain services, then the HTTP server, which
// marks the process ready) and stops them in reverse order (the server first, so that readiness
// goes false and in-flight requests finish while the store is still open).
//
// Roles (DESIGN.md, "One binary, four roles"): all and api serve WorkflowRuntimeService; all
// and worker run the execution worker and the sweeper; engine serves WorkflowEngineService. With
// WFR_REDIS_URL the lock, queue, waitlist, notifications and the instance registry are Redis;
// without it they are in process (role all only; the registry then lists this process alone).
// All and scheduler run the scheduler (internal/scheduler), after the workers and before the HTTP
// server. Every role registers in the instance registry before its workers start and
// deregisters after they stopped (registry.go).
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1/workflowenginev1connect"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/egress"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/registry"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/watch"
	"github.com/workflow-runtime/workflow-runtime/internal/webhook"
)

// Version is the server's version, set at build time:
//
//	go build -ldflags "-X github.com/workflow-runtime/workflow-runtime/internal/app.Version=v1.2.3" ./cmd/workflow-runtime
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
	// engineProbe answers whether the remote engine is up and takes WFR_ENGINE_TOKEN (nil for
	// the embedded engine; see engineProbe).
	engineProbe func(ctx context.Context) error

	// Set by Start, in this order; nil when that part did not start (or is not in the role).
	db         *store.DB
	redis      *redis.Client
	backends   *backends
	executions *execution.Service
	watches    *watch.Hub // api roles: the WatchExecutions streams
	workers    []lifecycle
	registry   *registry.Registry // this process in the instance registry
	server     *httpserver.Server
	profiler   *profiler     // WFR_PPROF_ADDR
	tokens     *auth.Tokens  // WFR_AUTH_TOKENS_FILE; nil when authentication is off
	stopAuth   func()        // ends the SIGHUP reloads
	obs        observability // traces and metrics; see telemetry.go

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
	if err := a.startAuth(); err != nil {
		return err
	}
	if a.cfg.PprofAddr != "" {
		p := &profiler{addr: a.cfg.PprofAddr, logger: a.logger}
		if !config.IsLoopback(a.cfg.PprofAddr) {
			p.tokens = a.tokens // Validate refused this address without tokens
		}
		if err := p.Start(ctx); err != nil {
			return err
		}
		a.profiler = p
	}

	if role == config.RoleEngine {
		eng, err := a.embeddedEngine()
		if err != nil {
			return err
		}
		if a.cfg.RedisURL != "" {
			if err := a.openRedis(ctx, false); err != nil {
				return err
			}
		}
		a.newRegistry(registry.NewID(), nil)
		if err := a.startRegistry(ctx); err != nil {
			return err
		}
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
		if err := a.openRedis(ctx, true); err != nil {
			return err
		}
	}
	a.backends = newBackends(a.redis, a.logger)
	if err := a.observeQueue(); err != nil {
		return err
	}

	eng, err := a.engine()
	if err != nil {
		return err
	}
	executions := execution.NewService(db, a.backends.queue, a.backends.notifier, execution.ServiceConfig{
		Logger:              a.logger,
		MaxTriggerDataBytes: a.cfg.MaxTriggerDataBytes,
	})
	a.executions = executions
	mon := newMonitoring(db, a.logger, a.janitorMetrics, a.pageTokens(), a.cfg.RetentionPartitionPeriod)

	// The instance id is the worker's queue consumer, so the registry says which consumers
	// belong to live workers.
	instanceID := registry.NewID()
	if roleRunsWorker(role) {
		worker := execution.NewWorker(db, a.backends.queue, a.backends.locker, eng, a.backends.waitlist, a.backends.notifier, execution.WorkerConfig{
			Concurrency:      a.cfg.WorkerConcurrency,
			MaxShare:         a.cfg.WorkerMaxShare,
			MaxProcessDeaths: int32(a.cfg.MaxProcessDeaths), //nolint:gosec // at most 1000 (config.Validate)
			LockTTL:          a.cfg.LockTTL,
			Consumer:         instanceID,
			Logger:           a.logger,

			TracerProvider: a.tracerProvider(),
			Metrics:        a.obs.provider.Metrics(),
			Ledger:         scheduler.NewSkipLedger(db),
			ShutdownGrace:  a.cfg.ShutdownGrace,
			EngineProbe:    a.engineProbe,
			// Take work only while storage, the queue and the engine answer.
			Readiness: a.checker.DependenciesReady,
		})
		a.newRegistry(instanceID, worker.Slots)
		// The queue's mover delivers delayed messages (retries, requeues); workers run it.
		a.workers = append(a.workers,
			a.backends.queue,
			worker,
			execution.NewSweeper(db, a.backends.queue, a.sweeperConfig()),
			mon.janitor,
		)
	} else {
		a.newRegistry(instanceID, nil)
	}
	if err := a.startRegistry(ctx); err != nil {
		return err
	}
	for i, w := range a.workers {
		if err := w.Start(ctx); err != nil {
			a.workers = a.workers[:i]
			return fmt.Errorf("start background part: %w", err)
		}
	}

	schedulerSvc := a.schedulerService(db, executions)
	if err := a.startScheduler(ctx, schedulerSvc); err != nil {
		return err
	}

	var svc workflowruntimev1connect.WorkflowRuntimeServiceHandler
	var routes []httpserver.Option
	if role.ServesAPI() {
		deploymentsCfg := deployments.ServiceConfig{
			KnownNodeTypes: engine.NodeTypes(),
			CheckParams:    checkParams(engine.New(a.engineConfig())),
			OnChange:       a.publishChange,
			PageTokens:     a.pageTokens(),
			Limits: deployments.Limits{
				MaxTriggers:          a.cfg.MaxTriggers,
				MinCronInterval:      a.cfg.MinCronInterval,
				MaxNodeDelay:         a.cfg.MaxNodeDelay,
				MaxExecutionTimeout:  a.cfg.MaxExecutionTimeout,
				MaxRetentionAge:      a.cfg.MaxRetentionAge,
				MaxRetentionKeepLast: a.cfg.MaxRetentionKeepLast,
			},
		}
		if a.cfg.WebhookSecretKey != "" {
			box, err := webhook.NewBoxBase64(a.cfg.WebhookSecretKey)
			if err != nil {
				return fmt.Errorf("WFR_WEBHOOK_SECRET_KEY: %w", err)
			}
			deploymentsCfg.SealSecret = box.Seal
			if a.cfg.Webhooks {
				routes = append(routes, httpserver.WithPublicRoute(webhook.Pattern, webhook.NewHandler(db, executions, webhook.Config{
					Box:       box,
					Tolerance: a.cfg.WebhookTolerance,
					Logger:    a.logger,
				})))
			}
		}
		if a.cfg.UI == "on" {
			dashboard, err := a.dashboard()
			if err != nil {
				return err
			}
			routes = append(routes, dashboard...)
		}
		a.watches = watch.New(db, a.backends.notifier, watch.Config{Logger: a.logger})
		backfills, err := a.startBackfills(ctx, db, schedulerSvc, instanceID)
		if err != nil {
			return err
		}
		scheduleHealth, err := a.startScheduleHealth(ctx, db, schedulerSvc)
		if err != nil {
			return err
		}
		svc = api.NewHandler(api.Deps{
			Deployments:    deployments.NewService(db, deploymentsCfg),
			Executions:     executions,
			Scheduler:      schedulerSvc,
			Monitoring:     mon.service,
			Watches:        a.watches,
			Backfills:      backfills,
			Health:         a.checker,
			Calendars:      a.calendarService(db),
			Logger:         a.logger,
			ScheduleHealth: scheduleHealth,
		})
	}
	return a.startServer(ctx, svc, routes...)
}

// engine returns the remote engine client when WFR_ENGINE_URL is set, else the embedded engine.
func (a *App) engine() (execution.Engine, error) {
	if a.cfg.EngineURL == "" {
		return a.embeddedEngine()
	}
	roots, err := a.rootCAs()
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	transport.Protocols.SetUnencryptedHTTP2(true) // http://
	transport.Protocols.SetHTTP2(true)            // https://
	transport.Protocols.SetHTTP1(true)
	client := &http.Client{Transport: transport}
	a.engineProbe = newEngineProbe(client, a.cfg.EngineURL, a.cfg.EngineToken, a.logger).check
	a.registerCheck("workflow_engine", a.engineProbe)
	clientOpts, err := a.engineClientOptions()
	if err != nil {
		return nil, err
	}
	if a.cfg.EngineToken != "" {
		clientOpts = append(clientOpts, connect.WithInterceptors(bearer(a.cfg.EngineToken)))
	}
	return engine.NewClient(client, a.cfg.EngineURL, append(clientOpts, connect.WithGRPC())...), nil
}

// embeddedEngine is the reference engine of this process (roles all, worker without
// WFR_ENGINE_URL, and engine): its http nodes reach only what the egress policy of
// WFR_HTTP_ALLOW allows, and read at most WFR_HTTP_MAX_RESPONSE_BYTES of a response.
func (a *App) embeddedEngine() (*engine.Engine, error) {
	policy, err := egress.New(a.cfg.HTTPAllow)
	if err != nil {
		return nil, fmt.Errorf("WFR_HTTP_ALLOW: %w", err)
	}
	cfg := a.engineConfig()
	cfg.Egress = policy
	return engine.New(cfg), nil
}

func (a *App) startServer(ctx context.Context, svc workflowruntimev1connect.WorkflowRuntimeServiceHandler, more ...httpserver.Option) error {
	a.server = httpserver.New(a.cfg, svc, a.checker, a.logger, a.serverOptions(more)...)
	if err := a.server.Start(ctx); err != nil {
		a.server = nil
		return fmt.Errorf("start http server: %w", err)
	}
	a.publishAddress(ctx)
	a.logger.Info("workflow-runtime ready", "role", string(a.cfg.Role), "addr", a.server.Addr(),
		"instance_id", a.registry.Self().ID, "advertise_addr", a.registry.Self().Address)
	return nil
}

// engineConfig is the embedded (or `engine`-role) engine's configuration: its output and CEL bounds.
func (a *App) engineConfig() engine.Config {
	return engine.Config{
		MaxNodeOutputBytes: a.cfg.MaxNodeOutputBytes,
		MaxOutputBytes:     a.cfg.MaxOutputBytes,
		CELTimeout:         a.cfg.CELTimeout,
		CELCostLimit:       a.cfg.CELCostLimit,
		CELMaxStringBytes:  a.cfg.CELMaxStringBytes,
		CELMaxListItems:    a.cfg.CELMaxListItems,
		MaxResponseBytes:   a.cfg.HTTPMaxResponseBytes,
		TracerProvider:     a.tracerProvider(),
	}
}

// checkParams adapts the engine's parameter check to the deployment service's.
func checkParams(eng *engine.Engine) func(d *deployments.Definition) []errdefs.Violation {
	return func(d *deployments.Definition) []errdefs.Violation {
		var out []errdefs.Violation
		for _, pe := range eng.ValidateParams(d) {
			field := fmt.Sprintf("nodes[%d]", pe.NodeIndex)
			if pe.Param != "" {
				field += ".params." + pe.Param
			}
			out = append(out, errdefs.Violation{Field: field, Rule: "node.params", Message: pe.Message})
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
		// The HTTP server (readiness false first) and the execution worker drain side by
		// side, each within cfg.ShutdownGrace: the worker takes no more work, lets running
		// executions finish and hands back only those still running when the grace ends.
		a.checker.SetReady(false)
		if a.watches != nil {
			// Streams would hold the server's shutdown for its whole grace: they end now, and
			// their callers watch again on another replica.
			a.watches.Stop()
		}
		var draining sync.WaitGroup
		for _, w := range a.workers {
			if ew, ok := w.(*execution.Worker); ok {
				draining.Go(ew.Stop)
			}
		}
		if a.server != nil {
			if err := a.server.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop http server: %w", err))
			}
		}
		draining.Wait()
		// Background parts in reverse: the worker is stopped already (Stop is idempotent),
		// then the sweeper and the queue's mover stop.
		for i := len(a.workers) - 1; i >= 0; i-- {
			a.workers[i].Stop()
		}
		if a.executions != nil {
			// Recorded executions still on their way to the queue go out before its connection
			// closes; what does not within the bound is left to the sweeper.
			fctx, cancel := context.WithTimeout(ctx, flushTimeout)
			if err := a.executions.Flush(fctx); err != nil {
				a.logger.Warn("executions not enqueued at shutdown; the sweeper enqueues them", "error", err.Error())
			}
			cancel()
		}
		// Deregistered once its work is settled and before Redis closes: a draining instance
		// is still at work.
		a.stopRegistry()
		if a.profiler != nil {
			a.profiler.Stop()
		}
		if a.stopAuth != nil {
			a.stopAuth()
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

// flushTimeout bounds how long Stop waits for recorded executions to reach the queue.
const flushTimeout = 2 * time.Second

// Readiness per role: each role is ready when what it needs to do its job answers.
//
//	role       needs                                  reported only (/health)
//	api        database                               redis, workflow_engine
//	scheduler  database, redis (fire locks)           workflow_engine
//	worker     database, redis (queue), engine        -
//	all        database, redis, engine                -
//	engine     -                                      redis (instance registry)
//
// The api role records triggers with Redis down (the row is the truth; the executions go on
// the queue when it answers), so it stays ready and keeps taking them. A worker (roles worker
// and all) asks the same required checks before it takes work (execution.WorkerConfig
// Readiness): while one does not answer, it takes nothing from the queue, and it resumes by
// itself when they answer again.

// registerCheck registers a dependency check, required for readiness when the role needs the
// dependency to do its job.
func (a *App) registerCheck(name string, fn health.CheckFunc) {
	required := true
	switch a.cfg.Role {
	case config.RoleAPI:
		required = name == "database"
	case config.RoleScheduler:
		required = name != "workflow_engine"
	case config.RoleEngine:
		required = false
	}
	if required {
		a.checker.Register(name, fn)
	} else {
		a.checker.RegisterOptional(name, fn)
	}
}

// sweeperConfig: sweep every due execution at once when the queue says Redis is back (its
// messages may be lost), and at start-up in the embedded mode, where this process is the only
// worker, so every execution left PENDING or RUNNING is orphaned. With Redis, prune the queue
// consumers of workers the instance registry no longer lists.
func (a *App) sweeperConfig() execution.SweeperConfig {
	cfg := execution.SweeperConfig{Logger: a.logger, RecoverAtStart: a.redis == nil, Notifier: a.backends.notifier}
	if a.redis != nil {
		cfg.LiveConsumers = a.registry.LiveIDs
	}
	if r, ok := a.backends.queue.(interface{ Recovered() <-chan time.Time }); ok {
		cfg.Wake = r.Recovered()
	}
	return cfg
}

// Readiness says whether this process can do its role's job (see registerCheck): nil when it
// can; what /readyz answers.
func (a *App) Readiness(ctx context.Context) error { return a.checker.Readiness(ctx) }

// Addr is the HTTP server's bound address once started ("" before).
func (a *App) Addr() string {
	if a.server == nil {
		return ""
	}
	return a.server.Addr()
}
