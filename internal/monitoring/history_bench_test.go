package monitoring_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// Shape of the benchmark's data set: benchRows executions over benchWorkflows workflows, created
// every 2.592 s back from now (30 days), statuses 85% SUCCEEDED, 8% FAILED, 2% TIMED_OUT, 2%
// SKIPPED, 1% CANCELLED, 1% RUNNING, 1% PENDING; trigger types 70% CRON, 20% MANUAL, 10% WEBHOOK.
const (
	benchRows      = 1_000_000
	benchWorkflows = 20
	benchDeepPage  = 200
)

// seedSQL fills workflows, workflow_revisions and executions in one statement each.
var seedSQL = []string{
	fmt.Sprintf(`INSERT INTO workflows (id, deployment_id, current_revision, deployment_status)
SELECT 'wf-' || g, md5('dep' || g)::uuid, 1, 'DEPLOYED' FROM generate_series(1, %d) g`, benchWorkflows),
	fmt.Sprintf(`INSERT INTO workflow_revisions (workflow_id, revision, definition)
SELECT 'wf-' || g, 1, '{}' FROM generate_series(1, %d) g`, benchWorkflows),
	fmt.Sprintf(`INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type,
                        started_at, finished_at, created_at, updated_at)
SELECT md5('ex' || g)::uuid, md5('dep' || (g %% %[1]d + 1))::uuid, 'wf-' || (g %% %[1]d + 1), 1,
       CASE WHEN h < 85 THEN 'SUCCEEDED' WHEN h < 93 THEN 'FAILED' WHEN h < 95 THEN 'TIMED_OUT'
            WHEN h < 97 THEN 'SKIPPED' WHEN h < 98 THEN 'CANCELLED' WHEN h < 99 THEN 'RUNNING'
            ELSE 'PENDING' END,
       CASE WHEN k < 7 THEN 'CRON' WHEN k < 9 THEN 'MANUAL' ELSE 'WEBHOOK' END,
       ts, ts + ((g %% 600) * interval '1 second'), ts, ts
FROM (SELECT g, now() - g * interval '2592 millisecond' AS ts,
             (hashint8(g) & 2147483647) %% 100 AS h, (hashint8(g + 1000000007) & 2147483647) %% 10 AS k
      FROM generate_series(1::bigint, %[2]d) g) s`, benchWorkflows, benchRows),
}

// seed loads the data set the fast way (storetest.BulkLoadExecutions: the indexes rebuilt after
// the bulk insert, exactly the migrations', so the queries run on those).
func seed(b *testing.B, db *store.DB) {
	b.Helper()
	start := time.Now()
	rebuilt := storetest.BulkLoadExecutions(b, db, seedSQL)
	var n int
	if err := db.Bun().NewRaw("SELECT count(*) FROM executions").Scan(context.Background(), &n); err != nil || n != benchRows {
		b.Fatalf("seeded %d executions, want %d (%v)", n, benchRows, err)
	}
	b.Logf("seeded %d executions, %d indexes rebuilt, in %s", benchRows, rebuilt, time.Since(start).Round(time.Second))
}

// BenchmarkExecutionHistory measures monitoring.Service.History (domain + SQL + row decoding)
// on PostgreSQL with 1,000,000 executions: for each filter, the first page and a deep page
// (page 200 reached through the tokens, or the last page when the filter has fewer), 50 rows a
// page, against two baselines on the same pool: SELECT 1 and a primary-key lookup. Each
// sub-benchmark reports p50 and p99 of its calls (ms). Run:
//
//	WFR_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./internal/monitoring/ -run '^$' -bench BenchmarkExecutionHistory -benchtime 1000x -timeout 30m
func BenchmarkExecutionHistory(b *testing.B) {
	db := storetest.OpenPostgres(b)
	seed(b, db)
	ctx := context.Background()
	svc := monitoring.NewService(db, monitoring.ServiceConfig{})
	var deployment string
	if err := db.Bun().NewRaw("SELECT deployment_id FROM workflows WHERE id = 'wf-7'").Scan(ctx, &deployment); err != nil {
		b.Fatal(err)
	}
	var anyID string
	if err := db.Bun().NewRaw("SELECT id FROM executions OFFSET 500000 LIMIT 1").Scan(ctx, &anyID); err != nil {
		b.Fatal(err)
	}
	now := time.Now()

	measure := func(b *testing.B, call func() error) {
		b.Helper()
		durations := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if err := call(); err != nil {
				b.Fatal(err)
			}
			durations = append(durations, time.Since(t0))
		}
		slices.Sort(durations)
		q := func(p float64) float64 {
			return float64(durations[int(p*float64(len(durations)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(0, "ns/op")
	}

	b.Run("baseline/select-1", func(b *testing.B) {
		measure(b, func() error {
			var one int
			return db.Bun().NewRaw("SELECT 1").Scan(ctx, &one)
		})
	})
	b.Run("baseline/get-by-id", func(b *testing.B) {
		measure(b, func() error {
			_, err := db.ExecutionGet(ctx, anyID)
			return err
		})
	})

	filters := []struct {
		name string
		f    monitoring.HistoryFilter
	}{
		{"none", monitoring.HistoryFilter{}},
		{"workflow", monitoring.HistoryFilter{WorkflowID: "wf-7"}},
		{"workflow+status", monitoring.HistoryFilter{WorkflowID: "wf-7", Statuses: []execution.Status{execution.StatusFailed}}},
		{"workflow+2statuses+7d", monitoring.HistoryFilter{WorkflowID: "wf-7",
			Statuses: []execution.Status{execution.StatusFailed, execution.StatusTimedOut}, Start: now.Add(-7 * 24 * time.Hour), End: now}},
		{"deployment+trigger", monitoring.HistoryFilter{DeploymentID: deployment, TriggerTypes: []execution.TriggerType{execution.TriggerManual}}},
		{"status-rare", monitoring.HistoryFilter{Statuses: []execution.Status{execution.StatusPending}}},
		{"2statuses+trigger", monitoring.HistoryFilter{Statuses: []execution.Status{execution.StatusFailed, execution.StatusCancelled},
			TriggerTypes: []execution.TriggerType{execution.TriggerWebhook}}},
	}
	for _, c := range filters {
		b.Run(c.name+"/first", func(b *testing.B) {
			measure(b, func() error {
				_, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: c.f})
				return err
			})
		})
		// The token of the deep page, by paging there.
		token, page := "", 1
		for page < benchDeepPage {
			p, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: c.f, PageToken: token})
			if err != nil {
				b.Fatal(err)
			}
			if p.NextPageToken == "" {
				break
			}
			token, page = p.NextPageToken, page+1
		}
		b.Run(fmt.Sprintf("%s/page-%d", c.name, page), func(b *testing.B) {
			measure(b, func() error {
				_, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: c.f, PageToken: token})
				return err
			})
		})
	}
}
