package store_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// FireList across deployments: every filter combination, paged by (scheduled_at, id) in pages
// of 4, returns exactly the rows a filter in Go picks, in that order, on both dialects; the
// new columns round-trip.
func TestFireListAcrossDeployments(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		var ds []*deployments.Deployment
		for _, wf := range []string{"wf-a", "wf-b", "wf-c"} {
			d := storetest.NewDeployment(wf)
			is.NoErr(storetest.Create(ctx, db, d))
			ds = append(ds, d)
		}
		outcomes := []scheduler.Outcome{scheduler.OutcomeFired, scheduler.OutcomeMissed, scheduler.OutcomePaused, scheduler.OutcomeSkipped}
		var all []scheduler.Fire
		for i := range 60 {
			d := ds[i%3]
			at := fireT0.Add(time.Duration(i/4) * time.Minute) // four rows share each time
			f := scheduler.Fire{
				ID: uuid.NewString(), WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: []string{"x", "y"}[i%2],
				NominalAt: at, ScheduledAt: at, FiredAt: at.Add(time.Second), Outcome: outcomes[i%4],
				CreatedAt: at.Add(time.Hour),
			}
			if f.Outcome == scheduler.OutcomeSkipped {
				f.BlackoutCalendar = "holidays"
			}
			all = append(all, f)
		}
		is.NoErr(db.FireRecord(ctx, all))
		slices.SortFunc(all, func(a, b scheduler.Fire) int {
			return cmp.Or(a.ScheduledAt.Compare(b.ScheduledAt), strings.Compare(a.ID, b.ID))
		})

		filters := []scheduler.FireListParams{
			{},
			{Outcomes: []scheduler.Outcome{scheduler.OutcomeMissed}},
			{Outcomes: []scheduler.Outcome{scheduler.OutcomeMissed, scheduler.OutcomePaused}},
			{Outcomes: []scheduler.Outcome{scheduler.OutcomeMissed}, Start: fireT0.Add(3 * time.Minute), End: fireT0.Add(10 * time.Minute)},
			{WorkflowIDs: []string{"wf-a", "wf-c"}},
			{WorkflowIDs: []string{"wf-b"}, TriggerID: "y"},
			{TriggerID: "x", Outcomes: []scheduler.Outcome{scheduler.OutcomeFired, scheduler.OutcomeSkipped, scheduler.OutcomePaused}},
			{DeploymentID: ds[1].ID, Outcomes: []scheduler.Outcome{scheduler.OutcomeFired, scheduler.OutcomeMissed}},
			{DeploymentID: ds[0].ID, WorkflowIDs: []string{"wf-b"}}, // contradictory: nothing
			{Start: fireT0.Add(14 * time.Minute)},
		}
		for i, f := range filters {
			var want []scheduler.Fire
			for _, r := range all {
				if (f.DeploymentID == "" || r.DeploymentID == f.DeploymentID) &&
					(len(f.WorkflowIDs) == 0 || slices.Contains(f.WorkflowIDs, r.WorkflowID)) &&
					(f.TriggerID == "" || r.TriggerID == f.TriggerID) &&
					(len(f.Outcomes) == 0 || slices.Contains(f.Outcomes, r.Outcome)) &&
					(f.Start.IsZero() || !r.ScheduledAt.Before(f.Start)) &&
					(f.End.IsZero() || r.ScheduledAt.Before(f.End)) {
					want = append(want, r)
				}
			}
			var got []scheduler.Fire
			p := f
			p.Limit = 4
			for range 100 {
				page, err := db.FireList(ctx, &p)
				is.NoErr(err)
				got = append(got, page...)
				if len(page) < p.Limit {
					break
				}
				p.AfterScheduledAt, p.AfterID = page[len(page)-1].ScheduledAt, page[len(page)-1].ID
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("filter %d (%+v): got %d rows, want %d, or not in (scheduled_at, id) order", i, f, len(got), len(want))
			}
		}

		// The new columns.
		got, err := db.FireList(ctx, &scheduler.FireListParams{Limit: 1000})
		is.NoErr(err)
		is.Equal(len(got), 60)
		for _, f := range got {
			is.True(f.CreatedAt.Equal(f.ScheduledAt.Add(time.Hour))) // as written
			is.True(f.WorkflowID != "" && f.DeploymentID != "")
			if f.Outcome == scheduler.OutcomeSkipped {
				is.Equal(f.BlackoutCalendar, "holidays")
			} else {
				is.Equal(f.BlackoutCalendar, "") // NULL reads as ""
			}
		}
	})
}

func ids(fs []scheduler.Fire) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

// On PostgreSQL, "which deployments missed fires today" (one outcome, a time range, every
// deployment) walks idx_fire_ledger_outcome_scheduled from the keyset position; several
// outcomes walk it once each, merged in order (Merge Append); the whole ledger of a range walks
// idx_fire_ledger_scheduled_id; none sorts.
func TestFireListPlansPostgres(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db := storetest.OpenPostgres(t)
	for i := range 20 {
		is.NoErr(storetest.Create(ctx, db, storetest.NewDeployment(fmt.Sprintf("wf-%02d", i))))
	}
	// 50,000 rows over ~35 days, one in a hundred MISSED.
	_, err := db.Bun().ExecContext(ctx, `
		INSERT INTO fire_ledger (id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at, fired_at, outcome)
		SELECT gen_random_uuid(), w.id, w.deployment_id::uuid, 't', ts, ts, ts,
		       CASE WHEN g % 100 = 0 THEN 'MISSED' ELSE 'FIRED' END
		FROM generate_series(1, 50000) AS g
		JOIN workflows AS w ON w.id = 'wf-' || lpad((g % 20)::text, 2, '0')
		CROSS JOIN LATERAL (SELECT timestamptz '2026-01-01' + g * interval '1 minute' AS ts) AS t`)
	is.NoErr(err)
	_, err = db.Bun().ExecContext(ctx, `ANALYZE fire_ledger`)
	is.NoErr(err)

	day := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		p     scheduler.FireListParams
		index string
	}{
		{scheduler.FireListParams{Outcomes: []scheduler.Outcome{scheduler.OutcomeMissed}, Start: day, End: day.Add(24 * time.Hour), Limit: 101}, "idx_fire_ledger_outcome_scheduled"},
		{scheduler.FireListParams{Outcomes: []scheduler.Outcome{scheduler.OutcomeMissed}, Start: day, End: day.Add(24 * time.Hour), Limit: 101,
			AfterScheduledAt: day.Add(time.Hour), AfterID: uuid.NewString()}, "idx_fire_ledger_outcome_scheduled"},
		{scheduler.FireListParams{Start: day, End: day.Add(24 * time.Hour), Limit: 101}, "idx_fire_ledger_scheduled_id"},
		// Two outcomes: one walk per outcome, merged.
		{scheduler.FireListParams{Outcomes: []scheduler.Outcome{scheduler.OutcomeMissed, scheduler.OutcomePaused}, Start: day, End: day.Add(24 * time.Hour), Limit: 101},
			"idx_fire_ledger_outcome_scheduled"},
	} {
		var plan []byte
		err := db.Bun().NewRaw("EXPLAIN (FORMAT JSON) "+db.FireListSQL(&c.p)).Scan(ctx, &plan)
		is.NoErr(err)
		nodes := planNodes(t, db, plan)
		is.True(slices.Contains(nodes, "Index Scan "+c.index)) // walks the index
		for _, n := range nodes {
			is.True(!strings.HasPrefix(n, "Seq Scan")) // no full scan
			is.True(!strings.HasPrefix(n, "Sort"))     // the index's order (two outcomes: a Merge Append)
		}
	}
}

// planNodes flattens an EXPLAIN (FORMAT JSON) plan into "Node Type Index Name" strings. An index
// of a partition is named by the index of the partitioned table it belongs to.
func planNodes(t *testing.T, db *store.DB, raw []byte) []string {
	t.Helper()
	var plans []struct {
		Plan json.RawMessage `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil {
		t.Fatal(err)
	}
	parents := partitionIndexParents(t, db)
	var out []string
	var walk func(json.RawMessage)
	walk = func(m json.RawMessage) {
		var n struct {
			NodeType  string            `json:"Node Type"`
			IndexName string            `json:"Index Name"`
			Plans     []json.RawMessage `json:"Plans"`
		}
		if err := json.Unmarshal(m, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(n.NodeType+" "+cmp.Or(parents[n.IndexName], n.IndexName)))
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plans[0].Plan)
	t.Logf("plan: %v", out)
	return out
}

// partitionIndexParents maps the name of every index of a partition to the name of the index of
// the partitioned table it belongs to (PostgreSQL names those itself), in the test's own schema:
// other tests' schemas, at other migrations, have partitions of the same names.
func partitionIndexParents(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	var children, parents []string
	err := db.Bun().NewRaw(`SELECT c.relname, p.relname FROM pg_inherits AS i
		JOIN pg_class AS c ON c.oid = i.inhrelid JOIN pg_class AS p ON p.oid = i.inhparent
		WHERE c.relkind = 'i' AND c.relnamespace = current_schema()::regnamespace`).Scan(context.Background(), &children, &parents)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(children))
	for i, c := range children {
		out[c] = parents[i]
	}
	return out
}
