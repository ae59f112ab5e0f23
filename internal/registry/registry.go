package registry

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river/rivershared/startstop"
)

// Instance is one process of the service as the registry lists it (and /health shows it).
type Instance struct {
	// ID names the instance, unique over the installation's life: host-pid-random (NewID). A
	// worker's queue consumer has this name.
	ID string `json:"id"`
	// Role is all, api, scheduler, worker or engine.
	Role string `json:"role"`
	// Version is the server's version.
	Version string `json:"version"`
	// Address is the host:port the instance serves on, as others reach it (WFR_ADVERTISE_ADDR).
	Address string `json:"address"`
	// Started is when the process started.
	Started time.Time `json:"start_time"`
	// Heartbeat is the instance's last heartbeat, by its own clock.
	Heartbeat time.Time `json:"last_heartbeat"`
	// SlotsInUse is how many executions the instance's worker runs now; 0 for roles without a
	// worker.
	SlotsInUse int `json:"slots_in_use"`
	// SlotCapacity is how many executions its worker runs at most (WFR_WORKER_CONCURRENCY); 0
	// for roles without a worker.
	SlotCapacity int `json:"slot_capacity"`
}

// ByRole groups instances by role, each group in the order given.
func ByRole(instances []Instance) map[string][]Instance {
	out := make(map[string][]Instance)
	for _, in := range instances {
		out[in.Role] = append(out[in.Role], in)
	}
	return out
}

// NewID returns a new instance id: host-pid-random, readable in logs and XINFO CONSUMERS and
// unique even when a host's pids are reused (containers all run as pid 1).
func NewID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
}

// AdvertiseAddr is the address to advertise for a server bound to listen (host:port) when no
// address is configured: listen itself, with an unspecified host (":8080", "0.0.0.0:8080",
// "[::]:8080") replaced by the host name, since that is no address another process can reach.
func AdvertiseAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	return net.JoinHostPort(host, port)
}

// Config configures a Registry. Zero values take the defaults.
type Config struct {
	// Self is this process. ID default NewID(); Started default now; Heartbeat and the slots
	// are filled in at each heartbeat.
	Self Instance
	// Interval is the time between two heartbeats. Default DefaultInterval (5s).
	Interval time.Duration
	// TTL is how long an instance stays listed after its last heartbeat. Default 3 × Interval;
	// when not longer than Interval, 3 × Interval as well (an instance would drop out between
	// two heartbeats).
	TTL time.Duration
	// Slots reports the worker's slots in use and capacity at each heartbeat. Default nil:
	// none (roles without a worker).
	Slots func() (inUse, capacity int)
	// Prefix is put in front of every key (default "wfr:"). It must not contain '{' or '}'.
	Prefix string
	// Now is the clock of the heartbeat times. Default time.Now.
	Now func() time.Time
	// Logger receives heartbeat failures. Default slog.Default().
	Logger *slog.Logger
	// OnBeat, when set, is called after each heartbeat (Start's first, the loop's, Beat's) with
	// its error; tests wait on it rather than on the interval. Default nil.
	OnBeat func(error)
}

// DefaultInterval is the heartbeat interval when Config.Interval is zero.
const DefaultInterval = 5 * time.Second

// callTimeout bounds one Redis call of the registry (heartbeat, deregistration).
const callTimeout = 2 * time.Second

// Registry registers this process and lists the live instances: shared in Redis when built
// with a client, this process alone otherwise. Start registers and heartbeats, Stop
// deregisters. Safe for concurrent use.
type Registry struct {
	client   redis.UniversalClient // nil: this process alone
	interval time.Duration
	ttl      time.Duration
	slots    func() (int, int)
	now      func() time.Time
	logger   *slog.Logger
	onBeat   func(error)
	live     string // ZSET key
	record   string // record key prefix; + id

	mu     sync.Mutex
	self   Instance
	failed bool // the last heartbeat failed (logged once per streak)

	startstop.BaseStartStop
}

// New returns a Registry on client (nil: this process alone). Nothing is written until Start.
func New(client redis.UniversalClient, cfg Config) *Registry {
	interval := cmp.Or(cfg.Interval, DefaultInterval)
	ttl := cfg.TTL
	if ttl <= interval {
		ttl = 3 * interval
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	self := cfg.Self
	self.ID = cmp.Or(self.ID, NewID())
	if self.Started.IsZero() {
		self.Started = now()
	}
	base := cmp.Or(cfg.Prefix, "wfr:") + "registry:{instances}:"
	return &Registry{
		client:   client,
		interval: interval,
		ttl:      ttl,
		slots:    cfg.Slots,
		now:      now,
		logger:   cmp.Or(cfg.Logger, slog.Default()),
		onBeat:   cfg.OnBeat,
		live:     base + "live",
		record:   base + "instance:",
		self:     self,
	}
}

// Interval is the time between two heartbeats.
func (r *Registry) Interval() time.Duration { return r.interval }

// TTL is how long an instance stays listed after its last heartbeat.
func (r *Registry) TTL() time.Duration { return r.ttl }

// Self is this process's record as of now (heartbeat time and slots included).
func (r *Registry) Self() Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshot()
}

// snapshot is Self with r.mu held: it stamps the heartbeat time and reads the slots.
func (r *Registry) snapshot() Instance {
	r.self.Heartbeat = r.now()
	if r.slots != nil {
		r.self.SlotsInUse, r.self.SlotCapacity = r.slots()
	}
	return r.self
}

// SetAddress changes the advertised address (once the server is bound); the next heartbeat
// publishes it. Call Beat to publish it at once.
func (r *Registry) SetAddress(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.self.Address = addr
}

// Start registers this process (a first heartbeat) and heartbeats every Interval until Stop.
// A failed heartbeat is logged and tried again at the next interval: the registry is
// informational, so Redis being down at start-up is not a reason to refuse to start. Calling it
// on a running Registry does nothing; after Stop it starts again. Cancelling ctx does not stop
// it. Without Redis there is nothing to run.
//
// Stop (startstop.BaseStartStop's) ends the heartbeats and deregisters this process, so it
// drops out of every listing at once; it returns once deregistered. Idempotent.
func (r *Registry) Start(ctx context.Context) error {
	if r.client == nil {
		return nil
	}
	runCtx, shouldStart, started, stopped := r.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // running already
	}
	if err := r.Beat(ctx); err != nil {
		r.logger.WarnContext(ctx, "instance registration failed; retrying at each heartbeat", slog.Any("error", err))
	}
	go func() {
		defer stopped()
		started()
		r.loop(runCtx)
		r.deregisterSelf()
	}()
	return nil
}

func (r *Registry) loop(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Beat(context.Background())
		}
	}
}

// deregisterSelf removes this process's record (Stop's last step).
func (r *Registry) deregisterSelf() {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := r.deregister(ctx, r.self.ID); err != nil {
		r.logger.Warn("instance deregistration failed; it drops out of the registry after its TTL", slog.String("instance_id", r.self.ID), slog.Duration("ttl", r.ttl), slog.Any("error", err))
	}
}

// Beat writes this process's record now, with a fresh TTL. Failures are logged (the first of
// a streak as a warning, the recovery as info) and returned.
func (r *Registry) Beat(ctx context.Context) error {
	if r.client == nil {
		return nil
	}
	r.mu.Lock()
	self := r.snapshot()
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := r.beat(ctx, self)
	r.mu.Lock()
	wasFailing := r.failed
	r.failed = err != nil
	r.mu.Unlock()
	switch {
	case err != nil && !wasFailing:
		r.logger.Warn("instance heartbeat failed; this instance drops out of the registry if it lasts", slog.String("instance_id", self.ID), slog.Duration("ttl", r.ttl), slog.Any("error", err))
	case err == nil && wasFailing:
		r.logger.Info("instance heartbeat succeeds again", slog.String("instance_id", self.ID))
	}
	if r.onBeat != nil {
		r.onBeat(err)
	}
	return err
}

// List returns the live instances, sorted by role, then id. Without Redis it is this process
// alone. On an error it returns no instance, so a caller never mistakes a failed listing for
// an installation of one (Self is at hand for that).
func (r *Registry) List(ctx context.Context) ([]Instance, error) {
	if r.client == nil {
		return []Instance{r.Self()}, nil
	}
	list, err := r.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	slices.SortFunc(list, func(a, b Instance) int {
		return cmp.Or(strings.Compare(a.Role, b.Role), strings.Compare(a.ID, b.ID))
	})
	return list, nil
}

// LiveIDs returns the ids of the live instances (List's), as a set: the queue consumers that
// must not be pruned.
func (r *Registry) LiveIDs(ctx context.Context) (map[string]bool, error) {
	list, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(list))
	for _, in := range list {
		ids[in.ID] = true
	}
	return ids, nil
}
