package store_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/migrations"
)

var slot0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// cronExecution is a cron execution of trigger for the slot nominal, fired jitter later.
func cronExecution(wf, trigger string, nominal time.Time, jitter time.Duration) *execution.Execution {
	e := newExecution(wf)
	e.TriggerType, e.TriggerID, e.TriggerData = execution.TriggerCron, trigger, nil
	e.NominalAt, e.ScheduledAt = nominal, nominal.Add(jitter)
	return e
}

func TestExecutionNominalAtRoundTrip(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		cron := cronExecution(wf, "hourly", slot0, 17*time.Second)
		got, _, err := db.ExecutionInsert(ctx, cron)
		is.NoErr(err)
		is.Equal(got.NominalAt, slot0)
		read, err := db.ExecutionGet(ctx, cron.ID)
		is.NoErr(err)
		is.Equal(read.NominalAt, slot0)                       // the slot, not the fire
		is.Equal(read.ScheduledAt, slot0.Add(17*time.Second)) // the fire

		// Manual and webhook triggers, one by one and in a batch, keep theirs.
		for _, hook := range []string{"", "/hooks/" + wf} {
			e := newExecution(wf)
			e.NominalAt = e.ScheduledAt
			got, inserted, err := db.ExecutionTrigger(ctx, e, hook)
			is.NoErr(err)
			is.True(inserted)
			read, err := db.ExecutionGet(ctx, got.ID)
			is.NoErr(err)
			is.Equal(read.NominalAt, e.ScheduledAt)
		}
		rows := []execution.TriggerRow{{Execution: newExecution(wf)}, {Execution: newExecution(wf), WebhookPath: "/hooks/" + wf}}
		for _, r := range rows {
			r.Execution.NominalAt = slot0.Add(time.Minute)
		}
		res, err := db.ExecutionTriggerBatch(ctx, rows)
		is.NoErr(err)
		for _, r := range res {
			is.NoErr(r.Err)
			read, err := db.ExecutionGet(ctx, r.Execution.ID)
			is.NoErr(err)
			is.Equal(read.NominalAt, slot0.Add(time.Minute))
		}

		// A row without one (written by an older binary) reads its scheduled time.
		_, err = db.Bun().NewUpdate().Table("executions").Set("nominal_at = NULL").Where("id = ?", cron.ID).Exec(ctx)
		is.NoErr(err)
		read, err = db.ExecutionGet(ctx, cron.ID)
		is.NoErr(err)
		is.Equal(read.NominalAt, read.ScheduledAt)
	})
}

// finish ends e with status (through the claim, as a worker does).
func finish(t *testing.T, db *store.DB, e *execution.Execution, status execution.Status) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := db.ExecutionInsert(ctx, e); err != nil {
		t.Fatal(err)
	}
	if status == execution.StatusPending {
		return
	}
	if _, err := db.ExecutionClaim(ctx, e.ID, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if status == execution.StatusRunning {
		return
	}
	if err := db.ExecutionFinish(ctx, &execution.FinishParams{ID: e.ID, Fence: 1, Status: status, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func TestExecutionLastSuccessNominal(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		at := func(h int) time.Time { return slot0.Add(time.Duration(h) * time.Hour) }
		// hourly: 0 and 2 succeeded, 3 failed, 4 runs, 5 is pending; 6 succeeded; other: 1 succeeded.
		finish(t, db, cronExecution(wf, "hourly", at(0), 5*time.Second), execution.StatusSucceeded)
		finish(t, db, cronExecution(wf, "hourly", at(2), 5*time.Second), execution.StatusSucceeded)
		finish(t, db, cronExecution(wf, "hourly", at(3), 5*time.Second), execution.StatusFailed)
		finish(t, db, cronExecution(wf, "hourly", at(4), 5*time.Second), execution.StatusRunning)
		finish(t, db, cronExecution(wf, "hourly", at(5), 5*time.Second), execution.StatusPending)
		finish(t, db, cronExecution(wf, "hourly", at(6), 5*time.Second), execution.StatusSucceeded)
		finish(t, db, cronExecution(wf, "other", at(1), 5*time.Second), execution.StatusSucceeded)

		for _, tt := range []struct {
			trigger string
			before  time.Time
			want    time.Time // zero: none
		}{
			{"hourly", at(0), time.Time{}},                      // nothing before the first slot
			{"hourly", at(1), at(0)},                            // not the other trigger's 1
			{"hourly", at(2), at(0)},                            // strictly before
			{"hourly", at(3), at(2)},                            //
			{"hourly", at(5), at(2)},                            // failed, running and pending do not count
			{"hourly", at(5).Add(-time.Microsecond), at(2)},     //
			{"hourly", at(7), at(6)},                            // a later success is the watermark of later slots only
			{"hourly", at(2).Add(time.Nanosecond * 500), at(0)}, // at microsecond precision
			{"other", at(9), at(1)},
			{"nope", at(9), time.Time{}},
		} {
			got, ok, err := db.ExecutionLastSuccessNominal(ctx, wf, tt.trigger, tt.before)
			is.NoErr(err)
			is.Equal(ok, !tt.want.IsZero())
			is.Equal(got, tt.want)
		}
		_, ok, err := db.ExecutionLastSuccessNominal(ctx, "no-such-workflow", "hourly", at(9))
		is.NoErr(err)
		is.True(!ok)
	})
}

// TestLastSuccessUsesIndex: with many executions of many triggers, the watermark's query is one
// backward step of idx_executions_trigger_succeeded_nominal on both dialects, no sort, no scan
// of the table.
func TestLastSuccessUsesIndex(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		const rows = 20000
		id, ts := seriesExprs(db)
		_, err := db.Bun().ExecContext(ctx, fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type, trigger_id,
				scheduled_at, nominal_at, available_at)
			SELECT %s, '%s', ?, 1, CASE WHEN i %% 4 = 0 THEN 'FAILED' ELSE 'SUCCEEDED' END, 'CRON',
				'trigger-' || (i %% 50), %s, %s, %s
			FROM n`, rows, id, uuid.NewString(), ts, ts, ts), wf)
		is.NoErr(err)
		text := executionsPlan(t, db, db.LastSuccessQuery(wf, "trigger-7", slot0).String())
		is.True(strings.Contains(text, "idx_executions_trigger_succeeded_nominal")) // the index
		// Read in order: no sort (the partitions' walks are merged, "Merge Append ... Sort Key").
		is.True(!strings.Contains(strings.ToUpper(strings.ReplaceAll(text, "Sort Key", "")), "SORT"))
		is.True(!strings.Contains(text, "Seq Scan") && !strings.Contains(text, "SCAN executions"))
		got, ok, err := db.ExecutionLastSuccessNominal(ctx, wf, "trigger-7", slot0)
		is.NoErr(err)
		is.True(ok && got.Before(slot0))
	})
}

// TestNominalBackfill runs the migration's backfill again on rows without nominal_at: a cron
// row with a fire ledger row takes the ledger's nominal time, one without takes its scheduled
// time (off by the jitter), a manual row its scheduled time.
func TestNominalBackfill(t *testing.T) {
	t.Parallel()
	executionBackends(t, func(t *testing.T, db *store.DB, wf string) {
		is := is.New(t)
		ctx := context.Background()
		ledgered := cronExecution(wf, "hourly", slot0, 17*time.Second)
		bare := cronExecution(wf, "hourly", slot0.Add(time.Hour), 17*time.Second)
		manual := newExecution(wf)
		for _, e := range []*execution.Execution{ledgered, bare, manual} {
			_, _, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
		}
		_, err := db.Bun().NewRaw(`INSERT INTO fire_ledger (id, workflow_id, deployment_id, trigger_id, nominal_at,
			scheduled_at, fired_at, outcome, execution_id) VALUES (?, ?, ?, ?, ?, ?, ?, 'FIRED', ?)`,
			uuid.NewString(), wf, ledgered.DeploymentID, "hourly", slot0, ledgered.ScheduledAt, ledgered.ScheduledAt, ledgered.ID).Exec(ctx)
		is.NoErr(err)
		_, err = db.Bun().NewUpdate().Table("executions").Set("nominal_at = NULL").Where("1 = 1").Exec(ctx)
		is.NoErr(err)

		fsys := migrations.SQLite
		if db.Dialect() != store.DialectSQLite {
			fsys = migrations.Postgres
		}
		up, err := fs.ReadFile(fsys, "20261201000002_execution_nominal.tx.up.sql")
		is.NoErr(err)
		ran := 0
		for _, stmt := range strings.Split(string(up), "--bun:split") {
			if strings.Contains(stmt, "UPDATE executions") {
				_, err := db.Bun().ExecContext(ctx, stmt)
				is.NoErr(err)
				ran++
			}
		}
		is.Equal(ran, 1)
		var got []struct {
			ID        string    `bun:"id"`
			NominalAt time.Time `bun:"nominal_at"`
		}
		is.NoErr(db.Bun().NewSelect().Table("executions").Column("id", "nominal_at").Scan(ctx, &got))
		want := map[string]time.Time{ledgered.ID: slot0, bare.ID: bare.ScheduledAt, manual.ID: manual.ScheduledAt}
		is.Equal(len(got), 3)
		for _, r := range got {
			is.Equal(r.NominalAt.UTC(), want[r.ID])
		}
	})
}

// seriesExprs are the dialect's expressions, in a recursive CTE's counter i, of a new execution
// id and of the time i minutes after 2026-01-01, for tests that fill the table with SQL.
func seriesExprs(db *store.DB) (id, ts string) {
	if db.Dialect() == store.DialectSQLite {
		return "lower(hex(randomblob(16)))", "strftime('%Y-%m-%d %H:%M:%f+00:00', '2026-01-01', '+' || i || ' minutes')"
	}
	return "md5(i::text || random()::text)::uuid", "timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute'"
}

// executionsPlan analyses executions and returns the plan of the query q, one line per step, with
// PostgreSQL's partition indexes named by the index of the partitioned table they belong to.
func executionsPlan(t *testing.T, db *store.DB, q string) string {
	t.Helper()
	ctx := context.Background()
	var plan []string
	if db.Dialect() == store.DialectSQLite {
		if _, err := db.Bun().ExecContext(ctx, "ANALYZE"); err != nil {
			t.Fatal(err)
		}
		var out []struct {
			ID      int    `bun:"id"`
			Parent  int    `bun:"parent"`
			NotUsed int    `bun:"notused"`
			Detail  string `bun:"detail"`
		}
		if err := db.Bun().NewRaw("EXPLAIN QUERY PLAN "+q).Scan(ctx, &out); err != nil {
			t.Fatal(err)
		}
		for _, r := range out {
			plan = append(plan, r.Detail)
		}
	} else {
		if _, err := db.Bun().ExecContext(ctx, "ANALYZE executions"); err != nil {
			t.Fatal(err)
		}
		if err := db.Bun().NewRaw("EXPLAIN "+q).Scan(ctx, &plan); err != nil {
			t.Fatal(err)
		}
		for child, parent := range partitionIndexParents(t, db) {
			for i := range plan {
				plan[i] = strings.ReplaceAll(plan[i], " "+child+" ", " "+parent+" ")
			}
		}
	}
	text := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", text)
	return text
}
