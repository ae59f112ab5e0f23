package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// TestMetricsNames: the service's own instruments come out under the documented names.
func TestMetricsNames(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	p, err := telemetry.NewProvider(t.Context(), telemetry.Options{Getenv: func(string) string { return "" }})
	is.NoErr(err)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	m := p.Metrics()
	ctx := t.Context()
	m.ExecutionFinished(ctx, "SUCCEEDED")
	m.ExecutionFinished(ctx, "FAILED")
	m.LockWait(ctx, "SKIP")
	m.FireLateness(ctx, 1500*time.Millisecond)
	m.Misfire(ctx, "nightly", 2)
	m.JanitorDeleted(ctx, "executions", 10)
	m.TakingWork(ctx, true)
	m.TakingWork(ctx, false)
	stop, err := m.ObserveQueue(func(context.Context) (telemetry.QueueCounts, error) {
		return telemetry.QueueCounts{Ready: 4, Pending: 1, OldestAge: 3 * time.Second}, nil
	})
	is.NoErr(err)
	defer func() { _ = stop() }()

	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	is.NoErr(err) // the exposition parses
	for _, name := range []string{
		"wfr_executions_finished_total", "wfr_lock_waits_total", "wfr_scheduler_fire_lateness_seconds",
		"wfr_scheduler_misfires_total", "wfr_janitor_deleted_total", "wfr_queue_messages", "wfr_queue_oldest_age_seconds",
		"wfr_worker_taking_work",
	} {
		if families[name] == nil {
			var names []string
			for n := range families {
				if strings.HasPrefix(n, "wfr") {
					names = append(names, n)
				}
			}
			t.Fatalf("no family %s; have %v", name, names)
		}
	}
	is.Equal(families["wfr_queue_oldest_age_seconds"].GetMetric()[0].GetGauge().GetValue(), 3.0)
	is.Equal(families["wfr_worker_taking_work"].GetMetric()[0].GetGauge().GetValue(), 0.0) // the last value
	is.Equal(families["wfr_scheduler_fire_lateness_seconds"].GetMetric()[0].GetHistogram().GetSampleSum(), 1.5)
	misfires := families["wfr_scheduler_misfires_total"].GetMetric()[0]
	is.Equal(misfires.GetCounter().GetValue(), 2.0)
	labels := map[string]string{}
	for _, l := range misfires.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	is.Equal(labels["workflow"], "nightly") // by workflow
	var nilMetrics *telemetry.Metrics
	nilMetrics.ExecutionFinished(ctx, "SUCCEEDED") // a nil *Metrics records nothing
	nilMetrics.TakingWork(ctx, true)
}

func TestNoExporterSpansCarryIDsButDoNotRecord(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	p, err := telemetry.NewProvider(t.Context(), telemetry.Options{Getenv: func(string) string { return "" }})
	is.NoErr(err)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	_, span := p.TracerProvider().Tracer("test").Start(t.Context(), "op")
	defer span.End()
	is.True(span.SpanContext().TraceID().IsValid()) // logs and the queue still get a trace id
	is.True(!span.IsRecording())                    // but nothing is recorded for nobody
}

// TestRecordingOnlyWithAnExporter: Recording says whether spans are recorded, which decides
// whether instrumentation that costs per span (redisotel's tracing hook) is installed.
func TestRecordingOnlyWithAnExporter(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	none, err := telemetry.NewProvider(t.Context(), telemetry.Options{Getenv: func(string) string { return "" }})
	is.NoErr(err)
	t.Cleanup(func() { _ = none.Shutdown(context.Background()) })
	is.True(!none.Recording())
	exp := tracetest.NewInMemoryExporter()
	with, err := telemetry.NewProvider(t.Context(), telemetry.Options{SpanExporter: exp, SyncExport: true, Getenv: func(string) string { return "" }})
	is.NoErr(err)
	t.Cleanup(func() { _ = with.Shutdown(context.Background()) })
	is.True(with.Recording())
	_, span := with.TracerProvider().Tracer("test").Start(t.Context(), "op")
	is.True(span.IsRecording())
	span.End()
	is.Equal(len(exp.GetSpans()), 1)
}
