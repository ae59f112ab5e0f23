package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// gate is what a workflow's http node calls: each request is held until the gate opens, and
// arrived says that one came (the execution is RUNNING on the engine).
type gate struct {
	url     string
	arrived chan struct{}
	opened  chan struct{}
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	t.Helper()
	g := &gate{arrived: make(chan struct{}, 100), opened: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		select {
		case <-g.opened:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.open) // runs first: held requests return
	g.url = srv.URL
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.opened) }) }

func (g *gate) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no request reached the gate within 30s")
	}
}

func gated(t *testing.T, id string, g *gate) *v1.DeployWorkflowRequest {
	return &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: id, Nodes: []*v1.Node{node(t, "call", "http", map[string]any{"url": g.url})}},
		Config:     &v1.DeploymentConfig{OverlapPolicy: v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL}, // a burst all runs
	}
}

func byExecution(id string) *v1.WatchExecutionsRequest {
	return &v1.WatchExecutionsRequest{Target: &v1.WatchExecutionsRequest_ExecutionId{ExecutionId: id}}
}

func byDeployment(id string, statuses ...v1.ExecutionStatus) *v1.WatchExecutionsRequest {
	return &v1.WatchExecutionsRequest{Target: &v1.WatchExecutionsRequest_DeploymentId{DeploymentId: id}, Statuses: statuses}
}

type watchStream = *connect.ServerStreamForClient[v1.WatchExecutionsResponse]

// receive returns the next message; the stream's context bounds the wait.
func receive(t *testing.T, s watchStream) *v1.WatchExecutionsResponse {
	t.Helper()
	if !s.Receive() {
		t.Fatalf("the stream ended: %v", s.Err())
	}
	return s.Msg()
}

// watchCtx bounds a test's streams.
func watchCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestWatchExecutionsEveryProtocol: over Connect (HTTP/1.1, JSON and binary), gRPC (HTTP/2)
// and gRPC-Web, a watch by execution sees its current state, RUNNING and SUCCEEDED, then the
// stream ends; a watch by deployment sees every execution of a burst reach SUCCEEDED.
func TestWatchExecutionsEveryProtocol(t *testing.T) {
	t.Parallel()
	eachProtocol(t, []backend{sqlite}, func(t *testing.T, c client) {
		is := is.New(t)
		ctx := watchCtx(t)
		g := newGate(t)
		d := deploy(t, c, gated(t, "gated", g))
		tr, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "gated"}})
		is.NoErr(err)
		id := tr.GetExecution().GetId()

		s, err := c.WatchExecutions(ctx, byExecution(id))
		is.NoErr(err)
		first := receive(t, s)
		is.True(first.GetSynced())
		is.Equal(first.GetExecution().GetId(), id)
		is.True(first.GetExecution().GetStatus() == v1.ExecutionStatus_EXECUTION_STATUS_PENDING ||
			first.GetExecution().GetStatus() == v1.ExecutionStatus_EXECUTION_STATUS_RUNNING)
		g.waitArrived(t)
		for m := first; m.GetExecution().GetStatus() != v1.ExecutionStatus_EXECUTION_STATUS_RUNNING; {
			m = receive(t, s)
			is.True(!m.GetSynced())
		}
		g.open()
		done := receive(t, s)
		is.Equal(done.GetExecution().GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
		is.True(strings.Contains(done.GetExecution().GetOutput(), `"body":{"ok":true}`)) // the node's response
		is.Equal(done.GetExecution().GetAttempt(), int32(1))
		is.True(!s.Receive()) // the stream ends after the terminal state
		is.NoErr(s.Err())

		dw, err := c.WatchExecutions(ctx, byDeployment(d.GetId(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED))
		is.NoErr(err)
		defer func() { _ = dw.Close() }()
		// The initial state: the execution above, which changed a moment ago, then the mark.
		for m := receive(t, dw); !m.GetSynced(); m = receive(t, dw) {
			is.Equal(m.GetExecution().GetId(), id)
		}
		want := map[string]bool{}
		for range 5 {
			tr, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "gated"}})
			is.NoErr(err)
			want[tr.GetExecution().GetId()] = true
		}
		for len(want) > 0 {
			e := receive(t, dw).GetExecution()
			if e == nil {
				continue
			}
			is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // the filter
			delete(want, e.GetId())
		}
	})
}

// TestWatchExecutionsErrors: invalid requests name the field and rule; unknown executions and
// deployments are not_found; a stopping server ends streams with unavailable.
func TestWatchExecutionsErrors(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, sqlite)
	c := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(b.http1, b.url)
	ctx := watchCtx(t)
	failure := func(req *v1.WatchExecutionsRequest) error {
		t.Helper()
		s, err := c.WatchExecutions(ctx, req)
		if err != nil {
			return err
		}
		defer func() { _ = s.Close() }()
		if s.Receive() {
			t.Fatalf("a message for %v: %v", req, s.Msg())
		}
		return s.Err()
	}
	for _, tc := range []struct {
		req  *v1.WatchExecutionsRequest
		want string
	}{
		{&v1.WatchExecutionsRequest{}, "target|required"},
		{byExecution("not-a-uuid"), "execution_id|string.uuid"},
		{byDeployment(uuid.NewString(), v1.ExecutionStatus_EXECUTION_STATUS_UNSPECIFIED), "statuses[0]|enum.not_in"},
		{&v1.WatchExecutionsRequest{
			Target:            &v1.WatchExecutionsRequest_ExecutionId{ExecutionId: uuid.NewString()},
			HeartbeatInterval: durationpb.New(500 * time.Millisecond),
		}, "heartbeat_interval|duration.gte_lte"},
	} {
		err := failure(tc.req)
		is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)
		is.Equal(violations(t, err), []string{tc.want})
	}
	is.Equal(connect.CodeOf(failure(byExecution(uuid.NewString()))), connect.CodeNotFound)
	is.Equal(connect.CodeOf(failure(byDeployment(uuid.NewString()))), connect.CodeNotFound)

	d := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "quiet")})
	s, err := c.WatchExecutions(ctx, byDeployment(d.GetId()))
	is.NoErr(err)
	is.True(receive(t, s).GetSynced())
	b.watches.Stop() // as at shutdown
	is.True(!s.Receive())
	is.Equal(connect.CodeOf(s.Err()), connect.CodeUnavailable) // watch again, elsewhere
	is.True(strings.Contains(s.Err().Error(), "shutting down"))
}

// TestWatchOutlivesServerTimeouts: a stream lives past the server's read and write timeouts,
// over HTTP/1.1 (Connect) and HTTP/2 (gRPC): heartbeats keep coming, and a change after them
// arrives.
func TestWatchOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	b := setupWith(t, sqlite, func(c *config.Config) {
		c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	})
	for _, p := range []struct {
		name string
		hc   *http.Client
		opts []connect.ClientOption
	}{
		{"connect-http1", b.http1, nil},
		{"grpc-h2c", b.h2c, []connect.ClientOption{connect.WithGRPC()}},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			c := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(p.hc, b.url, p.opts...)
			ctx := watchCtx(t)
			wf := "slow-" + strings.TrimPrefix(p.name, "connect-")
			d := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, wf)})
			req := byDeployment(d.GetId())
			req.HeartbeatInterval = durationpb.New(time.Second)
			s, err := c.WatchExecutions(ctx, req)
			is.NoErr(err)
			defer func() { _ = s.Close() }()
			is.True(receive(t, s).GetSynced())
			for range 2 { // two seconds: several times each timeout
				beat := receive(t, s)
				is.True(beat.GetExecution() == nil && !beat.GetSynced())
			}
			tr, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: wf}})
			is.NoErr(err)
			for {
				e := receive(t, s).GetExecution()
				if e.GetId() == tr.GetExecution().GetId() && e.GetStatus() == v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
					break
				}
			}
		})
	}
}

// TestWatchLimitPerCaller: beyond WFR_MAX_WATCHES_PER_CALLER open streams, a caller's next one
// is refused with resource_exhausted.
func TestWatchLimitPerCaller(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setupWith(t, sqlite, func(c *config.Config) { c.MaxWatchesPerCaller = 1 })
	c := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(b.http1, b.url)
	ctx := watchCtx(t)
	d := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "limited")})
	first, err := c.WatchExecutions(ctx, byDeployment(d.GetId()))
	is.NoErr(err)
	defer func() { _ = first.Close() }()
	is.True(receive(t, first).GetSynced())
	second, err := c.WatchExecutions(ctx, byDeployment(d.GetId()))
	is.NoErr(err)
	is.True(!second.Receive())
	is.Equal(connect.CodeOf(second.Err()), connect.CodeResourceExhausted)
}

// TestWatchFromBrowsers: with CORS on, a browser may open the stream: the preflight allows
// Connect's and gRPC-Web's headers, and the response exposes gRPC-Web's status headers.
func TestWatchFromBrowsers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const origin = "https://dash.example.com"
	b := setupWith(t, sqlite, func(c *config.Config) { c.CORSAllowedOrigins = []string{origin} })
	path := b.url + workflowruntimev1connect.WorkflowRuntimeServiceWatchExecutionsProcedure

	pre, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, path, nil)
	is.NoErr(err)
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", http.MethodPost)
	pre.Header.Set("Access-Control-Request-Headers", "connect-protocol-version,connect-timeout-ms,content-type,x-grpc-web,x-user-agent")
	resp, err := b.http1.Do(pre)
	is.NoErr(err)
	_ = resp.Body.Close()
	is.True(resp.StatusCode < 300)
	is.Equal(resp.Header.Get("Access-Control-Allow-Origin"), origin)
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"connect-protocol-version", "connect-timeout-ms", "content-type", "x-grpc-web"} {
		is.True(strings.Contains(allowed, h)) // a browser may send it
	}

	c := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(b.http1, b.url, connect.WithGRPCWeb(),
		connect.WithInterceptors(originHeader(origin)))
	ctx := watchCtx(t)
	d := deploy(t, c, &v1.DeployWorkflowRequest{Definition: hello(t, "browser")})
	s, err := c.WatchExecutions(ctx, byDeployment(d.GetId()))
	is.NoErr(err)
	defer func() { _ = s.Close() }()
	is.True(receive(t, s).GetSynced())
	is.Equal(s.ResponseHeader().Get("Access-Control-Allow-Origin"), origin)
	exposed := strings.ToLower(s.ResponseHeader().Get("Access-Control-Expose-Headers"))
	for _, h := range []string{"grpc-status", "grpc-message"} {
		is.True(strings.Contains(exposed, h)) // a browser may read it
	}
}

// originHeader sets the Origin header of every call, as a browser does.
type originHeader string

func (o originHeader) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Origin", string(o))
		return next(ctx, req)
	}
}

func (o originHeader) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Origin", string(o))
		return conn
	}
}

func (o originHeader) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
