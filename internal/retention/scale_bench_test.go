package retention_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/retention"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// Shape of BenchmarkScale's data set: scaleDays days of executions, created evenly back from
// now, over scaleWorkflows workflows with a skewed share each (workflow k, 0-based, has about
// (k+1)^2 - k^2 parts in scaleWorkflows^2: the last ones are the busiest). Statuses older than
// an hour are 88% SUCCEEDED, 8% FAILED, 2% TIMED_OUT, 1% SKIPPED, 1% CANCELLED; the last hour
// also has PENDING and RUNNING. Trigger types 70% CRON (trigger "t", scheduled at the creation
// time), 20% MANUAL, 10% WEBHOOK. Ids are UUIDv7 of the creation time. Each CRON execution has
// its fire in the fire ledger (FIRED, at its scheduled time, under the execution's id), as the
// scheduler records them.
const (
	scaleDays      = 40
	scaleWorkflows = 200
	scaleDeepPage  = 200
)

func scaleSeedSQL(rows int) []string {
	return []string{
		fmt.Sprintf(`INSERT INTO workflows (id, deployment_id, current_revision, deployment_status)
SELECT 'wf-' || g, md5('dep' || g)::uuid, 1, 'DEPLOYED' FROM generate_series(0, %d) g`, scaleWorkflows-1),
		fmt.Sprintf(`INSERT INTO workflow_revisions (workflow_id, revision, definition)
SELECT 'wf-' || g, 1, '{}' FROM generate_series(0, %d) g`, scaleWorkflows-1),
		fmt.Sprintf(`INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type, trigger_id,
                        scheduled_at, nominal_at, started_at, finished_at, created_at, updated_at)
SELECT (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7' || substr(m, 1, 3) || '8' || substr(m, 4, 15))::uuid,
       md5('dep' || w)::uuid, 'wf-' || w, 1,
       CASE WHEN ts > now() - interval '1 hour' AND h < 2 THEN 'PENDING'
            WHEN ts > now() - interval '1 hour' AND h < 5 THEN 'RUNNING'
            WHEN h < 88 THEN 'SUCCEEDED' WHEN h < 96 THEN 'FAILED' WHEN h < 98 THEN 'TIMED_OUT'
            WHEN h < 99 THEN 'SKIPPED' ELSE 'CANCELLED' END,
       CASE WHEN k < 7 THEN 'CRON' WHEN k < 9 THEN 'MANUAL' ELSE 'WEBHOOK' END,
       CASE WHEN k < 7 THEN 't' END,
       ts, ts, ts, ts + ((g %% 600) * interval '1 second'), ts, ts
FROM (SELECT g, md5(g::text) AS m,
             now() - g * (interval '%[2]d days' / %[1]d) AS ts,
             floor(%[3]d * sqrt(((hashint8(g + 7) & 2147483647) %% 1000000) / 1000000.0))::int AS w,
             (hashint8(g) & 2147483647) %% 100 AS h, (hashint8(g + 1000000007) & 2147483647) %% 10 AS k
      FROM generate_series(1::bigint, %[1]d) g) s`, rows, scaleDays, scaleWorkflows),
		`INSERT INTO fire_ledger (id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at, fired_at, outcome,
                         execution_id, created_at)
SELECT id, workflow_id, deployment_id, trigger_id, scheduled_at, scheduled_at, scheduled_at, 'FIRED', id, created_at
FROM executions WHERE trigger_type = 'CRON'`,
	}
}

// BenchmarkScale is docs/benchmarks.md's "GetExecutionHistory and the janitor at 10,000,000
// rows", run by scripts/bench/history.sh on a throwaway database (WFR_BENCH_DATABASE_URL, which
// it fills: never point it at a database you keep). It makes weekly partitions over the data
// set's days, loads WFR_BENCH_ROWS executions (default 10,000,000), measures
// monitoring.Service.History (first page and page 200, p50/p99, against SELECT 1 and a primary
// key lookup on the same pool), then one janitor pass that deletes a day of rows by row deletes
// (partitions off) and one that drops the partitions older than 30 days, of executions and of
// the fire ledger, and writes a markdown section to WFR_BENCH_REPORT.
func BenchmarkScale(b *testing.B) {
	url := os.Getenv("WFR_BENCH_DATABASE_URL")
	report := os.Getenv("WFR_BENCH_REPORT")
	if url == "" || report == "" {
		b.Skip("WFR_BENCH_DATABASE_URL and WFR_BENCH_REPORT are not set (scripts/bench/history.sh sets them)")
	}
	rows := 10_000_000
	if s := os.Getenv("WFR_BENCH_ROWS"); s != "" {
		var err error
		if rows, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	calls := 1000
	ctx := context.Background()
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	var out strings.Builder
	logf := func(format string, args ...any) {
		b.Logf(format, args...)
	}
	day := 24 * time.Hour
	now := time.Now().UTC()

	// Weekly partitions (the default period) over the data set's days, as a janitor that has
	// run all along would have made them, in place of the migration's (empty) initial ones.
	week := 7 * day
	t0 := time.Now()
	for _, table := range []string{retention.TableExecutions, retention.TableFireLedger} {
		if _, err := db.Bun().ExecContext(ctx, "DROP TABLE "+table+"_initial"); err != nil {
			b.Fatal(err)
		}
		for from := now.Add(-(scaleDays + 1) * day).Truncate(week); from.Before(now.Truncate(week).Add(4 * week)); from = from.Add(week) {
			if _, err := db.PartitionCreate(ctx, table, from, from.Add(week)); err != nil {
				b.Fatal(err)
			}
		}
	}
	seedScale(b, db, rows)
	load := time.Since(t0)
	logf("loaded %d executions in %s", rows, load.Round(time.Second))
	var parts int
	if err := db.Bun().NewRaw("SELECT count(*) FROM pg_inherits WHERE inhparent = 'executions'::regclass").Scan(ctx, &parts); err != nil {
		b.Fatal(err)
	}
	var size, ledgerSize string
	if err := db.Bun().NewRaw(`SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits
		WHERE inhparent = 'executions'::regclass`).Scan(ctx, &size); err != nil {
		b.Fatal(err)
	}
	var fires int64
	if err := db.Bun().NewRaw(`SELECT (SELECT count(*) FROM fire_ledger), pg_size_pretty(sum(pg_total_relation_size(inhrelid)))
		FROM pg_inherits WHERE inhparent = 'fire_ledger'::regclass`).Scan(ctx, &fires, &ledgerSize); err != nil {
		b.Fatal(err)
	}

	svc := monitoring.NewService(db, monitoring.ServiceConfig{})
	measure := func(call func() error) (p50, p99 float64) {
		durations := make([]time.Duration, 0, calls)
		for range calls {
			t := time.Now()
			if err := call(); err != nil {
				b.Fatal(err)
			}
			durations = append(durations, time.Since(t))
		}
		slices.Sort(durations)
		q := func(p float64) float64 {
			return float64(durations[int(p*float64(len(durations)-1))]) / float64(time.Millisecond)
		}
		return q(0.50), q(0.99)
	}
	var anyID, busiest, deployment string
	if err := db.Bun().NewRaw("SELECT id FROM executions WHERE created_at < now() - interval '20 days' LIMIT 1").Scan(ctx, &anyID); err != nil {
		b.Fatal(err)
	}
	busiest = fmt.Sprintf("wf-%d", scaleWorkflows-1)
	if err := db.Bun().NewRaw("SELECT deployment_id FROM workflows WHERE id = 'wf-100'").Scan(ctx, &deployment); err != nil {
		b.Fatal(err)
	}
	var perWorkflow int
	if err := db.Bun().NewRaw("SELECT count(*) FROM executions WHERE workflow_id = ?", busiest).Scan(ctx, &perWorkflow); err != nil {
		b.Fatal(err)
	}

	fmt.Fprintf(&out, "%d executions (%s with indexes) in %d partitions of one week (`WFR_RETENTION_PARTITION_PERIOD=168h`, the default, with the 3 weeks ahead and the default partition) "+
		"over %d days and %d workflows (skewed: the busiest, %s, has %d), and the fire ledger's %d fires of their cron executions (%s with indexes, "+
		"partitioned by scheduled time in the same weeks); loaded in %s. %d calls per line, 50 rows a page, "+
		"through monitoring.Service.History (the service's own path: filter, page token, SQL, row decoding).\n\n",
		rows, size, parts, scaleDays, scaleWorkflows, busiest, perWorkflow, fires, ledgerSize, load.Round(time.Second), calls)
	fmt.Fprintf(&out, "| call | p50 ms | p99 ms |\n|---|---:|---:|\n")
	line := func(name string, call func() error) {
		p50, p99 := measure(call)
		fmt.Fprintf(&out, "| %s | %.2f | %.2f |\n", name, p50, p99)
		logf("%s p50 %.2f ms p99 %.2f ms", name, p50, p99)
	}
	line("baseline: SELECT 1", func() error {
		var one int
		return db.Bun().NewRaw("SELECT 1").Scan(ctx, &one)
	})
	line("baseline: GetExecution by id", func() error {
		_, err := db.ExecutionGet(ctx, anyID)
		return err
	})
	filters := []struct {
		name string
		f    monitoring.HistoryFilter
	}{
		{"all executions", monitoring.HistoryFilter{}},
		{"one workflow (" + busiest + ")", monitoring.HistoryFilter{WorkflowID: busiest}},
		{"one workflow, FAILED", monitoring.HistoryFilter{WorkflowID: busiest, Statuses: []execution.Status{execution.StatusFailed}}},
		{"one workflow, FAILED or TIMED_OUT, last 7 days", monitoring.HistoryFilter{WorkflowID: busiest,
			Statuses: []execution.Status{execution.StatusFailed, execution.StatusTimedOut}, Start: now.Add(-7 * day), End: now}},
		{"one deployment, MANUAL", monitoring.HistoryFilter{DeploymentID: deployment, TriggerTypes: []execution.TriggerType{execution.TriggerManual}}},
	}
	for _, c := range filters {
		line(c.name+": first page", func() error {
			_, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: c.f})
			return err
		})
		token, page := "", 1
		for page < scaleDeepPage {
			p, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: c.f, PageToken: token})
			if err != nil {
				b.Fatal(err)
			}
			if p.NextPageToken == "" {
				break
			}
			token, page = p.NextPageToken, page+1
		}
		line(fmt.Sprintf("%s: page %d (keyset)", c.name, page), func() error {
			_, err := svc.History(ctx, &monitoring.HistoryQuery{HistoryFilter: c.f, PageToken: token})
			return err
		})
	}

	// The janitor. First by row deletes only (no partition maintenance): the oldest day expires
	// (retention age scaleDays-1 days).
	fmt.Fprintf(&out, "\nThe janitor (retention.Janitor.RunOnce, keep-last 100, 500 rows per DELETE):\n\n")
	fmt.Fprintf(&out, "| pass | executions gone | fire-ledger rows gone | partitions dropped | time | rows/s |\n|---|---:|---:|---:|---:|---:|\n")
	rowsPass := retention.NewJanitor(db, retention.JanitorConfig{RetentionAge: (scaleDays - 1) * day, KeepLast: 100})
	t0 = time.Now()
	res, err := rowsPass.RunOnce(ctx)
	if err != nil {
		b.Fatal(err)
	}
	rowTime := time.Since(t0)
	rowRate := float64(res.ExecutionsDeleted+res.FiresDeleted) / rowTime.Seconds()
	fmt.Fprintf(&out, "| row deletes, the oldest day (age %dd, partitions off) | %d | %d | 0 | %s | %.0f |\n",
		scaleDays-1, res.ExecutionsDeleted, res.FiresDeleted, rowTime.Round(time.Millisecond), rowRate)
	logf("row deletes: %+v in %s", res, rowTime)

	// Then with partitions, the age bound at the end of the oldest partition: that partition
	// has expired whole (it is dropped), no other row has (the row deletes that follow find
	// nothing), so the pass's time is the partition work alone.
	oldest, _, err := db.PartitionList(ctx, retention.TableExecutions)
	if err != nil {
		b.Fatal(err)
	}
	age := time.Since(oldest[0].To)
	partitions := func() map[string]bool {
		names := map[string]bool{}
		for _, table := range []string{retention.TableExecutions, retention.TableFireLedger} {
			parts, _, err := db.PartitionList(ctx, table)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range parts {
				names[p.Name] = true
			}
		}
		return names
	}
	before := partitions()
	partPass := retention.NewJanitor(db, retention.JanitorConfig{RetentionAge: age, KeepLast: 100, PartitionPeriod: week})
	t0 = time.Now()
	res, err = partPass.RunOnce(ctx)
	if err != nil {
		b.Fatal(err)
	}
	partTime := time.Since(t0)
	var dropped []string
	after := partitions()
	for name := range before {
		if !after[name] {
			dropped = append(dropped, name)
		}
	}
	slices.Sort(dropped)
	gone := res.ExecutionsDeleted + res.FiresDeleted
	fmt.Fprintf(&out, "| partitions: the oldest week has expired whole (age %s, weekly partitions) | %d | %d | %d | %s | %.0f |\n",
		age.Round(time.Hour), res.ExecutionsDeleted, res.FiresDeleted, res.PartitionsDropped, partTime.Round(time.Millisecond), float64(gone)/partTime.Seconds())
	logf("partition drops: %+v in %s", res, partTime)
	byRows := time.Duration(float64(gone) / rowRate * float64(time.Second))
	fmt.Fprintf(&out, "\nThe partition pass dropped %s, then swept every deployment for rows left to delete: %d executions and %d fires went in all. "+
		"The same %d rows by row deletes would take about %s at the first pass's rate, "+
		"%.0fx the partition pass, and leave them as dead tuples for vacuum to clean, table and indexes; a dropped partition's space is free at once. "+
		"The partition pass's time includes every deployment's keep-last cutoff and its row sweep, the checks of each past partition "+
		"(one index probe per deployment in it, made again under the lock) and the count(*) of the dropped partition.\n",
		strings.Join(dropped, " and "), res.ExecutionsDeleted, res.FiresDeleted, gone, byRows.Round(100*time.Millisecond),
		byRows.Seconds()/partTime.Seconds())
	if err := os.WriteFile(report, []byte(out.String()), 0o600); err != nil {
		b.Fatal(err)
	}
}

// seedScale loads the data set the fast way (storetest.BulkLoad; the data set has no repeated
// key).
func seedScale(b *testing.B, db *store.DB, rows int) {
	b.Helper()
	storetest.BulkLoad(b, db, []string{retention.TableExecutions, retention.TableFireLedger}, scaleSeedSQL(rows))
}
