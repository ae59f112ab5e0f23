package api_test

// The API benchmarks: DeployWorkflow and ListDeployments through the whole
// server stack (httpserver, interceptors, handler, deployments service, PostgreSQL) over Connect
// binary on cleartext HTTP/2, each next to a baseline measured in the same run — a test-only
// handler on the same server set-up that answers GetDeploymentStatus with a canned response and
// touches no storage. The x_baseline metric is a benchmark's ns/op over the baseline's: what the
// storage and domain work cost on top of the transport.
//
//	WFR_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench . -benchtime=3s ./internal/api
//
// Without WFR_TEST_DATABASE_URL the benchmarks are skipped.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// parallelism × GOMAXPROCS goroutines call the server at once.
const parallelism = 8

// Sizes of the ListDeployments benchmark.
const (
	listDeployments = 1000
	listPageSize    = 50
)

// BenchmarkAPI runs the baseline first, then each real RPC, and reports each RPC's ns/op as a
// multiple of the baseline's (x_baseline), plus latency percentiles of single calls.
func BenchmarkAPI(b *testing.B) {
	storetest.PostgresURL(b) // skip (or, under CI=true, fail) before anything starts
	// Set up once: a benchmark with sub-benchmarks runs its own body once; each sub-benchmark
	// body runs once per b.N round.
	baselineClient := newClient(b, startServer(b, &cannedHandler{}))
	deployClient := newClient(b, startServer(b, realHandler(b, openPostgres(b))))
	listClient := newClient(b, startServer(b, realHandler(b, openPostgres(b))))
	tokens := seedForList(b, listClient)

	var baselineNsPerOp float64
	baseline := func(b *testing.B) {
		req := &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: "canned"}}
		baselineNsPerOp = measure(b, func(ctx context.Context, _ int64) error {
			_, err := baselineClient.GetDeploymentStatus(ctx, req)
			return err
		})
	}
	// ratio reports x_baseline. A -bench filter that leaves the baseline out gets no ratio:
	// measuring it here with testing.Benchmark would wait for the benchmark lock this
	// benchmark holds, for ever.
	ratio := func(b *testing.B, nsPerOp float64) {
		if baselineNsPerOp == 0 {
			b.Log("no x_baseline: the -bench filter left BenchmarkAPI/baseline out")
			return
		}
		b.ReportMetric(nsPerOp/baselineNsPerOp, "x_baseline")
	}

	b.Run("baseline", baseline)

	var deployed atomic.Int64 // workflow ids unique across rounds
	b.Run("deploy", func(b *testing.B) {
		ns := measure(b, func(ctx context.Context, _ int64) error {
			_, err := deployClient.DeployWorkflow(ctx, deployRequest(fmt.Sprintf("deploy-%d", deployed.Add(1))))
			return err
		})
		ratio(b, ns)
	})

	b.Run("trigger", func(b *testing.B) {
		wf := fmt.Sprintf("trigger-%d", deployed.Add(1))
		if _, err := deployClient.DeployWorkflow(context.Background(), &v1.DeployWorkflowRequest{
			Definition: &v1.WorkflowDefinition{Id: wf, Nodes: []*v1.Node{{Id: "n", Type: "noop"}}},
		}); err != nil {
			b.Fatal(err)
		}
		ns := measure(b, func(ctx context.Context, _ int64) error {
			_, err := deployClient.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: wf}})
			return err
		})
		ratio(b, ns)
	})

	b.Run("list", func(b *testing.B) {
		ns := measure(b, func(ctx context.Context, i int64) error {
			res, err := listClient.ListDeployments(ctx, &v1.ListDeploymentsRequest{
				PageSize:  listPageSize,
				PageToken: tokens[int(i)%len(tokens)],
			})
			if err == nil && len(res.GetDeployments()) != listPageSize {
				err = fmt.Errorf("page of %d, want %d", len(res.GetDeployments()), listPageSize)
			}
			return err
		})
		ratio(b, ns)
	})
}

// measure runs op b.N times from parallelism × GOMAXPROCS goroutines and returns ns/op (wall
// time over b.N: the inverse of throughput). It also reports req/s and the p50 and p99 latency
// of single calls.
func measure(b *testing.B, op func(ctx context.Context, i int64) error) float64 {
	b.Helper()
	ctx := context.Background()
	var (
		seq       atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		failed    atomic.Value
	)
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			start := time.Now()
			if err := op(ctx, seq.Add(1)); err != nil {
				failed.CompareAndSwap(nil, err)
			}
			local = append(local, time.Since(start))
		}
		mu.Lock()
		latencies = append(latencies, local...)
		mu.Unlock()
	})
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	nsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds())
	}
	b.ReportMetric(1e9/nsPerOp, "req/s")
	b.ReportMetric(pct(0.50), "p50_us")
	b.ReportMetric(pct(0.99), "p99_us")
	return nsPerOp
}

// cannedHandler is the baseline: the same server, interceptors and codec, no storage.
type cannedHandler struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler
}

var canned = &v1.GetDeploymentStatusResponse{Deployment: &v1.Deployment{
	Id:         "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
	WorkflowId: "canned",
	Revision:   1,
	Status:     v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED,
	Definition: &v1.WorkflowDefinition{Id: "canned", Nodes: []*v1.Node{{Id: "a", Type: "noop"}}},
	DeployedAt: timestamppb.New(time.Unix(1_700_000_000, 0)),
	CreateTime: timestamppb.New(time.Unix(1_700_000_000, 0)),
	UpdateTime: timestamppb.New(time.Unix(1_700_000_000, 0)),
}}

func (*cannedHandler) GetDeploymentStatus(context.Context, *v1.GetDeploymentStatusRequest) (*v1.GetDeploymentStatusResponse, error) {
	return canned, nil
}

// realHandler is the API handler over db, built as internal/app builds it (node params checked
// by the embedded engine).
func realHandler(b *testing.B, db *store.DB) workflowruntimev1connect.WorkflowRuntimeServiceHandler {
	b.Helper()
	logger := slog.New(slog.DiscardHandler)
	eng := engine.New(engine.Config{})
	return api.NewHandler(api.Deps{
		Deployments: deployments.NewService(db, deployments.ServiceConfig{
			KnownNodeTypes: engine.NodeTypes(),
			CheckParams: func(d *deployments.Definition) []errdefs.Violation {
				var out []errdefs.Violation
				for _, pe := range eng.ValidateParams(d) {
					out = append(out, errdefs.Violation{Field: fmt.Sprintf("nodes[%d].params.%s", pe.NodeIndex, pe.Param), Rule: "node.params", Message: pe.Message})
				}
				return out
			},
		}),
		Executions: execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{Logger: logger}),
		Health:     health.NewChecker(health.Options{}),
		Logger:     logger,
	})
}

// startServer serves h with the production server set-up (config defaults) on a loopback port.
func startServer(b *testing.B, h workflowruntimev1connect.WorkflowRuntimeServiceHandler) string {
	b.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	// The per-caller trigger rate limit off, as `workflow-runtime bench trigger` runs the
	// service: the benchmark measures the RPC, and on a quiet machine it calls faster than the
	// default 1000/s and got resource_exhausted.
	cfg.TriggerRate = 0
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	// As shipped: the telemetry provider (otelconnect on every handler, /metrics) without an
	// exporter, and the access log (discarded here).
	provider, err := telemetry.NewProvider(context.Background(), telemetry.Options{Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	srv := httpserver.New(cfg, h, health.NewChecker(health.Options{}), slog.New(slog.DiscardHandler), httpserver.WithTelemetry(provider))
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv.URL()
}

// newClient is a Connect (binary) client over cleartext HTTP/2: one connection, many streams.
func newClient(b *testing.B, baseURL string) workflowruntimev1connect.WorkflowRuntimeServiceClient {
	b.Helper()
	t := &http.Transport{Protocols: new(http.Protocols)}
	t.Protocols.SetUnencryptedHTTP2(true)
	b.Cleanup(t.CloseIdleConnections)
	return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(&http.Client{Transport: t}, baseURL)
}

// openPostgres returns a migrated store with the production pool defaults in a new schema of
// the WFR_TEST_DATABASE_URL database, dropped at the end. (storetest.OpenPostgres caps the
// pool at 10 connections; the server's default is 20.)
func openPostgres(b *testing.B) *store.DB {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.PostgresSchemaURL(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() }) // before the schema is dropped
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return db
}

// deployRequest is a three-node workflow with a cron and a webhook trigger.
func deployRequest(id string) *v1.DeployWorkflowRequest {
	params := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(m)
		if err != nil {
			panic(err) // the literals below are valid
		}
		return s
	}
	return &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: id, Name: "Benchmark " + id, Nodes: []*v1.Node{
			{Id: "fetch", Type: "noop", Params: params(map[string]any{"value": map[string]any{"items": []any{1.0, 2.0, 3.0}}})},
			{Id: "pause", Type: "delay", Params: params(map[string]any{"duration": "10ms"}), DependsOn: []string{"fetch"}},
			{Id: "done", Type: "noop", DependsOn: []string{"pause"}},
		}},
		Triggers: []*v1.Trigger{
			{Id: "every-5m", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{Expression: "*/5 * * * *", Timezone: "Europe/Berlin"}}},
			{Id: "hook", Kind: &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: "bench/" + id}}},
		},
	}
}

// seedForList deploys listDeployments workflows and returns the page token of each page of
// listPageSize ("" for the first), so that calls spread over the whole set.
func seedForList(b *testing.B, c workflowruntimev1connect.WorkflowRuntimeServiceClient) []string {
	b.Helper()
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = make(chan error, 16)
	)
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < listDeployments; i = next.Add(1) - 1 {
				if _, err := c.DeployWorkflow(ctx, deployRequest(fmt.Sprintf("list-%04d", i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	tokens := []string{""}
	for {
		res, err := c.ListDeployments(ctx, &v1.ListDeploymentsRequest{PageSize: listPageSize, PageToken: tokens[len(tokens)-1]})
		if err != nil {
			b.Fatal(err)
		}
		if res.GetNextPageToken() == "" {
			break
		}
		tokens = append(tokens, res.GetNextPageToken())
	}
	if len(tokens) != listDeployments/listPageSize {
		b.Fatalf("%d pages, want %d", len(tokens), listDeployments/listPageSize)
	}
	return tokens
}
