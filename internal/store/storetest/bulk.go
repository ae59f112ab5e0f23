package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// BulkLoadExecutions runs statements (bulk inserts into executions, on PostgreSQL) on one
// connection the fast way, for the benchmarks that load millions of rows: the executions
// indexes but the primary key are dropped first and rebuilt after, exactly as the migrations
// made them, and triggers (the foreign keys, the key trigger) are off while the statements run
// (session_replication_role: the data set must not repeat a key). The tables are ANALYZEd
// after. It returns how many indexes it rebuilt.
func BulkLoadExecutions(tb testing.TB, db *store.DB, statements []string) int {
	tb.Helper()
	ctx := context.Background()
	conn, err := db.Bun().Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	exec := func(q string) {
		tb.Helper()
		if _, err := conn.ExecContext(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	var defs, names []string
	err = conn.NewRaw(`SELECT indexdef, indexname FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'executions' AND indexname <> 'executions_pkey'`).Scan(ctx, &defs, &names)
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range names {
		exec("DROP INDEX " + n)
	}
	exec("SET session_replication_role = replica")
	for _, q := range statements {
		exec(q)
	}
	exec("RESET session_replication_role")
	exec("SET maintenance_work_mem = '512MB'")
	for _, d := range defs {
		// pg_indexes gives a partitioned table's index as CREATE INDEX ... ON ONLY, which would
		// make it on the parent alone (invalid, and no partition's): build it on every partition.
		exec(strings.Replace(d, " ON ONLY ", " ON ", 1))
	}
	exec("ANALYZE")
	return len(defs)
}
