// Package health answers "is this process alive, ready, and are its dependencies answering?"
// for three audiences: people and dashboards (GET /health, the seed's JSON), Kubernetes probes
// (GET /livez, GET /readyz) and gRPC clients (grpc.health.v1.Health).
//
// A Checker holds named dependency checks (the database, Redis, a remote engine). Check runs
// them concurrently, each under its own timeout, and reports every one. Readiness is a flag the
// owner sets (true once start-up has finished, false again as soon as shutdown begins, so load
// balancers stop sending work before connections close) and the checks the process's role
// needs to do its job (Register); a dependency it can work without is registered with
// RegisterOptional: /health reports it, /readyz does not wait for it. DependenciesReady is the
// dependency half alone, which a worker asks before it takes work.
//
// With an instance registry (SetRegistry, internal/registry) the report also lists the live
// instances of the installation by role, as GetSystemHealth does.
package health

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/workflow-runtime/workflow-runtime/internal/registry"
)

// The statuses of a Report and of each Dependency.
const (
	StatusHealthy   = "healthy"
	StatusUnhealthy = "unhealthy"
)

// DefaultTimeout is how long one dependency check may take when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// CheckFunc checks one dependency: nil when it answers. It must honour ctx's deadline.
type CheckFunc func(ctx context.Context) error

// Dependency is the outcome of one check.
type Dependency struct {
	// Status is StatusHealthy or StatusUnhealthy.
	Status string `json:"status"`
	// LatencyMs is how long the check took, in milliseconds.
	LatencyMs float64 `json:"latency_ms"`
	// Error says why the dependency is unhealthy; empty when healthy.
	Error string `json:"error,omitempty"`
	// Optional is true for a dependency readiness does not require (RegisterOptional).
	Optional bool `json:"optional,omitempty"`
}

// Report is the outcome of Check, marshalled as the /health body:
//
//	{"status":"healthy","timestamp":"2025-01-02T03:04:05Z","version":"v1.2.3",
//	 "dependencies":{"database":{"status":"healthy","latency_ms":0.4}},
//	 "instances":{"worker":[{"id":"w1-7-1a2b3c4d","role":"worker","version":"v1.2.3",
//	   "address":"10.0.3.7:8080","start_time":"…","last_heartbeat":"…",
//	   "slots_in_use":3,"slot_capacity":128}]}}
type Report struct {
	// Status is StatusHealthy when every dependency is, otherwise StatusUnhealthy.
	Status string `json:"status"`
	// Timestamp is when the checks started (UTC).
	Timestamp time.Time `json:"timestamp"`
	// Version is the server's version.
	Version string `json:"version"`
	// Dependencies has one entry per registered check; never nil.
	Dependencies map[string]Dependency `json:"dependencies"`
	// Instances are the live instances of the installation by role, each role's by id (the
	// instance registry); absent without a registry (SetRegistry). When the registry cannot be
	// listed, this process alone, and InstancesError says why.
	Instances map[string][]registry.Instance `json:"instances,omitempty"`
	// InstancesError says why the registry could not be listed; empty when it was.
	InstancesError string `json:"instances_error,omitempty"`
}

// Healthy reports whether every dependency is healthy.
func (r Report) Healthy() bool { return r.Status == StatusHealthy }

// Options configures a Checker.
type Options struct {
	// Version is reported in every Report. Default "dev".
	Version string
	// Timeout bounds each check. Default DefaultTimeout (2 s).
	Timeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Checker runs the registered dependency checks and tracks readiness. Its zero value is not
// usable; build one with NewChecker. Safe for concurrent use.
type Checker struct {
	version string
	timeout time.Duration
	now     func() time.Time

	mu       sync.RWMutex
	checks   map[string]check
	services []string // gRPC service names answered besides ""
	registry Registry // nil: no instances reported

	ready atomic.Bool
	// grpcStatus follows ready for the gRPC health protocol's Watch; see grpc.go.
	grpcStatus *grpchealth.StaticChecker
}

// NewChecker returns a Checker with no checks, not ready.
func NewChecker(opts Options) *Checker {
	c := &Checker{
		version:    cmp.Or(opts.Version, "dev"),
		timeout:    cmp.Or(opts.Timeout, DefaultTimeout),
		now:        opts.Now,
		checks:     make(map[string]check),
		grpcStatus: grpchealth.NewStaticChecker(),
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.SetReady(false)
	return c
}

// Registry lists the live instances of the installation (registry.Registry implements it).
type Registry interface {
	// List returns the live instances, sorted by role then id.
	List(ctx context.Context) ([]registry.Instance, error)
	// Self is this process's record.
	Self() registry.Instance
}

// SetRegistry makes Check report the live instances r lists.
func (c *Checker) SetRegistry(r Registry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.registry = r
}

// check is one registered check.
type check struct {
	fn       CheckFunc
	optional bool
}

// Register adds (or replaces) the check named name, e.g. "database": a dependency the process
// needs to do its job, so readiness requires it.
func (c *Checker) Register(name string, fn CheckFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks[name] = check{fn: fn}
}

// RegisterOptional adds (or replaces) the check named name for a dependency the process can
// do its job without (an api replica records triggers with Redis down): /health reports it,
// readiness does not require it.
func (c *Checker) RegisterOptional(name string, fn CheckFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks[name] = check{fn: fn, optional: true}
}

// Readiness says whether the process can do its job: nil once start-up has finished and while
// every required dependency answers, otherwise an error that says why. /readyz answers by it.
func (c *Checker) Readiness(ctx context.Context) error {
	if !c.Ready() {
		return errors.New("starting or shutting down")
	}
	return c.DependenciesReady(ctx)
}

// DependenciesReady says whether every required dependency answers (Register), whatever the
// readiness flag: nil when they do, otherwise an error naming each that does not and why. A
// worker asks it before it takes work, also while the process is still starting.
func (c *Checker) DependenciesReady(ctx context.Context) error {
	report := c.check(ctx, true)
	if report.Healthy() {
		return nil
	}
	var reasons []string
	for _, name := range slices.Sorted(maps.Keys(report.Dependencies)) {
		if dep := report.Dependencies[name]; dep.Status != StatusHealthy {
			reasons = append(reasons, fmt.Sprintf("%s: %s", name, dep.Error))
		}
	}
	return errors.New(strings.Join(reasons, "; "))
}

// RegisterService makes the gRPC health protocol answer for service (a fully-qualified
// protobuf service name) besides "" (the whole server), with the same status.
func (c *Checker) RegisterService(service string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.services, service) {
		c.services = append(c.services, service)
		c.grpcStatus.SetStatus(service, grpcStatusOf(c.ready.Load()))
	}
}

// SetReady marks start-up as finished (true) or shutdown as begun (false). /readyz and the gRPC
// health protocol answer NOT ready / NOT_SERVING while it is false.
func (c *Checker) SetReady(ready bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready.Store(ready)
	status := grpcStatusOf(ready)
	c.grpcStatus.SetStatus("", status)
	for _, s := range c.services {
		c.grpcStatus.SetStatus(s, status)
	}
}

// Ready reports the last SetReady (false before the first).
func (c *Checker) Ready() bool { return c.ready.Load() }

// Version is the version reported in every Report.
func (c *Checker) Version() string { return c.version }

// Check runs every registered check concurrently, each bounded by the checker's timeout (and by
// ctx), and reports them all. A check that panics or overruns its timeout is unhealthy. With a
// registry, it lists the live instances at the same time, under the same timeout.
func (c *Checker) Check(ctx context.Context) Report {
	c.mu.RLock()
	reg := c.registry
	c.mu.RUnlock()
	if reg == nil {
		return c.check(ctx, false)
	}
	type listing struct {
		instances []registry.Instance
		err       error
	}
	listed := make(chan listing, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		list, err := reg.List(ctx)
		listed <- listing{list, err}
	}()
	report := c.check(ctx, false)
	l := <-listed
	if l.err != nil {
		report.InstancesError = l.err.Error()
		l.instances = []registry.Instance{reg.Self()}
	}
	report.Instances = registry.ByRole(l.instances)
	return report
}

// check is Check, of the required checks only when requiredOnly.
func (c *Checker) check(ctx context.Context, requiredOnly bool) Report {
	c.mu.RLock()
	checks := maps.Clone(c.checks)
	c.mu.RUnlock()
	if requiredOnly {
		maps.DeleteFunc(checks, func(_ string, ch check) bool { return ch.optional })
	}

	report := Report{
		Status:       StatusHealthy,
		Timestamp:    c.now().UTC(),
		Version:      c.version,
		Dependencies: make(map[string]Dependency, len(checks)),
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for name, ch := range checks {
		wg.Go(func() {
			dep := c.run(ctx, ch.fn)
			dep.Optional = ch.optional
			mu.Lock()
			defer mu.Unlock()
			report.Dependencies[name] = dep
			if dep.Status != StatusHealthy {
				report.Status = StatusUnhealthy
			}
		})
	}
	wg.Wait()
	return report
}

// run runs one check under the timeout. The check runs in its own goroutine so that one that
// ignores its context still cannot hold the report past the timeout (it is left to finish).
func (c *Checker) run(ctx context.Context, check CheckFunc) Dependency {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("check panicked: %v", r)
			}
		}()
		done <- check(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("no answer within %s: %w", c.timeout, context.Cause(ctx))
	}
	dep := Dependency{Status: StatusHealthy, LatencyMs: milliseconds(time.Since(start))}
	if err != nil {
		dep.Status = StatusUnhealthy
		dep.Error = err.Error()
	}
	return dep
}

// milliseconds is d in milliseconds, rounded to the microsecond.
func milliseconds(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
