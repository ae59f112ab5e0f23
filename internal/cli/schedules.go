package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/jedib0t/go-pretty/v6/text"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// SchedulesCmd lists the schedule health of the cron triggers (ListScheduleHealth, every page).
type SchedulesCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string   `arg:"" optional:"" help:"Only this deployment: its workflow id or its deployment id. Default: every deployed or paused deployment."`
	State      []string `enum:"on_time,late,overdue,silent,paused" placeholder:"STATE" help:"Only triggers in these states: on_time, late, overdue, silent, paused; comma-separated or repeated. Default: all."`
}

// Help implements kong.HelpProvider.
func (*SchedulesCmd) Help() string {
	return `Whether each cron trigger's fires come on time, unhealthy first: OVERDUE (times owed with no fire: no scheduler made them), LATE (the latest time fired late, caught up or missed), SILENT (the expression fires no more), PAUSED, ON_TIME. The service computes it from its database, so it holds when no scheduler runs. The cadence column says when runs outlast the trigger's interval, and what to do.

Examples:

    workflow-runtime schedules
    workflow-runtime schedules --state overdue,late
    workflow-runtime schedules hello -o json | jq '.schedules[0].cadence'`
}

func (c *SchedulesCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	req := &v1.ListScheduleHealthRequest{PageSize: 1000}
	if c.Deployment != "" {
		d, err := resolve(ctx, client, c.Deployment)
		if err != nil {
			return err
		}
		req.DeploymentId = d.GetDeployment().GetId()
	}
	for _, s := range c.State {
		req.States = append(req.States, v1.ScheduleHealthState(v1.ScheduleHealthState_value["SCHEDULE_HEALTH_STATE_"+strings.ToUpper(s)]))
	}
	all := &v1.ListScheduleHealthResponse{}
	for range 10_000 { // pages of 1000: far more triggers than a deployment may have
		res, err := client.Raw().ListScheduleHealth(ctx, req)
		if err != nil {
			return err
		}
		all.Schedules = append(all.Schedules, res.GetSchedules()...)
		all.Counts = res.GetCounts()
		if res.GetNextPageToken() == "" {
			break
		}
		req.PageToken = res.GetNextPageToken()
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(all)
	}
	rows := make([][]string, 0, len(all.GetSchedules()))
	for _, s := range all.GetSchedules() {
		owed := "-"
		if s.GetOwedFires() > 0 {
			owed = fmt.Sprint(s.GetOwedFires())
		}
		rows = append(rows, []string{
			p.scheduleState(s.GetState()), s.GetWorkflowId(), s.GetTriggerId(), owed,
			p.time(s.GetLastSettledTime()), p.time(s.GetNextFireTime()), cadence(s.GetCadence()), truncate(s.GetReason(), 60),
		})
	}
	p.table([]string{"state", "workflow", "trigger", "owed", "last settled", "next fire", "cadence", "reason"}, rows)
	counts := make([]string, 0, len(all.GetCounts()))
	for _, n := range all.GetCounts() {
		counts = append(counts, fmt.Sprintf("%d %s", n.GetCount(), scheduleStateName(n.GetState())))
	}
	if len(counts) > 0 {
		p.println()
		p.println(strings.Join(counts, ", "))
	}
	return nil
}

func scheduleStateName(s v1.ScheduleHealthState) string {
	return strings.TrimPrefix(s.String(), "SCHEDULE_HEALTH_STATE_")
}

// scheduleState is a schedule health state, coloured.
func (p *printer) scheduleState(s v1.ScheduleHealthState) string {
	name := scheduleStateName(s)
	switch s {
	case v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_ON_TIME:
		return p.paint(name, text.FgGreen)
	case v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_OVERDUE:
		return p.paint(name, text.FgRed)
	case v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_LATE:
		return p.paint(name, text.FgYellow)
	default: // SILENT, PAUSED
		return p.paint(name, text.Faint)
	}
}

// cadence is the advice in a word: the remedy when runs overrun, "fits" when they do not, "-"
// without runs.
func cadence(c *v1.CadenceAdvice) string {
	switch {
	case c.GetRuns() == 0:
		return "-"
	case c.GetOverrun():
		return strings.TrimPrefix(c.GetRemedy().String(), "CADENCE_REMEDY_")
	default:
		return "fits"
	}
}
