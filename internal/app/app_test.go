package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
)

func start(t *testing.T, role config.Role) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.Role = role
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = "sqlite::memory:"
	a, err := app.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		_ = a.Stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return a
}

// httpGet GETs url within the test's context and fails the test when there is no answer. The
// caller closes the body.
func httpGet(t *testing.T, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func getHealth(t *testing.T, url string) health.Report {
	t.Helper()
	res := httpGet(t, url+"/health")
	defer func() { _ = res.Body.Close() }()
	var report health.Report
	if err := json.NewDecoder(res.Body).Decode(&report); err != nil {
		t.Fatal(err)
	}
	return report
}

func TestRoleAllServesAPIAndHealth(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := start(t, config.RoleAll)
	url := "http://" + a.Addr()

	report := getHealth(t, url)
	is.Equal(report.Status, health.StatusHealthy)
	is.Equal(report.Dependencies["database"].Status, health.StatusHealthy) // the store is checked

	client := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, url)
	res, err := client.ListDeployments(t.Context(), &workflowruntimev1.ListDeploymentsRequest{})
	is.NoErr(err) // migrated and served
	is.Equal(len(res.GetDeployments()), 0)

	is.NoErr(a.Stop(context.Background()))
	is.NoErr(a.Stop(context.Background())) // idempotent
}

func TestRoleEngineServesHealthOnly(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := start(t, config.RoleEngine)
	url := "http://" + a.Addr()

	report := getHealth(t, url)
	is.Equal(report.Status, health.StatusHealthy)
	is.Equal(len(report.Dependencies), 0) // no database for the engine

	client := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, url)
	_, err := client.ListDeployments(t.Context(), &workflowruntimev1.ListDeploymentsRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeUnimplemented) // the API is not served by this role
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = "sqlite::memory:"
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // signalled during start-up: Run stops what started and reports no failure
	is.NoErr(app.Run(ctx, cfg, slog.New(slog.DiscardHandler)))
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := config.Default()
	cfg.DatabaseURL = "mysql://db"
	_, err := app.New(cfg, slog.New(slog.DiscardHandler))
	is.True(err != nil) // names WFR_DATABASE_URL
}

func TestProfilerServesOnItsOwnAddressOnly(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0") // a free port for the profiler
	is.NoErr(err)
	pprofAddr := ln.Addr().String()
	is.NoErr(ln.Close())

	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = "sqlite::memory:"
	cfg.PprofAddr = pprofAddr
	a, err := app.New(cfg, slog.New(slog.DiscardHandler))
	is.NoErr(err)
	is.NoErr(a.Start(t.Context()))
	t.Cleanup(func() { _ = a.Stop(context.Background()) })

	get := func(url string) int {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		is.NoErr(err)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer func() { _ = res.Body.Close() }()
		return res.StatusCode
	}
	is.Equal(get("http://"+pprofAddr+"/debug/pprof/cmdline"), http.StatusOK)
	is.Equal(get("http://"+pprofAddr+"/debug/pprof/goroutine?debug=1"), http.StatusOK)
	is.Equal(get("http://"+a.Addr()+"/debug/pprof/cmdline"), http.StatusNotFound) // not on the API's listener

	is.NoErr(a.Stop(context.Background()))
	is.Equal(get("http://"+pprofAddr+"/debug/pprof/cmdline"), 0) // closed with the process
}
