package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	workflowenginev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1/workflowenginev1connect"
	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// startConfig starts an App of cfg (Addr 127.0.0.1:0), stopped when the test ends.
func startConfig(t *testing.T, cfg config.Config) *app.App {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
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

// h2cClient speaks cleartext HTTP/2 with prior knowledge, as the service's clients do.
func h2cClient() *http.Client {
	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: transport}
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	res := httpGet(t, url)
	_ = res.Body.Close()
	return res.StatusCode
}

func TestRoleEngineServesWorkflowEngineService(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := start(t, config.RoleEngine)
	client := workflowenginev1connect.NewWorkflowEngineServiceClient(h2cClient(), "http://"+a.Addr())

	res, err := client.ExecuteWorkflow(t.Context(), &workflowenginev1.ExecuteWorkflowRequest{
		ExecutionId: "0b9d1c57-5c4a-4a43-9d43-4c3b1f1f8a10",
		WorkflowId:  "wf",
		Revision:    1,
		Attempt:     1,
		Input:       `{"who":"engine"}`,
		Definition: &workflowruntimev1.WorkflowDefinition{
			Id:    "wf",
			Name:  "wf",
			Nodes: []*workflowruntimev1.Node{{Id: "a", Type: "noop"}},
		},
	})
	is.NoErr(err)
	is.True(res.GetSuccess() != nil) // the noop workflow succeeded
	is.True(res.GetFailure() == nil)

	_, err = client.ExecuteWorkflow(t.Context(), &workflowenginev1.ExecuteWorkflowRequest{ExecutionId: "x"})
	is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument) // no definition
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "wfr.db")
	is.NoErr(app.Migrate(t.Context(), cfg, slog.New(slog.DiscardHandler)))
	is.NoErr(app.Migrate(t.Context(), cfg, slog.New(slog.DiscardHandler))) // applied migrations are skipped

	db, err := store.Open(t.Context(), cfg.DatabaseURL, store.Options{})
	is.NoErr(err)
	defer func() { _ = db.Close() }()
	var n int
	is.NoErr(db.Bun().NewRaw("SELECT count(*) FROM executions").Scan(t.Context(), &n)) // the tables exist
	is.Equal(n, 0)

	// A role that does not migrate on start serves the migrated database.
	cfg.MigrateOnStart = false
	a := startConfig(t, cfg)
	is.Equal(statusOf(t, "http://"+a.Addr()+"/readyz"), http.StatusOK)
}

func TestMigrateFailsWithoutDatabase(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := config.Default()
	cfg.DatabaseURL = "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2" // nothing listens
	is.True(app.Migrate(t.Context(), cfg, slog.New(slog.DiscardHandler)) != nil)
}

func TestStartFailsOnUnreachableRedis(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = "sqlite::memory:"
	cfg.RedisURL = "redis://127.0.0.1:1/0" // nothing listens on port 1
	a, err := app.New(cfg, slog.New(slog.DiscardHandler))
	is.NoErr(err)
	err = a.Start(t.Context())
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "connect to redis")) // says what failed
	is.Equal(a.Addr(), "")                                     // the server never started
	is.NoErr(a.Stop(context.Background()))                     // what did start (the store) is released

	// Run reports the failure when it was not asked to stop.
	err = app.Run(t.Context(), cfg, slog.New(slog.DiscardHandler))
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "connect to redis"))
}

func TestStartFailsOnBusyAddr(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	first := start(t, config.RoleAll)
	cfg := config.Default()
	cfg.Addr = first.Addr() // taken
	cfg.DatabaseURL = "sqlite::memory:"
	a, err := app.New(cfg, slog.New(slog.DiscardHandler))
	is.NoErr(err)
	err = a.Start(t.Context())
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "start http server"))
	is.Equal(a.Addr(), "")
	is.NoErr(a.Stop(context.Background())) // the workers that started are stopped
}

// TestRolesAPIWorkerEngine runs the distributed deployment in one process: an engine role, a
// worker role calling it over WFR_ENGINE_URL, and an api role, on one PostgreSQL schema and one
// Redis database. A triggered execution goes through the Redis queue to the worker, which runs
// it on the remote engine.
func TestRolesAPIWorkerEngine(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	databaseURL := storetest.PostgresSchemaURL(t)
	redisURL := testenv.RedisDatabase(t)

	cfg := config.Default()
	cfg.DatabaseURL = databaseURL
	cfg.RedisURL = redisURL
	is.NoErr(app.Migrate(t.Context(), cfg, slog.New(slog.DiscardHandler)))
	cfg.MigrateOnStart = false

	engineCfg := config.Default()
	engineCfg.Role = config.RoleEngine
	engineCfg.RedisURL = redisURL // to register
	eng := startConfig(t, engineCfg)

	workerCfg := cfg
	workerCfg.Role = config.RoleWorker
	workerCfg.EngineURL = "http://" + eng.Addr()
	worker := startConfig(t, workerCfg)

	apiCfg := cfg
	apiCfg.Role = config.RoleAPI
	api := startConfig(t, apiCfg)

	for _, a := range []*app.App{eng, worker, api} {
		is.Equal(statusOf(t, "http://"+a.Addr()+"/readyz"), http.StatusOK) // every role is ready
	}
	report := getHealth(t, "http://"+worker.Addr())
	is.Equal(report.Status, health.StatusHealthy)
	is.Equal(report.Dependencies["redis"].Status, health.StatusHealthy)
	is.Equal(report.Dependencies["workflow_engine"].Status, health.StatusHealthy) // the remote engine answers /livez
	is.Equal(report.Dependencies["database"].Status, health.StatusHealthy)

	// The worker does not serve the API.
	workerAPI := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, "http://"+worker.Addr())
	_, err := workerAPI.ListDeployments(t.Context(), &workflowruntimev1.ListDeploymentsRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeUnimplemented)

	client := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(h2cClient(), "http://"+api.Addr())
	// Every role is listed, where it serves, the worker with its slots.
	sys, err := client.GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.NoErr(err)
	listed := map[string]*workflowruntimev1.RoleInstance{}
	for _, in := range sys.GetInstances() {
		listed[in.GetRole()] = in
	}
	is.Equal(len(sys.GetInstances()), 3) // api, engine, worker
	is.Equal(listed["api"].GetAddress(), api.Addr())
	is.Equal(listed["engine"].GetAddress(), eng.Addr())
	is.Equal(listed["worker"].GetAddress(), worker.Addr())
	is.Equal(listed["worker"].GetSlotCapacity(), int32(128))
	is.Equal(listed["api"].GetSlotCapacity(), int32(0))
	is.True(listed["worker"].GetLastHeartbeat().IsValid())
	is.Equal(report.Instances["worker"][0].ID, listed["worker"].GetId()) // /health lists the same
	is.Equal(len(report.Instances["engine"]), 1)

	_, err = client.DeployWorkflow(t.Context(), &workflowruntimev1.DeployWorkflowRequest{
		Definition: &workflowruntimev1.WorkflowDefinition{
			Id: "roles", Name: "roles", Nodes: []*workflowruntimev1.Node{{Id: "a", Type: "noop"}},
		},
	})
	is.NoErr(err)
	trig, err := client.TriggerWorkflow(t.Context(), &workflowruntimev1.TriggerWorkflowRequest{
		Target: &workflowruntimev1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "roles"},
	})
	is.NoErr(err)
	status := waitExecution(t, client, trig.GetExecution().GetId()).GetStatus()
	is.Equal(status, workflowruntimev1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // run by the worker on the remote engine

	// The engine going away is seen by the worker's health, and it leaves the registry at once.
	is.NoErr(eng.Stop(context.Background()))
	report = getHealth(t, "http://"+worker.Addr())
	is.True(report.Dependencies["workflow_engine"].Status != health.StatusHealthy)
	is.Equal(len(report.Instances["engine"]), 0)
	is.Equal(len(report.Instances["worker"]), 1)
}

// TestEngineRegistersWithoutRedisAnswering: the engine role needs Redis only to register, so it
// starts and stays ready without it; /health then lists it alone and says why.
func TestEngineRegistersWithoutRedisAnswering(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := config.Default()
	cfg.Role = config.RoleEngine
	cfg.RedisURL = "redis://127.0.0.1:1/0" // nothing listens on port 1
	cfg.AdvertiseAddr = "engine-0.wfr.svc:9000"
	eng := startConfig(t, cfg)
	is.Equal(statusOf(t, "http://"+eng.Addr()+"/readyz"), http.StatusOK) // Redis is not required
	report := getHealth(t, "http://"+eng.Addr())
	is.True(report.Dependencies["redis"].Optional)
	is.True(report.InstancesError != "")
	is.Equal(len(report.Instances["engine"]), 1)
	is.Equal(report.Instances["engine"][0].Address, "engine-0.wfr.svc:9000") // WFR_ADVERTISE_ADDR
}

// TestEmbeddedListsItself: without Redis the registry is this process alone, at the address it
// listens on, with its worker's slots.
func TestEmbeddedListsItself(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := start(t, config.RoleAll)
	is.NoErr(a.Readiness(t.Context()))
	report := getHealth(t, "http://"+a.Addr())
	is.Equal(report.InstancesError, "")
	is.Equal(len(report.Instances), 1)
	self := report.Instances["all"]
	is.Equal(len(self), 1)
	is.Equal(self[0].Address, a.Addr()) // the bound port, not :0
	is.Equal(self[0].SlotCapacity, 128)
	is.Equal(self[0].Version, app.Version)
}
