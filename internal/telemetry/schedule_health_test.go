package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/matryer/is"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// TestScheduleHealthMetrics: the gauges hold the last evaluation, the counter adds.
func TestScheduleHealthMetrics(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	p, err := telemetry.NewProvider(t.Context(), telemetry.Options{Getenv: func(string) string { return "" }})
	is.NoErr(err)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	m, err := p.Metrics().ScheduleHealth()
	is.NoErr(err)
	ctx := t.Context()
	m.Record(ctx, map[string]int64{"OVERDUE": 2, "ON_TIME": 5}, 40, 40)
	m.Record(ctx, map[string]int64{"OVERDUE": 1, "ON_TIME": 6}, 12, 3)

	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	is.NoErr(err)
	states := map[string]float64{}
	for _, metric := range families["wfr_schedule_health_triggers"].GetMetric() {
		for _, l := range metric.GetLabel() {
			if l.GetName() == "state" {
				states[l.GetValue()] = metric.GetGauge().GetValue()
			}
		}
	}
	is.Equal(states, map[string]float64{"OVERDUE": 1, "ON_TIME": 6}) // the last evaluation
	is.Equal(families["wfr_schedule_health_owed_fires"].GetMetric()[0].GetGauge().GetValue(), 12.0)
	is.Equal(families["wfr_schedule_health_overdue_fires_total"].GetMetric()[0].GetCounter().GetValue(), 43.0) // added up

	var none *telemetry.Metrics
	nm, err := none.ScheduleHealth()
	is.NoErr(err)
	nm.Record(ctx, map[string]int64{"OVERDUE": 1}, 1, 1) // a nil set records nothing
}
