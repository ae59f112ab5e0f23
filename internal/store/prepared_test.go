package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// TestHotStatementsArePrepared checks that the statements queryPrepared sends on PostgreSQL (the
// history query, the trigger's insert, single and batched, the single and batched claim and
// outcome) are prepared on
// their connection (the one connection of the pool here) under a generic plan, made once; and
// that with default_query_exec_mode in the URL they are sent in that mode instead
// (simple_protocol: nothing prepared, plan_cache_mode left alone). Either way each statement
// has its span, as bun's queries have, and a column added to executions after they were
// prepared does not fail them.
func TestHotStatementsArePrepared(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		params   string
		prepared int
		mode     string
	}{
		{"default", "", 7, "force_generic_plan"},
		{"simple_protocol in the URL", "&default_query_exec_mode=simple_protocol", 0, "auto"},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			spans := tracetest.NewSpanRecorder()
			db, err := store.Open(ctx, storetest.PostgresSchemaURL(t)+c.params, store.Options{MaxOpenConns: 1,
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))})
			is.NoErr(err)
			t.Cleanup(func() { _ = db.Close() })
			is.NoErr(db.Migrate(ctx))
			var mode string
			is.NoErr(db.Bun().NewRaw("SHOW plan_cache_mode").Scan(ctx, &mode))
			is.Equal(mode, c.mode)

			p := &monitoring.HistoryListParams{Limit: 3, HistoryFilter: monitoring.HistoryFilter{
				WorkflowID: "wf-none", Statuses: []execution.Status{execution.StatusFailed, execution.StatusTimedOut},
			}}
			ids := []string{uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()}
			now := time.Now()
			for pass := range 3 { // the same texts each time: prepared once
				rows, err := db.ExecutionHistoryList(ctx, p)
				is.NoErr(err)
				is.Equal(len(rows), 0)
				_, inserted, err := db.ExecutionTrigger(ctx, &execution.Execution{ID: ids[0], WorkflowID: "wf-none",
					Status: execution.StatusPending, TriggerType: execution.TriggerManual, CreatedAt: now, UpdatedAt: now}, "")
				is.True(errors.Is(err, errdefs.ErrNotFound)) // no such workflow
				is.True(!inserted)
				var batch []execution.TriggerRow // 2 rows, then 3: one text for any number of rows
				for _, id := range ids[:2+pass%2] {
					batch = append(batch, execution.TriggerRow{Execution: &execution.Execution{ID: id, WorkflowID: "wf-none",
						Status: execution.StatusPending, TriggerType: execution.TriggerManual, CreatedAt: now, UpdatedAt: now}})
				}
				results, err := db.ExecutionTriggerBatch(ctx, batch)
				is.NoErr(err)
				is.True(errors.Is(results[0].Err, errdefs.ErrNotFound)) // no such workflow
				_, err = db.ExecutionClaim(ctx, ids[0], 1, now)
				is.True(errors.Is(err, errdefs.ErrConflict)) // no such execution
				err = db.ExecutionFinish(ctx, &execution.FinishParams{ID: ids[0], Fence: 1, Status: execution.StatusSucceeded, Now: now})
				is.True(errors.Is(err, errdefs.ErrConflict))
				claimed, err := db.ExecutionClaimMany(ctx, []execution.ClaimParams{{ID: ids[0], Fence: 1, Now: now}, {ID: ids[1], Fence: 1, Now: now}})
				is.NoErr(err)
				is.Equal(claimed, []*execution.Execution{nil, nil})
				finished, err := db.ExecutionFinishMany(ctx, []*execution.FinishParams{
					{ID: ids[0], Fence: 1, Status: execution.StatusSucceeded, Now: now},
					{ID: ids[1], Fence: 1, Status: execution.StatusFailed, Now: now}})
				is.NoErr(err)
				is.Equal(finished, []bool{false, false})
			}
			var n int
			is.NoErr(db.Bun().NewRaw(`SELECT count(*) FROM pg_prepared_statements WHERE statement ~ '\$1'`).Scan(ctx, &n))
			is.Equal(n, c.prepared) // statements prepared on the connection
			// The history statement's limit is in its text: a generic plan of LIMIT $n assumes a
			// tenth of the rows, which at millions of rows sends every call through the JIT.
			is.NoErr(db.Bun().NewRaw(`SELECT count(*) FROM pg_prepared_statements WHERE statement ~ 'UNION ALL' AND statement ~ 'LIMIT 3$'`).Scan(ctx, &n))
			is.Equal(n, min(c.prepared, 1)) // the history statement, its limit written in

			// A migration adds a column: the statements prepared before it keep working (they
			// name their columns; with * PostgreSQL would refuse their next run once).
			_, err = db.Bun().ExecContext(ctx, "ALTER TABLE executions ADD COLUMN wfr_test_later INT")
			is.NoErr(err)
			_, err = db.ExecutionHistoryList(ctx, p)
			is.NoErr(err) // history after the new column
			_, err = db.ExecutionClaim(ctx, ids[0], 1, now)
			is.True(errors.Is(err, errdefs.ErrConflict)) // claim after the new column
			_, err = db.ExecutionClaimMany(ctx, []execution.ClaimParams{{ID: ids[0], Fence: 1, Now: now}, {ID: ids[1], Fence: 1, Now: now}})
			is.NoErr(err) // batched claim after the new column

			var history int
			for _, sp := range spans.Ended() {
				for _, a := range sp.Attributes() {
					if a.Key == "db.statement" && strings.HasPrefix(a.Value.AsString(), "SELECT * FROM (SELECT * FROM (SELECT id, ") {
						history++
						is.Equal(sp.Name(), "SELECT")
					}
				}
			}
			is.Equal(history, 4) // a span per history query
		})
	}
}
