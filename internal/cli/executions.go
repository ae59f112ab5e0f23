package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// ExecutionsCmd groups the commands about executions.
type ExecutionsCmd struct {
	List   ExecutionsListCmd   `cmd:"" aliases:"ls" help:"List executions, newest first, by deployment, status, trigger type and time."`
	Get    ExecutionsGetCmd    `cmd:"" help:"Show one execution, with its input, output and error."`
	Watch  ExecutionsWatchCmd  `cmd:"" help:"Follow one execution until it ends, or every execution of a deployment as they change."`
	Cancel ExecutionsCancelCmd `cmd:"" help:"Cancel a pending or running execution."`
}

// Help implements kong.HelpProvider.
func (*ExecutionsCmd) Help() string {
	return `Examples:

    workflow-runtime executions list hello --status failed --since -24h
    workflow-runtime executions get 0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b
    workflow-runtime executions watch -d hello`
}

// ExecutionsListCmd lists executions (GetExecutionHistory, every page up to --limit).
type ExecutionsListCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment  string   `arg:"" optional:"" help:"Only executions of this deployment: its workflow id or its deployment id. Default: all deployments."`
	Status      []string `enum:"pending,running,succeeded,failed,cancelled,timed_out,skipped" placeholder:"STATUS" help:"Only executions in these statuses: pending, running, succeeded, failed, cancelled, timed_out, skipped; comma-separated or repeated. Default: all."`
	TriggerType []string `name:"trigger-type" enum:"cron,webhook,manual" placeholder:"TYPE" help:"Only executions made by these trigger types: cron, webhook, manual. Default: all."`
	Since       timeArg  `type:"time" help:"Only executions created at or after this time: -24h, -7d, 2026-03-01, 2026-03-01T12:00:00Z. Default: no bound."`
	Until       timeArg  `type:"time" help:"Only executions created before this time. Default: no bound."`
	Limit       int      `default:"50" help:"At most this many executions, newest first; 0: all of them. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*ExecutionsListCmd) Help() string {
	return `Examples:

    workflow-runtime executions list
    workflow-runtime executions list hello --status failed,timed_out --since -7d
    workflow-runtime executions list --trigger-type cron --limit 0 -o json`
}

func (c *ExecutionsListCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	req := &v1.GetExecutionHistoryRequest{
		StartTime: c.Since.timestamp(env),
		EndTime:   c.Until.timestamp(env),
		PageSize:  1000,
	}
	if c.Limit > 0 {
		req.PageSize = int32(min(c.Limit, 1000)) //nolint:gosec // at most 1000
	}
	if c.Deployment != "" {
		if isUUID(c.Deployment) {
			d, err := resolve(ctx, client, c.Deployment)
			if err != nil {
				return err
			}
			req.DeploymentId = d.GetDeployment().GetId()
		} else {
			req.WorkflowId = c.Deployment
		}
	}
	for _, s := range c.Status {
		req.Statuses = append(req.Statuses, v1.ExecutionStatus(v1.ExecutionStatus_value["EXECUTION_STATUS_"+strings.ToUpper(s)]))
	}
	for _, t := range c.TriggerType {
		req.TriggerTypes = append(req.TriggerTypes, v1.TriggerType(v1.TriggerType_value["TRIGGER_TYPE_"+strings.ToUpper(t)]))
	}
	all := &v1.GetExecutionHistoryResponse{}
	for e, err := range client.Executions(ctx, req) {
		if err != nil {
			return err
		}
		all.Executions = append(all.Executions, e)
		if c.Limit > 0 && len(all.Executions) == c.Limit {
			break
		}
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(all)
	}
	rows := make([][]string, 0, len(all.GetExecutions()))
	for _, e := range all.GetExecutions() {
		rows = append(rows, []string{
			e.GetId(), e.GetWorkflowId(), strconv.Itoa(int(e.GetRevision())), p.executionStatus(e.GetStatus()),
			trigger(e), strconv.Itoa(int(e.GetAttempt())), p.time(e.GetCreateTime()), runTime(e), orDash(truncate(e.GetError(), 50)),
		})
	}
	p.table([]string{"execution", "workflow", "revision", "status", "trigger", "attempt", "created", "run time", "error"}, rows)
	return nil
}

// trigger says what made an execution: "cron nightly", "webhook hook", "manual".
func trigger(e *v1.Execution) string {
	s := strings.ToLower(enumName(e.GetTriggerType().String()))
	if e.GetTriggerId() != "" {
		s += " " + e.GetTriggerId()
	}
	return s
}

// runTime is how long an execution ran (its last attempt), or "-".
func runTime(e *v1.Execution) string {
	if e.GetStartTime() == nil || e.GetFinishTime() == nil {
		return "-"
	}
	return roundDuration(e.GetFinishTime().AsTime().Sub(e.GetStartTime().AsTime())).String()
}

// ExecutionsGetCmd shows one execution (GetExecution).
type ExecutionsGetCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Execution string `arg:"" help:"The execution's id."`
}

// Help implements kong.HelpProvider.
func (*ExecutionsGetCmd) Help() string {
	return `Examples:

    workflow-runtime executions get 0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b
    workflow-runtime executions get 0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b -o json | jq -r .execution.output`
}

func (c *ExecutionsGetCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: c.Execution})
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(res)
	}
	printExecution(p, res.GetExecution())
	return nil
}

// printExecution writes an execution for people, its input and output as indented JSON.
func printExecution(p *printer, e *v1.Execution) {
	p.fields(
		[2]string{"Execution", e.GetId()},
		[2]string{"Workflow", fmt.Sprintf("%s (revision %d)", e.GetWorkflowId(), e.GetRevision())},
		[2]string{"Deployment", e.GetDeploymentId()},
		[2]string{"Status", p.executionStatus(e.GetStatus())},
		[2]string{"Trigger", trigger(e)},
		[2]string{"Idempotency key", orDash(e.GetIdempotencyKey())},
		[2]string{"Scheduled", p.time(e.GetScheduledTime())},
		[2]string{"Created", p.time(e.GetCreateTime())},
		[2]string{"Started", p.time(e.GetStartTime())},
		[2]string{"Finished", p.time(e.GetFinishTime())},
		[2]string{"Run time", runTime(e)},
		[2]string{"Attempt", strconv.Itoa(int(e.GetAttempt()))},
		[2]string{"Error", orDash(e.GetError())},
	)
	for _, doc := range [][2]string{{"Input", e.GetTriggerData()}, {"Output", e.GetOutput()}} {
		if doc[1] == "" {
			continue
		}
		p.println()
		p.println(doc[0] + ":")
		var out bytes.Buffer
		if json.Indent(&out, []byte(doc[1]), "  ", "  ") != nil {
			out.Reset()
			out.WriteString(doc[1])
		}
		p.println("  " + out.String())
	}
}

// ExecutionsWatchCmd follows executions as they change (the SDK's WatchExecution and
// WatchDeployment).
type ExecutionsWatchCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Execution   string        `arg:"" optional:"" help:"The execution to follow until it ends. Not with --deployment."`
	Deployment  string        `short:"d" placeholder:"DEPLOYMENT" help:"Follow every execution of this deployment (workflow id or deployment id) as they change, until interrupted or --wait-timeout."`
	WaitTimeout time.Duration `name:"wait-timeout" default:"0s" help:"Stop after this long: an execution not ended by then exits 5, a deployment's watch exits 0. 0: no limit. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*ExecutionsWatchCmd) Help() string {
	return `One line per change. Following one execution ends when it does, with exit code 4 unless it succeeded; following a deployment starts with its pending and running executions and goes on until Ctrl-C (exit 130) or --wait-timeout (exit 0). With -o json each change is one line of JSON ({"execution": ...}).

Examples:

    workflow-runtime executions watch 0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b
    workflow-runtime executions watch -d hello
    workflow-runtime executions watch -d hello --wait-timeout 10m -o json | jq -c .execution.status`
}

func (c *ExecutionsWatchCmd) Run(ctx context.Context, env *Env) error {
	if (c.Execution == "") == (c.Deployment == "") {
		return usagef("give an execution id, or --deployment, but not both")
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	watchCtx := ctx
	if c.WaitTimeout > 0 {
		var cancel context.CancelFunc
		watchCtx, cancel = context.WithTimeout(ctx, c.WaitTimeout)
		defer cancel()
	}
	p := newPrinter(env, c.Output.Output)
	w := &watchLines{p: p}
	if c.Execution != "" {
		var last *v1.Execution
		for e, err := range client.WatchExecution(watchCtx, c.Execution) {
			if err != nil {
				return err
			}
			last = e
			if err := w.line(e); err != nil {
				return err
			}
		}
		return succeeded(last)
	}
	d, err := resolve(ctx, client, c.Deployment)
	if err != nil {
		return err
	}
	if p.people() {
		env.say("watching the executions of %s (%s); Ctrl-C stops\n", d.GetDeployment().GetWorkflowId(), d.GetDeployment().GetId())
	}
	for e, err := range client.WatchDeployment(watchCtx, d.GetDeployment().GetId()) {
		if err != nil {
			// --wait-timeout: the watch has lasted as long as asked. The server holds the same
			// deadline (sent with the call) and may end the stream with deadline_exceeded a
			// moment before this process's own timer goes off.
			if ctx.Err() == nil && c.WaitTimeout > 0 &&
				(errors.Is(watchCtx.Err(), context.DeadlineExceeded) || connect.CodeOf(err) == connect.CodeDeadlineExceeded) {
				return nil
			}
			return err
		}
		if err := w.line(e); err != nil {
			return err
		}
	}
	return nil
}

// watchLines prints one line per change: a table for people, JSON lines or YAML documents
// for scripts.
type watchLines struct {
	p      *printer
	header bool
}

// Column widths of the watch lines (the time is 23 or 24 characters wide with its zone).
const (
	watchWorkflowWidth = 24
	watchStatusWidth   = 9
)

func (w *watchLines) line(e *v1.Execution) error {
	if !w.p.people() {
		return w.p.stream(&v1.GetExecutionResponse{Execution: e})
	}
	if !w.header {
		w.header = true
		w.p.printf("%-24s  %-36s  %-*s  %-*s  %-7s  %s\n", "TIME", "EXECUTION",
			watchWorkflowWidth, "WORKFLOW", watchStatusWidth, "STATUS", "ATTEMPT", "ERROR")
	}
	status := enumName(e.GetStatus().String())
	padded := status + strings.Repeat(" ", max(0, watchStatusWidth-len(status)))
	w.p.printf("%-24s  %-36s  %-*s  %s  %-7d  %s\n", w.p.time(e.GetUpdateTime()), e.GetId(),
		watchWorkflowWidth, truncate(e.GetWorkflowId(), watchWorkflowWidth), w.p.executionStatus(e.GetStatus())+padded[len(status):],
		e.GetAttempt(), orDash(truncate(e.GetError(), 60)))
	return nil
}

// ExecutionsCancelCmd cancels an execution (CancelExecution).
type ExecutionsCancelCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Execution string `arg:"" help:"The execution's id."`
	Reason    string `placeholder:"TEXT" help:"Why, recorded as the execution's error. Default: none."`
}

// Help implements kong.HelpProvider.
func (*ExecutionsCancelCmd) Help() string {
	return `A pending execution ends CANCELLED at once; a running one when the worker running it has stopped the engine call. Cancelling an execution that ended otherwise is refused (exit 7).

Examples:

    workflow-runtime executions cancel 0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b --reason "stuck on a dead host"`
}

func (c *ExecutionsCancelCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: c.Execution, Reason: c.Reason})
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(res)
	}
	e := res.GetExecution()
	p.printf("execution %s of %s: %s\n", e.GetId(), e.GetWorkflowId(), p.executionStatus(e.GetStatus()))
	if !runtime.IsTerminal(e.GetStatus()) {
		p.println("(it ends CANCELLED once the engine has stopped it)")
	}
	return nil
}
