package httpserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/matryer/is"
	"google.golang.org/protobuf/reflect/protoreflect"

	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
)

// service answers GetSystemHealth; every other RPC is unimplemented. When block is set,
// GetSystemHealth calls it first.
type service struct {
	workflowruntimev1connect.UnimplementedWorkflowRuntimeServiceHandler
	block func(ctx context.Context) error
}

func (s *service) GetSystemHealth(ctx context.Context, _ *workflowruntimev1.GetSystemHealthRequest) (*workflowruntimev1.GetSystemHealthResponse, error) {
	if s.block != nil {
		if err := s.block(ctx); err != nil {
			return nil, err
		}
	}
	return &workflowruntimev1.GetSystemHealthResponse{Status: "healthy", Version: "test"}, nil
}

type testBundle struct {
	server  *httpserver.Server
	checker *health.Checker
	svc     *service
	url     string
	http1   *http.Client // HTTP/1.1
	h2c     *http.Client // cleartext HTTP/2 with prior knowledge, for gRPC
}

type setupOpts struct {
	modify func(*config.Config)
	svc    *service
}

func setup(t *testing.T, opts setupOpts) *testBundle {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownGrace = 5 * time.Second
	if opts.modify != nil {
		opts.modify(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	svc := opts.svc
	if svc == nil {
		svc = &service{}
	}
	logger := slog.New(slog.DiscardHandler)
	checker := health.NewChecker(health.Options{Version: "test"})
	checker.Register("database", func(context.Context) error { return nil })
	srv := httpserver.New(cfg, svc, checker, logger)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })

	h1 := &http.Transport{}
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	return &testBundle{
		server:  srv,
		checker: checker,
		svc:     svc,
		url:     srv.URL(),
		http1:   &http.Client{Transport: h1},
		h2c:     &http.Client{Transport: h2},
	}
}

// protocols are the ways a client reaches the service.
var protocols = []struct {
	name string
	h2c  bool
	opts []connect.ClientOption
}{
	{"connect json", false, []connect.ClientOption{connect.WithProtoJSON()}},
	{"connect proto", false, nil},
	{"connect proto over h2c", true, nil},
	{"grpc", true, []connect.ClientOption{connect.WithGRPC()}},
	{"grpc-web", false, []connect.ClientOption{connect.WithGRPCWeb()}},
}

// get sends a GET of url through client, bound to the test's context. The caller closes the
// body.
func get(t *testing.T, client *http.Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return client.Do(req)
}

func (b *testBundle) client(h2c bool, opts ...connect.ClientOption) workflowruntimev1connect.WorkflowRuntimeServiceClient {
	hc := b.http1
	if h2c {
		hc = b.h2c
	}
	return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(hc, b.url, opts...)
}

func TestProtocols(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})

	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			res, err := b.client(p.h2c, p.opts...).GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
			is.NoErr(err)
			is.Equal(res.GetStatus(), "healthy")

			_, err = b.client(p.h2c, p.opts...).GetExecution(t.Context(), &workflowruntimev1.GetExecutionRequest{})
			is.True(err != nil) // not implemented by the test service, or refused by validation
		})
	}
}

func TestAddrIsBound(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})
	is.True(!strings.HasSuffix(b.server.Addr(), ":0")) // the real port, known after Start
	is.True(strings.HasPrefix(b.server.Addr(), "127.0.0.1:"))
}

func TestValidationRejectsBadRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})

	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			// page_size is capped at 1000 in the proto.
			_, err := b.client(p.h2c, p.opts...).ListDeployments(t.Context(), &workflowruntimev1.ListDeploymentsRequest{PageSize: 5000})
			is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument) // refused before the handler (which is unimplemented)

			_, err = b.client(p.h2c, p.opts...).ListDeployments(t.Context(), &workflowruntimev1.ListDeploymentsRequest{PageSize: 10})
			is.Equal(connect.CodeOf(err), connect.CodeUnimplemented) // a valid request reaches the handler
		})
	}
}

func TestRequestTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{modify: func(c *config.Config) { c.MaxRequestBytes = 1024 }})

	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			big := &workflowruntimev1.ListDeploymentsRequest{PageToken: strings.Repeat("x", 4096)}
			_, err := b.client(p.h2c, p.opts...).ListDeployments(t.Context(), big)
			is.Equal(connect.CodeOf(err), connect.CodeResourceExhausted) // over MaxRequestBytes
		})
	}

	t.Run("raw body", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		// A Connect unary body over the limit, sent raw: the MaxBytesReader refuses it too.
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			b.url+workflowruntimev1connect.WorkflowRuntimeServiceListDeploymentsProcedure,
			strings.NewReader(`{"pageToken":"`+strings.Repeat("x", 4096)+`"}`))
		is.NoErr(err)
		req.Header.Set("Content-Type", "application/json")
		res, err := b.http1.Do(req)
		is.NoErr(err)
		defer func() { _ = res.Body.Close() }()
		body, _ := io.ReadAll(res.Body)
		is.Equal(res.StatusCode, http.StatusTooManyRequests) // connect's HTTP status for resource_exhausted
		is.True(strings.Contains(string(body), "resource_exhausted"))
	})
}

func TestReflection(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})

	client := grpcreflect.NewClient(b.h2c, b.url, connect.WithGRPC())
	stream := client.NewStream(t.Context())
	defer func() { _, _ = stream.Close() }()
	names, err := stream.ListServices()
	is.NoErr(err)
	is.True(slices.Contains(names, protoreflect.FullName(workflowruntimev1connect.WorkflowRuntimeServiceName)))
	is.True(slices.Contains(names, protoreflect.FullName(grpchealth.HealthV1ServiceName)))
	files, err := stream.FileContainingSymbol(workflowruntimev1connect.WorkflowRuntimeServiceName)
	is.NoErr(err)
	is.True(len(files) > 0) // the descriptors, for grpcurl and buf curl

	// v1alpha, for older grpcurl: the route is mounted (a bare GET gets a protocol error, not 404).
	res, err := get(t, b.http1, b.url+"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
	is.NoErr(err)
	_ = res.Body.Close()
	is.True(res.StatusCode != http.StatusNotFound)
}

func TestGRPCHealth(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})

	client := grpchealth.NewClient(b.h2c, b.url, connect.WithGRPC())
	for _, service := range []string{"", workflowruntimev1connect.WorkflowRuntimeServiceName} {
		res, err := client.Check(t.Context(), &grpchealth.CheckRequest{Service: service})
		is.NoErr(err)
		is.Equal(res.Status, grpchealth.StatusServing) // service
	}
	_, err := client.Check(t.Context(), &grpchealth.CheckRequest{Service: "nope.v1.Nope"})
	is.Equal(connect.CodeOf(err), connect.CodeNotFound)

	b.checker.SetReady(false) // as Stop does first
	res, err := client.Check(t.Context(), &grpchealth.CheckRequest{Service: workflowruntimev1connect.WorkflowRuntimeServiceName})
	is.NoErr(err)
	is.Equal(res.Status, grpchealth.StatusNotServing)
}

func TestHTTPHealthEndpoints(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})

	for path, want := range map[string]int{"/health": 200, "/livez": 200, "/readyz": 200, "/nope": 404} {
		res, err := get(t, b.http1, b.url+path)
		is.NoErr(err)
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		is.Equal(res.StatusCode, want) // path
		if path == "/health" {
			is.True(strings.Contains(string(body), `"database":{"status":"healthy"`))
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()

	// preflight returns the headers of the answer to a CORS preflight from origin.
	preflight := func(t *testing.T, b *testBundle, origin, requestHeaders string) http.Header {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions,
			b.url+workflowruntimev1connect.WorkflowRuntimeServiceGetSystemHealthProcedure, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		// Browsers send the list lower-case and sorted; rs/cors insists on that form.
		req.Header.Set("Access-Control-Request-Headers", requestHeaders)
		res, err := b.http1.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.Header
	}

	t.Run("configured", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		b := setup(t, setupOpts{modify: func(c *config.Config) {
			c.CORSAllowedOrigins = []string{"https://dash.example.com"}
		}})
		header := preflight(t, b, "https://dash.example.com", "connect-protocol-version,content-type")
		is.Equal(header.Get("Access-Control-Allow-Origin"), "https://dash.example.com")
		is.True(strings.Contains(strings.ToLower(header.Get("Access-Control-Allow-Headers")), "connect-protocol-version"))

		header = preflight(t, b, "https://evil.example.com", "connect-protocol-version,content-type")
		is.Equal(header.Get("Access-Control-Allow-Origin"), "") // origin not allowed
	})

	// What the dashboard sends from another origin: a bearer token and trace context, over
	// Connect and over gRPC-Web.
	t.Run("dashboard request headers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{modify: func(c *config.Config) {
			c.CORSAllowedOrigins = []string{"https://dash.example.com"}
		}})
		for _, requested := range []string{
			"authorization,connect-protocol-version,content-type,traceparent,tracestate",
			"authorization,content-type,traceparent,x-grpc-web,x-user-agent",
		} {
			is := is.New(t)
			header := preflight(t, b, "https://dash.example.com", requested)
			is.Equal(header.Get("Access-Control-Allow-Origin"), "https://dash.example.com") // preflight passed
			allowed := strings.ToLower(header.Get("Access-Control-Allow-Headers"))
			for _, h := range strings.Split(requested, ",") {
				is.True(strings.Contains(allowed, h)) // every requested header allowed
			}
		}
	})

	// What the dashboard reads: a gRPC-Web error travels in the Grpc-* headers of a trailers-only
	// answer, which a browser hides from a script on another origin unless they are exposed.
	t.Run("dashboard response headers", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		b := setup(t, setupOpts{modify: func(c *config.Config) {
			c.CORSAllowedOrigins = []string{"https://dash.example.com"}
		}})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			b.url+workflowruntimev1connect.WorkflowRuntimeServiceGetExecutionProcedure, strings.NewReader("\x00\x00\x00\x00\x00"))
		is.NoErr(err)
		req.Header.Set("Origin", "https://dash.example.com")
		req.Header.Set("Content-Type", "application/grpc-web+proto")
		req.Header.Set("X-Grpc-Web", "1")
		res, err := b.http1.Do(req)
		is.NoErr(err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		is.Equal(res.Header.Get("Access-Control-Allow-Origin"), "https://dash.example.com")
		is.True(res.Header.Get("Grpc-Status") != "") // the error is in the headers (unimplemented here)
		exposed := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"grpc-status", "grpc-message", "grpc-status-details-bin", "www-authenticate", "retry-after"} {
			is.True(strings.Contains(exposed, h)) // exposed to the page's script
		}
	})

	t.Run("default off", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		b := setup(t, setupOpts{})
		header := preflight(t, b, "https://dash.example.com", "connect-protocol-version,content-type")
		is.Equal(header.Get("Access-Control-Allow-Origin"), "") // no CORS
	})
}

func TestNoServiceServesHealthOnly(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	checker := health.NewChecker(health.Options{})
	srv := httpserver.New(cfg, nil, checker, slog.New(slog.DiscardHandler))
	is.NoErr(srv.Start(t.Context()))
	defer func() { is.NoErr(srv.Stop(context.Background())) }()

	res, err := get(t, http.DefaultClient, srv.URL()+"/readyz")
	is.NoErr(err)
	_ = res.Body.Close()
	is.Equal(res.StatusCode, http.StatusOK)

	client := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, srv.URL())
	_, err = client.GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeUnimplemented) // the API is not mounted (404)
}

func TestGracefulStop(t *testing.T) {
	t.Parallel()

	for _, p := range []struct {
		name string
		h2c  bool
		opts []connect.ClientOption
	}{
		{"connect over http1", false, nil},
		{"grpc over h2c", true, []connect.ClientOption{connect.WithGRPC()}},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)

			entered, finished := make(chan struct{}), make(chan struct{})
			release := make(chan struct{})
			svc := &service{block: func(context.Context) error {
				close(entered)
				<-release
				defer close(finished)
				return nil
			}}
			b := setup(t, setupOpts{svc: svc})

			// Release the in-flight request once Stop has begun (readiness went false).
			var once sync.Once
			watcher := b.checker.GRPC().(grpchealth.Watcher)
			stopWatch, err := watcher.Watch(t.Context(), &grpchealth.CheckRequest{}, func() {
				once.Do(func() { close(release) })
			})
			is.NoErr(err)
			defer stopWatch()

			type result struct {
				res *workflowruntimev1.GetSystemHealthResponse
				err error
			}
			done := make(chan result, 1)
			go func() {
				res, err := b.client(p.h2c, p.opts...).GetSystemHealth(context.Background(), &workflowruntimev1.GetSystemHealthRequest{})
				done <- result{res, err}
			}()
			<-entered

			is.NoErr(b.server.Stop(context.Background())) // waits for the in-flight request
			select {
			case <-finished:
			default:
				t.Fatal("Stop returned before the in-flight request finished")
			}
			r := <-done
			is.NoErr(r.err) // the in-flight request completed
			is.Equal(r.res.GetStatus(), "healthy")
			is.True(!b.checker.Ready()) // not ready after Stop

			_, err = b.client(p.h2c, p.opts...).GetSystemHealth(t.Context(), &workflowruntimev1.GetSystemHealthRequest{})
			is.True(err != nil) // no new requests after Stop

			is.NoErr(b.server.Stop(context.Background())) // idempotent
		})
	}
}

func TestStopAfterGraceCutsOff(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	entered := make(chan struct{})
	svc := &service{block: func(ctx context.Context) error {
		close(entered)
		<-ctx.Done() // never finishes on its own
		return ctx.Err()
	}}
	b := setup(t, setupOpts{svc: svc, modify: func(c *config.Config) { c.ShutdownGrace = 50 * time.Millisecond }})

	done := make(chan error, 1)
	go func() {
		_, err := b.client(false).GetSystemHealth(context.Background(), &workflowruntimev1.GetSystemHealthRequest{})
		done <- err
	}()
	<-entered
	err := b.server.Stop(context.Background())
	is.True(errors.Is(err, context.DeadlineExceeded)) // the grace period ran out
	is.True(<-done != nil)                            // the request was cut off
}

func TestStartTwiceAndStopBeforeStart(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	checker := health.NewChecker(health.Options{})
	srv := httpserver.New(cfg, &service{}, checker, slog.New(slog.DiscardHandler))
	is.NoErr(srv.Stop(context.Background())) // before Start: nothing to do

	srv = httpserver.New(cfg, &service{}, checker, slog.New(slog.DiscardHandler))
	is.NoErr(srv.Start(t.Context()))
	is.True(srv.Start(t.Context()) != nil) // already started
	is.NoErr(srv.Stop(context.Background()))
	<-srv.Done()
}

func TestStartAddressInUse(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})
	cfg := config.Default()
	cfg.Addr = b.server.Addr()
	srv := httpserver.New(cfg, &service{}, health.NewChecker(health.Options{}), slog.New(slog.DiscardHandler))
	err := srv.Start(t.Context())
	is.True(err != nil) // the port is taken
	is.True(strings.Contains(err.Error(), cfg.Addr))
}
