package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/schedulehealth"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// calendarClient serves a handler with the calendar, deployment and scheduling services over
// be on a real listener (the validation interceptors included) and returns a Connect JSON
// client of it.
func calendarClient(t *testing.T, be backend) client {
	t.Helper()
	db := be.open(t)
	logger := slog.New(slog.DiscardHandler)
	executions := execution.NewService(db, queue.NewLocalQueue(queue.LocalConfig{}), notify.NewLocal(), execution.ServiceConfig{Logger: logger})
	schedulerSvc := scheduler.NewService(db, executions, scheduler.ServiceConfig{Blackouts: db})
	handler := api.NewHandler(api.Deps{
		Deployments:    deployments.NewService(db, deployments.ServiceConfig{KnownNodeTypes: engine.NodeTypes()}),
		Executions:     executions,
		Scheduler:      schedulerSvc,
		Calendars:      calendars.NewService(db, calendars.ServiceConfig{}),
		ScheduleHealth: schedulehealth.NewService(db, schedulehealth.Config{Silenced: schedulerSvc.TriggerSilenced}),
		Health:         health.NewChecker(health.Options{Version: "test"}),
		Logger:         logger,
	})
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := httpserver.New(cfg, handler, health.NewChecker(health.Options{Version: "test"}), logger)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(&http.Client{Transport: tr}, srv.URL(), connect.WithProtoJSON())
}

func freeze(name string) *v1.Calendar {
	return &v1.Calendar{
		Name: name, Description: "release freeze", Timezone: "Europe/Berlin",
		DateRanges: []*v1.DateRange{{StartDate: "2026-12-24", EndDate: "2026-12-31"}},
		Holidays:   []string{"2026-05-01"},
		WeeklyWindows: []*v1.WeeklyWindow{{
			Days: []v1.Weekday{v1.Weekday_WEEKDAY_SATURDAY, v1.Weekday_WEEKDAY_SUNDAY}, StartTime: "00:00", EndTime: "24:00",
		}},
	}
}

func code(err error) connect.Code { return connect.CodeOf(err) }

func TestCalendarRPCs(t *testing.T) {
	t.Parallel()
	for _, be := range []backend{sqlite, postgres} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := t.Context()
			c := calendarClient(t, be)

			created, err := c.CreateCalendar(ctx, &v1.CreateCalendarRequest{Calendar: freeze("freeze")})
			is.NoErr(err)
			is.Equal(created.GetCalendar().GetTimezone(), "Europe/Berlin")
			is.True(created.GetCalendar().GetCreateTime() != nil)
			_, err = c.CreateCalendar(ctx, &v1.CreateCalendarRequest{Calendar: freeze("freeze")})
			is.Equal(code(err), connect.CodeAlreadyExists)

			got, err := c.GetCalendar(ctx, &v1.GetCalendarRequest{Name: "freeze"})
			is.NoErr(err)
			is.Equal(got.GetCalendar().GetWeeklyWindows()[0].GetDays(), []v1.Weekday{v1.Weekday_WEEKDAY_SATURDAY, v1.Weekday_WEEKDAY_SUNDAY})
			is.Equal(got.GetCalendar().GetDateRanges()[0].GetEndDate(), "2026-12-31")

			upd := freeze("freeze")
			upd.Timezone = ""
			upd.Holidays = []string{"2026-10-03"}
			u, err := c.UpdateCalendar(ctx, &v1.UpdateCalendarRequest{Calendar: upd})
			is.NoErr(err)
			is.Equal(u.GetCalendar().GetTimezone(), "UTC") // the default
			is.Equal(u.GetCalendar().GetHolidays(), []string{"2026-10-03"})

			_, err = c.GetCalendar(ctx, &v1.GetCalendarRequest{Name: "nope"})
			is.Equal(code(err), connect.CodeNotFound)
			_, err = c.UpdateCalendar(ctx, &v1.UpdateCalendarRequest{Calendar: freeze("nope")})
			is.Equal(code(err), connect.CodeNotFound)
			_, err = c.DeleteCalendar(ctx, &v1.DeleteCalendarRequest{Name: "nope"})
			is.Equal(code(err), connect.CodeNotFound)

			// Invalid: protovalidate's shapes and the server's own checks, with field paths.
			bad := freeze("bad")
			bad.Timezone = "Mars/Olympus"
			bad.Holidays = []string{"2026-02-30"}
			_, err = c.CreateCalendar(ctx, &v1.CreateCalendarRequest{Calendar: bad})
			is.Equal(code(err), connect.CodeInvalidArgument)
			is.Equal(violations(t, err), []string{"calendar.timezone|timezone.iana", "calendar.holidays[0]|date.real"})
			bad = freeze("bad")
			bad.WeeklyWindows[0].EndTime = "25:00"
			_, err = c.CreateCalendar(ctx, &v1.CreateCalendarRequest{Calendar: bad})
			is.Equal(code(err), connect.CodeInvalidArgument)
			is.Equal(len(violations(t, err)), 1)

			for _, n := range []string{"b", "c"} {
				_, err = c.CreateCalendar(ctx, &v1.CreateCalendarRequest{Calendar: freeze(n)})
				is.NoErr(err)
			}
			page, err := c.ListCalendars(ctx, &v1.ListCalendarsRequest{PageSize: 2})
			is.NoErr(err)
			is.Equal(len(page.GetCalendars()), 2)
			is.Equal(page.GetCalendars()[0].GetName(), "b")
			page, err = c.ListCalendars(ctx, &v1.ListCalendarsRequest{PageSize: 2, PageToken: page.GetNextPageToken()})
			is.NoErr(err)
			is.Equal(len(page.GetCalendars()), 1)
			is.Equal(page.GetNextPageToken(), "")
			_, err = c.ListCalendars(ctx, &v1.ListCalendarsRequest{PageToken: "garbage"})
			is.Equal(code(err), connect.CodeInvalidArgument)
		})
	}
}

// A cron trigger names calendars: a missing one fails the deploy on its field; the blackout
// fields round-trip; the preview marks the covered fires; a named calendar cannot be deleted
// until its deployment is.
func TestCalendarsOnTriggers(t *testing.T) {
	t.Parallel()
	for _, be := range []backend{sqlite, postgres} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := t.Context()
			c := calendarClient(t, be)
			window := uint32(0)
			trigger := &v1.Trigger{Id: "minutely", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
				Expression: "* * * * *", JitterWindowSeconds: &window,
				BlackoutCalendars: []string{"always", "missing"},
				AfterBlackout:     v1.AfterBlackoutPolicy_AFTER_BLACKOUT_POLICY_FIRE_ONCE,
			}}}
			req := &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{Id: "cal-wf", Nodes: []*v1.Node{{Id: "a", Type: "noop"}}}, Triggers: []*v1.Trigger{trigger}}

			// Every day, all day: every fire is covered.
			_, err := c.CreateCalendar(ctx, &v1.CreateCalendarRequest{Calendar: &v1.Calendar{Name: "always", WeeklyWindows: []*v1.WeeklyWindow{{
				Days: []v1.Weekday{1, 2, 3, 4, 5, 6, 7}, StartTime: "00:00", EndTime: "00:00",
			}}}})
			is.NoErr(err)
			_, err = c.DeployWorkflow(ctx, req)
			is.Equal(code(err), connect.CodeFailedPrecondition)
			is.True(strings.Contains(err.Error(), "triggers[0].cron.blackout_calendars[1]")) // the field

			trigger.GetCron().BlackoutCalendars = []string{"always"}
			res, err := c.DeployWorkflow(ctx, req)
			is.NoErr(err)
			cron := res.GetDeployment().GetTriggers()[0].GetCron()
			is.Equal(cron.GetBlackoutCalendars(), []string{"always"})
			is.Equal(cron.GetAfterBlackout(), v1.AfterBlackoutPolicy_AFTER_BLACKOUT_POLICY_FIRE_ONCE)
			fires := res.GetTriggerPreviews()[0].GetFires()
			is.Equal(len(fires), 5)
			for _, f := range fires {
				is.Equal(f.GetBlackoutCalendar(), "always") // every fire marked
			}
			is.Equal(len(res.GetWarnings()), 1) // the calendar silences the trigger
			is.Equal(res.GetWarnings()[0].GetId(), "blackout.covers_all")
			is.Equal(res.GetWarnings()[0].GetField(), "triggers[0].cron.blackout_calendars")

			// Schedule health: a trigger its calendars silence is SILENT, saying which.
			h, err := c.ListScheduleHealth(ctx, &v1.ListScheduleHealthRequest{DeploymentId: res.GetDeployment().GetId()})
			is.NoErr(err)
			is.Equal(len(h.GetSchedules()), 1)
			is.Equal(h.GetSchedules()[0].GetState(), v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_SILENT)
			is.True(strings.Contains(h.GetSchedules()[0].GetReason(), "always"))

			_, err = c.DeleteCalendar(ctx, &v1.DeleteCalendarRequest{Name: "always"})
			is.Equal(code(err), connect.CodeFailedPrecondition)
			is.True(strings.Contains(err.Error(), "cal-wf"))
			_, err = c.DeleteDeployment(ctx, &v1.DeleteDeploymentRequest{DeploymentId: res.GetDeployment().GetId()})
			is.NoErr(err)
			_, err = c.DeleteCalendar(ctx, &v1.DeleteCalendarRequest{Name: "always"})
			is.NoErr(err)
			_, err = c.GetCalendar(ctx, &v1.GetCalendarRequest{Name: "always"})
			is.Equal(code(err), connect.CodeNotFound)
		})
	}
}
