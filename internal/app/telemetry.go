package app

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// Option changes how New builds the App.
type Option func(*App)

// WithTelemetry makes the App use p (traces, metrics) instead of building its own Provider
// from the environment; the App does not shut p down. For tests that run several roles in one
// process and read one span exporter.
func WithTelemetry(p *telemetry.Provider) Option {
	return func(a *App) { a.obs.provider, a.obs.external = p, true }
}

// observability is the App's telemetry state.
type observability struct {
	provider    *telemetry.Provider
	external    bool         // given by WithTelemetry: not shut down by Stop
	stopQueueFn func() error // unregisters the queue gauges
}

// startTelemetry builds the Provider (unless given): OTLP traces when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, metrics for /metrics.
func (a *App) startTelemetry(ctx context.Context) error {
	if a.obs.provider != nil {
		return nil
	}
	p, err := telemetry.NewProvider(ctx, telemetry.Options{ServiceVersion: Version, Role: string(a.cfg.Role)})
	if err != nil {
		return fmt.Errorf("start telemetry: %w", err)
	}
	a.obs.provider = p
	return nil
}

// stopTelemetry unregisters the queue gauges and flushes and stops an own Provider.
func (a *App) stopTelemetry(ctx context.Context) error {
	var err error
	if a.obs.stopQueueFn != nil {
		_ = a.obs.stopQueueFn()
	}
	if a.obs.provider != nil && !a.obs.external {
		if serr := a.obs.provider.Shutdown(ctx); serr != nil {
			err = fmt.Errorf("stop telemetry: %w", serr)
		}
	}
	return err
}

// tracerProvider is the Provider's, for the engine and the worker.
func (a *App) tracerProvider() trace.TracerProvider { return a.obs.provider.TracerProvider() }

// storeOptions are the store's options: a span per query and the pool metrics (bunotel).
func (a *App) storeOptions() store.Options {
	return store.Options{TracerProvider: a.obs.provider.TracerProvider(), MeterProvider: a.obs.provider.MeterProvider()}
}

// instrumentRedis adds redisotel's spans and metrics to the Redis client. The spans only when
// they are recorded: redisotel's tracing hook formats every command and looks up its caller
// before it starts a span, recorded or not, which on the execution path cost more than the
// commands' own client work.
func (a *App) instrumentRedis() error {
	if a.obs.provider.Recording() {
		if err := redisotel.InstrumentTracing(a.redis, redisotel.WithTracerProvider(a.obs.provider.TracerProvider())); err != nil {
			return fmt.Errorf("instrument redis tracing: %w", err)
		}
	}
	if err := redisotel.InstrumentMetrics(a.redis, redisotel.WithMeterProvider(a.obs.provider.MeterProvider())); err != nil {
		return fmt.Errorf("instrument redis metrics: %w", err)
	}
	return nil
}

// observeQueue publishes the queue's depth and age (wfr_queue_*) from the processes that
// work it (roles all and worker), so that a sum over replicas does not multiply them.
func (a *App) observeQueue() error {
	if a.cfg.Role != config.RoleAll && a.cfg.Role != config.RoleWorker {
		return nil
	}
	stop, err := a.obs.provider.Metrics().ObserveQueue(queueCounts(a.backends.queue))
	if err != nil {
		return err
	}
	a.obs.stopQueueFn = stop
	return nil
}

// engineClientOptions are the remote engine client's options: otelconnect outermost, so the
// engine's server span continues the worker's trace.
func (a *App) engineClientOptions() ([]connect.ClientOption, error) {
	i, err := a.obs.provider.ConnectInterceptor()
	if err != nil {
		return nil, err
	}
	return []connect.ClientOption{connect.WithInterceptors(i)}, nil
}

// serverOptions are the HTTP server's options: more (services, public routes) and the telemetry
// (otelconnect on every handler, /metrics).
func (a *App) serverOptions(more []httpserver.Option) []httpserver.Option {
	opts := []httpserver.Option{httpserver.WithTelemetry(a.obs.provider)}
	if a.tokens != nil {
		opts = append(opts, httpserver.WithAuth(a.tokens))
	}
	return append(opts, more...)
}

// queueCounts adapts q's Stats to what telemetry publishes of the queue.
func queueCounts(q queue.Queue) telemetry.QueueStats {
	return func(ctx context.Context) (telemetry.QueueCounts, error) {
		s, err := q.Stats(ctx)
		if err != nil {
			return telemetry.QueueCounts{}, err
		}
		return telemetry.QueueCounts{
			Ready: s.Depth, Pending: s.Pending, Delayed: s.Delayed, DeadLettered: s.DeadLettered, OldestAge: s.OldestAge,
		}, nil
	}
}
