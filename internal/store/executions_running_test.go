package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// The running executions of a workflow (admission under CANCEL_OTHER and SKIP) are found by the
// first two columns of idx_executions_workflow_status_created, on both dialects, since
// idx_executions_running, the partial index that once served them, is gone (each claim wrote an
// entry to it). Two workflows share the table, each with a few RUNNING rows among many finished
// ones, so that an index on status alone or on workflow_id alone is the worse choice.
func TestListRunningUsesWorkflowStatusIndex(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		other := storetest.NewDeployment("wf-exec-other")
		is.NoErr(storetest.Create(ctx, db, other))
		const rows = 20000 // per workflow; every 1,000th RUNNING
		id, ts := seriesExprs(db)
		for _, w := range []string{wf, other.WorkflowID} {
			_, err := db.Bun().ExecContext(ctx, fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
				INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type, created_at, updated_at)
				SELECT %s, '%s', ?, 1, CASE WHEN i %% 1000 = 0 THEN 'RUNNING' ELSE 'SUCCEEDED' END, 'MANUAL', %s, %s
				FROM n`, rows, id, uuid.NewString(), ts, ts), w)
			is.NoErr(err)
		}

		var gone int
		if db.Dialect() == store.DialectSQLite {
			is.NoErr(db.Bun().NewRaw("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'idx_executions_running'").Scan(ctx, &gone))
		} else {
			is.NoErr(db.Bun().NewRaw("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND (indexname LIKE 'idx_executions_running%' OR indexname LIKE 'executions_%_workflow_id_idx')").Scan(ctx, &gone))
		}
		is.Equal(gone, 0) // the partial index is dropped, on the partitions too (in this test's schema: others run beside it at other migrations)

		text := executionsPlan(t, db, db.ListRunningQuery(wf).String())
		is.True(strings.Contains(text, "idx_executions_workflow_status_created"))
		is.True(!strings.Contains(text, "Seq Scan") && !strings.Contains(text, "SCAN executions"))

		ids, err := db.ExecutionListRunning(ctx, wf)
		is.NoErr(err)
		is.Equal(len(ids), rows/1000) // this workflow's RUNNING rows, not the other's
	})
}
