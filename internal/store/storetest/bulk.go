package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// BulkLoadExecutions is BulkLoad of statements into executions.
func BulkLoadExecutions(tb testing.TB, db *store.DB, statements []string) int {
	tb.Helper()
	return BulkLoad(tb, db, []string{"executions"}, statements)
}

// BulkLoad runs statements (bulk inserts into tables, on PostgreSQL) on one connection the fast
// way, for the benchmarks that load millions of rows: the tables' indexes but those of a
// constraint (the primary keys, fire_ledger's unique key) are dropped first and rebuilt after,
// exactly as the migrations made them, and triggers (the foreign keys, the key trigger) are off
// while the statements run (session_replication_role: the data set must not repeat a key). The
// tables are ANALYZEd after. It returns how many indexes it rebuilt.
func BulkLoad(tb testing.TB, db *store.DB, tables, statements []string) int {
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
WHERE schemaname = current_schema() AND tablename IN (?)
	AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = indexname)`, bun.List(tables)).Scan(ctx, &defs, &names)
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
