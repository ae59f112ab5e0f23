package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// TestFiresRecordTheirSlot: the executions of a catch-up and of a backfill of a jittered
// trigger have the slot's cron time as nominal time, their scheduled time less the offset, as
// the fire ledger has it; on both dialects.
func TestFiresRecordTheirSlot(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			now := t0.Add(5*time.Minute + 59*time.Second)
			b := setup(t, open(t), func() time.Time { return t0.Add(-time.Hour) }, func() time.Time { return now }, nil)
			d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("slot"),
				Triggers:   []deployments.Trigger{cron("every-minute", "* * * * *", 50)},
				Config:     deployments.Config{MisfirePolicy: policy.MisfireFireAll, CatchUpWindow: 10 * time.Minute},
			})
			is.NoErr(err)
			trig, err := scheduler.NewTrigger(d.WorkflowID, d.Triggers[0].Cron)
			is.NoErr(err)
			offset := trig.Offset()
			is.True(offset > 0) // md5("slot") mod 50s: the nominal and scheduled times differ
			// The last fire before the downtime: 12:02.
			is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "every-minute",
				NominalAt: t0.Add(2 * time.Minute), ScheduledAt: t0.Add(2*time.Minute + offset), FiredAt: t0, Outcome: scheduler.OutcomeFired}}))
			caught, err := b.svc.CatchUp(ctx, d, "every-minute", now)
			is.NoErr(err)
			is.True(len(caught.Fired) > 0)
			backfilled, err := b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0.Add(-3 * time.Minute), End: t0})
			is.NoErr(err)
			is.Equal(backfilled.Created, 3)

			fires, err := b.db.FireList(ctx, &scheduler.FireListParams{DeploymentID: d.ID, Limit: 1000})
			is.NoErr(err)
			ledgerNominal := map[string]time.Time{}
			for _, f := range fires {
				if f.ExecutionID != "" {
					ledgerNominal[f.ExecutionID] = f.NominalAt.UTC()
				}
			}
			checked := 0
			for _, e := range backfilled.Executions {
				is.Equal(e.NominalAt, e.ScheduledAt.Add(-offset))
				is.Equal(e.NominalAt, e.NominalAt.Truncate(time.Minute)) // the minute itself
				is.Equal(ledgerNominal[e.ID], e.NominalAt)
				checked++
			}
			for _, at := range caught.Fired {
				var id string
				for eid, n := range ledgerNominal {
					if n.Add(offset).Equal(at) {
						id = eid
					}
				}
				e, err := b.executions.Get(ctx, id)
				is.NoErr(err)
				is.Equal(e.NominalAt, at.Add(-offset))
				is.Equal(e.ScheduledAt, at)
				checked++
			}
			is.Equal(checked, 3+len(caught.Fired))
		})
	}
}
