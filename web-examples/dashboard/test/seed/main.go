// Command seed adds finished executions to a workflow-runtime SQLite database, for the
// dashboard's measurement with a large history (test/dashboard.test.mjs): one INSERT … SELECT
// through the service's store, spread over the deployments that are there (deployed through the
// API beforehand), created every few seconds back over 30 days. Only terminal statuses, so the
// service has nothing to run. Usage:
//
//	go run ./web-examples/dashboard/test/seed -db sqlite:///tmp/wfr.db -executions 100000
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// seedSQL inserts ?1 executions over every workflow with a deployment: statuses 85% SUCCEEDED,
// 8% FAILED, 3% TIMED_OUT, 2% SKIPPED, 2% CANCELLED; trigger types 70% CRON, 20% MANUAL, 10%
// WEBHOOK; created ?2 seconds apart back from now; runs of up to 10 minutes.
const seedSQL = `
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?),
w AS (SELECT id, deployment_id, current_revision, row_number() OVER (ORDER BY id) - 1 AS k
      FROM workflows WHERE deployment_id IS NOT NULL),
wc AS (SELECT count(*) AS c FROM w),
r AS (SELECT n, abs(random()) % 100 AS h, abs(random()) % 10 AS t, abs(random()) % 600000 AS run_ms,
             julianday('now') - (n * ? / 86400.0) AS created
      FROM g)
INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type, trigger_id,
                        trigger_data, scheduled_at, started_at, finished_at, error, output, attempt,
                        created_at, updated_at)
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
         substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' ||
         lower(hex(randomblob(6))),
       w.deployment_id, w.id, w.current_revision,
       CASE WHEN h < 85 THEN 'SUCCEEDED' WHEN h < 93 THEN 'FAILED' WHEN h < 96 THEN 'TIMED_OUT'
            WHEN h < 98 THEN 'SKIPPED' ELSE 'CANCELLED' END,
       CASE WHEN t < 7 THEN 'CRON' WHEN t < 9 THEN 'MANUAL' ELSE 'WEBHOOK' END,
       CASE WHEN t < 7 THEN 'seed' WHEN t < 9 THEN NULL ELSE 'seed-hook' END,
       '{}',
       strftime('%Y-%m-%d %H:%M:%f+00:00', created),
       strftime('%Y-%m-%d %H:%M:%f+00:00', created + 0.5 / 86400.0),
       strftime('%Y-%m-%d %H:%M:%f+00:00', created + (0.5 + run_ms / 1000.0) / 86400.0),
       CASE WHEN h >= 85 AND h < 93 THEN 'node a: seeded failure' WHEN h >= 93 AND h < 96 THEN 'timed out' END,
       CASE WHEN h < 85 THEN '{"ok":true}' END,
       1,
       strftime('%Y-%m-%d %H:%M:%f+00:00', created),
       strftime('%Y-%m-%d %H:%M:%f+00:00', created + (0.5 + run_ms / 1000.0) / 86400.0)
FROM r JOIN w ON w.k = r.n % (SELECT c FROM wc)`

func main() {
	dbURL := flag.String("db", "", "the service's database, sqlite://path")
	count := flag.Int("executions", 100_000, "executions to add")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := seed(context.Background(), *dbURL, *count, logger); err != nil {
		logger.Error("seed failed", "error", err)
		os.Exit(1)
	}
}

func seed(ctx context.Context, dbURL string, count int, logger *slog.Logger) error {
	if count < 1 || count > 10_000_000 {
		return fmt.Errorf("-executions %d: want 1 to 10000000", count)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // bounded, however slow the machine
	defer cancel()
	start := time.Now()
	db, err := store.Open(ctx, dbURL, store.Options{BusyTimeout: time.Minute})
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	var workflows int
	if err := db.Bun().NewRaw("SELECT count(*) FROM workflows WHERE deployment_id IS NOT NULL").Scan(ctx, &workflows); err != nil {
		return fmt.Errorf("count workflows: %w", err)
	}
	if workflows == 0 {
		return fmt.Errorf("no deployments in %s: deploy some first", dbURL)
	}
	spacing := 30 * 24 * time.Hour.Seconds() / float64(count)
	res, err := db.Bun().ExecContext(ctx, seedSQL, count, spacing)
	if err != nil {
		return fmt.Errorf("insert executions: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := db.Bun().ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	logger.Info("seeded", "executions", n, "workflows", workflows, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
