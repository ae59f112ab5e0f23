package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// TriggerCmd starts an execution (TriggerWorkflow) and, with --wait, follows it to its end.
type TriggerCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment     string        `arg:"" optional:"" help:"The deployment: its workflow id or its deployment id. Not with --webhook-path."`
	WebhookPath    string        `name:"webhook-path" placeholder:"PATH" help:"Trigger the deployment that owns this webhook path instead (trigger type WEBHOOK)."`
	Data           string        `placeholder:"JSON" help:"The execution's input, a JSON document. Default: none."`
	DataFile       string        `name:"data-file" placeholder:"FILE" predictor:"file" help:"Read the input from this file; - reads stdin."`
	IdempotencyKey string        `name:"idempotency-key" placeholder:"KEY" help:"One execution per key: a repeat answers the first execution (and may be retried safely)."`
	Wait           bool          `help:"Wait for the execution to end, print its outcome, and exit 4 unless it succeeded."`
	WaitTimeout    time.Duration `name:"wait-timeout" default:"0s" help:"Give up waiting after this long (exit 5); 0: wait as long as it takes. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*TriggerCmd) Help() string {
	return `Examples:

    workflow-runtime trigger hello --data '{"name": "ada"}'
    workflow-runtime trigger hello --data-file input.json --idempotency-key order-42 --wait
    echo '{"name": "ada"}' | workflow-runtime trigger --webhook-path hello/in --data-file - --wait -o json`
}

func (c *TriggerCmd) Run(ctx context.Context, env *Env) error {
	req := &v1.TriggerWorkflowRequest{IdempotencyKey: c.IdempotencyKey}
	data, err := c.input(env)
	if err != nil {
		return err
	}
	req.TriggerData = data
	client, err := c.client()
	if err != nil {
		return err
	}
	switch {
	case c.Deployment != "" && c.WebhookPath != "":
		return usagef("give a deployment or --webhook-path, not both")
	case c.WebhookPath != "":
		req.Target = &v1.TriggerWorkflowRequest_WebhookPath{WebhookPath: c.WebhookPath}
	case c.Deployment == "":
		return usagef("a deployment is required (its workflow id or deployment id), or --webhook-path")
	default:
		workflowID := c.Deployment
		if isUUID(c.Deployment) { // a deployment id: TriggerWorkflow takes the workflow's
			d, err := resolve(ctx, client, c.Deployment)
			if err != nil {
				return err
			}
			workflowID = d.GetDeployment().GetWorkflowId()
		}
		req.Target = &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: workflowID}
	}
	res, err := client.TriggerWorkflow(ctx, req)
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !c.Wait {
		if !p.people() {
			return p.message(res)
		}
		e := res.GetExecution()
		note := ""
		if res.GetDeduplicated() {
			note = " (deduplicated: the key's first execution)"
		}
		p.printf("execution %s of %s: %s%s\n", e.GetId(), e.GetWorkflowId(), p.executionStatus(e.GetStatus()), note)
		return nil
	}
	if p.people() {
		env.say("execution %s of %s: waiting…\n", res.GetExecution().GetId(), res.GetExecution().GetWorkflowId())
	}
	waitCtx := ctx
	if c.WaitTimeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, c.WaitTimeout)
		defer cancel()
	}
	e, err := client.WaitExecution(waitCtx, res.GetExecution().GetId())
	if err != nil {
		return err
	}
	res.Execution = e
	if !p.people() {
		if err := p.message(res); err != nil {
			return err
		}
	} else {
		printExecution(p, e)
	}
	return succeeded(e)
}

// input is the execution's input from --data or --data-file, checked to be JSON here so that
// a typo is found before anything runs.
func (c *TriggerCmd) input(env *Env) (string, error) {
	var b []byte
	switch {
	case c.Data != "" && c.DataFile != "":
		return "", usagef("give --data or --data-file, not both")
	case c.Data != "":
		b = []byte(c.Data)
	case c.DataFile == "-":
		var err error
		if b, err = io.ReadAll(env.Stdin); err != nil {
			return "", fmt.Errorf("read stdin: %w", err)
		}
	case c.DataFile != "":
		var err error
		if b, err = os.ReadFile(c.DataFile); err != nil {
			return "", usagef("--data-file: %v", err)
		}
	default:
		return "", nil
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return "", usagef("the input is not JSON: %v", err)
	}
	return string(b), nil
}

// succeeded is nil for a SUCCEEDED execution and an executionFailedError for any other end.
func succeeded(e *v1.Execution) error {
	if e.GetStatus() == v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		return nil
	}
	return &executionFailedError{status: e.GetStatus()}
}
