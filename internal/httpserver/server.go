// Package httpserver is the service's one HTTP server: Connect, gRPC and gRPC-Web on the same
// port (HTTP/1.1 and cleartext HTTP/2 via the standard library's Protocols), gRPC reflection,
// the gRPC health protocol, /health, /livez and /readyz, and CORS for browsers when configured.
//
// Every Connect handler is built with the same options, in one place (handlerOptions):
// interceptors outermost first — telemetry (WithTelemetry), access log, recover, size caps
// (sizerules: a request over a repeated, map, string or bytes cap is refused before the full
// rule pass), validation —
// plus the compression threshold and the read limit from config. WithTelemetry also serves
// GET /metrics. Long-lived streams (WatchExecutions) are bounded in number, in all and per caller
// (quota.StreamLimiter), and manage their own read and write deadlines (streams.go), so that the
// server's timeouts stay in place for every unary RPC.
//
// Cleartext connections read through a buffer (readbuf.go): the HTTP/2 server reads each frame
// with two unbuffered reads otherwise.
//
// Lifecycle: New builds everything without side effects; Start listens (so Addr is known at
// once), serves in the background and marks the health.Checker ready; Stop marks it not ready
// (readyz 503, gRPC NOT_SERVING) and shuts down gracefully within ShutdownGrace.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/validate"
	"github.com/rs/cors"

	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/api/sizerules"
	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/quota"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// envelopeBytes is the gRPC/Connect-streaming frame header (1 flag byte, 4 length bytes): the
// http.MaxBytesReader allows one message of MaxRequestBytes in its envelope.
const envelopeBytes = 5

// corsMaxAge is how long (seconds) a browser may cache a CORS preflight answer.
const corsMaxAge = 7200

// Server is the HTTP server. Build it with New.
type Server struct {
	cfg     config.Config
	checker *health.Checker
	logger  *slog.Logger
	handler http.Handler
	srv     *http.Server

	mu        sync.Mutex
	listener  net.Listener
	started   bool
	serveDone chan struct{} // closed when Serve returns
	serveErr  error         // Serve's error, other than ErrServerClosed; read after serveDone

	stopOnce sync.Once
	stopErr  error
}

// New builds the server around svc (nil: WorkflowRuntimeService is not mounted, for roles that
// do not serve the API) and checker (its gRPC and HTTP health endpoints, and readiness). It
// does not listen; call Start. cfg is used as is: validate it first. With svc, the checker's
// gRPC health protocol answers for workflowruntime.v1.WorkflowRuntimeService too.
func New(cfg config.Config, svc workflowruntimev1connect.WorkflowRuntimeServiceHandler, checker *health.Checker, logger *slog.Logger, opts ...Option) *Server {
	s := &Server{
		cfg:       cfg,
		checker:   checker,
		logger:    logger,
		handler:   NewHandler(cfg, svc, checker, logger, opts...),
		serveDone: make(chan struct{}),
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if cfg.TLSCertFile != "" {
		protocols.SetHTTP2(true) // gRPC over TLS, by ALPN
	} else {
		protocols.SetUnencryptedHTTP2(true) // gRPC without TLS (h2c with prior knowledge)
	}
	s.srv = &http.Server{
		Addr:              cfg.Addr,
		Handler:           s.handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    http.DefaultMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Option is something more on the server: a Service, WithTelemetry.
type Option interface{ apply(*options) }

type options struct {
	extra     []Service
	telemetry *telemetry.Provider
	tokens    *auth.Tokens
	public    []route
}

// route is a plain HTTP endpoint mounted by WithPublicRoute.
type route struct {
	pattern string
	handler http.Handler
}

func (r route) apply(o *options) { o.public = append(o.public, r) }

// WithPublicRoute mounts h at pattern (a ServeMux pattern such as "POST /hooks/{path...}")
// outside bearer-token authentication, even with WithAuth: for endpoints that authenticate
// each request themselves (signed webhooks). The body limit and the Host check still apply.
func WithPublicRoute(pattern string, h http.Handler) Option { return route{pattern, h} }

type authOption struct{ tokens *auth.Tokens }

func (a authOption) apply(o *options) { o.tokens = a.tokens }

// WithAuth makes every RPC need a bearer token of tokens with the procedure's scope
// (auth.NewInterceptor, between recover and validation), and /metrics and the health endpoints
// too unless cfg opens them (AuthOpenMetrics, AuthOpenHealth).
func WithAuth(tokens *auth.Tokens) Option { return authOption{tokens} }

func (s Service) apply(o *options) { o.extra = append(o.extra, s) }

type telemetryOption struct{ p *telemetry.Provider }

func (t telemetryOption) apply(o *options) { o.telemetry = t.p }

// WithTelemetry instruments every Connect handler with p's otelconnect interceptor (outermost:
// a span per RPC continuing the caller's trace, rpc.server.duration by procedure and code) and
// serves p's metrics at GET /metrics.
func WithTelemetry(p *telemetry.Provider) Option { return telemetryOption{p} }

// Service is one more Connect service on the server (the engine role's WorkflowEngineService).
type Service struct {
	// Name is the fully qualified service name, for reflection and gRPC health.
	Name string
	// Handler builds the service's handler with the server's options; it returns the path
	// prefix and the handler, as generated NewXxxServiceHandler functions do.
	Handler func(opts ...connect.HandlerOption) (string, http.Handler)
}

// NewHandler is the server's whole handler stack (routes, CORS, body limit) without a
// listener, for tests and benchmarks that bring their own (httptest.NewServer).
func NewHandler(cfg config.Config, svc workflowruntimev1connect.WorkflowRuntimeServiceHandler, checker *health.Checker, logger *slog.Logger, more ...Option) http.Handler {
	var o options
	for _, opt := range more {
		opt.apply(&o)
	}
	extra := o.extra
	mux := http.NewServeMux()
	opts := handlerOptions(cfg, logger)
	// protect wraps a plain HTTP endpoint that needs the read scope when authentication is on
	// and cfg does not open it.
	protect := func(open bool, h http.Handler) http.Handler {
		if o.tokens == nil || open {
			return h
		}
		return auth.RequireHTTP(o.tokens, auth.ScopeRead, h)
	}
	if o.tokens != nil {
		opts = append(opts, connect.WithInterceptors(auth.NewInterceptor(o.tokens))) // after recover
	}
	if l := quota.New(quota.Config{
		Rate: cfg.TriggerRate, Burst: cfg.TriggerBurst,
		Procedures: []string{workflowruntimev1connect.WorkflowRuntimeServiceTriggerWorkflowProcedure},
	}); l != nil {
		opts = append(opts, connect.WithInterceptors(l)) // after auth: the caller is the token
	}
	if l := quota.NewStreamLimiter(quota.StreamConfig{
		Max: cfg.MaxWatches, PerCaller: cfg.MaxWatchesPerCaller,
		Procedures: []string{workflowruntimev1connect.WorkflowRuntimeServiceWatchExecutionsProcedure},
	}); l != nil {
		opts = append(opts, connect.WithInterceptors(l)) // after auth: the caller is the token
	}
	opts = append(opts, connect.WithInterceptors(streamDeadlineInterceptor{})) // streams.go
	if o.telemetry != nil {
		otel, err := o.telemetry.ConnectInterceptor()
		if err != nil {
			logger.Error("rpc telemetry disabled", slog.Any("error", err))
		} else {
			opts = append([]connect.HandlerOption{connect.WithInterceptors(otel)}, opts...) // outermost
		}
		mux.Handle("GET /metrics", protect(cfg.AuthOpenMetrics, o.telemetry.MetricsHandler()))
	}

	services := []string{grpchealth.HealthV1ServiceName}
	if svc != nil {
		checker.RegisterService(workflowruntimev1connect.WorkflowRuntimeServiceName)
		mux.Handle(workflowruntimev1connect.NewWorkflowRuntimeServiceHandler(svc,
			connect.WithHandlerOptions(opts...),
			api.WithJSONCodec(), // unknown enum names reach protovalidate instead of vanishing
			// innermost: size caps first, so an oversized request skips the full rule pass
			connect.WithInterceptors(sizerules.NewInterceptor(), validate.NewInterceptor(), api.NewInputInterceptor()),
		))
		services = append(services, workflowruntimev1connect.WorkflowRuntimeServiceName)
	}
	for _, e := range extra {
		checker.RegisterService(e.Name)
		mux.Handle(e.Handler(connect.WithHandlerOptions(opts...), connect.WithInterceptors(sizerules.NewInterceptor(), validate.NewInterceptor())))
		services = append(services, e.Name)
	}
	reflector := grpcreflect.NewStaticReflector(services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, opts...))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, opts...))
	mux.Handle(grpchealth.NewHandler(checker.GRPC(), opts...))
	for _, r := range o.public {
		mux.Handle(r.pattern, r.handler)
	}
	healthMux := http.NewServeMux()
	checker.Mount(healthMux)
	for _, path := range []string{"GET /health", "GET /livez", "GET /readyz"} {
		mux.Handle(path, protect(cfg.AuthOpenHealth, healthMux))
	}

	var h http.Handler = mux
	h = withStreamDeadlines(h, cfg.WriteTimeout)
	h = limitBody(h, cfg.MaxRequestBytes+envelopeBytes)
	if len(cfg.CORSAllowedOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: cfg.CORSAllowedOrigins,
			AllowedMethods: connectcors.AllowedMethods(),
			AllowedHeaders: corsAllowedHeaders(),
			ExposedHeaders: corsExposedHeaders(),
			MaxAge:         corsMaxAge,
		}).Handler(h)
	}
	if hosts := allowedHosts(cfg); hosts != nil {
		h = auth.CheckHost(hosts, h) // outermost: a rebound name gets nothing, not even CORS
	}
	return withStack(h) // stack.go
}

// corsAllowedHeaders are the request headers a browser on an allowed origin may send: Connect's
// and gRPC-Web's (connectcors), the bearer token, and the W3C trace context that a dashboard's
// tracing sends to continue its trace here.
func corsAllowedHeaders() []string {
	return append(connectcors.AllowedHeaders(), "Authorization", "Traceparent", "Tracestate")
}

// corsExposedHeaders are the response headers a browser on an allowed origin may read: gRPC-Web's
// status, message and error details (connectcors), which carry the error of a trailers-only
// answer, the WWW-Authenticate of an unauthenticated call, and Retry-After.
func corsExposedHeaders() []string {
	return append(connectcors.ExposedHeaders(), "Www-Authenticate", "Retry-After")
}

// allowedHosts are the Host names the server answers: on a loopback address loopback's names
// and cfg.AllowedHosts (DNS rebinding); elsewhere cfg.AllowedHosts when set; nil for any.
func allowedHosts(cfg config.Config) []string {
	if config.IsLoopback(cfg.Addr) {
		return append(slices.Clone(auth.LoopbackHosts), cfg.AllowedHosts...)
	}
	if len(cfg.AllowedHosts) > 0 {
		return cfg.AllowedHosts
	}
	return nil
}

// handlerOptions are the options of every Connect handler, interceptors outermost first:
// (telemetry, with WithTelemetry,) access log, then recover (so the access line shows the internal error a panic became). The
// WorkflowRuntimeService adds the size caps and validation inside these; auth (WithAuth) goes between recover
// and validation.
func handlerOptions(cfg config.Config, logger *slog.Logger) []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithInterceptors(telemetry.NewAccessLog(logger, telemetry.AccessLogConfig{All: cfg.AccessLog == "all", Slow: cfg.AccessLogSlow})),
		telemetry.WithRecover(logger),
		connect.WithCompressMinBytes(cfg.CompressMinBytes),
		connect.WithReadMaxBytes(int(cfg.MaxRequestBytes)),
	}
}

// limitBody caps every request body at limit bytes; connect turns the overrun into
// resource_exhausted.
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// Handler is the server's handler stack (the same as NewHandler's).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on cfg.Addr, serves in the background and marks the checker ready. The bound
// address is known when Start returns (see Addr). Start fails if the address is taken or if
// the server was started before.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("http server: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.TLSCertFile != "" {
		certs, err := newCertReloader(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			_ = ln.Close()
			return err
		}
		s.srv.TLSConfig = certs.tlsConfig()
		ln = tls.NewListener(ln, s.srv.TLSConfig)
	} else {
		ln = readBufferedListener{ln}
	}
	s.listener = ln
	s.started = true
	go func() {
		defer close(s.serveDone)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server stopped serving", "error", err)
			s.serveErr = err
		}
	}()
	s.checker.SetReady(true)
	s.logger.Info("http server listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the address the server listens on ("127.0.0.1:41234" after Start with port 0);
// cfg.Addr before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return s.cfg.Addr
	}
	return s.listener.Addr().String()
}

// Done is closed when the server stops serving: after Stop, or early if serving failed (Stop
// then returns the error). An owner waits on it next to its context.
func (s *Server) Done() <-chan struct{} { return s.serveDone }

// URL is "http://" + Addr(), or "https://" when the server serves TLS.
func (s *Server) URL() string {
	if s.cfg.TLSCertFile != "" {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Stop marks the checker not ready (readyz 503, gRPC health NOT_SERVING), stops accepting
// connections and waits for in-flight requests, at most cfg.ShutdownGrace (0: not at all) and
// at most until ctx is done; requests still running then are cut off and Stop returns the
// reason. Pass a context that is not already cancelled (context.WithoutCancel of a signal
// context). Stop is idempotent (later calls return the first call's result) and safe before
// Start.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Server) stop(ctx context.Context) error {
	s.checker.SetReady(false)
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	s.logger.Info("http server shutting down", "grace", s.cfg.ShutdownGrace.String())

	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownGrace)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		// Grace period over: cut the remaining connections.
		err = fmt.Errorf("http server shutdown: %w", err)
		if cerr := s.srv.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close http server: %w", cerr))
		}
	}
	<-s.serveDone
	if s.serveErr != nil {
		err = errors.Join(err, fmt.Errorf("http server: %w", s.serveErr))
	}
	s.logger.Info("http server stopped")
	return err
}
