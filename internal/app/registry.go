package app

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/registry"
)

// newRegistry builds this process's entry in the instance registry (internal/registry): in Redis
// when WFR_REDIS_URL is set, this process alone otherwise. id is the instance id (the worker's
// queue consumer); slots is the worker's (nil for roles without one). /health and
// GetSystemHealth list what it lists. startRegistry starts it.
func (a *App) newRegistry(id string, slots func() (int, int)) {
	var client redis.UniversalClient
	if a.redis != nil {
		client = a.redis
	}
	a.registry = registry.New(client, registry.Config{
		Self: registry.Instance{
			ID:      id,
			Role:    string(a.cfg.Role),
			Version: Version,
			Address: a.advertiseAddr(a.cfg.Addr),
		},
		Interval: a.cfg.RegistryHeartbeat,
		TTL:      a.cfg.RegistryTTL,
		Slots:    slots,
		Logger:   a.logger,
	})
	a.checker.SetRegistry(a.registry)
}

// startRegistry registers this process: before the workers start, so that a worker is live in
// the registry before its first read from the queue (its consumer is never pruned while it is).
func (a *App) startRegistry(ctx context.Context) error {
	if err := a.registry.Start(ctx); err != nil {
		return fmt.Errorf("start instance registry: %w", err)
	}
	a.logger.Info("instance registered", "instance_id", a.registry.Self().ID,
		"shared", a.redis != nil, "heartbeat", a.registry.Interval().String(), "ttl", a.registry.TTL().String())
	return nil
}

// advertiseAddr is WFR_ADVERTISE_ADDR, or else the address the server listens on (listen), with
// an unspecified host replaced by the host name.
func (a *App) advertiseAddr(listen string) string {
	if a.cfg.AdvertiseAddr != "" {
		return a.cfg.AdvertiseAddr
	}
	return registry.AdvertiseAddr(listen)
}

// publishAddress publishes the bound address once the server listens (WFR_ADDR may have port
// 0), unless WFR_ADVERTISE_ADDR says what to advertise.
func (a *App) publishAddress(ctx context.Context) {
	if a.registry == nil || a.cfg.AdvertiseAddr != "" {
		return
	}
	a.registry.SetAddress(a.advertiseAddr(a.server.Addr()))
	_ = a.registry.Beat(ctx) // a failure is logged; the next heartbeat publishes it
}

// stopRegistry deregisters this process: last before Redis closes, since a draining instance
// is still at work.
func (a *App) stopRegistry() {
	if a.registry != nil {
		a.registry.Stop()
	}
}

// openRedis connects to WFR_REDIS_URL (rediss:// with WFR_TLS_CA_FILE's authorities) and
// registers its health check. required says whether an unanswered ping fails the start: the
// engine role uses Redis only to register, so it starts without it.
func (a *App) openRedis(ctx context.Context, required bool) error {
	opts, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("WFR_REDIS_URL: %w", err)
	}
	if opts.TLSConfig != nil { // rediss://
		if opts.TLSConfig.RootCAs, err = a.rootCAs(); err != nil {
			return err
		}
	}
	a.redis = redis.NewClient(opts)
	if err := a.instrumentRedis(); err != nil {
		return err
	}
	if err := a.redis.Ping(ctx).Err(); err != nil {
		if required {
			return fmt.Errorf("connect to redis: %w", err)
		}
		a.logger.Warn("redis does not answer; registering in the instance registry once it does", "error", err.Error())
	}
	a.registerCheck("redis", func(ctx context.Context) error { return a.redis.Ping(ctx).Err() })
	return nil
}

// roleRunsWorker reports whether the role runs the execution worker.
func roleRunsWorker(r config.Role) bool { return r == config.RoleAll || r == config.RoleWorker }
