package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/schedulehealth"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

func healthBackends(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open(t))
		})
	}
}

// healthDeployment stores a deployment of workflowID with status and one cron trigger "every"
// (plus the webhook of storetest.NewDeployment, which the health read leaves out).
func healthDeployment(t *testing.T, db *store.DB, workflowID string, status deployments.Status) *deployments.Deployment {
	t.Helper()
	d := storetest.NewDeployment(workflowID)
	d.Status = status
	d.Triggers[0] = deployments.Trigger{ID: "every", Cron: &deployments.CronSchedule{Expression: "* * * * *", Timezone: "UTC"}}
	if err := storetest.Create(context.Background(), db, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestScheduleHealthTriggers(t *testing.T) {
	t.Parallel()
	healthBackends(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		a := healthDeployment(t, db, "wf-a", deployments.StatusDeployed)
		b := healthDeployment(t, db, "wf-b", deployments.StatusPaused)
		healthDeployment(t, db, "wf-c", deployments.StatusDraft) // not listed
		noCron := storetest.NewDeployment("wf-d")
		noCron.Triggers = noCron.Triggers[1:] // webhook only: read, but no trigger
		is.NoErr(storetest.Create(ctx, db, noCron))
		e := healthDeployment(t, db, "wf-e", deployments.StatusDeployed)

		rec := func(d *deployments.Deployment, minute int, late time.Duration, outcome scheduler.Outcome) scheduler.Fire {
			at := t0.Add(time.Duration(minute) * time.Minute)
			return scheduler.Fire{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "every", NominalAt: at, ScheduledAt: at,
				FiredAt: at.Add(late), Outcome: outcome, ExecutionID: uuid.NewString()}
		}
		is.NoErr(db.FireRecord(ctx, []scheduler.Fire{
			rec(a, 1, time.Second, scheduler.OutcomeFired),
			// The latest time: a standby's DEDUPLICATED (2 s) and the winner's FIRED (5 ms).
			rec(a, 2, 2*time.Second, scheduler.OutcomeDeduplicated),
			rec(a, 2, 5*time.Millisecond, scheduler.OutcomeFired),
			rec(b, 0, time.Minute, scheduler.OutcomeCaughtUp),
		}))

		all, next, err := db.ScheduleHealthTriggers(ctx, &schedulehealth.TriggerParams{})
		is.NoErr(err)
		is.Equal(next, "")    // one read covered all
		is.Equal(len(all), 3) // wf-a, wf-b, wf-e: cron triggers of DEPLOYED and PAUSED deployments
		is.Equal(all[0].WorkflowID, "wf-a")
		is.Equal(all[0].DeploymentID, a.ID)
		is.Equal(all[0].TriggerID, "every")
		is.Equal(all[0].Status, deployments.StatusDeployed)
		is.Equal(all[0].Cron.Expression, "* * * * *")
		is.Equal(all[0].Config.OverlapPolicy, policy.OverlapSkip)
		is.True(all[0].DeployedAt.Equal(a.DeployedAt))
		is.True(all[0].Last != nil)
		is.True(all[0].Last.ScheduledAt.Equal(t0.Add(2 * time.Minute))) // the latest time
		is.Equal(all[0].Last.Outcome, scheduler.OutcomeFired)           // its first decided row
		is.True(all[0].Last.FiredAt.Equal(t0.Add(2*time.Minute + 5*time.Millisecond)))
		is.Equal(all[1].Status, deployments.StatusPaused)
		is.Equal(all[1].Last.Outcome, scheduler.OutcomeCaughtUp)
		is.Equal(all[2].WorkflowID, e.WorkflowID)
		is.True(all[2].Last == nil) // never fired

		// Pages of two deployments: wf-a, wf-b | wf-d (no cron), wf-e.
		first, next, err := db.ScheduleHealthTriggers(ctx, &schedulehealth.TriggerParams{Limit: 2})
		is.NoErr(err)
		is.Equal(len(first), 2)
		is.Equal(next, "wf-b")
		second, next, err := db.ScheduleHealthTriggers(ctx, &schedulehealth.TriggerParams{Limit: 2, AfterWorkflowID: next})
		is.NoErr(err)
		is.Equal(len(second), 1)
		is.Equal(second[0].WorkflowID, "wf-e")
		is.Equal(next, "wf-e") // a full page of deployments: read on
		third, next, err := db.ScheduleHealthTriggers(ctx, &schedulehealth.TriggerParams{Limit: 2, AfterWorkflowID: next})
		is.NoErr(err)
		is.Equal(len(third), 0)
		is.Equal(next, "")

		// One deployment.
		only, _, err := db.ScheduleHealthTriggers(ctx, &schedulehealth.TriggerParams{DeploymentID: b.ID})
		is.NoErr(err)
		is.Equal(len(only), 1)
		is.Equal(only[0].WorkflowID, "wf-b")
	})
}

func TestScheduleHealthRuns(t *testing.T) {
	t.Parallel()
	healthBackends(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		a := healthDeployment(t, db, "wf-a", deployments.StatusDeployed)
		b := healthDeployment(t, db, "wf-b", deployments.StatusDeployed)
		healthDeployment(t, db, "wf-c", deployments.StatusDeployed) // no runs

		run := func(d *deployments.Deployment, minute int, pickup, took time.Duration, status execution.Status) {
			t.Helper()
			at := t0.Add(time.Duration(minute) * time.Minute)
			e := &execution.Execution{
				ID: uuid.NewString(), DeploymentID: d.ID, WorkflowID: d.WorkflowID, Revision: 1,
				Status: status, TriggerType: execution.TriggerCron, TriggerID: "every",
				TriggerData: []byte("{}"), ScheduledAt: at, CreatedAt: at, UpdatedAt: at,
			}
			if status != execution.StatusPending && status != execution.StatusSkipped {
				e.StartedAt = at.Add(pickup)
				e.FinishedAt = at.Add(pickup + took)
			}
			_, _, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			outcome := scheduler.OutcomeFired
			if status == execution.StatusSkipped {
				outcome = scheduler.OutcomeSkipped
			}
			is.NoErr(db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "every",
				NominalAt: at, ScheduledAt: at, FiredAt: at, Outcome: outcome, ExecutionID: e.ID}}))
		}
		// wf-a: 8 finished runs (minutes 0..7), 2 skipped (8, 9), one still pending (10), one
		// finished before the window (minute -2000).
		for m := range 8 {
			run(a, m, time.Duration(m)*time.Second, 10*time.Second, execution.StatusSucceeded)
		}
		run(a, 8, 0, 0, execution.StatusSkipped)
		run(a, 9, 0, 0, execution.StatusSkipped)
		run(a, 10, 0, 0, execution.StatusPending)
		run(a, -2000, 0, time.Second, execution.StatusFailed)
		// wf-b: one run.
		run(b, 3, time.Second, time.Minute, execution.StatusFailed)

		since := t0.Add(-time.Hour)
		keys := []scheduler.TriggerKey{{WorkflowID: "wf-a", TriggerID: "every"}, {WorkflowID: "wf-b", TriggerID: "every"}, {WorkflowID: "wf-c", TriggerID: "every"}}
		got, err := db.ScheduleHealthRuns(ctx, &schedulehealth.RunParams{Keys: keys, Since: since, PerTrigger: 5})
		is.NoErr(err)
		is.Equal(len(got), 2) // wf-c has no run
		ra := got[keys[0]]
		is.Equal(len(ra.Runs), 5)                                      // the latest 5 finished
		is.True(ra.Runs[0].ScheduledAt.Equal(t0.Add(7 * time.Minute))) // newest first
		is.True(ra.Runs[4].ScheduledAt.Equal(t0.Add(3 * time.Minute)))
		is.Equal(ra.Runs[0].StartedAt.Sub(ra.Runs[0].ScheduledAt), 7*time.Second)
		is.Equal(ra.Runs[0].FinishedAt.Sub(ra.Runs[0].StartedAt), 10*time.Second)
		is.Equal(ra.Settled, int64(8)) // minutes 3..10
		is.Equal(ra.Skipped, int64(2))
		rb := got[keys[1]]
		is.Equal(len(rb.Runs), 1)
		is.Equal(rb.Settled, int64(1))
		is.Equal(rb.Skipped, int64(0))

		none, err := db.ScheduleHealthRuns(ctx, &schedulehealth.RunParams{})
		is.NoErr(err)
		is.Equal(len(none), 0)
	})
}

// BenchmarkScheduleHealth10k measures Service.List's first page over 10,000 DEPLOYED
// deployments with one every-minute cron trigger each, every one fired on time once (a ledger
// row at its latest time), on PostgreSQL: the read of every trigger with its latest ledger
// row, the verdicts, the sort, and the cadence advice of one page of 100.
//
//	WFR_TEST_DATABASE_URL=... go test ./internal/store -run XXX -bench ScheduleHealth10k -benchtime 5x
func BenchmarkScheduleHealth10k(b *testing.B) {
	db := storetest.OpenPostgres(b)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	const n = 10_000
	rows := make([]string, 0, n)
	for i := range n {
		rows = append(rows, fmt.Sprintf("wf-%05d", i))
	}
	seedHealth(b, db, rows, now)
	// The steady state autovacuum keeps: statistics, and the visibility map that lets the
	// latest-time lookups read the ledger's index alone.
	if _, err := db.Bun().ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	svc := schedulehealth.NewService(db, schedulehealth.Config{Now: func() time.Time { return now.Add(10 * time.Second) }})
	b.ResetTimer()
	for b.Loop() {
		res, err := svc.List(ctx, schedulehealth.ListQuery{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Counts[schedulehealth.StateOnTime] != n {
			b.Fatalf("counts %v, want %d ON_TIME", res.Counts, n)
		}
	}
}

// seedHealth writes the deployments, their revision, trigger and one ledger row in bulk.
func seedHealth(tb testing.TB, db *store.DB, ids []string, last time.Time) {
	tb.Helper()
	ctx := context.Background()
	bdb := db.Bun()
	tables := []struct {
		insert string
		row    func(id string) (string, []any)
	}{
		{`INSERT INTO workflows (id, deployment_id, current_revision, deployment_status, deployed_at, deployment_config) VALUES `,
			func(id string) (string, []any) {
				return "(?, ?, 1, 'DEPLOYED', ?, ?)", []any{id, uuid.NewString(), last.Add(-time.Hour), `{"overlap_policy":"SKIP"}`}
			}},
		{`INSERT INTO workflow_revisions (workflow_id, revision, definition) VALUES `,
			func(id string) (string, []any) {
				return "(?, 1, ?)", []any{id, `{"id":"` + id + `","nodes":[{"id":"a","type":"noop"}]}`}
			}},
		{`INSERT INTO triggers (workflow_id, id, kind, cron_expression, timezone, jitter_window_seconds) VALUES `,
			func(id string) (string, []any) { return "(?, 'every', 'cron', '* * * * *', 'UTC', 0)", []any{id} }},
		{`INSERT INTO fire_ledger (id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at, fired_at, outcome) VALUES `,
			func(id string) (string, []any) {
				return "(?, ?, ?, 'every', ?, ?, ?, 'FIRED')", []any{uuid.NewString(), id, uuid.NewString(), last, last, last.Add(5 * time.Millisecond)}
			}},
	}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		for _, table := range tables {
			q := table.insert
			var args []any
			for i, id := range chunk {
				if i > 0 {
					q += ", "
				}
				values, a := table.row(id)
				q += values
				args = append(args, a...)
			}
			if _, err := bdb.ExecContext(ctx, q, args...); err != nil {
				tb.Fatalf("seed: %v", err)
			}
		}
	}
}

func BenchmarkScheduleHealthTriggersRead(b *testing.B) {
	db := storetest.OpenPostgres(b)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	ids := make([]string, 0, 1000)
	for i := range 1000 {
		ids = append(ids, fmt.Sprintf("wf-%05d", i))
	}
	seedHealth(b, db, ids, now)
	// 200 older rows per trigger: the read must not scan the ledger.
	if _, err := db.Bun().ExecContext(ctx, `INSERT INTO fire_ledger (id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at, fired_at, outcome)
		SELECT gen_random_uuid(), f.workflow_id, f.deployment_id, f.trigger_id, f.nominal_at - g * interval '1 minute', f.scheduled_at - g * interval '1 minute', f.fired_at - g * interval '1 minute', 'FIRED'
		FROM fire_ledger AS f, generate_series(1, 200) AS g`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Bun().ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := db.ScheduleHealthTriggers(ctx, &schedulehealth.TriggerParams{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScheduleHealthListTokenBinding: a List token reads only with the filters of the page
// that made it (states as a set), and a token of another list never reads.
func TestScheduleHealthListTokenBinding(t *testing.T) {
	t.Parallel()
	healthBackends(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		a := healthDeployment(t, db, "wf-a", deployments.StatusDeployed)
		healthDeployment(t, db, "wf-b", deployments.StatusDeployed)
		healthDeployment(t, db, "wf-c", deployments.StatusPaused)
		healthDeployment(t, db, "wf-d", deployments.StatusPaused)
		svc := schedulehealth.NewService(db, schedulehealth.Config{})
		states := []schedulehealth.State{schedulehealth.StateOverdue, schedulehealth.StatePaused}
		page, err := svc.List(ctx, schedulehealth.ListQuery{States: states, PageSize: 1})
		is.NoErr(err)
		is.True(page.Next != "")

		_, err = svc.List(ctx, schedulehealth.ListQuery{PageSize: 1, PageToken: page.Next,
			States: []schedulehealth.State{schedulehealth.StatePaused, schedulehealth.StateOverdue}})
		is.NoErr(err) // the same set of states
		for _, other := range []schedulehealth.ListQuery{
			{},
			{States: []schedulehealth.State{schedulehealth.StatePaused}},
			{States: states, DeploymentID: a.ID},
		} {
			other.PageSize, other.PageToken = 1, page.Next
			_, err = svc.List(ctx, other)
			var ve *errdefs.ValidationError
			is.True(errors.As(err, &ve))                   // replayed with other filters
			is.Equal(ve.Violations[0].Field, "page_token") // on the token
		}

		// Signed with the same key and binding for another list, with the payload of this one.
		v := page.Verdicts[0]
		foreign, err := pagetoken.New(nil).Encode("backfill.operations", []byte("d=\"\"\ns="),
			map[string]any{"s": v.State, "w": v.WorkflowID, "t": v.TriggerID})
		is.NoErr(err)
		_, err = svc.List(ctx, schedulehealth.ListQuery{PageToken: foreign})
		var ve *errdefs.ValidationError
		is.True(errors.As(err, &ve))                   // a token of another list
		is.Equal(ve.Violations[0].Field, "page_token") // on the token
	})
}
