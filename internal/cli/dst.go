package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/text"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// DstCmd shows what a deployment's cron triggers do at the coming time-zone transitions
// (GetDstReport).
type DstCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string `arg:"" help:"The deployment: its workflow id or its deployment id."`
	Trigger    string `placeholder:"ID" help:"Only this cron trigger. Default: every cron trigger of the deployment."`
	Months     uint32 `default:"12" help:"How far ahead, in months; at most 60. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*DstCmd) Help() string {
	return `Lists, per cron trigger, every daylight-saving (or other UTC offset) transition of its time zone in the coming months whose skipped or repeated wall-clock stretch holds a time of its expression, and what the trigger does there: DOUBLED (a repeated time fires on both passes), ONCE (on the first pass only), SHIFTED (skipped times fire once right after the gap) or SKIPPED (they do not fire), with the policy that decides and the fire times, jitter included. A trigger no transition touches shows a dash.

Examples:

    workflow-runtime dst nightly-report
    workflow-runtime dst nightly-report --trigger nightly --months 24
    workflow-runtime dst nightly-report -o json | jq '.triggers[].transitions[].effect'`
}

func (c *DstCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	d, err := resolve(ctx, client, c.Deployment)
	if err != nil {
		return err
	}
	res, err := client.Raw().GetDstReport(ctx, &v1.GetDstReportRequest{
		Ref:       &v1.GetDstReportRequest_DeploymentId{DeploymentId: d.GetDeployment().GetId()},
		TriggerId: c.Trigger,
		Months:    c.Months,
	})
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(res)
	}
	var rows [][]string
	for _, tr := range res.GetTriggers() {
		if len(tr.GetTransitions()) == 0 {
			rows = append(rows, []string{tr.GetTriggerId(), tr.GetTimezone(), "-", "-", "-", "-", "-", "-"})
			continue
		}
		for _, x := range tr.GetTransitions() {
			fires := make([]string, 0, len(x.GetFireTimes()))
			for _, f := range x.GetFireTimes() {
				fires = append(fires, p.time(f))
			}
			rows = append(rows, []string{
				tr.GetTriggerId(), tr.GetTimezone(), x.GetWallClockSpan(),
				utcOffset(x.GetOffsetBefore()) + " → " + utcOffset(x.GetOffsetAfter()),
				list(x.GetWallClockTimes(), 6), p.dstEffect(x.GetEffect()), x.GetPolicy(), orDash(list(fires, 4)),
			})
		}
	}
	p.table([]string{"trigger", "zone", "wall clock", "utc offset", "times", "effect", "policy", "fires"}, rows)
	return nil
}

// list joins the first n of items with ", ", and says how many more there are.
func list(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s (+%d more)", strings.Join(items[:n], ", "), len(items)-n)
}

// dstEffect is a DST effect, coloured: fires lost in red, fires doubled or moved in yellow.
func (p *printer) dstEffect(e v1.DstEffect) string {
	name := strings.TrimPrefix(e.String(), "DST_EFFECT_")
	switch e {
	case v1.DstEffect_DST_EFFECT_SKIPPED:
		return p.paint(name, text.FgRed)
	case v1.DstEffect_DST_EFFECT_DOUBLED, v1.DstEffect_DST_EFFECT_SHIFTED:
		return p.paint(name, text.FgYellow)
	default:
		return name
	}
}

// utcOffset formats a UTC offset as ISO 8601 does: +01:00, -04:00, +10:30.
func utcOffset(d *durationpb.Duration) string {
	m := int(d.AsDuration() / time.Minute)
	sign := "+"
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%02d:%02d", sign, m/60, m%60)
}
