package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/alecthomas/kong"
	"github.com/google/uuid"
	"github.com/mattn/go-isatty"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// Commands are the operator commands. The binary's command line embeds them next to serve,
// migrate and the others (cmd/workflow-runtime).
type Commands struct {
	Deploy     DeployCmd     `cmd:"" group:"deployments" help:"Deploy workflows from YAML or JSON files: definition, triggers and config."`
	Get        GetCmd        `cmd:"" group:"deployments" help:"Show one deployment: definition, triggers with their next fires, and config."`
	List       ListCmd       `cmd:"" group:"deployments" help:"List deployments."`
	Pause      PauseCmd      `cmd:"" group:"deployments" help:"Pause a deployment: its triggers stop firing, TriggerWorkflow refuses it."`
	Resume     ResumeCmd     `cmd:"" group:"deployments" help:"Resume a paused deployment, or deploy a draft."`
	Delete     DeleteCmd     `cmd:"" group:"deployments" help:"Delete (archive) a deployment: its triggers go, its history stays."`
	Trigger    TriggerCmd    `cmd:"" group:"executions" help:"Start an execution of a deployment, and optionally wait for its outcome."`
	Executions ExecutionsCmd `cmd:"" group:"executions" aliases:"execution,exec" help:"List, show, watch and cancel executions."`
	Fires      FiresCmd      `cmd:"" group:"scheduling" help:"Show the fire ledger of a deployment, or of every deployment: each scheduled time of the cron triggers and what became of it."`
	Backfill   BackfillCmd   `cmd:"" group:"scheduling" help:"Create the executions a deployment's cron triggers would have made over a past range; follow, list and cancel backfill operations."`
	Jitter     JitterCmd     `cmd:"" group:"scheduling" help:"Show how the cron triggers' jitter offsets spread over their windows, as a histogram."`
	Load       LoadCmd       `cmd:"" group:"scheduling" help:"Show the fires projected over a coming window, with and without jitter, as a histogram."`
	Dst        DstCmd        `cmd:"" group:"scheduling" help:"Show what the cron triggers do at the coming daylight-saving transitions: doubled, once, shifted or skipped fires."`
	Calendars  CalendarsCmd  `cmd:"" group:"scheduling" aliases:"calendar" help:"Create, show, list and delete blackout calendars: windows in which cron triggers do not fire."`
	Schedules  SchedulesCmd  `cmd:"" group:"scheduling" help:"Show whether each cron trigger's fires come on time: overdue, late, silent, paused or on time."`
	Health     HealthCmd     `cmd:"" group:"operations" help:"Show the service's health: its dependencies and instances."`
	Completion CompletionCmd `cmd:"" group:"operations" help:"Print the shell completion script for bash, zsh or fish."`
}

// groups title the groups of Commands in the binary's help.
var groups = []kong.Group{
	{Key: "deployments", Title: "Deployments:"},
	{Key: "executions", Title: "Executions:"},
	{Key: "scheduling", Title: "Scheduling:"},
	{Key: "operations", Title: "Operations:"},
}

// Env is what the commands read from and write to: the process's standard streams, its
// environment and clock. SystemEnv is the real one; tests make their own.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Whether each stream is a terminal: prompts need stdin to be one, colours stdout,
	// progress bars stderr.
	StdinTerminal, StdoutTerminal, StderrTerminal bool
	// LookupEnv reads the environment (NO_COLOR). Default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Now is the clock relative times (--since -24h) are read against. Default time.Now.
	Now func() time.Time
	// Location is the time zone times are shown in. Default time.Local.
	Location *time.Location
}

// SystemEnv is the Env of the process: os.Stdin, os.Stdout, os.Stderr, the environment, the
// clock and the local time zone.
func SystemEnv() *Env {
	tty := func(f *os.File) bool { return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()) }
	return &Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		StdinTerminal: tty(os.Stdin), StdoutTerminal: tty(os.Stdout), StderrTerminal: tty(os.Stderr),
		LookupEnv: os.LookupEnv, Now: time.Now, Location: time.Local,
	}
}

// say writes a message for people on stderr (progress, prompts, errors).
func (e *Env) say(format string, a ...any) {
	_, _ = fmt.Fprintf(e.Stderr, format, a...)
}

func (e *Env) withDefaults() *Env {
	c := *e
	if c.Stdin == nil {
		c.Stdin = strings.NewReader("")
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
	if c.LookupEnv == nil {
		c.LookupEnv = os.LookupEnv
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	return &c
}

// Options are the kong options the commands need: their help groups, after the groups given
// (those of the command line's other commands), and the mappers of their flags.
func Options(first ...kong.Group) []kong.Option {
	return []kong.Option{
		kong.ExplicitGroups(append(first, groups...)),
		kong.NamedMapper("time", timeMapper{}),
	}
}

// Run parses args with parser (a command line that embeds Commands, built with Options) and
// runs the command with ctx and env bound, reports an error on env.Stderr, and returns the exit
// code (exit.go). A context ended by ctx's cancellation (SIGINT) exits ExitInterrupted.
func Run(ctx context.Context, parser *kong.Kong, env *Env, args []string) int {
	env = env.withDefaults()
	kctx, err := parser.Parse(args)
	if err != nil {
		return report(ctx, env, parser.Model.Name, &usageError{err: err})
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(env)
	return report(ctx, env, parser.Model.Name, kctx.Run())
}

// Connection are the flags of every command that calls the service. Their variables are the
// caller's, not settings of the service: docs:"cli" keeps them out of the configuration
// reference (docs/configuration.md); docs/cli.md describes them.
type Connection struct {
	Addr     string        `name:"addr" env:"WFR_API_URL" docs:"cli" default:"http://127.0.0.1:8080" placeholder:"URL" help:"The service: http://host:port or https://host:port (host:port means http). Default ${default}."`
	Token    string        `name:"token" env:"WFR_TOKEN" docs:"cli" placeholder:"TOKEN" help:"Bearer token, sent as Authorization: Bearer. Prefer the variable: a flag shows in the process list. Default: none (a service on loopback without authentication)."`
	Protocol string        `name:"protocol" env:"WFR_PROTOCOL" docs:"cli" default:"grpc" enum:"grpc,connect,grpc-web" help:"Wire protocol: ${enum} (connect and grpc-web pass HTTP/1.1 proxies). Default ${default}."`
	Timeout  time.Duration `name:"timeout" default:"30s" help:"Deadline of each call to the service, its retries included. Default ${default}."`
}

// client returns the SDK client these flags describe.
func (c *Connection) client() (*runtime.Client, error) {
	addr := c.Addr
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	var protocol runtime.Protocol
	switch c.Protocol {
	case "connect":
		protocol = runtime.ProtocolConnect
	case "grpc-web":
		protocol = runtime.ProtocolGRPCWeb
	default:
		protocol = runtime.ProtocolGRPC
	}
	client, err := runtime.NewClient(addr, runtime.WithToken(c.Token), runtime.WithProtocol(protocol), runtime.WithTimeout(c.Timeout))
	if err != nil {
		return nil, usagef("--addr: %v", err)
	}
	return client, nil
}

// resolve finds a deployment by the reference people type: its workflow id, or its id (a
// UUID, which is tried as a workflow id too when no deployment has it: a workflow id may look
// like one).
func resolve(ctx context.Context, client *runtime.Client, ref string) (*v1.GetDeploymentStatusResponse, error) {
	if ref == "" {
		return nil, usagef("a deployment is required: its workflow id or deployment id")
	}
	if isUUID(ref) {
		res, err := client.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: ref}})
		if connect.CodeOf(err) != connect.CodeNotFound {
			return res, err
		}
	}
	res, err := client.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: ref}})
	if err != nil {
		if rerr, ok := runtime.AsError(err); ok && rerr.Code == connect.CodeNotFound {
			return nil, &notFoundError{what: fmt.Sprintf("deployment %q", ref), err: err}
		}
		return nil, err
	}
	return res, nil
}

// isUUID reports whether s is a deployment or execution id: a UUID in its usual form.
func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// notFoundError says what was not found, in the words of the command line.
type notFoundError struct {
	what string
	err  error
}

func (e *notFoundError) Error() string { return "no " + e.what }
func (e *notFoundError) Unwrap() error { return e.err }
