package cli_test

import (
	"strings"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

func TestSchedules(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	hourly(t, "health-hourly")
	hourly(t, "health-paused")
	cmd(t, "pause", "health-paused").must(t)

	// Just deployed: nothing owed yet, the next fire within the hour.
	res := parse(t, cmd(t, "schedules", "health-hourly", "-o", "json").must(t).stdout, &v1.ListScheduleHealthResponse{})
	is.Equal(len(res.GetSchedules()), 1)
	s := res.GetSchedules()[0]
	is.Equal(s.GetWorkflowId(), "health-hourly")
	is.Equal(s.GetTriggerId(), "hourly")
	is.Equal(s.GetState(), v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_ON_TIME)
	is.True(s.GetNextFireTime() != nil)
	is.Equal(len(res.GetCounts()), 1)

	// Every deployment, as a table: the paused one before the ones on time, and the counts.
	table := cmd(t, "schedules").must(t).stdout
	paused, onTime := strings.Index(table, "health-paused"), strings.Index(table, "health-hourly")
	is.True(paused >= 0 && onTime >= 0)
	is.True(paused < onTime) // unhealthy first
	is.True(strings.Contains(table, "PAUSED") && strings.Contains(table, "ON_TIME"))
	is.True(strings.Contains(table, "1 PAUSED")) // the counts

	// A filter on states.
	res = parse(t, cmd(t, "schedules", "--state", "paused", "-o", "json").must(t).stdout, &v1.ListScheduleHealthResponse{})
	for _, s := range res.GetSchedules() {
		is.Equal(s.GetState(), v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_PAUSED)
	}
	res = parse(t, cmd(t, "schedules", "health-hourly", "--state", "overdue,late", "-o", "json").must(t).stdout, &v1.ListScheduleHealthResponse{})
	is.Equal(len(res.GetSchedules()), 0)

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"schedules", "no-such-deployment"}, cli.ExitNotFound},
		{[]string{"schedules", "--state", "burnt"}, cli.ExitUsage},
	} {
		r := cmd(t, tc.args...)
		is.Equal(r.code, tc.code) // exit code of the refusal
		is.True(r.stderr != "")
	}
}
