package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	workflowenginev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1"
	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// One token per scope; "none-of-it" is a token nobody issued.
var scopeTokens = map[auth.Scope]string{
	auth.ScopeRead:    "read-token-0123456789",
	auth.ScopeTrigger: "trigger-token-0123456789",
	auth.ScopeDeploy:  "deploy-token-0123456789",
	auth.ScopeEngine:  "engine-token-0123456789",
	auth.ScopeAdmin:   "admin-token-0123456789",
}

func writeTokens(t *testing.T, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test tokens\n")
	for s, tok := range scopeTokens {
		fmt.Fprintf(&b, "%s-user %s %s\n", s, s, tok)
	}
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startWithAuth(t *testing.T, role config.Role, tokensFile string, edit func(*config.Config)) *app.App {
	t.Helper()
	return startLogged(t, role, tokensFile, edit, slog.New(slog.DiscardHandler))
}

func startLogged(t *testing.T, role config.Role, tokensFile string, edit func(*config.Config), logger *slog.Logger) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.Role = role
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = "sqlite::memory:"
	cfg.AuthTokensFile = tokensFile
	if edit != nil {
		edit(&cfg)
	}
	a, err := app.New(cfg, logger)
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

// messages is a slog handler that sends each record's message on a channel.
type messages chan string

func (m messages) Enabled(context.Context, slog.Level) bool { return true }
func (m messages) Handle(_ context.Context, r slog.Record) error {
	select {
	case m <- r.Message:
	default: // nobody listens for that many
	}
	return nil
}
func (m messages) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m messages) WithGroup(string) slog.Handler      { return m }

// next waits for the log message want.
func (m messages) next(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case msg := <-m:
			if msg == want {
				return
			}
		case <-timeout:
			t.Fatalf("no log message %q within 10s", want)
		}
	}
}

// callAs calls procedure (a server stream when streaming) with an empty request message and
// token ("" for none) and returns the call's code (0 for OK).
func callAs(t *testing.T, baseURL, procedure, token string, grpc, streaming bool) connect.Code {
	t.Helper()
	var opts []connect.ClientOption
	if grpc {
		opts = append(opts, connect.WithGRPC())
	}
	client := connect.NewClient[emptypb.Empty, emptypb.Empty](h2cClient(), baseURL+procedure, opts...)
	req := connect.NewRequest(&emptypb.Empty{})
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var err error
	if streaming {
		var stream *connect.ServerStreamForClient[emptypb.Empty]
		if stream, err = client.CallServerStream(ctx, req); err == nil {
			for stream.Receive() {
			}
			err = stream.Err()
			_ = stream.Close()
		}
	} else {
		_, err = client.CallUnary(ctx, req)
	}
	if err == nil {
		return 0
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("%s: %v", procedure, err)
	}
	return cerr.Code()
}

// procedure is one method of a service: its path and whether the server streams its answer.
type procedure struct {
	path      string
	streaming bool
}

func procedures(sd protoreflect.ServiceDescriptor) []procedure {
	var out []procedure
	for i := range sd.Methods().Len() {
		m := sd.Methods().Get(i)
		out = append(out, procedure{fmt.Sprintf("/%s/%s", sd.FullName(), m.Name()), m.IsStreamingServer()})
	}
	return out
}

// TestEveryRPCNeedsItsScope calls every RPC of both services with no token, a token nobody
// issued, a token of another scope and a token of the right scope (and admin), over Connect
// and gRPC: unauthenticated, unauthenticated, permission_denied, and then anything but those.
func TestEveryRPCNeedsItsScope(t *testing.T) {
	t.Parallel()
	tokens := writeTokens(t, "")
	api := startWithAuth(t, config.RoleAll, tokens, nil)
	eng := startWithAuth(t, config.RoleEngine, tokens, nil)
	services := []struct {
		url string
		sd  protoreflect.ServiceDescriptor
	}{
		{"http://" + api.Addr(), workflowruntimev1.File_workflowruntime_v1_workflow_runtime_service_proto.Services().Get(0)},
		{"http://" + eng.Addr(), workflowenginev1.File_workflowengine_v1_workflow_engine_service_proto.Services().Get(0)},
	}
	checked := 0
	for _, svc := range services {
		for _, p := range procedures(svc.sd) {
			proc := p.path
			need := auth.ScopeOf(proc)
			if need == auth.ScopeAdmin {
				t.Errorf("%s has no entry in the scope table (it would need admin)", proc)
			}
			other := auth.ScopeRead
			if need == auth.ScopeRead {
				other = auth.ScopeTrigger
			}
			for _, grpc := range []bool{false, true} {
				name := fmt.Sprintf("%s grpc=%v", proc, grpc)
				t.Run(name, func(t *testing.T) {
					is := is.New(t)
					is.Equal(callAs(t, svc.url, proc, "", grpc, p.streaming), connect.CodeUnauthenticated)                      // no token
					is.Equal(callAs(t, svc.url, proc, "none-of-it-0123456789", grpc, p.streaming), connect.CodeUnauthenticated) // unknown token
					is.Equal(callAs(t, svc.url, proc, scopeTokens[other], grpc, p.streaming), connect.CodePermissionDenied)     // another scope
					for _, tok := range []string{scopeTokens[need], scopeTokens[auth.ScopeAdmin]} {
						code := callAs(t, svc.url, proc, tok, grpc, p.streaming)
						is.True(code != connect.CodeUnauthenticated && code != connect.CodePermissionDenied) // let through
					}
				})
				checked++
			}
		}
	}
	t.Logf("%d procedure × protocol pairs checked", checked)
}

func status(t *testing.T, url, host, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

func TestAuthHTTPEndpoints(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tokens := writeTokens(t, "")
	open := startWithAuth(t, config.RoleAll, tokens, nil)
	base := "http://" + open.Addr()
	is.Equal(status(t, base+"/livez", "", ""), http.StatusOK)   // probes are open by default
	is.Equal(status(t, base+"/metrics", "", ""), http.StatusOK) // and so is /metrics

	closed := startWithAuth(t, config.RoleAll, tokens, func(c *config.Config) {
		c.AuthOpenHealth = false
		c.AuthOpenMetrics = false
	})
	base = "http://" + closed.Addr()
	for _, path := range []string{"/livez", "/readyz", "/health", "/metrics"} {
		is.Equal(status(t, base+path, "", ""), http.StatusUnauthorized)                          // no token
		is.Equal(status(t, base+path, "", scopeTokens[auth.ScopeTrigger]), http.StatusForbidden) // no read scope
		is.Equal(status(t, base+path, "", scopeTokens[auth.ScopeRead]), http.StatusOK)           // read
	}
}

// A loopback server answers loopback names only: a page whose own name was rebound to
// 127.0.0.1 sends that name as Host and is refused.
func TestLoopbackChecksHost(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := start(t, config.RoleAll)
	base := "http://" + a.Addr()
	is.Equal(status(t, base+"/livez", "", ""), http.StatusOK)
	is.Equal(status(t, base+"/livez", "localhost", ""), http.StatusOK)
	is.Equal(status(t, base+"/livez", "rebound.example.com", ""), http.StatusMisdirectedRequest)
	is.True(callAsHost(t, base, "rebound.example.com:80") != 0)    // the RPCs too
	is.Equal(callAsHost(t, base, "127.0.0.1:80"), connect.Code(0)) // (the same call with a loopback name)

	allowed := startWithAuth(t, config.RoleAll, "", func(c *config.Config) { c.AllowedHosts = []string{"wfr.internal"} })
	is.Equal(status(t, "http://"+allowed.Addr()+"/livez", "wfr.internal:8080", ""), http.StatusOK) // configured name
}

func callAsHost(t *testing.T, baseURL, host string) connect.Code {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	client := connect.NewClient[emptypb.Empty, emptypb.Empty](&http.Client{Transport: hostRewriter{host, tr}},
		baseURL+"/workflowruntime.v1.WorkflowRuntimeService/ListDeployments")
	_, err := client.CallUnary(t.Context(), connect.NewRequest(&emptypb.Empty{}))
	if err == nil {
		return 0
	}
	return connect.CodeOf(err)
}

type hostRewriter struct {
	host string
	next http.RoundTripper
}

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = h.host
	return h.next.RoundTrip(r)
}

// SIGHUP reloads the tokens file: a token added to it works, one removed no longer does, and a
// file that does not parse leaves the tokens in force.
func TestTokensReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	path := writeTokens(t, "")
	log := make(messages, 256)
	a := startLogged(t, config.RoleAll, path, nil, slog.New(log))
	base := "http://" + a.Addr()
	const list = "/workflowruntime.v1.WorkflowRuntimeService/ListDeployments"
	const fresh = "fresh-reader-0123456789"
	is.Equal(callAs(t, base, list, fresh, false, false), connect.CodeUnauthenticated) // not issued yet

	is.NoErr(os.WriteFile(path, []byte("fresh read "+fresh+"\n"), 0o600))
	is.NoErr(syscall.Kill(os.Getpid(), syscall.SIGHUP))
	log.next(t, "bearer tokens reloaded")
	is.Equal(callAs(t, base, list, fresh, false, false), connect.Code(0))                                   // the new token works
	is.Equal(callAs(t, base, list, scopeTokens[auth.ScopeRead], false, false), connect.CodeUnauthenticated) // the old one is gone

	is.NoErr(os.WriteFile(path, []byte("broken line\n"), 0o600))
	is.NoErr(syscall.Kill(os.Getpid(), syscall.SIGHUP))
	log.next(t, "tokens not reloaded; the previous ones stay in force")
	is.Equal(callAs(t, base, list, fresh, false, false), connect.Code(0)) // still in force
}

// TestTriggerRateLimitPerToken: each token has its own bucket; past it TriggerWorkflow answers
// resource_exhausted with a RetryInfo detail, and nothing is triggered.
func TestTriggerRateLimitPerToken(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	path := writeTokens(t, "other-gateway trigger,read other-trigger-0123456789\n")
	a := startWithAuth(t, config.RoleAll, path, func(c *config.Config) { c.TriggerRate, c.TriggerBurst = 0.01, 2 })
	base := "http://" + a.Addr()
	admin := authedClient(base, scopeTokens[auth.ScopeAdmin])
	_, err := admin.DeployWorkflow(t.Context(), &workflowruntimev1.DeployWorkflowRequest{
		Definition: &workflowruntimev1.WorkflowDefinition{Id: "limited", Name: "limited", Nodes: []*workflowruntimev1.Node{{Id: "a", Type: "noop"}}},
	})
	is.NoErr(err)
	trigger := func(token string) error {
		_, err := authedClient(base, token).TriggerWorkflow(t.Context(), &workflowruntimev1.TriggerWorkflowRequest{
			Target: &workflowruntimev1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "limited"},
		})
		return err
	}
	is.NoErr(trigger(scopeTokens[auth.ScopeTrigger]))
	is.NoErr(trigger(scopeTokens[auth.ScopeTrigger])) // the burst of 2
	err = trigger(scopeTokens[auth.ScopeTrigger])
	is.Equal(connect.CodeOf(err), connect.CodeResourceExhausted) // past it
	var cerr *connect.Error
	is.True(errors.As(err, &cerr))
	var retry *errdetails.RetryInfo
	for _, d := range cerr.Details() {
		if v, err := d.Value(); err == nil {
			if r, ok := v.(*errdetails.RetryInfo); ok {
				retry = r
			}
		}
	}
	is.True(retry != nil && retry.GetRetryDelay().AsDuration() > 0) // says when to come back
	is.NoErr(trigger("other-trigger-0123456789"))                   // another token is not held back

	res, err := admin.GetExecutionHistory(t.Context(), &workflowruntimev1.GetExecutionHistoryRequest{WorkflowId: "limited"})
	is.NoErr(err)
	is.Equal(len(res.GetExecutions()), 3) // the refused call triggered nothing
}

func authedClient(base, token string) workflowruntimev1connect.WorkflowRuntimeServiceClient {
	return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(h2cClient(), base, connect.WithInterceptors(bearer(token)))
}

// bearer sends the token on every call of a client, unary and streaming (WatchExecutions).
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
