package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// syncBuffer is a bytes.Buffer safe for the server's and the test's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// service answers GetSystemHealth, fails GetDeploymentStats and panics in ListDeployments.
type service struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler
}

func (service) GetSystemHealth(context.Context, *workflowruntimev1.GetSystemHealthRequest) (*workflowruntimev1.GetSystemHealthResponse, error) {
	return &workflowruntimev1.GetSystemHealthResponse{Status: "healthy"}, nil
}

func (service) GetDeploymentStats(context.Context, *workflowruntimev1.GetDeploymentStatsRequest) (*workflowruntimev1.GetDeploymentStatsResponse, error) {
	return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("not today"))
}

func (service) ListDeployments(context.Context, *workflowruntimev1.ListDeploymentsRequest) (*workflowruntimev1.ListDeploymentsResponse, error) {
	panic("secret detail")
}

type testBundle struct {
	logs *syncBuffer
	url  string
}

// setup serves service with the access log of WFR_ACCESS_LOG=all, logging at DEBUG.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupLog(t, "debug", telemetry.AccessLogConfig{All: true}, nil)
}

// setupLog serves service with an access log of cfg, logging at level; now, when set, is its
// clock.
func setupLog(t *testing.T, level string, cfg telemetry.AccessLogConfig, now func() time.Time) *testBundle {
	t.Helper()
	logs := &syncBuffer{}
	logger, err := telemetry.NewLogger(logs, level, "json")
	if err != nil {
		t.Fatal(err)
	}
	access := telemetry.NewAccessLog(logger, cfg)
	if now != nil {
		access.SetClock(now)
	}
	mux := http.NewServeMux()
	mux.Handle(workflowruntimev1connect.NewWorkflowRuntimeServiceHandler(service{},
		connect.WithInterceptors(access),
		telemetry.WithRecover(logger),
	))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testBundle{logs: logs, url: srv.URL}
}

func (b *testBundle) client(opts ...connect.ClientOption) workflowruntimev1connect.WorkflowRuntimeServiceClient {
	return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, b.url, opts...)
}

// rpcLines returns the access lines.
func (b *testBundle) rpcLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range b.logs.lines(t) {
		if l["msg"] == "rpc" {
			out = append(out, l)
		}
	}
	return out
}

func TestAccessLogOK(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t)

	_, err := b.client().GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.NoErr(err)
	_, err = b.client(connect.WithGRPCWeb()).GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.NoErr(err)

	lines := b.rpcLines(t)
	is.Equal(len(lines), 2) // one line per RPC
	for i, protocol := range []string{"connect", "grpcweb"} {
		l := lines[i]
		is.Equal(l["level"], "INFO")
		is.Equal(l["procedure"], workflowruntimev1connect.WorkflowRuntimeServiceGetSystemHealthProcedure)
		is.Equal(l["protocol"], protocol)
		is.Equal(l["code"], "ok")
		_, isNumber := l["duration_ms"].(float64)
		is.True(isNumber)         // duration_ms
		is.Equal(l["error"], nil) // no error on success
		is.True(l["peer"] != "")  // the caller's address
	}
}

// TestAccessLogFailures: by default (WFR_ACCESS_LOG=failures) a quick success is written at
// DEBUG only, a slow one at INFO marked slow, and a failure at INFO.
func TestAccessLogFailures(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := telemetry.AccessLogConfig{Slow: time.Second}

	// At INFO: the successful call writes nothing, the failed one its line.
	b := setupLog(t, "info", cfg, nil)
	_, err := b.client().GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.NoErr(err)
	_, err = b.client().GetDeploymentStats(t.Context(), &workflowruntimev1.GetDeploymentStatsRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeFailedPrecondition)
	lines := b.rpcLines(t)
	is.Equal(len(lines), 1) // the failure alone
	is.Equal(lines[0]["code"], "failed_precondition")
	is.Equal(lines[0]["level"], "INFO")

	// At DEBUG the success is there, at DEBUG.
	b = setupLog(t, "debug", cfg, nil)
	_, err = b.client().GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.NoErr(err)
	lines = b.rpcLines(t)
	is.Equal(len(lines), 1)
	is.Equal(lines[0]["level"], "DEBUG")
	is.Equal(lines[0]["code"], "ok")
	is.Equal(lines[0]["slow"], nil)

	// A success that took the slow threshold is at INFO: the clock moves a second a reading.
	var mu sync.Mutex
	clock := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	tick := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	b = setupLog(t, "info", cfg, tick)
	_, err = b.client().GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.NoErr(err)
	lines = b.rpcLines(t)
	is.Equal(len(lines), 1)
	is.Equal(lines[0]["level"], "INFO")
	is.Equal(lines[0]["slow"], true)
	is.Equal(lines[0]["duration_ms"], 1000.0)

	// Slow 0: no success is ever slow.
	b = setupLog(t, "info", telemetry.AccessLogConfig{}, tick)
	_, err = b.client().GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.NoErr(err)
	is.Equal(len(b.rpcLines(t)), 0)
}

func TestAccessLogError(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t)

	_, err := b.client().GetDeploymentStats(t.Context(), &workflowruntimev1.GetDeploymentStatsRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeFailedPrecondition)

	lines := b.rpcLines(t)
	is.Equal(len(lines), 1)
	is.Equal(lines[0]["code"], "failed_precondition")
	is.Equal(lines[0]["level"], "INFO") // a client-side outcome is not an ERROR
	is.True(strings.Contains(lines[0]["error"].(string), "not today"))
}

func TestRecoverPanic(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t)

	for _, opt := range []connect.ClientOption{connect.WithProtoJSON(), connect.WithGRPCWeb()} {
		_, err := b.client(opt).ListDeployments(t.Context(), &workflowruntimev1.ListDeploymentsRequest{})
		is.Equal(connect.CodeOf(err), connect.CodeInternal) // a panic becomes internal
		var cerr *connect.Error
		is.True(errors.As(err, &cerr))
		is.Equal(cerr.Message(), "internal error")               // generic message
		is.True(!strings.Contains(err.Error(), "secret detail")) // the panic value stays in the log
	}

	var panics, rpcs int
	for _, l := range b.logs.lines(t) {
		switch l["msg"] {
		case "handler panicked":
			panics++
			is.Equal(l["level"], "ERROR")
			is.Equal(l["panic"], "secret detail")
			is.True(strings.Contains(l["stack"].(string), "ListDeployments")) // the stack points at the handler
		case "rpc":
			rpcs++
			is.Equal(l["code"], "internal")
			is.Equal(l["level"], "ERROR")
		}
	}
	is.Equal(panics, 2)
	is.Equal(rpcs, 2)

	// The server is still up.
	_, err := b.client().GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.NoErr(err)
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	var buf bytes.Buffer
	logger, err := telemetry.NewLogger(&buf, "warn", "json")
	is.NoErr(err)
	logger.Info("hidden")
	logger.Warn("shown", "k", "v")
	var line map[string]any
	is.NoErr(json.Unmarshal(buf.Bytes(), &line)) // exactly one JSON line
	is.Equal(line["msg"], "shown")
	is.Equal(line["k"], "v")

	buf.Reset()
	logger, err = telemetry.NewLogger(&buf, "debug", "text")
	is.NoErr(err)
	logger.Debug("hello")
	is.True(strings.Contains(buf.String(), "msg=hello"))

	_, err = telemetry.NewLogger(&buf, "trace", "json")
	is.True(err != nil) // unknown level
	_, err = telemetry.NewLogger(&buf, "info", "xml")
	is.True(err != nil) // unknown format

	lvl, err := telemetry.ParseLevel("error")
	is.NoErr(err)
	is.Equal(lvl, slog.LevelError)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
