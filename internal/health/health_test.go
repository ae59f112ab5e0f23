package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/registry"
)

var fixedNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type testBundle struct {
	checker *health.Checker
	mux     *http.ServeMux
}

func setup(t *testing.T, opts health.Options) *testBundle {
	t.Helper()
	if opts.Version == "" {
		opts.Version = "v1.2.3"
	}
	opts.Now = func() time.Time { return fixedNow }
	c := health.NewChecker(opts)
	mux := http.NewServeMux()
	c.Mount(mux)
	return &testBundle{checker: c, mux: mux}
}

func (b *testBundle) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	b.mux.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
	return rec
}

func ok(context.Context) error { return nil }

func TestCheckHealthy(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	b.checker.Register("database", ok)
	b.checker.Register("redis", ok)

	report := b.checker.Check(t.Context())
	is.Equal(report.Status, health.StatusHealthy)
	is.Equal(report.Version, "v1.2.3")
	is.Equal(report.Timestamp, fixedNow)
	is.Equal(len(report.Dependencies), 2)
	is.Equal(report.Dependencies["database"].Status, health.StatusHealthy)
	is.Equal(report.Dependencies["database"].Error, "")
	is.True(report.Healthy())
}

func TestCheckNoDependencies(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})

	report := b.checker.Check(t.Context())
	is.Equal(report.Status, health.StatusHealthy)
	is.True(report.Dependencies != nil) // marshals as {} rather than null
}

func TestCheckUnhealthy(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	b.checker.Register("database", ok)
	b.checker.Register("redis", func(context.Context) error { return errors.New("connection refused") })

	report := b.checker.Check(t.Context())
	is.Equal(report.Status, health.StatusUnhealthy)
	is.Equal(report.Dependencies["database"].Status, health.StatusHealthy)
	is.Equal(report.Dependencies["redis"].Status, health.StatusUnhealthy)
	is.Equal(report.Dependencies["redis"].Error, "connection refused")
}

func TestCheckTimeoutAndPanic(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{Timeout: 20 * time.Millisecond})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	b.checker.Register("honours ctx", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	b.checker.Register("ignores ctx", func(context.Context) error {
		<-release // hangs until the test ends
		return nil
	})
	b.checker.Register("panics", func(context.Context) error { panic("boom") })

	start := time.Now()
	report := b.checker.Check(t.Context())
	is.True(time.Since(start) < time.Second) // a hanging check does not hold the report
	is.Equal(report.Status, health.StatusUnhealthy)
	for _, name := range []string{"honours ctx", "ignores ctx", "panics"} {
		is.Equal(report.Dependencies[name].Status, health.StatusUnhealthy) // name
	}
	is.True(strings.Contains(report.Dependencies["ignores ctx"].Error, "no answer within 20ms"))
	is.True(strings.Contains(report.Dependencies["panics"].Error, "boom"))
}

func TestChecksRunConcurrently(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	// Each check waits for the other: only concurrent checks both succeed.
	a, c := make(chan struct{}), make(chan struct{})
	b.checker.Register("a", func(ctx context.Context) error {
		close(a)
		select {
		case <-c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	b.checker.Register("c", func(ctx context.Context) error {
		close(c)
		select {
		case <-a:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	is.Equal(b.checker.Check(t.Context()).Status, health.StatusHealthy)
}

func TestHealthHandler(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	b.checker.Register("database", ok)

	rec := b.get(t, "/health")
	is.Equal(rec.Code, http.StatusOK)
	is.Equal(rec.Header().Get("Content-Type"), "application/json")

	var body map[string]any
	is.NoErr(json.Unmarshal(rec.Body.Bytes(), &body))
	is.Equal(body["status"], "healthy")
	is.Equal(body["timestamp"], "2025-01-02T03:04:05Z")
	is.Equal(body["version"], "v1.2.3")
	db := body["dependencies"].(map[string]any)["database"].(map[string]any)
	is.Equal(db["status"], "healthy")
	_, hasLatency := db["latency_ms"].(float64)
	is.True(hasLatency)        // latency_ms is a number
	is.Equal(db["error"], nil) // no error key when healthy

	b.checker.Register("database", func(context.Context) error { return errors.New("down") })
	rec = b.get(t, "/health")
	is.Equal(rec.Code, http.StatusServiceUnavailable)
	var report health.Report
	is.NoErr(json.Unmarshal(rec.Body.Bytes(), &report))
	is.Equal(report.Status, health.StatusUnhealthy)
	is.Equal(report.Dependencies["database"].Error, "down")
}

func TestLivezAndReadyz(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	var dbErr error
	b.checker.Register("database", func(context.Context) error { return dbErr })

	is.Equal(b.get(t, "/livez").Code, http.StatusOK)                  // alive while starting
	is.Equal(b.get(t, "/readyz").Code, http.StatusServiceUnavailable) // not ready before start-up finished

	b.checker.SetReady(true)
	is.Equal(b.get(t, "/readyz").Code, http.StatusOK)

	dbErr = errors.New("connection refused")
	rec := b.get(t, "/readyz")
	is.Equal(rec.Code, http.StatusServiceUnavailable) // a dependency is down
	is.True(strings.Contains(rec.Body.String(), "database: connection refused"))
	is.Equal(b.get(t, "/livez").Code, http.StatusOK) // liveness ignores dependencies

	dbErr = nil
	b.checker.SetReady(false)                                         // shutdown began
	is.Equal(b.get(t, "/readyz").Code, http.StatusServiceUnavailable) // not ready during shutdown
	is.Equal(b.get(t, "/livez").Code, http.StatusOK)
}

// TestReadyzOptional: a dependency registered as optional shows in /health but does not make
// the process unready; a required one does.
func TestReadyzOptional(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	var dbErr error
	b.checker.Register("database", func(context.Context) error { return dbErr })
	b.checker.RegisterOptional("redis", func(context.Context) error { return errors.New("connection refused") })
	b.checker.SetReady(true)

	is.Equal(b.get(t, "/readyz").Code, http.StatusOK) // Redis is not needed for readiness
	is.NoErr(b.checker.Readiness(t.Context()))
	rec := b.get(t, "/health")
	is.Equal(rec.Code, http.StatusServiceUnavailable) // /health still reports it
	var report health.Report
	is.NoErr(json.Unmarshal(rec.Body.Bytes(), &report))
	is.True(report.Dependencies["redis"].Optional)
	is.True(!report.Dependencies["database"].Optional)

	dbErr = errors.New("connection refused")
	rec = b.get(t, "/readyz")
	is.Equal(rec.Code, http.StatusServiceUnavailable) // a required one is down
	is.Equal(strings.TrimSpace(rec.Body.String()), "not ready: database: connection refused")
}

func TestGRPCChecker(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const service = "workflowruntime.v1.WorkflowRuntimeService"
	b := setup(t, health.Options{})
	b.checker.RegisterService(service)
	var dbErr error
	b.checker.Register("database", func(context.Context) error { return dbErr })
	g := b.checker.GRPC()

	status := func(name string) grpchealth.Status {
		res, err := g.Check(t.Context(), &grpchealth.CheckRequest{Service: name})
		is.NoErr(err)
		return res.Status
	}
	is.Equal(status(""), grpchealth.StatusNotServing) // before start-up
	is.Equal(status(service), grpchealth.StatusNotServing)

	b.checker.SetReady(true)
	is.Equal(status(""), grpchealth.StatusServing)
	is.Equal(status(service), grpchealth.StatusServing)

	dbErr = errors.New("down")
	is.Equal(status(service), grpchealth.StatusNotServing) // a dependency is down
	dbErr = nil

	_, err := g.Check(t.Context(), &grpchealth.CheckRequest{Service: "other.v1.Service"})
	is.Equal(connect.CodeOf(err), connect.CodeNotFound) // unknown service

	watcher, isWatcher := g.(grpchealth.Watcher)
	is.True(isWatcher)
	changed := make(chan struct{}, 1)
	stop, err := watcher.Watch(t.Context(), &grpchealth.CheckRequest{Service: service}, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	is.NoErr(err)
	defer stop()
	b.checker.SetReady(false) // shutdown began
	<-changed                 // the watcher hears of it
	is.Equal(status(service), grpchealth.StatusNotServing)
	is.Equal(status(""), grpchealth.StatusNotServing)
}

// fakeRegistry lists fixed instances, or fails.
type fakeRegistry struct {
	list []registry.Instance
	err  error
	self registry.Instance
}

func (f fakeRegistry) List(context.Context) ([]registry.Instance, error) { return f.list, f.err }
func (f fakeRegistry) Self() registry.Instance                           { return f.self }

func TestReportInstancesByRole(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	b.checker.Register("database", ok)
	is.Equal(b.checker.Check(t.Context()).Instances, map[string][]registry.Instance(nil)) // no registry: none
	w1 := registry.Instance{ID: "w1", Role: "worker", Address: "10.0.0.1:8080", SlotsInUse: 2, SlotCapacity: 8, Heartbeat: fixedNow}
	w2 := registry.Instance{ID: "w2", Role: "worker", Address: "10.0.0.2:8080"}
	a1 := registry.Instance{ID: "a1", Role: "api", Address: "10.0.0.3:8080"}
	b.checker.SetRegistry(fakeRegistry{list: []registry.Instance{a1, w1, w2}, self: a1})

	report := b.checker.Check(t.Context())
	is.Equal(report.Instances, map[string][]registry.Instance{"api": {a1}, "worker": {w1, w2}})
	is.Equal(report.InstancesError, "")

	rec := b.get(t, "/health")
	is.Equal(rec.Code, http.StatusOK)
	var body struct {
		Instances map[string][]map[string]any `json:"instances"`
	}
	is.NoErr(json.Unmarshal(rec.Body.Bytes(), &body))
	is.Equal(len(body.Instances["worker"]), 2)
	first := body.Instances["worker"][0]
	is.Equal(first["id"], "w1")
	is.Equal(first["address"], "10.0.0.1:8080")
	is.Equal(first["slots_in_use"], 2.0)
	is.Equal(first["slot_capacity"], 8.0)
	is.Equal(first["last_heartbeat"], "2025-01-02T03:04:05Z")
}

// TestReportInstancesError: a registry that cannot be listed leaves this process alone in the
// report, and says why; the dependencies say what is down.
func TestReportInstancesError(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	self := registry.Instance{ID: "me", Role: "api"}
	b.checker.SetRegistry(fakeRegistry{err: errors.New("redis: connection refused"), self: self})
	report := b.checker.Check(t.Context())
	is.Equal(report.Instances, map[string][]registry.Instance{"api": {self}})
	is.Equal(report.InstancesError, "redis: connection refused")
	is.True(report.Healthy()) // the listing is not a dependency
}

// TestDependenciesReady: the required dependencies alone, whatever the readiness flag, so a
// worker can ask before start-up has finished.
func TestDependenciesReady(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, health.Options{})
	var down atomic.Bool
	b.checker.Register("database", func(context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	b.checker.RegisterOptional("workflow_engine", func(context.Context) error { return errors.New("down") })
	is.True(b.checker.Readiness(t.Context()) != nil) // not started
	is.NoErr(b.checker.DependenciesReady(t.Context()))
	down.Store(true)
	err := b.checker.DependenciesReady(t.Context())
	is.True(err != nil)
	is.Equal(err.Error(), "database: connection refused") // the optional one is not named
}
