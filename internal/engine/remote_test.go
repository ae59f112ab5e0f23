package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/validate"
	"github.com/matryer/is"

	workflowenginev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1/workflowenginev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// remoteBundle is an engine served over WorkflowEngineService on a real listener, and a Client.
type remoteBundle struct {
	*testBundle
	client *Client
}

// protocols are the transports the remote tests run over: HTTP/1.1 and unencrypted HTTP/2.
var protocols = []string{"http1", "h2c"}

func setupRemote(t *testing.T, proto string, exec Executor) *remoteBundle {
	t.Helper()
	b := &remoteBundle{testBundle: setup(t, Config{})}
	if exec == nil {
		exec = b.eng
	}
	mux := http.NewServeMux()
	mux.Handle(workflowenginev1connect.NewWorkflowEngineServiceHandler(NewHandler(exec), connect.WithInterceptors(validate.NewInterceptor())))
	srv := httptest.NewUnstartedServer(mux)
	var p http.Protocols
	if proto == "h2c" {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	srv.Config.Protocols = &p
	srv.Start()
	t.Cleanup(srv.Close)
	transport := &http.Transport{Protocols: &p}
	t.Cleanup(transport.CloseIdleConnections)
	b.client = NewClient(&http.Client{Transport: transport}, srv.URL)
	return b
}

func TestRemoteSuccess(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setupRemote(t, proto, nil)

			res, err := b.client.Execute(t.Context(), request(`{"who":"remote"}`,
				node("a", "noop", map[string]any{"value": map[string]any{"n": 1.0}}),
				node("b", "transform", map[string]any{"expression": `"hello " + input.who + " " + string(deps.a.n)`}, "a"),
			))
			is.NoErr(err)
			is.Equal(output(t, res), map[string]any{"b": "hello remote 1"}) // params and input crossed the wire
		})
	}
}

func TestRemoteFailure(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setupRemote(t, "h2c", nil)

	res, err := b.client.Execute(t.Context(), request("", node("x", "http", map[string]any{"url": "http://127.0.0.1:1", "timeout": "1s"})))
	is.NoErr(err) // a failing workflow is an answer
	is.True(res.Failure != nil)
	is.Equal(res.Failure.NodeID, "x")
	is.True(res.Failure.Retryable) // retryable survives the wire
}

func TestRemoteCancellationReachesEngine(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setupRemote(t, proto, nil)
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-b.started // the delay runs on the server
				cancel()
			}()

			_, err := b.client.Execute(ctx, request("", node("wait", "delay", map[string]any{"duration": "24h"})))
			is.True(errors.Is(err, context.Canceled)) // the client sees its cancellation

			ev := <-b.ended // the server-side delay observed ctx.Done()
			is.Equal(ev.id, "wait")
			is.True(errors.Is(ev.err, context.Canceled))
		})
	}
}

// TestRemoteDeadlineReachesEngine: the caller's deadline is the engine's. (A short deadline that
// ends the run could pass before the request is even sent on a loaded machine, so the test reads
// the deadline the engine sees, then cancels.)
func TestRemoteDeadlineReachesEngine(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	seen := make(chan time.Time, 1)
	inner := New(Config{})
	b := setupRemote(t, "h2c", executorFunc(func(ctx context.Context, req *Request) (*Result, error) {
		dl, _ := ctx.Deadline()
		seen <- dl
		return inner.Execute(ctx, req)
	}))
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := b.client.Execute(ctx, request("", node("wait", "delay", map[string]any{"duration": "24h"})))
		errc <- err
	}()

	got := <-seen
	t.Logf("client deadline %s, engine deadline %s", deadline.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano))
	is.True(!got.IsZero())                         // the engine's context has a deadline
	is.True(got.After(deadline.Add(-time.Second))) // the caller's, give or take the wire's
	is.True(got.Before(deadline.Add(time.Minute)))
	cancel()
	is.True(errors.Is(<-errc, context.Canceled))
}

// executorFunc is an Executor made of a function.
type executorFunc func(ctx context.Context, req *Request) (*Result, error)

func (f executorFunc) Execute(ctx context.Context, req *Request) (*Result, error) { return f(ctx, req) }

func TestRemoteUnavailable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()

	_, err := NewClient(http.DefaultClient, url).Execute(t.Context(), request("", node("a", "noop", nil)))
	is.True(errors.Is(err, errdefs.ErrUnavailable)) // connection refused
	is.True(errors.Is(err, ErrUnavailable))         // the worker hands the execution back
	is.Equal(err.Error(), "execute 0b9d1c57-5c4a-4a43-9d43-4c3b1f1f8a10 on remote engine: engine unavailable: dial tcp "+
		strings.TrimPrefix(url, "http://")+": connect: connection refused") // "unavailable" once
}

// An engine that answers unavailable: its message follows "engine unavailable", without the
// code name in front of it.
func TestRemoteAnsweredUnavailable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setupRemote(t, "h2c", fakeExecutor{err: fmt.Errorf("call the flaky thing: %w", errdefs.ErrUnavailable)})

	_, err := b.client.Execute(t.Context(), request("", node("a", "noop", nil)))
	is.True(errors.Is(err, ErrUnavailable))
	is.True(errors.Is(err, errdefs.ErrUnavailable))
	is.Equal(err.Error(), "execute 0b9d1c57-5c4a-4a43-9d43-4c3b1f1f8a10 on remote engine: engine unavailable: call the flaky thing: unavailable")
}

// fakeExecutor answers every Execute with res and err.
type fakeExecutor struct {
	res *Result
	err error
}

func (f fakeExecutor) Execute(context.Context, *Request) (*Result, error) { return f.res, f.err }

func TestRemoteErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantErr   error // the error Client.Execute returns; nil when it answers a Failure
		retryable bool
	}{
		{"canceled", fmt.Errorf("x: %w", context.Canceled), context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), context.DeadlineExceeded, false},
		{"unavailable", fmt.Errorf("x: %w", errdefs.ErrUnavailable), errdefs.ErrUnavailable, false},
		{"internal", errors.New("bug"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setupRemote(t, "h2c", fakeExecutor{err: tt.err})

			res, err := b.client.Execute(t.Context(), request("", node("a", "noop", nil)))
			if tt.wantErr != nil {
				is.True(errors.Is(err, tt.wantErr))
				return
			}
			is.NoErr(err)
			is.Equal(res.Failure.Retryable, tt.retryable)
			is.True(!strings.Contains(res.Failure.Message, "bug")) // internal details stay on the server
		})
	}
}

func TestRemoteInvalidRequest(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setupRemote(t, "h2c", nil)
	req := request("", node("a", "noop", nil))
	req.ExecutionID = "not-a-uuid"

	res, err := b.client.Execute(t.Context(), req)
	is.NoErr(err)
	is.True(res.Failure != nil)
	is.True(!res.Failure.Retryable) // a bad request stays bad
	is.True(strings.Contains(res.Failure.Message, "execution_id"))
	is.Equal(len(b.events), 0) // nothing ran
}

func TestClientParamsNotJSON(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := NewClient(http.DefaultClient, "http://127.0.0.1:1")

	res, err := c.Execute(t.Context(), request("", node("a", "noop", map[string]any{"value": make(chan int)})))
	is.NoErr(err)
	is.True(strings.Contains(res.Failure.Message, "params are not JSON"))
}

func TestResultFromProtoEmpty(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	res := resultFromProto(&workflowenginev1.ExecuteWorkflowResponse{})
	is.True(res.Failure != nil && res.Failure.Retryable) // neither success nor failure
}

func TestRequestRoundTrip(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	req := &Request{
		ExecutionID: "0b9d1c57-5c4a-4a43-9d43-4c3b1f1f8a10", WorkflowID: "wf", Revision: 3, Attempt: 2,
		Input: []byte(`{"a":1}`),
		Definition: deployments.Definition{ID: "wf", Name: "n", Description: "d", Nodes: []deployments.Node{
			node("a", "noop", map[string]any{"value": "x"}), node("b", "noop", nil, "a"),
		}},
	}
	p, err := requestToProto(req)
	is.NoErr(err)
	is.Equal(requestFromProto(p), req) // nothing lost on the wire
}

func TestHandlerGuards(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	h := NewHandler(fakeExecutor{})

	_, err := h.ExecuteWorkflow(t.Context(), &workflowenginev1.ExecuteWorkflowRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument) // no definition, even without the validation interceptor

	req, err := requestToProto(request("", node("a", "noop", nil)))
	is.NoErr(err)
	_, err = h.ExecuteWorkflow(t.Context(), req)
	is.Equal(connect.CodeOf(err), connect.CodeInternal) // neither result nor error
}
