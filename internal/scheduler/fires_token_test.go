package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// TestListFiresTokenBinding: a ListFires token reads only with the filters of the page that
// made it (set filters in any order), and a token of another list never reads, on both
// dialects.
func TestListFiresTokenBinding(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			now := t0.Add(2 * time.Hour)
			b := setup(t, open(t), func() time.Time { return t0.Add(-24 * time.Hour) }, func() time.Time { return now }, nil)
			d, _, err := b.deployments.Deploy(ctx, &deployments.DeployParams{
				Definition: definition("tokens"),
				Triggers:   []deployments.Trigger{cron("quarter", "*/15 * * * *", 0)},
			})
			is.NoErr(err)
			_, err = b.svc.Backfill(ctx, &scheduler.BackfillParams{DeploymentID: d.ID, Start: t0, End: t0.Add(time.Hour)})
			is.NoErr(err)

			q := scheduler.ListFiresQuery{
				DeploymentID: d.ID, TriggerID: "quarter", WorkflowIDs: []string{"tokens", "other"},
				Start: t0, End: t0.Add(time.Hour), Outcomes: []scheduler.Outcome{scheduler.OutcomeFired, scheduler.OutcomeMissed},
				PageSize: 1,
			}
			fires, next, err := b.svc.ListFires(ctx, q)
			is.NoErr(err)
			is.Equal(len(fires), 1)
			is.True(next != "")

			same := q
			same.PageToken = next
			same.WorkflowIDs = []string{"other", "tokens", "tokens"} // a set: order and repeats do not matter
			same.Outcomes = []scheduler.Outcome{scheduler.OutcomeMissed, scheduler.OutcomeFired}
			_, _, err = b.svc.ListFires(ctx, same)
			is.NoErr(err) // the same filters

			for what, change := range map[string]func(q *scheduler.ListFiresQuery){
				"deployment": func(q *scheduler.ListFiresQuery) { q.DeploymentID = "" },
				"trigger":    func(q *scheduler.ListFiresQuery) { q.TriggerID = "" },
				"workflows":  func(q *scheduler.ListFiresQuery) { q.WorkflowIDs = []string{"tokens"} },
				"start":      func(q *scheduler.ListFiresQuery) { q.Start = t0.Add(time.Minute) },
				"end":        func(q *scheduler.ListFiresQuery) { q.End = time.Time{} },
				"outcomes":   func(q *scheduler.ListFiresQuery) { q.Outcomes = nil },
			} {
				other := q
				other.PageToken = next
				change(&other)
				_, _, err = b.svc.ListFires(ctx, other)
				if !isPageTokenError(err) {
					t.Fatalf("replayed with another %s: %v, want an invalid page_token", what, err)
				}
			}

			// Signed with the same key for another list, with the payload of a fire.
			foreign, err := pagetoken.New(nil).Encode("backfill.operations", nil, map[string]any{"t": fires[0].ScheduledAt, "i": fires[0].ID})
			is.NoErr(err)
			_, _, err = b.svc.ListFires(ctx, scheduler.ListFiresQuery{PageToken: foreign})
			is.True(isPageTokenError(err)) // a token of another list
		})
	}
}

func isPageTokenError(err error) bool {
	var ve *errdefs.ValidationError
	return errors.As(err, &ve) && len(ve.Violations) == 1 && ve.Violations[0].Field == "page_token"
}
