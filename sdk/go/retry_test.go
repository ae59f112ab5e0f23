package runtime

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

func unavailable() error { return connect.NewError(connect.CodeUnavailable, errors.New("down")) }

func exhausted(t *testing.T, delay time.Duration) error {
	t.Helper()
	if delay == 0 {
		return connect.NewError(connect.CodeResourceExhausted, errors.New("message too large"))
	}
	return withDetails(t, connect.CodeResourceExhausted, "rate limit", &errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
}

// TestRetrySafe: which calls may be repeated.
func TestRetrySafe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		level connect.IdempotencyLevel
		msg   any
		want  bool
	}{
		{"read", connect.IdempotencyNoSideEffects, &v1.GetExecutionRequest{}, true},
		{"idempotent", connect.IdempotencyIdempotent, &v1.BackfillDeploymentRequest{}, true},
		{"deploy", connect.IdempotencyUnknown, &v1.DeployWorkflowRequest{}, false},
		{"cancel", connect.IdempotencyUnknown, &v1.CancelExecutionRequest{}, false},
		{"trigger without key", connect.IdempotencyUnknown, &v1.TriggerWorkflowRequest{}, false},
		{"trigger with key", connect.IdempotencyUnknown, &v1.TriggerWorkflowRequest{IdempotencyKey: "req-1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is.New(t).Equal(retrySafe(connect.Spec{IdempotencyLevel: tc.level}, tc.msg), tc.want)
		})
	}
}

// TestRetryable: which errors are worth another attempt, and the delay the server asked for.
func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		err       error
		want      bool
		wantDelay time.Duration
	}{
		{"unavailable", unavailable(), true, 0},
		{"unavailable with RetryInfo", withDetails(t, connect.CodeUnavailable, "down", &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}), true, time.Second},
		{"rate limit", exhausted(t, 2*time.Second), true, 2 * time.Second},
		{"size limit", exhausted(t, 0), false, 0},
		{"invalid_argument", connect.NewError(connect.CodeInvalidArgument, errors.New("bad")), false, 0},
		{"deadline", connect.NewError(connect.CodeDeadlineExceeded, context.DeadlineExceeded), false, 0},
		{"internal", connect.NewError(connect.CodeInternal, errors.New("internal error")), false, 0},
		{"webhook 503", &Error{Code: connect.CodeUnavailable, RetryDelay: 5 * time.Second}, true, 5 * time.Second},
		{"not a connect error", errors.New("plain"), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ok, delay := retryable(tc.err)
			is.Equal(ok, tc.want)
			is.Equal(delay, tc.wantDelay)
		})
	}
}

// attempts returns an operation that fails with errs in turn, then succeeds, and counts its
// calls.
func attempts(errs ...error) (func() (string, error), *int) {
	n := 0
	return func() (string, error) {
		n++
		if n <= len(errs) {
			return "", errs[n-1]
		}
		return "ok", nil
	}, &n
}

var fast = RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

// TestRetryLoop: the loop's stopping rules.
func TestRetryLoop(t *testing.T) {
	t.Parallel()

	t.Run("retried until it succeeds", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		op, n := attempts(unavailable(), exhausted(t, time.Millisecond), unavailable())
		res, err := retry(t.Context(), fast, op)
		is.NoErr(err)
		is.Equal(res, "ok")
		is.Equal(*n, 4)
	})
	t.Run("not retried after an error not worth it", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		op, n := attempts(unavailable(), exhausted(t, 0))
		_, err := retry(t.Context(), fast, op)
		is.Equal(connect.CodeOf(err), connect.CodeResourceExhausted)
		is.Equal(*n, 2)
	})
	t.Run("gives up after MaxAttempts with the last error", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		last := exhausted(t, time.Millisecond)
		op, n := attempts(unavailable(), unavailable(), unavailable(), last, unavailable())
		_, err := retry(t.Context(), fast, op)
		is.Equal(err, last) // the server's error, not the backoff library's
		is.Equal(*n, 4)
	})
	t.Run("MaxAttempts 1 turns retries off", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		op, n := attempts(unavailable())
		_, err := retry(t.Context(), RetryPolicy{MaxAttempts: 1}, op)
		is.Equal(connect.CodeOf(err), connect.CodeUnavailable)
		is.Equal(*n, 1)
	})
	t.Run("a RetryInfo delay past the deadline is not waited", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		last := exhausted(t, time.Hour)
		op, n := attempts(last)
		_, err := retry(ctx, fast, op)
		is.Equal(err, last)
		is.Equal(*n, 1)
		is.NoErr(ctx.Err()) // it returned without waiting for the deadline
	})
	t.Run("a cancelled context ends the wait", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		_, err := retry(ctx, RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Hour, MaxBackoff: time.Hour}, func() (string, error) {
			n++
			cancel() // the caller gives up while the client waits an hour for the next attempt
			return "", unavailable()
		})
		is.Equal(connect.CodeOf(err), connect.CodeCanceled)
		is.True(errors.Is(err, context.Canceled))
		is.Equal(n, 1)
	})
}

// scripted is a WorkflowRuntimeService whose GetExecution, TriggerWorkflow and DeployWorkflow
// fail with the errors queued for them and then succeed, recording what each call carried.
// It stands in for the service where the client's own decisions are under test: the live
// service cannot be made to fail on cue (example_test.go runs against the real one).
type scripted struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler

	mu        sync.Mutex
	errs      map[string][]error
	calls     map[string]int
	auth      []string
	deadlines []bool
}

func (s *scripted) next(ctx context.Context, proc string, h http.Header) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[proc]++
	s.auth = append(s.auth, h.Get("Authorization"))
	_, ok := ctx.Deadline()
	s.deadlines = append(s.deadlines, ok)
	if q := s.errs[proc]; len(q) > 0 {
		s.errs[proc] = q[1:]
		return q[0]
	}
	return nil
}

func (s *scripted) count(proc string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[proc]
}

func (s *scripted) fail(proc string, errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs[proc] = errs
	s.calls[proc] = 0
}

// headers carries each request's headers to the handler, which the simple handler signature
// does not show.
type headersKey struct{}

func (s *scripted) GetExecution(ctx context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
	if err := s.next(ctx, "GetExecution", ctx.Value(headersKey{}).(http.Header)); err != nil {
		return nil, err
	}
	return &v1.GetExecutionResponse{Execution: &v1.Execution{Id: req.GetExecutionId()}}, nil
}

func (s *scripted) TriggerWorkflow(ctx context.Context, req *v1.TriggerWorkflowRequest) (*v1.TriggerWorkflowResponse, error) {
	if err := s.next(ctx, "TriggerWorkflow", ctx.Value(headersKey{}).(http.Header)); err != nil {
		return nil, err
	}
	return &v1.TriggerWorkflowResponse{Execution: &v1.Execution{Id: "e1", IdempotencyKey: req.GetIdempotencyKey()}}, nil
}

func (s *scripted) DeployWorkflow(ctx context.Context, _ *v1.DeployWorkflowRequest) (*v1.DeployWorkflowResponse, error) {
	if err := s.next(ctx, "DeployWorkflow", ctx.Value(headersKey{}).(http.Header)); err != nil {
		return nil, err
	}
	return &v1.DeployWorkflowResponse{}, nil
}

// startScripted serves a scripted service on loopback over HTTP/1.1 and h2c.
func startScripted(t *testing.T) (*scripted, string) {
	t.Helper()
	s := &scripted{errs: map[string][]error{}, calls: map[string]int{}}
	path, h := workflowruntimev1connect.NewWorkflowRuntimeServiceHandler(s)
	mux := http.NewServeMux()
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), headersKey{}, r.Header.Clone())))
	}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// TestCallPolicy: over each protocol, every call carries the token and a deadline; reads and
// keyed triggers are retried, other writes are not.
func TestCallPolicy(t *testing.T) {
	t.Parallel()
	for _, p := range []Protocol{ProtocolGRPC, ProtocolConnect, ProtocolGRPCWeb} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			s, url := startScripted(t)
			c, err := NewClient(url, WithProtocol(p), WithToken("tok-123"), WithRetryPolicy(fast))
			is.NoErr(err)
			ctx := t.Context()

			s.fail("GetExecution", unavailable(), unavailable())
			res, err := c.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: "x"})
			is.NoErr(err)
			is.Equal(res.GetExecution().GetId(), "x")
			is.Equal(s.count("GetExecution"), 3) // a read: retried

			s.fail("GetExecution", unavailable(), unavailable(), unavailable(), unavailable(), unavailable())
			_, err = c.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: "x"})
			rerr, ok := AsError(err)
			is.True(ok)
			is.Equal(rerr.Code, connect.CodeUnavailable)
			is.Equal(s.count("GetExecution"), fast.MaxAttempts) // no more than MaxAttempts

			s.fail("GetExecution", connect.NewError(connect.CodeNotFound, errors.New("no such execution")))
			_, err = c.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: "x"})
			is.Equal(connect.CodeOf(err), connect.CodeNotFound)
			is.Equal(s.count("GetExecution"), 1) // not_found is final

			s.fail("DeployWorkflow", unavailable())
			_, err = c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{})
			is.Equal(connect.CodeOf(err), connect.CodeUnavailable)
			is.Equal(s.count("DeployWorkflow"), 1) // a write: never repeated

			s.fail("TriggerWorkflow", unavailable())
			_, err = c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{})
			is.Equal(connect.CodeOf(err), connect.CodeUnavailable)
			is.Equal(s.count("TriggerWorkflow"), 1) // no key: a repeat could run it twice

			s.fail("TriggerWorkflow", unavailable(), exhausted(t, time.Millisecond))
			tr, err := c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{IdempotencyKey: "req-1"})
			is.NoErr(err)
			is.Equal(tr.GetExecution().GetIdempotencyKey(), "req-1")
			is.Equal(s.count("TriggerWorkflow"), 3) // keyed: retried, RetryInfo honoured

			s.fail("TriggerWorkflow", exhausted(t, 0))
			_, err = c.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{IdempotencyKey: "req-2"})
			is.Equal(connect.CodeOf(err), connect.CodeResourceExhausted)
			is.Equal(s.count("TriggerWorkflow"), 1) // resource_exhausted without RetryInfo is final

			s.fail("GetExecution", unavailable())
			_, err = c.Raw().GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: "x"})
			is.NoErr(err)
			is.Equal(s.count("GetExecution"), 2) // the raw client has the same policy

			s.mu.Lock()
			defer s.mu.Unlock()
			for i, a := range s.auth {
				is.Equal(a, "Bearer tok-123") // every attempt carries the token
				is.True(s.deadlines[i])       // and the default deadline
			}
		})
	}
}

// TestCallPolicyTimeout: WithTimeout(0) sends no deadline; a context deadline is kept.
func TestCallPolicyTimeout(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s, url := startScripted(t)
	c, err := NewClient(url, WithTimeout(0))
	is.NoErr(err)
	_, err = c.GetExecution(t.Context(), &v1.GetExecutionRequest{ExecutionId: "x"})
	is.NoErr(err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = c.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: "x"})
	is.NoErr(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	is.Equal(s.deadlines, []bool{false, true})
	is.Equal(s.auth, []string{"", ""}) // no token, no header
}

func TestNewClientRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  string
		opts []Option
	}{
		{"no scheme", "localhost:8080", nil},
		{"other scheme", "ftp://localhost", nil},
		{"no host", "http://", nil},
		{"not a URL", "http://a b:%", nil},
		{"negative timeout", "http://localhost", []Option{WithTimeout(-time.Second)}},
		{"negative attempts", "http://localhost", []Option{WithRetryPolicy(RetryPolicy{MaxAttempts: -1})}},
		{"negative backoff", "http://localhost", []Option{WithRetryPolicy(RetryPolicy{MaxBackoff: -1})}},
		{"unknown protocol", "http://localhost", []Option{WithProtocol(Protocol(9))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewClient(tc.url, tc.opts...)
			is.New(t).True(err != nil)
		})
	}
}
