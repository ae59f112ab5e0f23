package telemetry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"connectrpc.com/otelconnect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options configures a Provider. Every field has a default.
type Options struct {
	// ServiceName is the service.name resource attribute. Default "workflow-runtime".
	ServiceName string
	// ServiceVersion is service.version. Default "dev".
	ServiceVersion string
	// Role is the process's role (all, api, scheduler, worker, engine), a resource attribute.
	Role string
	// SpanExporter receives the finished spans (batched). Default: an OTLP HTTP/protobuf
	// exporter when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set
	// (configured by the standard OTEL_EXPORTER_OTLP_* variables), otherwise none: spans are
	// still created, so trace ids reach the logs and the queue, but go nowhere.
	SpanExporter sdktrace.SpanExporter
	// SyncExport exports each span as it ends instead of in batches (tests). Default false.
	SyncExport bool
	// Getenv reads the environment. Default os.Getenv.
	Getenv func(string) string
}

// Provider is the OpenTelemetry set-up of one process: a TracerProvider, the W3C trace-context
// propagator, a MeterProvider read by the Prometheus exporter into a registry of its own
// (served by MetricsHandler), and the service's own instruments (Metrics). Nothing is
// installed globally: the app hands the providers to each component. Build it with
// NewProvider; Shutdown flushes and stops it.
type Provider struct {
	tracer     *sdktrace.TracerProvider
	meter      *sdkmetric.MeterProvider
	propagator propagation.TextMapPropagator
	registry   *prometheus.Registry
	metrics    *Metrics
	recording  bool // an exporter takes the spans
}

// NewProvider builds the Provider. No connection is made: an OTLP exporter connects when it
// first exports.
func NewProvider(ctx context.Context, opts Options) (*Provider, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", cmp.Or(opts.ServiceName, "workflow-runtime")),
		attribute.String("service.version", cmp.Or(opts.ServiceVersion, "dev")),
		attribute.String("workflow_runtime.role", opts.Role),
	))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	exporter := opts.SpanExporter
	if exporter == nil && (getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "") {
		exporter, err = otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if exporter == nil {
		// Nobody reads the spans: make them non-recording. They still carry trace and span
		// ids (logs, the queue's traceparent), but cost next to nothing on the hot path.
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	if exporter != nil {
		if opts.SyncExport {
			tpOpts = append(tpOpts, sdktrace.WithSyncer(exporter))
		} else {
			tpOpts = append(tpOpts, sdktrace.WithBatcher(exporter))
		}
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reader, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	p := &Provider{
		tracer:     sdktrace.NewTracerProvider(tpOpts...),
		meter:      sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader)),
		propagator: propagation.TraceContext{},
		registry:   registry,
		recording:  exporter != nil,
	}
	p.metrics, err = newMetrics(p.meter.Meter(instrumentationName))
	if err != nil {
		return nil, err
	}
	return p, nil
}

// instrumentationName names the service's own tracer and meter.
const instrumentationName = "github.com/workflow-runtime/workflow-runtime"

// Recording reports whether spans are recorded: an exporter takes them. Without one every span
// is non-recording, and instrumentation that does work of its own per span before it starts
// one (redisotel formats each command and walks the stack for its caller) can be left out.
func (p *Provider) Recording() bool { return p.recording }

// TracerProvider is the process's tracer provider.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tracer }

// MeterProvider is the process's meter provider.
func (p *Provider) MeterProvider() metric.MeterProvider { return p.meter }

// Propagator is W3C TraceContext.
func (p *Provider) Propagator() propagation.TextMapPropagator { return p.propagator }

// Metrics are the service's own instruments.
func (p *Provider) Metrics() *Metrics { return p.metrics }

// MetricsHandler serves the metrics in the Prometheus exposition formats: mount it at /metrics.
func (p *Provider) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{})
}

// ConnectInterceptor returns the otelconnect interceptor for handlers and clients: a span per
// RPC (server spans continue the caller's trace: the callers are the gateway and our own
// processes) and rpc.server.duration / rpc.client.duration by procedure and code. Put it
// outermost.
func (p *Provider) ConnectInterceptor() (*otelconnect.Interceptor, error) {
	i, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(p.tracer),
		otelconnect.WithMeterProvider(p.meter),
		otelconnect.WithPropagator(p.propagator),
		otelconnect.WithTrustRemote(),
	)
	if err != nil {
		return nil, fmt.Errorf("otelconnect interceptor: %w", err)
	}
	return i, nil
}

// Shutdown flushes pending spans and stops the providers. Idempotent enough: a second call
// returns the SDK's "already shut down" errors, which callers may ignore.
func (p *Provider) Shutdown(ctx context.Context) error {
	return errors.Join(p.tracer.Shutdown(ctx), p.meter.Shutdown(ctx))
}
