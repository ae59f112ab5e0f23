package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/schedulehealth"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// healthBundle serves the deployment RPCs and ListScheduleHealth over one store, with a clock
// the test moves.
type healthBundle struct {
	db     *store.DB
	client workflowruntimev1connect.WorkflowRuntimeServiceClient

	mu  sync.Mutex
	now time.Time
}

func (b *healthBundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *healthBundle) set(at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = at
}

func eachHealthBackend(t *testing.T, f func(t *testing.T, b *healthBundle)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := &healthBundle{db: open(t), now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
			logger := slog.New(slog.DiscardHandler)
			handler := api.NewHandler(api.Deps{
				Deployments:    deployments.NewService(b.db, deployments.ServiceConfig{Now: b.clock}),
				ScheduleHealth: schedulehealth.NewService(b.db, schedulehealth.Config{Now: b.clock, Grace: 30 * time.Second}),
				Logger:         logger,
			})
			cfg := config.Default()
			cfg.Addr = "127.0.0.1:0"
			checker := health.NewChecker(health.Options{Version: "test"})
			srv := httpserver.New(cfg, handler, checker, logger)
			if err := srv.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Stop(context.Background()) })
			b.client = workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, srv.URL(), connect.WithProtoJSON())
			f(t, b)
		})
	}
}

// deploy deploys workflowID with one cron trigger "every" on expression, no jitter.
func (b *healthBundle) deploy(t *testing.T, workflowID, expression string, policy v1.OverlapPolicy) *v1.Deployment {
	t.Helper()
	window := uint32(0)
	res, err := b.client.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: workflowID, Nodes: []*v1.Node{{Id: "a", Type: "noop"}}},
		Triggers: []*v1.Trigger{{Id: "every", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
			Expression: expression, JitterWindowSeconds: &window,
		}}}},
		Config: &v1.DeploymentConfig{OverlapPolicy: policy},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.GetDeployment()
}

func (b *healthBundle) list(t *testing.T, req *v1.ListScheduleHealthRequest) *v1.ListScheduleHealthResponse {
	t.Helper()
	res, err := b.client.ListScheduleHealth(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestListScheduleHealth(t *testing.T) {
	t.Parallel()
	eachHealthBackend(t, func(t *testing.T, b *healthBundle) {
		is := is.New(t)
		ctx := t.Context()
		t0 := b.clock() // every deploy happens at t0
		minutely := b.deploy(t, "minutely", "* * * * *", v1.OverlapPolicy_OVERLAP_POLICY_SKIP)
		hourly := b.deploy(t, "hourly", "0 * * * *", v1.OverlapPolicy_OVERLAP_POLICY_UNSPECIFIED)
		paused := b.deploy(t, "paused", "* * * * *", v1.OverlapPolicy_OVERLAP_POLICY_UNSPECIFIED)
		_, err := b.client.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{
			DeploymentId: paused.GetId(), Status: v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED,
			UpdateMask: mask("status"),
		})
		is.NoErr(err)

		// minutely fired on time at 12:01 and 12:02, with runs of 90 s (it overruns); hourly
		// never fired.
		for m := 1; m <= 2; m++ {
			at := t0.Add(time.Duration(m) * time.Minute)
			e := &execution.Execution{ID: uuid.NewString(), DeploymentID: minutely.GetId(), WorkflowID: "minutely", Revision: 1,
				Status: execution.StatusSucceeded, TriggerType: execution.TriggerCron, TriggerID: "every", TriggerData: []byte("{}"),
				ScheduledAt: at, StartedAt: at.Add(time.Second), FinishedAt: at.Add(91 * time.Second), CreatedAt: at, UpdatedAt: at}
			_, _, err := b.db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			is.NoErr(b.db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: "minutely", DeploymentID: minutely.GetId(), TriggerID: "every",
				NominalAt: at, ScheduledAt: at, FiredAt: at.Add(12 * time.Millisecond), Outcome: scheduler.OutcomeFired, ExecutionID: e.ID}}))
		}

		// 12:02:20: everything on time.
		b.set(t0.Add(2*time.Minute + 20*time.Second))
		res := b.list(t, &v1.ListScheduleHealthRequest{})
		is.Equal(len(res.GetSchedules()), 3)
		is.Equal(res.GetNextPageToken(), "")
		first := res.GetSchedules()[0]
		is.Equal(first.GetWorkflowId(), "paused") // PAUSED before ON_TIME
		is.Equal(first.GetState(), v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_PAUSED)
		on := res.GetSchedules()[2]
		is.Equal(on.GetWorkflowId(), "minutely")
		is.Equal(on.GetDeploymentId(), minutely.GetId())
		is.Equal(on.GetTriggerId(), "every")
		is.Equal(on.GetState(), v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_ON_TIME)
		is.Equal(on.GetLastOutcome(), v1.FireOutcome_FIRE_OUTCOME_FIRED)
		is.Equal(on.GetLastLateness().AsDuration(), 12*time.Millisecond)
		is.True(on.GetLastSettledTime().AsTime().Equal(t0.Add(2 * time.Minute)))
		is.True(on.GetNextFireTime().AsTime().Equal(t0.Add(3 * time.Minute)))
		is.Equal(on.GetOwedFires(), int64(0))
		is.True(on.GetOldestOwedTime() == nil)
		c := on.GetCadence()
		is.Equal(c.GetInterval().AsDuration(), time.Minute)
		is.Equal(c.GetRuns(), int64(2))
		is.Equal(c.GetRunTimeP95().AsDuration(), 90*time.Second)
		is.Equal(c.GetPickupP95().AsDuration(), time.Second)
		is.True(c.GetOverrun())
		is.Equal(c.GetRemedy(), v1.CadenceRemedy_CADENCE_REMEDY_BUFFER_ONE) // SKIP, nothing skipped yet
		is.True(c.GetMessage() != "")
		hourlyH := res.GetSchedules()[1]
		is.Equal(hourlyH.GetWorkflowId(), "hourly")
		is.Equal(hourlyH.GetState(), v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_ON_TIME)
		is.Equal(hourlyH.GetLastOutcome(), v1.FireOutcome_FIRE_OUTCOME_UNSPECIFIED)
		is.True(hourlyH.GetLastSettledTime().AsTime().Equal(t0)) // the deploy
		is.Equal(hourlyH.GetCadence().GetRuns(), int64(0))

		// 13:00:31: minutely owes 12:03..13:00 (58 times); hourly owes 13:00.
		b.set(t0.Add(time.Hour + 31*time.Second))
		res = b.list(t, &v1.ListScheduleHealthRequest{PageSize: 1})
		is.Equal(len(res.GetSchedules()), 1)
		over := res.GetSchedules()[0]
		is.Equal(over.GetWorkflowId(), "hourly") // OVERDUE first, then by workflow id
		is.Equal(over.GetState(), v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_OVERDUE)
		is.Equal(over.GetOwedFires(), int64(1))
		counts := map[v1.ScheduleHealthState]int64{}
		for _, c := range res.GetCounts() {
			counts[c.GetState()] = c.GetCount()
		}
		is.Equal(counts, map[v1.ScheduleHealthState]int64{
			v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_OVERDUE: 2,
			v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_PAUSED:  1,
		})
		res = b.list(t, &v1.ListScheduleHealthRequest{PageSize: 1, PageToken: res.GetNextPageToken()})
		over = res.GetSchedules()[0]
		is.Equal(over.GetWorkflowId(), "minutely")
		is.Equal(over.GetOwedFires(), int64(58))
		is.True(over.GetOldestOwedTime().AsTime().Equal(t0.Add(3 * time.Minute)))
		is.Equal(over.GetReason(), "58 fires owed since 2026-03-02T12:03:00Z")

		// Filters: by state, by deployment.
		res = b.list(t, &v1.ListScheduleHealthRequest{States: []v1.ScheduleHealthState{v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_PAUSED}})
		is.Equal(len(res.GetSchedules()), 1)
		is.Equal(res.GetSchedules()[0].GetWorkflowId(), "paused")
		res = b.list(t, &v1.ListScheduleHealthRequest{DeploymentId: hourly.GetId()})
		is.Equal(len(res.GetSchedules()), 1)
		is.Equal(res.GetSchedules()[0].GetWorkflowId(), "hourly")

		// Errors: an unknown deployment, a token replayed with other filters, a bad request.
		_, err = b.client.ListScheduleHealth(ctx, &v1.ListScheduleHealthRequest{DeploymentId: uuid.NewString()})
		is.Equal(connect.CodeOf(err), connect.CodeNotFound)
		page := b.list(t, &v1.ListScheduleHealthRequest{PageSize: 1})
		_, err = b.client.ListScheduleHealth(ctx, &v1.ListScheduleHealthRequest{PageSize: 2, PageToken: page.GetNextPageToken(),
			States: []v1.ScheduleHealthState{v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_OVERDUE}})
		is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)
		_, err = b.client.ListScheduleHealth(ctx, &v1.ListScheduleHealthRequest{
			States: []v1.ScheduleHealthState{v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_UNSPECIFIED}})
		is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)
		is.Equal(violations(t, err), []string{"states[0]|enum.not_in"}) // the field path and rule
		_, err = b.client.ListScheduleHealth(ctx, &v1.ListScheduleHealthRequest{PageToken: "not a token"})
		is.Equal(violations(t, err), []string{"page_token|page_token.valid"})
	})
}

func TestListScheduleHealthUnimplemented(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	_, err := api.NewHandler(api.Deps{}).ListScheduleHealth(context.Background(), &v1.ListScheduleHealthRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeUnimplemented)
}
