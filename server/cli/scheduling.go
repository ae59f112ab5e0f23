package cli

import (
	"context"
	"strings"

	"github.com/jedib0t/go-pretty/v6/text"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// FiresCmd lists a deployment's fire ledger (ListFires, every page).
type FiresCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string   `arg:"" help:"The deployment: its workflow id or its deployment id."`
	Since      timeArg  `type:"time" default:"-24h" help:"Only fires scheduled at or after this time: -24h, -7d, 2026-03-01, 2026-03-01T12:00:00Z. Default ${default}."`
	Until      timeArg  `type:"time" help:"Only fires scheduled before this time. Default: no bound."`
	Outcome    []string `enum:"fired,deduplicated,missed,caught_up,skipped" placeholder:"OUTCOME" help:"Only fires with these outcomes: fired, deduplicated, missed, caught_up, skipped; comma-separated or repeated. Default: all."`
	Limit      int      `default:"0" help:"At most this many fires, oldest first; 0: all of them. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*FiresCmd) Help() string {
	return `Each scheduled time of the deployment's cron triggers, oldest first, with its outcome: FIRED on time, DEDUPLICATED (another replica or a backfill made it), CAUGHT_UP late after downtime, MISSED, or SKIPPED by the overlap policy, and why.

Examples:

    workflow-runtime fires hello
    workflow-runtime fires hello --since=-7d --outcome missed,caught_up
    workflow-runtime fires hello -o json | jq '.fires | length'`
}

func (c *FiresCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	d, err := resolve(ctx, client, c.Deployment)
	if err != nil {
		return err
	}
	req := &v1.ListFiresRequest{
		DeploymentId: d.GetDeployment().GetId(),
		StartTime:    c.Since.timestamp(env),
		EndTime:      c.Until.timestamp(env),
		PageSize:     1000,
	}
	if c.Limit > 0 {
		req.PageSize = int32(min(c.Limit, 1000)) //nolint:gosec // at most 1000
	}
	for _, o := range c.Outcome {
		req.Outcomes = append(req.Outcomes, v1.FireOutcome(v1.FireOutcome_value["FIRE_OUTCOME_"+strings.ToUpper(o)]))
	}
	all := &v1.ListFiresResponse{}
	for f, err := range client.Fires(ctx, req) {
		if err != nil {
			return err
		}
		all.Fires = append(all.Fires, f)
		if c.Limit > 0 && len(all.Fires) == c.Limit {
			break
		}
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(all)
	}
	rows := make([][]string, 0, len(all.GetFires()))
	for _, f := range all.GetFires() {
		rows = append(rows, []string{
			f.GetTriggerId(), p.time(f.GetScheduledTime()), p.time(f.GetNominalTime()), p.time(f.GetFireTime()),
			p.outcome(f.GetOutcome()), orDash(f.GetExecutionId()), orDash(truncate(f.GetReason(), 50)),
		})
	}
	p.table([]string{"trigger", "scheduled", "nominal", "decided", "outcome", "execution", "reason"}, rows)
	return nil
}

// outcome is a fire's outcome, coloured.
func (p *printer) outcome(o v1.FireOutcome) string {
	name := enumName(o.String())
	switch o {
	case v1.FireOutcome_FIRE_OUTCOME_FIRED:
		return p.paint(name, text.FgGreen)
	case v1.FireOutcome_FIRE_OUTCOME_MISSED:
		return p.paint(name, text.FgRed)
	case v1.FireOutcome_FIRE_OUTCOME_CAUGHT_UP:
		return p.paint(name, text.FgYellow)
	default: // DEDUPLICATED, SKIPPED
		return p.paint(name, text.Faint)
	}
}
