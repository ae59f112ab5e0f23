package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/text"
	"github.com/schollz/progressbar/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// BackfillCmd groups the backfill commands: the backfill itself (the default) and its
// operations.
type BackfillCmd struct {
	Start  BackfillStartCmd  `cmd:"" default:"withargs" help:"Backfill a past range (the default: backfill DEPLOYMENT --from ...)."`
	Status BackfillStatusCmd `cmd:"" help:"Show one backfill operation, and with --wait follow it until it ends."`
	List   BackfillListCmd   `cmd:"" aliases:"ls" help:"List backfill operations, newest first."`
	Cancel BackfillCancelCmd `cmd:"" help:"Cancel a running backfill operation: what it created stays, nothing more is created."`
}

// Help implements kong.HelpProvider.
func (*BackfillCmd) Help() string {
	return `Examples:

    workflow-runtime backfill hello --from=-7d
    workflow-runtime backfill hello --from=-7d --dry-run
    workflow-runtime backfill hello --from=-30d --wait
    workflow-runtime backfill status 0196f3a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b --wait
    workflow-runtime backfill list hello --state running
    workflow-runtime backfill cancel 0196f3a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b`
}

// BackfillStartCmd creates the executions of a past range (BackfillDeployment), a chunk of the
// range per call, with a progress bar on a terminal. A chunk with more fires than --batch runs
// as a backfill operation, which --wait follows.
type BackfillStartCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string        `arg:"" help:"The deployment, which must be deployed: its workflow id or its deployment id."`
	From       timeArg       `type:"time" required:"" help:"Start of the range, inclusive: -7d, 2026-03-01, 2026-03-01T12:00:00Z."`
	To         timeArg       `type:"time" default:"now" help:"End of the range, exclusive; times after now are left to the scheduler. Default ${default}."`
	Trigger    string        `placeholder:"ID" help:"Only this cron trigger. Default: every cron trigger of the deployment."`
	Chunk      time.Duration `default:"24h" help:"Each call to the service covers at most this much of the range (the service allows at most WFR_MAX_BACKFILL_RANGE, 744h by default). Default ${default}."`
	Batch      uint32        `default:"0" help:"Most fires one call makes itself; a chunk with more runs in the background as a backfill operation. With --dry-run, the most fires listed. 0: the service's default (1000). Default ${default}."`
	DryRun     bool          `name:"dry-run" help:"Create nothing: list the fires the backfill would make (the first --batch of them), each with the execution that exists for it already."`
	Wait       bool          `help:"Follow each backfill operation until it ends; exit 4 unless it succeeded."`
	Interval   time.Duration `default:"1s" help:"How often --wait reads an operation's progress. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*BackfillStartCmd) Help() string {
	return `Creates one execution per scheduled time of the range, as the scheduler would have: a time that has an execution already (fired, or backfilled before) is counted as existing, so running it again creates nothing new. Ranges of any length are sent a chunk at a time, with a progress bar on a terminal. A chunk that holds more fires than --batch is not backfilled in the call but by a backfill operation in the service: its id is printed, and --wait follows it to the end (backfill status, list and cancel act on it later).

Examples:

    workflow-runtime backfill hello --from=-7d
    workflow-runtime backfill hello --from=-7d --dry-run
    workflow-runtime backfill hello --from=-30d --chunk 720h --wait
    workflow-runtime backfill hello --from 2026-03-01 --to 2026-03-08 --trigger hourly -o json`
}

func (c *BackfillStartCmd) Run(ctx context.Context, env *Env) error {
	now := env.Now()
	from, to := c.From.at(now, env.Location), c.To.at(now, env.Location)
	if !to.After(from) {
		return usagef("--to (%s) must be after --from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if c.Chunk < time.Minute {
		return usagef("--chunk %s: at least 1m", c.Chunk)
	}
	if c.Interval < 10*time.Millisecond {
		return usagef("--interval %s: at least 10ms", c.Interval)
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	d, err := resolve(ctx, client, c.Deployment)
	if err != nil {
		return err
	}
	if c.DryRun {
		return c.dryRun(ctx, env, client, d.GetDeployment(), from, to)
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
	progress := func(at time.Time) {
		if bar != nil {
			_ = bar.Set64(int64(at.Sub(from) / time.Second))
		}
	}
	p := newPrinter(env, c.Output.Output)
	total := &v1.BackfillDeploymentResponse{}
	var unfinished *v1.BackfillOperation // the first operation --wait saw end otherwise than SUCCEEDED
	for start := from; start.Before(to); {
		end := earlier(start.Add(c.Chunk), to)
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
		if op := res.GetOperation(); op != nil {
			if p.people() {
				p.printf("backfill operation %s: %d fires from %s to %s\n", op.GetId(), op.GetTotal(),
					p.time(op.GetStartTime()), p.time(op.GetEndTime()))
			}
			if c.Wait {
				if op, err = followOperation(ctx, client, op, c.Interval, progress); err != nil {
					return err
				}
				total.Created += int32(op.GetCreated())           //nolint:gosec // at most a 744h range of fires
				total.Deduplicated += int32(op.GetDeduplicated()) //nolint:gosec // idem
				if op.GetState() != v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED && unfinished == nil {
					unfinished = op
				}
			}
			total.Operation = op
		} else if res.GetTruncated() {
			return fmt.Errorf("the service left %s to %s to a backfill operation it does not run: try a smaller --chunk",
				start.Format(time.RFC3339), end.Format(time.RFC3339))
		}
		total.Created += res.GetCreated()
		total.Deduplicated += res.GetDeduplicated()
		total.Executions = append(total.Executions, res.GetExecutions()...)
		start = end
		progress(start)
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if !p.people() {
		if err := p.message(total); err != nil {
			return err
		}
	} else {
		summary := fmt.Sprintf("%s, %s to %s: %d executions created, %d existed already",
			d.GetDeployment().GetWorkflowId(), from.In(env.Location).Format("2006-01-02 15:04:05 MST"),
			to.In(env.Location).Format("2006-01-02 15:04:05 MST"), total.GetCreated(), total.GetDeduplicated())
		if total.GetOperation() != nil && !c.Wait {
			summary += " (in the call; the operations go on in the service: backfill status ID --wait)"
		}
		p.println(summary)
	}
	if unfinished != nil {
		return &operationEndedError{op: unfinished}
	}
	return nil
}

// dryRun lists the fires the backfill would make, a chunk per call, up to --batch of them.
func (c *BackfillStartCmd) dryRun(ctx context.Context, env *Env, client *runtime.Client, d *v1.Deployment, from, to time.Time) error {
	total := &v1.BackfillDeploymentResponse{}
	for start := from; start.Before(to); {
		end := earlier(start.Add(c.Chunk), to)
		res, err := client.BackfillDeployment(ctx, &v1.BackfillDeploymentRequest{
			DeploymentId: d.GetId(), TriggerId: c.Trigger, DryRun: true, Limit: c.Batch,
			StartTime: timestamppb.New(start), EndTime: timestamppb.New(end),
		})
		if err != nil {
			return err
		}
		total.Planned = append(total.Planned, res.GetPlanned()...)
		limit := int(c.Batch)
		if limit == 0 {
			limit = 1000 // the service's default
		}
		if res.GetTruncated() || len(total.Planned) >= limit {
			total.Truncated = res.GetTruncated() || end.Before(to) || len(total.Planned) > limit
			total.Planned = total.Planned[:min(len(total.Planned), limit)]
			break
		}
		start = end
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(total)
	}
	rows := make([][]string, 0, len(total.GetPlanned()))
	existing := 0
	for _, f := range total.GetPlanned() {
		if f.GetExistingExecutionId() != "" {
			existing++
		}
		rows = append(rows, []string{f.GetTriggerId(), p.time(f.GetScheduledTime()), p.time(f.GetNominalTime()),
			orDash(f.GetExistingExecutionId()), orDash(f.GetBlackoutCalendar())})
	}
	p.table([]string{"trigger", "scheduled", "nominal", "existing execution", "blackout"}, rows)
	more := ""
	if total.GetTruncated() {
		more = " (the first ones; the range holds more: a backfill would run as an operation)"
	}
	p.printf("%d fires%s: %d would be created, %d exist already; nothing was created\n",
		len(rows), more, len(rows)-existing, existing)
	return nil
}

// followOperation reads op every interval until it ends, calling progress with its cursor.
func followOperation(ctx context.Context, client *runtime.Client, op *v1.BackfillOperation, interval time.Duration, progress func(time.Time)) (*v1.BackfillOperation, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for op.GetState() == v1.BackfillOperationState_BACKFILL_OPERATION_STATE_RUNNING {
		progress(op.GetCursorTime().AsTime())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		res, err := client.Raw().GetBackfillOperation(ctx, &v1.GetBackfillOperationRequest{Id: op.GetId()})
		if err != nil {
			return nil, err
		}
		op = res.GetOperation()
	}
	progress(op.GetCursorTime().AsTime())
	return op, nil
}

// operationEndedError is an operation --wait saw end otherwise than SUCCEEDED: exit 4, as an
// execution that did not succeed.
type operationEndedError struct{ op *v1.BackfillOperation }

func (e *operationEndedError) Error() string {
	msg := fmt.Sprintf("backfill operation %s ended %s", e.op.GetId(), operationState(e.op.GetState()))
	if e.op.GetError() != "" {
		msg += ": " + e.op.GetError()
	}
	return msg
}

// ExitCode implements the interface exitCode reads.
func (e *operationEndedError) ExitCode() int { return ExitExecutionFailed }

// earlier is the earlier of two times.
func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// operationState is a state's name without its prefix.
func operationState(s v1.BackfillOperationState) string {
	return strings.TrimPrefix(s.String(), "BACKFILL_OPERATION_STATE_")
}

// state is an operation's state, coloured.
func (p *printer) operationState(s v1.BackfillOperationState) string {
	name := operationState(s)
	switch s {
	case v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED:
		return p.paint(name, text.FgGreen)
	case v1.BackfillOperationState_BACKFILL_OPERATION_STATE_FAILED:
		return p.paint(name, text.FgRed)
	case v1.BackfillOperationState_BACKFILL_OPERATION_STATE_RUNNING:
		return p.paint(name, text.FgCyan)
	default: // CANCELLED
		return p.paint(name, text.Faint)
	}
}

// printOperation writes one operation for people.
func (p *printer) printOperation(op *v1.BackfillOperation) {
	trigger := op.GetTriggerId()
	if trigger == "" {
		trigger = "every cron trigger"
	}
	p.printf("backfill operation %s of %s (%s): %s\n", op.GetId(), op.GetWorkflowId(), trigger, p.operationState(op.GetState()))
	p.printf("  range     %s to %s\n", p.time(op.GetStartTime()), p.time(op.GetEndTime()))
	p.printf("  progress  %d of %d fires: %d created, %d existed, %d blacked out; every fire before %s is made\n",
		op.GetCreated()+op.GetDeduplicated()+op.GetBlackedOut(), op.GetTotal(), op.GetCreated(), op.GetDeduplicated(),
		op.GetBlackedOut(), p.time(op.GetCursorTime()))
	if op.GetError() != "" {
		p.printf("  error     %s\n", op.GetError())
	}
	p.printf("  created   %s, updated %s\n", p.time(op.GetCreateTime()), p.time(op.GetUpdateTime()))
}

// BackfillStatusCmd shows one backfill operation (GetBackfillOperation).
type BackfillStatusCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	ID       string        `arg:"" help:"The operation's id."`
	Wait     bool          `help:"Follow it until it ends; exit 4 unless it succeeded."`
	Interval time.Duration `default:"1s" help:"How often --wait reads its progress. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*BackfillStatusCmd) Help() string {
	return `The operation's state and progress: the fires of its range, how many it created, found existing or left to a blackout calendar, and the time before which every fire is made. With --wait it is read every --interval until it ends; the exit code is then 4 unless it succeeded.

Examples:

    workflow-runtime backfill status 0196f3a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b
    workflow-runtime backfill status 0196f3a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b --wait -o json`
}

func (c *BackfillStatusCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.Raw().GetBackfillOperation(ctx, &v1.GetBackfillOperationRequest{Id: c.ID})
	if err != nil {
		return err
	}
	op := res.GetOperation()
	if c.Wait {
		if c.Interval < 10*time.Millisecond {
			return usagef("--interval %s: at least 10ms", c.Interval)
		}
		if op, err = followOperation(ctx, client, op, c.Interval, func(time.Time) {}); err != nil {
			return err
		}
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		if err := p.message(&v1.GetBackfillOperationResponse{Operation: op}); err != nil {
			return err
		}
	} else {
		p.printOperation(op)
	}
	if c.Wait && op.GetState() != v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED {
		return &operationEndedError{op: op}
	}
	return nil
}

// BackfillListCmd lists backfill operations (ListBackfillOperations, every page up to --limit).
type BackfillListCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Deployment string   `arg:"" optional:"" help:"Only operations of this deployment: its workflow id or its deployment id. Default: all deployments."`
	State      []string `enum:"running,succeeded,failed,cancelled" placeholder:"STATE" help:"Only operations in these states: running, succeeded, failed, cancelled; comma-separated or repeated. Default: all."`
	Limit      int      `default:"50" help:"At most this many operations, newest first; 0: all of them. Default ${default}."`
}

// Help implements kong.HelpProvider.
func (*BackfillListCmd) Help() string {
	return `Examples:

    workflow-runtime backfill list
    workflow-runtime backfill list hello --state running,failed
    workflow-runtime backfill list --limit 0 -o json`
}

func (c *BackfillListCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	req := &v1.ListBackfillOperationsRequest{PageSize: 1000}
	if c.Limit > 0 {
		req.PageSize = int32(min(c.Limit, 1000)) //nolint:gosec // at most 1000
	}
	if c.Deployment != "" {
		d, err := resolve(ctx, client, c.Deployment)
		if err != nil {
			return err
		}
		req.DeploymentId = d.GetDeployment().GetId()
	}
	for _, s := range c.State {
		req.States = append(req.States, v1.BackfillOperationState(v1.BackfillOperationState_value["BACKFILL_OPERATION_STATE_"+strings.ToUpper(s)]))
	}
	all := &v1.ListBackfillOperationsResponse{}
	for range 1000 { // pages; bounded
		res, err := client.Raw().ListBackfillOperations(ctx, req)
		if err != nil {
			return err
		}
		all.Operations = append(all.Operations, res.GetOperations()...)
		if c.Limit > 0 && len(all.Operations) >= c.Limit {
			all.Operations = all.Operations[:c.Limit]
			break
		}
		if req.PageToken = res.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(all)
	}
	rows := make([][]string, 0, len(all.GetOperations()))
	for _, op := range all.GetOperations() {
		rows = append(rows, []string{
			op.GetId(), op.GetWorkflowId(), orDash(op.GetTriggerId()), p.operationState(op.GetState()),
			fmt.Sprintf("%d/%d", op.GetCreated()+op.GetDeduplicated()+op.GetBlackedOut(), op.GetTotal()),
			p.time(op.GetStartTime()), p.time(op.GetEndTime()), p.time(op.GetCreateTime()),
		})
	}
	p.table([]string{"id", "workflow", "trigger", "state", "done", "from", "to", "created"}, rows)
	return nil
}

// BackfillCancelCmd cancels a backfill operation (CancelBackfillOperation).
type BackfillCancelCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	ID string `arg:"" help:"The operation's id."`
}

// Help implements kong.HelpProvider.
func (*BackfillCancelCmd) Help() string {
	return `The operation stops after the batch it is making; the executions it created stay. Cancelling an operation that ended changes nothing.

Examples:

    workflow-runtime backfill cancel 0196f3a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b`
}

func (c *BackfillCancelCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.Raw().CancelBackfillOperation(ctx, &v1.CancelBackfillOperationRequest{Id: c.ID})
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(res)
	}
	p.printOperation(res.GetOperation())
	return nil
}
