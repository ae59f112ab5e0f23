package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// TestBlackoutAcceptance, on the embedded SQLite store and on PostgreSQL, through the API
// handler and the scheduler's own fire path on a controllable clock: a calendar covering the
// next fire of a per-minute trigger shows in the preview (that fire marked, the next ones not),
// the fire is recorded SKIPPED with the calendar's name and makes no execution, and with
// FIRE_ONCE the window's end gives one fire.
func TestBlackoutAcceptance(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			db := open(t)
			// Next year, so that the fires' deadlines are ahead of the real clock.
			base := time.Date(time.Now().Year()+1, 6, 1, 12, 0, 30, 0, time.UTC)
			c := &clock{}
			c.Set(base)
			executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{})
			svc := scheduler.NewService(db, executions, scheduler.ServiceConfig{Now: c.Now, Blackouts: db})
			h := api.NewHandler(api.Deps{
				Deployments: deployments.NewService(db, deployments.ServiceConfig{Now: c.Now, KnownNodeTypes: engine.NodeTypes()}),
				Executions:  executions,
				Scheduler:   svc,
				Calendars:   calendars.NewService(db, calendars.ServiceConfig{Now: c.Now}),
			})

			// The calendar covers 12:01 to 12:02 on this weekday: the trigger's next fire.
			day := v1.Weekday(int(base.Weekday()))
			if base.Weekday() == time.Sunday {
				day = v1.Weekday_WEEKDAY_SUNDAY
			}
			_, err := h.CreateCalendar(ctx, &v1.CreateCalendarRequest{Calendar: &v1.Calendar{
				Name: "deploy-freeze", WeeklyWindows: []*v1.WeeklyWindow{{Days: []v1.Weekday{day}, StartTime: "12:01", EndTime: "12:02"}},
			}})
			is.NoErr(err)
			window := uint32(0)
			res, err := h.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
				Definition: &v1.WorkflowDefinition{Id: "per-minute", Nodes: []*v1.Node{{Id: "a", Type: "noop"}}},
				Triggers: []*v1.Trigger{{Id: "minutely", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
					Expression: "* * * * *", JitterWindowSeconds: &window,
					BlackoutCalendars: []string{"deploy-freeze"},
					AfterBlackout:     v1.AfterBlackoutPolicy_AFTER_BLACKOUT_POLICY_FIRE_ONCE,
				}}}},
			})
			is.NoErr(err)
			minute := func(m int) time.Time { return base.Truncate(time.Minute).Add(time.Duration(m) * time.Minute) }

			// The preview shows the gap: the 12:01 fire is marked, the others run.
			st, err := h.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: res.GetDeployment().GetId()}})
			is.NoErr(err)
			fires := st.GetTriggerPreviews()[0].GetFires()
			is.Equal(len(fires), 5)
			for i, f := range fires {
				is.True(f.GetScheduledTime().AsTime().Equal(minute(i + 1)))
				want := ""
				if i == 0 {
					want = "deploy-freeze"
				}
				is.Equal(f.GetBlackoutCalendar(), want) // only the covered fire is marked
			}
			is.Equal(res.GetTriggerPreviews()[0].GetFires()[0].GetBlackoutCalendar(), "deploy-freeze") // DeployWorkflow's too

			// The fire comes: SKIPPED with the calendar's name, no execution.
			d, err := db.DeploymentGet(ctx, res.GetDeployment().GetId())
			is.NoErr(err)
			s := scheduler.New(svc, db, nil, nil, scheduler.Config{Now: c.Now})
			c.Set(minute(1))
			is.NoErr(s.FireForTest(ctx, d, "minutely", minute(1)))
			is.Equal(len(scheduledTimes(t, db, "per-minute")), 0)
			lf, err := h.ListFires(ctx, &v1.ListFiresRequest{DeploymentId: d.ID})
			is.NoErr(err)
			is.Equal(len(lf.GetFires()), 1)
			skipped := lf.GetFires()[0]
			is.Equal(skipped.GetOutcome(), v1.FireOutcome_FIRE_OUTCOME_SKIPPED)
			is.Equal(skipped.GetBlackoutCalendar(), "deploy-freeze")
			is.Equal(skipped.GetReason(), "blackout calendar deploy-freeze")
			is.Equal(skipped.GetExecutionId(), "")

			// The window ends at 12:02: one fire, whichever of the after-window decision and
			// the regular 12:02 fire comes first; deciding again adds nothing.
			c.Set(minute(2))
			after, err := svc.AfterBlackout(ctx, d, "minutely", c.Now())
			is.NoErr(err)
			is.True(after.Fired)
			is.NoErr(s.FireForTest(ctx, d, "minutely", minute(2)))
			again, err := svc.AfterBlackout(ctx, d, "minutely", c.Now())
			is.NoErr(err)
			is.True(!again.Fired)
			got := scheduledTimes(t, db, "per-minute")
			is.Equal(fmt.Sprint(got), fmt.Sprint(map[time.Time]int{minute(2): 1})) // one execution, at the window's end
			is.NoErr(s.FireForTest(ctx, d, "minutely", minute(3)))
			is.Equal(len(scheduledTimes(t, db, "per-minute")), 2) // and the trigger goes on
		})
	}
}
