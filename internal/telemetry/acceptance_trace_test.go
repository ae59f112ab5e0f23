package telemetry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// cluster is three processes' worth of roles in this test process: an engine, a worker (on
// the remote engine) and an api, on PostgreSQL (a schema of the test's own) and a throwaway
// Redis; they share one telemetry Provider whose spans go to an in-memory exporter.
type cluster struct {
	spans    *spanLog
	provider *telemetry.Provider
	logs     *logBuffer // every role's log lines, JSON, debug level
	engine   *app.App
	api      *app.App
	worker   *app.App
	client   workflowruntimev1connect.WorkflowRuntimeServiceClient
}

// spanLog is an in-memory exporter that fires exported after each export, so a test waits
// for a span on it rather than polling.
type spanLog struct {
	*tracetest.InMemoryExporter
	exported testenv.Signal
}

func (l *spanLog) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	defer l.exported.Fire()
	return l.InMemoryExporter.ExportSpans(ctx, spans)
}

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	databaseURL := newSchema(t)
	rd := testenv.StartRedis(t)
	spans := &spanLog{InMemoryExporter: tracetest.NewInMemoryExporter()}
	provider, err := telemetry.NewProvider(t.Context(), telemetry.Options{SpanExporter: spans, SyncExport: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })

	logs := &logBuffer{}
	logger, err := telemetry.NewLogger(logs, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	start := func(role config.Role, engineURL string) *app.App {
		cfg := config.Default()
		cfg.Role = role
		cfg.Addr = "127.0.0.1:0"
		cfg.DatabaseURL = databaseURL
		cfg.RedisURL = rd.URL()
		cfg.EngineURL = engineURL
		cfg.HTTPAllow = []string{"127.0.0.0/8"} // the tests' http nodes call servers on loopback
		a, err := app.New(cfg, logger, app.WithTelemetry(provider))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(t.Context()); err != nil {
			_ = a.Stop(context.Background())
			t.Fatalf("start role %s: %v", role, err)
		}
		t.Cleanup(func() { _ = a.Stop(context.Background()) })
		return a
	}
	c := &cluster{spans: spans, provider: provider, logs: logs}
	c.engine = start(config.RoleEngine, "")
	c.api = start(config.RoleAPI, "")
	c.worker = start(config.RoleWorker, "http://"+c.engine.Addr())

	// The gateway: a client whose calls start the trace.
	otel, err := provider.ConnectInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	c.client = workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, "http://"+c.api.Addr(), connect.WithInterceptors(otel))
	return c
}

// newSchema returns the URL of a new schema in the WFR_TEST_DATABASE_URL database, dropped
// when the test ends.
func newSchema(t *testing.T) string {
	t.Helper()
	base := storetest.PostgresURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	admin, err := store.Open(ctx, base, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "wfr_tel_" + hex.EncodeToString(b)
	if _, err := admin.Bun().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.Bun().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// deployTwoNodes deploys workflow id with nodes a -> b.
func (c *cluster) deployTwoNodes(t *testing.T, id string) {
	t.Helper()
	params, _ := structpb.NewStruct(map[string]any{"value": "hello"})
	_, err := c.client.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id: id,
		Nodes: []*v1.Node{
			{Id: "a", Type: "noop", Params: params},
			{Id: "b", Type: "noop", Params: params, DependsOn: []string{"a"}},
		},
	}})
	if err != nil {
		t.Fatalf("deploy %s: %v", id, err)
	}
}

// trigger triggers id with data and follows the execution with WatchExecutions until it
// ends; it returns the execution.
func (c *cluster) trigger(t *testing.T, ctx context.Context, id, data string) *v1.Execution {
	t.Helper()
	res, err := c.client.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{
		Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: id}, TriggerData: data,
	})
	if err != nil {
		t.Fatalf("trigger %s: %v", id, err)
	}
	// Not under ctx: the watch is the test's, not part of the gateway's trace.
	wctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := c.client.WatchExecutions(wctx, &v1.WatchExecutionsRequest{
		Target: &v1.WatchExecutionsRequest_ExecutionId{ExecutionId: res.GetExecution().GetId()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	var e *v1.Execution
	for s.Receive() {
		if e = s.Msg().GetExecution(); e.GetStatus() != v1.ExecutionStatus_EXECUTION_STATUS_PENDING && e.GetStatus() != v1.ExecutionStatus_EXECUTION_STATUS_RUNNING {
			return e
		}
	}
	t.Fatalf("execution %s is %s: the watch ended before the execution did: %v", res.GetExecution().GetId(), e.GetStatus(), s.Err())
	return nil
}

// TestOneTraceFromGatewayToNodes: the gateway's TriggerWorkflow, the api's handler, the queue
// message, the worker's execution span, the call to the remote engine and each node's span are
// one trace.
func TestOneTraceFromGatewayToNodes(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	c.deployTwoNodes(t, "traced")

	ctx, root := c.provider.TracerProvider().Tracer("gateway").Start(t.Context(), "gateway POST /hooks/traced")
	e := c.trigger(t, ctx, "traced", `{"order":1}`)
	root.End()
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	traceID := root.SpanContext().TraceID()

	// The worker's span ends after the outcome is recorded: wait for it.
	var spans tracetest.SpanStubs
	c.spans.exported.Await(t, 10*time.Second, func() error {
		spans = inTrace(c.spans.GetSpans(), traceID)
		if find(spans, "execution.run", trace.SpanKindConsumer) == nil {
			return errors.New("no execution.run span in the trace")
		}
		return nil
	})
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	parentOf := func(s *tracetest.SpanStub) *tracetest.SpanStub {
		p, ok := byID[s.Parent.SpanID()]
		if !ok {
			return nil
		}
		return &p
	}
	must := func(name string, kind trace.SpanKind) *tracetest.SpanStub {
		s := find(spans, name, kind)
		if s == nil {
			var names []string
			for _, s := range spans {
				names = append(names, s.Name+"/"+s.SpanKind.String())
			}
			t.Fatalf("no span %q (%s) in the trace; it has %s", name, kind, strings.Join(names, ", "))
		}
		return s
	}
	clientCall := must("workflowruntime.v1.WorkflowRuntimeService/TriggerWorkflow", trace.SpanKindClient)
	serverCall := must("workflowruntime.v1.WorkflowRuntimeService/TriggerWorkflow", trace.SpanKindServer)
	run := must("execution.run", trace.SpanKindConsumer)
	engineClient := must("workflowengine.v1.WorkflowEngineService/ExecuteWorkflow", trace.SpanKindClient)
	engineServer := must("workflowengine.v1.WorkflowEngineService/ExecuteWorkflow", trace.SpanKindServer)
	execute := must("engine.execute", trace.SpanKindInternal)
	nodeA := must("engine.node a", trace.SpanKindInternal)
	nodeB := must("engine.node b", trace.SpanKindInternal)

	is.Equal(clientCall.Parent.SpanID(), root.SpanContext().SpanID()) // the gateway's span starts it
	is.Equal(parentOf(serverCall).SpanContext.SpanID(), clientCall.SpanContext.SpanID())
	is.Equal(parentOf(run).SpanContext.SpanID(), serverCall.SpanContext.SpanID()) // through the queue message
	is.True(isUnder(engineClient, run, parentOf))
	is.Equal(parentOf(engineServer).SpanContext.SpanID(), engineClient.SpanContext.SpanID()) // over the wire
	is.Equal(parentOf(execute).SpanContext.SpanID(), engineServer.SpanContext.SpanID())
	is.Equal(parentOf(nodeA).SpanContext.SpanID(), execute.SpanContext.SpanID())
	is.Equal(parentOf(nodeB).SpanContext.SpanID(), execute.SpanContext.SpanID())

	attrs := map[string]string{}
	for _, kv := range run.Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	is.Equal(attrs["wfr.execution.id"], e.GetId())
	is.Equal(attrs["wfr.workflow.id"], "traced")
	is.Equal(attrs["wfr.execution.attempt"], "1")
	is.Equal(attrs["wfr.execution.status"], "SUCCEEDED")

	// Database queries and Redis commands of the path are in the trace too (bunotel, redisotel).
	var db, redis bool
	for _, s := range spans {
		for _, kv := range s.Attributes {
			if kv.Key == "db.system" || kv.Key == "db.system.name" {
				switch kv.Value.AsString() {
				case "postgresql":
					db = true
				case "redis":
					redis = true
				}
			}
		}
	}
	is.True(db)    // query spans
	is.True(redis) // command spans
}

// attribute is the value of the span's attribute key, "" without it.
func attribute(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func inTrace(spans tracetest.SpanStubs, id trace.TraceID) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.SpanContext.TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

func find(spans tracetest.SpanStubs, name string, kind trace.SpanKind) *tracetest.SpanStub {
	for i := range spans {
		if spans[i].Name == name && spans[i].SpanKind == kind {
			return &spans[i]
		}
	}
	return nil
}

func isUnder(s, ancestor *tracetest.SpanStub, parentOf func(*tracetest.SpanStub) *tracetest.SpanStub) bool {
	for p := parentOf(s); p != nil; p = parentOf(p) {
		if p.SpanContext.SpanID() == ancestor.SpanContext.SpanID() {
			return true
		}
	}
	return false
}

// TestMetricsSeries: /metrics, parsed by the Prometheus text parser, has the named series and
// they move with RPCs and executions.
func TestMetricsSeries(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	c.deployTwoNodes(t, "metered")

	before := scrape(t, "http://"+c.worker.Addr()+"/metrics")
	ids := map[string]bool{}
	for range 3 {
		e := c.trigger(t, t.Context(), "metered", `{}`)
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
		ids[e.GetId()] = true
	}
	// The worker counts an outcome just after the row is written, and ends the execution's
	// span after that: once the three spans have ended, the counter has moved.
	c.spans.exported.Await(t, 10*time.Second, func() error {
		ended := 0
		for _, s := range c.spans.GetSpans() {
			if s.Name == "execution.run" && ids[attribute(s, "wfr.execution.id")] && attribute(s, "wfr.execution.status") == "SUCCEEDED" {
				ended++
			}
		}
		if ended < 3 {
			return fmt.Errorf("%d of 3 execution.run spans ended", ended)
		}
		return nil
	})
	after := scrape(t, "http://"+c.api.Addr()+"/metrics")
	is.True(sum(after, "wfr_executions_finished_total", "status", "SUCCEEDED")-sum(before, "wfr_executions_finished_total", "status", "SUCCEEDED") >= 3)     // executions by status
	is.True(sum(after, "rpc_server_call_duration_seconds_count", "rpc_method", workflowruntimev1connect.WorkflowRuntimeServiceName+"/TriggerWorkflow") >= 3) // RPC rate by procedure
	is.True(has(after, "rpc_server_call_duration_seconds_bucket"))                                                                                           // RPC latency
	is.True(has(after, "wfr_queue_messages"))                                                                                                                // queue depth
	is.True(has(after, "wfr_queue_oldest_age_seconds"))                                                                                                      // queue age
}

func scrape(t *testing.T, u string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// sum adds the values of the series of family name whose label has value ("" label: all).
func sum(families map[string]*dto.MetricFamily, name, label, value string) float64 {
	f := families[name]
	if f == nil {
		// Histograms are one family: name_count lives in the name family.
		for _, suffix := range []string{"_count", "_sum", "_bucket"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && families[base] != nil {
				return histogramPart(families[base], suffix, label, value)
			}
		}
		return 0
	}
	var total float64
	for _, m := range f.GetMetric() {
		if !matches(m.GetLabel(), label, value) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

func histogramPart(f *dto.MetricFamily, suffix, label, value string) float64 {
	var total float64
	for _, m := range f.GetMetric() {
		if !matches(m.GetLabel(), label, value) || m.GetHistogram() == nil {
			continue
		}
		switch suffix {
		case "_count", "_bucket":
			total += float64(m.GetHistogram().GetSampleCount())
		case "_sum":
			total += m.GetHistogram().GetSampleSum()
		}
	}
	return total
}

func matches(labels []*dto.LabelPair, label, value string) bool {
	if label == "" {
		return true
	}
	for _, l := range labels {
		if l.GetName() == label && l.GetValue() == value {
			return true
		}
	}
	return false
}

// has reports whether the family (or, for _count/_bucket/_sum, its histogram) has a series.
func has(families map[string]*dto.MetricFamily, name string) bool {
	if f := families[name]; f != nil {
		return len(f.GetMetric()) > 0
	}
	for _, suffix := range []string{"_count", "_sum", "_bucket"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && families[base] != nil {
			return len(families[base].GetMetric()) > 0
		}
	}
	return false
}
