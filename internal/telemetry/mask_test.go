package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// trigger is a trigger carrying secrets at several depths.
const trigger = `{"user":{"name":"ada","password":"hunter2"},"headers":{"Authorization":"Bearer abc-secret-token"},` +
	`"list":[{"api_key":"k-secret-1"},{"nested":[{"X-Api-Key":"k-secret-2","clientSecret":"s-secret-3"}]}],"amount":12.50}`

var secrets = []string{"hunter2", "abc-secret-token", "k-secret-1", "k-secret-2", "s-secret-3", "tok-secret-4", "pw-secret-5"}

func TestIsSensitiveKey(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, k := range []string{"password", "DB_PASSWORD", "secret", "client_secret", "token", "refreshToken", "Authorization",
		"Proxy-Authorization", "api_key", "X-Api-Key", "apikey", "access_key", "AWS_ACCESS_KEY_ID", "private_key", "credentials", "Cookie"} {
		is.True(telemetry.IsSensitiveKey(k)) // k
	}
	for _, k := range []string{"user", "name", "execution_id", "workflow_id", "key", "amount", "idempotency_key"} {
		is.True(!telemetry.IsSensitiveKey(k)) // k
	}
}

func TestMaskJSON(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	out := telemetry.MaskJSON([]byte(trigger))
	for _, s := range secrets {
		is.True(!bytes.Contains(out, []byte(s))) // s
	}
	var doc map[string]any
	is.NoErr(json.Unmarshal(out, &doc))
	is.Equal(doc["user"].(map[string]any)["name"], "ada")            // other values stay
	is.Equal(doc["user"].(map[string]any)["password"], "[REDACTED]") // masked
	is.True(bytes.Contains(out, []byte(`"amount":12.50`)))           // numbers keep their text
	is.Equal(string(telemetry.MaskJSON(nil)), "")
	is.Equal(string(telemetry.MaskJSON([]byte(`[1,{"token":"x"}]`))), `[1,{"token":"[REDACTED]"}]`)
	notJSON := telemetry.MaskJSON([]byte(`password=hunter2`))
	is.True(!bytes.Contains(notJSON, []byte("hunter2"))) // not JSON: replaced as a whole
}

type params struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

// TestLogsMaskSecrets logs a trigger carrying secrets at several depths, in every shape a
// component could log it, through the process's logger (stdout and file); no secret reaches
// either.
func TestLogsMaskSecrets(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var stdout syncBuffer
	file := filepath.Join(t.TempDir(), "wfr.log")
	logger, closer, err := telemetry.OpenLogger(&stdout, telemetry.LogOptions{Level: "debug", File: file})
	is.NoErr(err)

	header := http.Header{"Authorization": {"Bearer abc-secret-token"}, "Content-Type": {"application/json"}}
	logger.Info("trigger received",
		slog.String("trigger_data", trigger),
		slog.Any("trigger_bytes", []byte(trigger)),
		slog.Any("trigger_raw", json.RawMessage(trigger)),
		slog.Any("headers", header),
		slog.Group("request", slog.String("token", "tok-secret-4"), slog.Group("auth", slog.String("password", "pw-secret-5"))),
		slog.Any("params", params{URL: "https://x", Headers: map[string]string{"X-Api-Key": "k-secret-2"}}),
		slog.Any("map", map[string]any{"nested": map[string]any{"client_secret": "s-secret-3"}}),
	)
	logger.With("trigger_data", trigger).WithGroup("g").Warn("with attrs", "api_key", "k-secret-1")
	logger.Debug("text", "authorization", "Bearer abc-secret-token")
	is.NoErr(closer.Close())

	fileOut, err := os.ReadFile(file)
	is.NoErr(err)
	is.Equal(string(fileOut), stdout.String()) // the file gets the same lines
	for _, s := range secrets {
		is.True(!strings.Contains(stdout.String(), s)) // s
	}
	lines := stdout.lines(t)
	is.Equal(len(lines), 3)
	is.Equal(lines[0]["request"].(map[string]any)["token"], "[REDACTED]")
	is.True(strings.Contains(lines[0]["trigger_data"].(string), `"name":"ada"`)) // the rest is kept
	is.Equal(lines[0]["trigger_raw"].(map[string]any)["user"].(map[string]any)["name"], "ada")
	is.Equal(lines[1]["g"].(map[string]any)["api_key"], "[REDACTED]") // inside a group
}

// TestLogsCarryTraceIDs: a line logged with a span's context carries its trace_id and
// span_id at the top level, also under groups; WithTrace does the same for context-less calls.
func TestLogsCarryTraceIDs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var out syncBuffer
	logger, err := telemetry.NewLogger(&out, "info", "json")
	is.NoErr(err)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(t.Context(), "request")
	defer span.End()

	logger.WithGroup("g").InfoContext(ctx, "in a request", "k", "v")
	telemetry.WithTrace(ctx, logger).Info("without a context")
	logger.InfoContext(t.Context(), "no span")

	lines := out.lines(t)
	is.Equal(len(lines), 3)
	for _, l := range lines[:2] {
		is.Equal(l["trace_id"], span.SpanContext().TraceID().String())
		is.Equal(l["span_id"], span.SpanContext().SpanID().String())
	}
	is.Equal(lines[0]["g"].(map[string]any)["k"], "v")
	is.Equal(lines[2]["trace_id"], nil) // none without a span
}

func TestTraceparentRoundTrip(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(t.Context(), "producer")
	defer span.End()
	header := telemetry.Traceparent(ctx)
	is.True(strings.HasPrefix(header, "00-"+span.SpanContext().TraceID().String()))
	is.Equal(telemetry.Traceparent(t.Context()), "") // no span, no header

	_, child := tp.Tracer("test").Start(telemetry.ContextWithTraceparent(t.Context(), header), "consumer")
	defer child.End()
	is.Equal(child.SpanContext().TraceID(), span.SpanContext().TraceID()) // same trace
	is.Equal(telemetry.ContextWithTraceparent(t.Context(), "garbage"), t.Context())
}
