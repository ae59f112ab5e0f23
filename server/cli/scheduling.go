package cli

import (
	"context"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/text"
	"github.com/schollz/progressbar/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

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

// BackfillCmd creates the executions of a past range (BackfillDeployment), a chunk of the
// range per call, with a progress bar on a terminal.
type BackfillCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string        `arg:"" help:"The deployment, which must be deployed: its workflow id or its deployment id."`
	From       timeArg       `type:"time" required:"" help:"Start of the range, inclusive: -7d, 2026-03-01, 2026-03-01T12:00:00Z."`
	To         timeArg       `type:"time" default:"now" help:"End of the range, exclusive; times after now are left to the scheduler. Default ${default}."`
	Trigger    string        `placeholder:"ID" help:"Only this cron trigger. Default: every cron trigger of the deployment."`
	Chunk      time.Duration `default:"24h" help:"Each call to the service covers at most this much of the range (the service allows at most WFR_MAX_BACKFILL_RANGE, 744h by default). Default ${default}."`
	Batch      uint32        `default:"0" help:"Most fires one call returns; the rest of its chunk follows in the next call, from the last fire returned. Larger than the fires that share one scheduled time. 0: the service's default (1000). Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*BackfillCmd) Help() string {
	return `Creates one execution per scheduled time of the range, as the scheduler would have: a time that has an execution already (fired, or backfilled before) is counted as existing, so running it again creates nothing new. Ranges of any length are sent a chunk at a time, with a progress bar on a terminal.

Examples:

    workflow-runtime backfill hello --from=-7d
    workflow-runtime backfill hello --from 2026-03-01 --to 2026-03-08 --trigger hourly -o json`
}

func (c *BackfillCmd) Run(ctx context.Context, env *Env) error {
	now := env.Now()
	from, to := c.From.at(now, env.Location), c.To.at(now, env.Location)
	if !to.After(from) {
		return usagef("--to (%s) must be after --from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if c.Chunk < time.Minute {
		return usagef("--chunk %s: at least 1m", c.Chunk)
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	d, err := resolve(ctx, client, c.Deployment)
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	if env.StderrTerminal {
		bar = progressbar.NewOptions64(int64(to.Sub(from)/time.Second),
			progressbar.OptionSetWriter(env.Stderr),
			progressbar.OptionSetDescription("backfill "+d.GetDeployment().GetWorkflowId()),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionFullWidth(),
		)
		defer func() { _ = bar.Exit() }()
		_ = bar.RenderBlank() // at 0% while the first call runs
	}
	total := &v1.BackfillDeploymentResponse{}
	seen := map[string]bool{} // executions already counted: a truncated call's last time comes again
	start := from
	for start.Before(to) {
		end := start.Add(c.Chunk)
		if end.After(to) {
			end = to
		}
		res, err := client.BackfillDeployment(ctx, &v1.BackfillDeploymentRequest{
			DeploymentId: d.GetDeployment().GetId(),
			TriggerId:    c.Trigger,
			StartTime:    timestamppb.New(start),
			EndTime:      timestamppb.New(end),
			Limit:        c.Batch,
		})
		if err != nil {
			return err
		}
		total.Created += res.GetCreated()
		total.Deduplicated += res.GetDeduplicated()
		for _, e := range res.GetExecutions() {
			if seen[e.GetId()] {
				total.Deduplicated-- // counted by the call before, as created or existing
				continue
			}
			seen[e.GetId()] = true
			total.Executions = append(total.Executions, e)
		}
		next := end
		if es := res.GetExecutions(); res.GetTruncated() && len(es) > 0 {
			next = es[len(es)-1].GetScheduledTime().AsTime()
			if !next.After(start) {
				return usagef("--batch %d leaves no room to go on from %s: it must be larger than the number of fires that share one scheduled time", c.Batch, start.Format(time.RFC3339))
			}
		}
		start = next
		if bar != nil {
			_ = bar.Set64(int64(start.Sub(from) / time.Second))
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(total)
	}
	p.printf("%s, %s to %s: %d executions created, %d existed already\n",
		d.GetDeployment().GetWorkflowId(), from.In(env.Location).Format("2006-01-02 15:04:05 MST"),
		to.In(env.Location).Format("2006-01-02 15:04:05 MST"), total.GetCreated(), total.GetDeduplicated())
	return nil
}
