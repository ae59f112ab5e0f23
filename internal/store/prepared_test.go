package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/matryer/is"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// TestHistoryIsPrepared checks that a history query on PostgreSQL is a statement prepared on
// its connection (the one connection of the pool here), whose plan PostgreSQL keeps; and that
// with default_query_exec_mode in the URL it is sent in that mode instead (simple_protocol: no
// statement prepared). Either way the statement has its span, as bun's queries have.
func TestHistoryIsPrepared(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresSchemaURL(t)
	for _, c := range []struct {
		name     string
		url      string
		prepared int
	}{
		{"default", url, 1},
		{"simple_protocol in the URL", url + "&default_query_exec_mode=simple_protocol", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			spans := tracetest.NewSpanRecorder()
			db, err := store.Open(ctx, c.url, store.Options{MaxOpenConns: 1,
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))})
			is.NoErr(err)
			t.Cleanup(func() { _ = db.Close() })
			is.NoErr(db.Migrate(ctx))
			p := &monitoring.HistoryListParams{Limit: 3, HistoryFilter: monitoring.HistoryFilter{
				WorkflowID: "wf-none", Statuses: []execution.Status{execution.StatusFailed, execution.StatusTimedOut},
			}}
			for range 3 { // the same text each time: prepared once
				rows, err := db.ExecutionHistoryList(ctx, p)
				is.NoErr(err)
				is.Equal(len(rows), 0)
			}
			var n int
			is.NoErr(db.Bun().NewRaw(`SELECT count(*) FROM pg_prepared_statements
				WHERE statement LIKE '%UNION ALL%' AND statement LIKE '%status = $%'`).Scan(ctx, &n))
			is.Equal(n, c.prepared) // history statements prepared on the connection
			var history int
			for _, sp := range spans.Ended() {
				for _, a := range sp.Attributes() {
					if a.Key == "db.statement" && strings.HasPrefix(a.Value.AsString(), "SELECT * FROM (SELECT * FROM (SELECT * FROM executions WHERE workflow_id = $1") {
						history++
						is.Equal(sp.Name(), "SELECT")
					}
				}
			}
			is.Equal(history, 3) // a span per history query
		})
	}
}
