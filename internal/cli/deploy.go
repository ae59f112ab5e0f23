package cli

import (
	"context"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// DeployCmd deploys the documents of files and directories: every one is first checked by the
// service (DeployWorkflow with validate_only), and only when all pass are they deployed, in
// the order read. --dry-run stops after the check and shows what would happen.
type DeployCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Files     []string `short:"f" name:"filename" required:"" placeholder:"FILE|DIR|-" predictor:"manifest" help:"A YAML or JSON file of deployments, a directory of such files, or - for stdin. Repeatable."`
	Recursive bool     `short:"R" help:"Read the subdirectories of directories too."`
	DryRun    bool     `name:"dry-run" help:"Check every deployment on the service and show what it would become, with the next fires of its cron triggers; store nothing."`
}

// Help implements kong.HelpProvider.
func (*DeployCmd) Help() string {
	return `A file holds DeployWorkflowRequest documents, in YAML (several separated by ---) or JSON, as examples/deploy.json does. Every document is checked by the service before any is deployed: one invalid document deploys nothing.

Examples:

    workflow-runtime deploy -f workflow.yaml
    workflow-runtime deploy -f workflows/ --dry-run
    workflow-runtime deploy -f workflows/ -R -o json
    cat workflow.json | workflow-runtime deploy -f -`
}

// deployResult is what happened to one document.
type deployResult struct {
	doc *document
	res *v1.DeployWorkflowResponse
	err error
}

func (c *DeployCmd) Run(ctx context.Context, env *Env) error {
	docs, err := readManifests(c.Files, c.Recursive, env.Stdin)
	if err != nil {
		return err
	}
	seen := map[string]string{}
	for _, d := range docs {
		id := d.request.GetDefinition().GetId()
		if first, ok := seen[id]; ok && id != "" {
			return usagef("workflow %q is in %s and in %s: deploy each workflow once", id, first, d.source)
		}
		seen[id] = d.source
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)

	// Check all first: nothing is deployed unless every document passes.
	results := make([]deployResult, len(docs))
	failed := false
	for i, d := range docs {
		req := proto.CloneOf(d.request)
		req.ValidateOnly = true
		res, err := client.DeployWorkflow(ctx, req)
		if err == nil && res.GetCreated() && res.GetDeployment().GetId() != "" {
			// A service older than validate_only ignores it (an unknown field) and deploys.
			err = fmt.Errorf("the service does not know validate_only (it is older than this command line) and deployed %s as %s", d.request.GetDefinition().GetId(), res.GetDeployment().GetId())
			res = nil
		}
		results[i] = deployResult{doc: d, res: res, err: err}
		failed = failed || err != nil
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if failed || c.DryRun {
		return c.finish(p, env, results, true)
	}
	for i, d := range docs {
		res, err := client.DeployWorkflow(ctx, d.request)
		results[i] = deployResult{doc: d, res: res, err: err}
		if err != nil {
			// Stop at the first failure: what follows may depend on it.
			for j := i + 1; j < len(docs); j++ {
				results[j] = deployResult{doc: docs[j], err: errNotDeployed}
			}
			break
		}
	}
	return c.finish(p, env, results, false)
}

// errNotDeployed marks the documents after a failed deploy.
var errNotDeployed = fmt.Errorf("not deployed: an earlier deployment failed")

// finish prints the results and returns the first error (its exit code is the command's),
// after printing every error on stderr.
func (c *DeployCmd) finish(p *printer, env *Env, results []deployResult, checkOnly bool) error {
	var first error
	for _, r := range results {
		if r.err != nil {
			if first == nil {
				first = r.err
			}
			env.say("%s: %s\n", r.doc.name(), errorText(r.err))
		}
	}
	if first != nil && checkOnly && !c.DryRun {
		env.say("nothing deployed" + "\n")
	}
	// Warnings go to stderr, as kubectl prints the server's: the table or document on stdout
	// stays what it was.
	for _, r := range results {
		for _, w := range r.res.GetWarnings() {
			env.say("%s: warning: %s: %s\n", r.doc.name(), w.GetField(), w.GetMessage())
		}
	}
	if !p.people() {
		var ms []proto.Message
		for _, r := range results {
			if r.res != nil {
				ms = append(ms, r.res)
			}
		}
		if err := p.messages(ms); err != nil {
			return err
		}
	} else if first == nil || c.DryRun {
		c.table(p, results, checkOnly)
	}
	if first != nil {
		return &silentError{err: first, code: exitCode(context.Background(), first)}
	}
	return nil
}

// table prints one row per deployment and, below, the coming fires of its cron triggers:
// all five of the preview for a dry run, the next one after a deploy.
func (c *DeployCmd) table(p *printer, results []deployResult, checkOnly bool) {
	var rows, fires [][]string
	for _, r := range results {
		if r.res == nil {
			continue
		}
		d := r.res.GetDeployment()
		rows = append(rows, []string{
			d.GetWorkflowId(), orDash(d.GetId()), strconv.Itoa(int(d.GetRevision())),
			p.deploymentStatus(d.GetStatus()), outcome(r.res, checkOnly), r.doc.source,
		})
		for _, tp := range r.res.GetTriggerPreviews() {
			for i, f := range tp.GetFires() {
				if !checkOnly && i > 0 {
					break
				}
				fires = append(fires, []string{d.GetWorkflowId(), tp.GetTriggerId(), p.time(f.GetScheduledTime()), p.time(f.GetNominalTime()), duration(tp.GetOffset())})
			}
		}
	}
	p.table([]string{"workflow", "deployment", "revision", "status", "result", "source"}, rows)
	if len(fires) > 0 {
		p.println()
		header := "next fire"
		if checkOnly {
			header = "next fires"
		}
		p.table([]string{"workflow", "trigger", header, "nominal", "jitter"}, fires)
	}
}

// outcome says in words what the deploy did (or would do).
func outcome(res *v1.DeployWorkflowResponse, checkOnly bool) string {
	switch {
	case checkOnly && res.GetCreated():
		return "would be created"
	case checkOnly:
		return fmt.Sprintf("would get revision %d", res.GetDeployment().GetRevision())
	case res.GetCreated():
		return "created"
	}
	return fmt.Sprintf("revision %d", res.GetDeployment().GetRevision())
}
