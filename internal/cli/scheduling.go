package cli

import (
	"context"
	"strings"

	"github.com/jedib0t/go-pretty/v6/text"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// FiresCmd lists the fire ledger (ListFires, every page): one deployment's, or every
// deployment's.
type FiresCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string   `arg:"" optional:"" help:"The deployment: its workflow id or its deployment id. Default: every deployment."`
	Since      timeArg  `type:"time" default:"-24h" help:"Only fires scheduled at or after this time: -24h, -7d, 2026-03-01, 2026-03-01T12:00:00Z. Default ${default}."`
	Until      timeArg  `type:"time" help:"Only fires scheduled before this time. Default: no bound."`
	Outcome    []string `enum:"fired,deduplicated,missed,caught_up,skipped,paused" placeholder:"OUTCOME" help:"Only fires with these outcomes: fired, deduplicated, missed, caught_up, skipped, paused; comma-separated or repeated. Default: all."`
	Workflows  []string `name:"workflow" placeholder:"ID" help:"Only fires of these workflows; comma-separated or repeated (at most 100). Default: all."`
	Trigger    string   `placeholder:"ID" help:"Only fires of this cron trigger. Default: all."`
	Limit      int      `default:"0" help:"At most this many fires, oldest first; 0: all of them. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*FiresCmd) Help() string {
	return `Each scheduled time of the cron triggers of a deployment (or of every deployment), oldest first, with its outcome: FIRED on time, DEDUPLICATED (another replica or a backfill made it), CAUGHT_UP late after downtime, MISSED, SKIPPED by the overlap policy or a blackout calendar, or PAUSED (the deployment was paused), and why.

Examples:

    workflow-runtime fires hello
    workflow-runtime fires hello --since=-7d --outcome missed,caught_up
    workflow-runtime fires --outcome missed --since=-24h        # which deployments missed fires
    workflow-runtime fires --workflow hello,billing --trigger nightly
    workflow-runtime fires hello -o json | jq '.fires | length'`
}

func (c *FiresCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	req := &v1.ListFiresRequest{
		StartTime:   c.Since.timestamp(env),
		EndTime:     c.Until.timestamp(env),
		WorkflowIds: c.Workflows,
		TriggerId:   c.Trigger,
		PageSize:    1000,
	}
	if c.Deployment != "" {
		d, err := resolve(ctx, client, c.Deployment)
		if err != nil {
			return err
		}
		req.DeploymentId = d.GetDeployment().GetId()
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
	header := []string{"trigger", "scheduled", "nominal", "decided", "outcome", "execution", "reason"}
	if c.Deployment == "" {
		header = append([]string{"workflow"}, header...)
	}
	rows := make([][]string, 0, len(all.GetFires()))
	for _, f := range all.GetFires() {
		row := []string{
			f.GetTriggerId(), p.time(f.GetScheduledTime()), p.time(f.GetNominalTime()), p.time(f.GetFireTime()),
			p.outcome(f.GetOutcome()), orDash(f.GetExecutionId()), orDash(truncate(f.GetReason(), 50)),
		}
		if c.Deployment == "" {
			row = append([]string{f.GetWorkflowId()}, row...)
		}
		rows = append(rows, row)
	}
	p.table(header, rows)
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
	case v1.FireOutcome_FIRE_OUTCOME_CAUGHT_UP, v1.FireOutcome_FIRE_OUTCOME_PAUSED:
		return p.paint(name, text.FgYellow)
	default: // DEDUPLICATED, SKIPPED
		return p.paint(name, text.Faint)
	}
}
