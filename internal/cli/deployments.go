package cli

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// GetCmd shows one deployment (GetDeploymentStatus).
type GetCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string `arg:"" help:"The deployment: its workflow id or its deployment id."`
}

// Help implements kong.HelpProvider.
func (*GetCmd) Help() string {
	return `Examples:

    workflow-runtime get hello
    workflow-runtime get 0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b -o yaml`
}

func (c *GetCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := resolve(ctx, client, c.Deployment)
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(res)
	}
	printDeployment(p, res.GetDeployment(), res.GetTriggerPreviews())
	return nil
}

// printDeployment writes a deployment for people: its header, nodes, triggers and next fires.
func printDeployment(p *printer, d *v1.Deployment, previews []*v1.TriggerPreview) {
	def := d.GetDefinition()
	p.fields(
		[2]string{"Workflow", d.GetWorkflowId()},
		[2]string{"Deployment", d.GetId()},
		[2]string{"Name", orDash(def.GetName())},
		[2]string{"Description", orDash(truncate(def.GetDescription(), 100))},
		[2]string{"Status", p.deploymentStatus(d.GetStatus())},
		[2]string{"Revision", strconv.Itoa(int(d.GetRevision()))},
		[2]string{"Deployed", p.time(d.GetDeployedAt())},
		[2]string{"Created", p.time(d.GetCreateTime())},
		[2]string{"Updated", p.time(d.GetUpdateTime())},
		[2]string{"Config", configSummary(d.GetConfig())},
	)
	var nodes [][]string
	for _, n := range def.GetNodes() {
		nodes = append(nodes, []string{n.GetId(), n.GetType(), orDash(strings.Join(n.GetDependsOn(), ", "))})
	}
	p.println()
	p.table([]string{"node", "type", "depends on"}, nodes)
	if len(d.GetTriggers()) > 0 {
		var triggers [][]string
		for _, t := range d.GetTriggers() {
			triggers = append(triggers, triggerRow(t))
		}
		p.println()
		p.table([]string{"trigger", "kind", "schedule or path", "time zone", "jitter window"}, triggers)
	}
	var fires [][]string
	for _, tp := range previews {
		for _, f := range tp.GetFires() {
			fires = append(fires, []string{tp.GetTriggerId(), p.time(f.GetScheduledTime()), p.time(f.GetNominalTime()), duration(tp.GetOffset())})
		}
	}
	if len(fires) > 0 {
		p.println()
		p.table([]string{"trigger", "next fires", "nominal", "jitter"}, fires)
	}
}

// triggerRow describes a trigger in one row: id, kind, expression or path, zone, window.
func triggerRow(t *v1.Trigger) []string {
	if w := t.GetWebhook(); w != nil {
		path := w.GetPath()
		if w.GetHasSecret() {
			path += " (signed)"
		}
		return []string{t.GetId(), "webhook", path, "-", "-"}
	}
	c := t.GetCron()
	window := "300s"
	if c.JitterWindowSeconds != nil {
		window = strconv.Itoa(int(c.GetJitterWindowSeconds())) + "s"
	}
	return []string{t.GetId(), "cron", c.GetExpression(), orDash(c.GetTimezone()), window}
}

// configSummary is a deployment's config on one line.
func configSummary(c *v1.DeploymentConfig) string {
	if c == nil {
		return "-"
	}
	parts := []string{
		"overlap " + enumName(c.GetOverlapPolicy().String()),
		"timeout " + duration(c.GetExecutionTimeout()),
	}
	if r := c.GetRetryPolicy(); r.GetMaxAttempts() > 1 {
		parts = append(parts, fmt.Sprintf("%d attempts (backoff %s to %s, ×%g)", r.GetMaxAttempts(),
			duration(r.GetInitialBackoff()), duration(r.GetMaxBackoff()), r.GetBackoffCoefficient()))
	} else {
		parts = append(parts, "no retry")
	}
	parts = append(parts, "misfire "+enumName(c.GetMisfirePolicy().String()), "catch-up "+duration(c.GetCatchUpWindow()))
	return strings.Join(parts, ", ")
}

// ListCmd lists deployments (ListDeployments, every page).
type ListCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Status []string `enum:"draft,deployed,paused,archived" placeholder:"STATUS" help:"Only deployments in these statuses: draft, deployed, paused, archived; comma-separated or repeated. Default: all."`
	Limit  int      `default:"0" help:"At most this many deployments; 0: all of them. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*ListCmd) Help() string {
	return `Deployments are listed by workflow id.

Examples:

    workflow-runtime list
    workflow-runtime list --status deployed,paused
    workflow-runtime list -o json | jq -r '.deployments[].workflowId'`
}

func (c *ListCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	req := &v1.ListDeploymentsRequest{PageSize: 1000}
	for _, s := range c.Status {
		req.Statuses = append(req.Statuses, v1.DeploymentStatus(v1.DeploymentStatus_value["DEPLOYMENT_STATUS_"+strings.ToUpper(s)]))
	}
	if c.Limit > 0 {
		req.PageSize = int32(min(c.Limit, 1000)) //nolint:gosec // at most 1000
	}
	all := &v1.ListDeploymentsResponse{}
	for d, err := range client.Deployments(ctx, req) {
		if err != nil {
			return err
		}
		all.Deployments = append(all.Deployments, d)
		if c.Limit > 0 && len(all.Deployments) == c.Limit {
			break
		}
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(all)
	}
	rows := make([][]string, 0, len(all.GetDeployments()))
	for _, d := range all.GetDeployments() {
		var triggers []string
		for _, t := range d.GetTriggers() {
			r := triggerRow(t)
			triggers = append(triggers, r[1]+" "+r[2])
		}
		rows = append(rows, []string{
			d.GetWorkflowId(), d.GetId(), strconv.Itoa(int(d.GetRevision())), p.deploymentStatus(d.GetStatus()),
			orDash(truncate(strings.Join(triggers, "; "), 60)), p.time(d.GetUpdateTime()),
		})
	}
	p.table([]string{"workflow", "deployment", "revision", "status", "triggers", "updated"}, rows)
	return nil
}

// PauseCmd pauses a deployment (UpdateDeployment status PAUSED).
type PauseCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string `arg:"" help:"The deployment: its workflow id or its deployment id."`
}

// Help implements kong.HelpProvider.
func (*PauseCmd) Help() string {
	return `Its cron triggers stop firing and TriggerWorkflow refuses it (failed_precondition) until it is resumed; executions already queued still run.

Examples:

    workflow-runtime pause hello`
}

func (c *PauseCmd) Run(ctx context.Context, env *Env) error {
	return setStatus(ctx, env, &c.Connection, c.Output.Output, c.Deployment, v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED)
}

// ResumeCmd resumes a paused deployment or deploys a draft (UpdateDeployment status DEPLOYED).
type ResumeCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string `arg:"" help:"The deployment: its workflow id or its deployment id."`
}

// Help implements kong.HelpProvider.
func (*ResumeCmd) Help() string {
	return `Its cron triggers fire again from the next scheduled time (missed ones follow its misfire policy).

Examples:

    workflow-runtime resume hello`
}

func (c *ResumeCmd) Run(ctx context.Context, env *Env) error {
	return setStatus(ctx, env, &c.Connection, c.Output.Output, c.Deployment, v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED)
}

// setStatus moves a deployment to status and prints it.
func setStatus(ctx context.Context, env *Env, conn *Connection, format, ref string, status v1.DeploymentStatus) error {
	client, err := conn.client()
	if err != nil {
		return err
	}
	cur, err := resolve(ctx, client, ref)
	if err != nil {
		return err
	}
	res, err := client.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{
		DeploymentId: cur.GetDeployment().GetId(),
		Status:       status,
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if err != nil {
		return err
	}
	p := newPrinter(env, format)
	if !p.people() {
		return p.message(res)
	}
	d := res.GetDeployment()
	p.printf("%s (%s): %s\n", d.GetWorkflowId(), d.GetId(), p.deploymentStatus(d.GetStatus()))
	return nil
}

// DeleteCmd archives a deployment (DeleteDeployment), after asking on a terminal.
type DeleteCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string `arg:"" help:"The deployment: its workflow id or its deployment id."`
	Yes        bool   `short:"y" help:"Do not ask for confirmation (asked only when stdin is a terminal)."`
}

// Help implements kong.HelpProvider.
func (*DeleteCmd) Help() string {
	return `The deployment is archived: its triggers are removed (their webhook paths freed), its revisions and executions are kept, and deploying the workflow again revives it. On a terminal it asks first, unless --yes.

Examples:

    workflow-runtime delete hello
    workflow-runtime delete hello --yes`
}

func (c *DeleteCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	cur, err := resolve(ctx, client, c.Deployment)
	if err != nil {
		return err
	}
	d := cur.GetDeployment()
	if !c.Yes && env.StdinTerminal {
		env.say("Delete deployment %s (%s, %s)? Its triggers are removed, its history is kept. [y/N] ",
			d.GetWorkflowId(), d.GetId(), enumName(d.GetStatus().String()))
		answer, _ := bufio.NewReader(env.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			env.say("Not deleted." + "\n")
			return &silentError{err: fmt.Errorf("not confirmed"), code: ExitError}
		}
	}
	res, err := client.DeleteDeployment(ctx, &v1.DeleteDeploymentRequest{DeploymentId: d.GetId()})
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(res)
	}
	p.printf("%s (%s): %s\n", res.GetDeployment().GetWorkflowId(), res.GetDeployment().GetId(), p.deploymentStatus(res.GetDeployment().GetStatus()))
	return nil
}
