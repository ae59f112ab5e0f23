package cli_test

import (
	"io"
	"net"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

func TestPauseResumeDelete(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	greeter(t, "lifecycle")

	res := parse(t, cmd(t, "pause", "lifecycle", "-o", "json").must(t).stdout, &v1.UpdateDeploymentResponse{})
	is.Equal(res.GetDeployment().GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED)
	r := cmd(t, "trigger", "lifecycle")
	is.Equal(r.code, cli.ExitConflict) // a paused deployment refuses: failed_precondition
	is.True(strings.Contains(r.stderr, "failed_precondition"))

	out := cmd(t, "resume", res.GetDeployment().GetId()).must(t).stdout // by deployment id
	is.True(strings.Contains(out, "DEPLOYED"))
	cmd(t, "trigger", "lifecycle", "--data", `{"name": "x"}`).must(t)

	// On a terminal delete asks; anything but yes keeps the deployment.
	r = invocation{terminal: true, stdin: "n\n"}.run(t, "delete", "lifecycle")
	is.Equal(r.code, cli.ExitError)
	is.True(strings.Contains(r.stderr, "[y/N]"))
	is.True(strings.Contains(r.stderr, "Not deleted"))
	got := parse(t, cmd(t, "get", "lifecycle", "-o", "json").must(t).stdout, &v1.GetDeploymentStatusResponse{})
	is.Equal(got.GetDeployment().GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED)

	out = invocation{terminal: true, stdin: "yes\n"}.run(t, "delete", "lifecycle").must(t).stdout
	is.True(strings.Contains(out, "ARCHIVED"))
	r = cmd(t, "pause", "lifecycle")
	is.Equal(r.code, cli.ExitConflict) // an archived deployment cannot be paused

	// Off a terminal (a script) and with --yes it does not ask.
	greeter(t, "lifecycle-script")
	del := parse(t, cmd(t, "delete", "lifecycle-script", "-o", "json").must(t).stdout, &v1.DeleteDeploymentResponse{})
	is.Equal(del.GetDeployment().GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_ARCHIVED)
	greeter(t, "lifecycle-yes")
	r = invocation{terminal: true}.run(t, "delete", "lifecycle-yes", "--yes").must(t)
	is.True(!strings.Contains(r.stderr, "[y/N]"))

	is.Equal(cmd(t, "delete", "no-such-deployment", "--yes").code, cli.ExitNotFound)
	is.Equal(cmd(t, "get", "no-such-deployment").code, cli.ExitNotFound)
	is.Equal(cmd(t, "resume", "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b").code, cli.ExitNotFound)
}

func TestHealth(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	res := parse(t, cmd(t, "health", "-o", "json").must(t).stdout, &v1.GetSystemHealthResponse{})
	is.Equal(res.GetStatus(), "healthy")
	out := cmd(t, "health").must(t).stdout
	is.True(strings.Contains(out, "database"))
	is.True(strings.Contains(out, "INSTANCE"))

	y := cmd(t, "health", "-o", "yaml").must(t).stdout
	is.True(strings.Contains(y, "status: healthy"))
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	is.NoErr(err)
	addr := ln.Addr().String()
	is.NoErr(ln.Close()) // nobody listens there now

	for _, protocol := range []string{"grpc", "connect", "grpc-web"} {
		r := cmd(t, "list", "--addr", addr, "--protocol", protocol)
		is.Equal(r.code, cli.ExitUnavailable) // the service cannot be reached
		is.True(strings.Contains(r.stderr, "unavailable"))
	}
	r := cmd(t, "list", "--addr", "ftp://"+addr)
	is.Equal(r.code, cli.ExitUsage) // not a URL of the service
}

func TestProtocols(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, protocol := range []string{"grpc", "connect", "grpc-web"} {
		res := parse(t, cmd(t, "health", "-o", "json", "--protocol", protocol).must(t).stdout, &v1.GetSystemHealthResponse{})
		is.Equal(res.GetStatus(), "healthy") // each protocol reaches the service
	}
}

func TestColours(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	greeter(t, "coloured")
	const escape = "\x1b["
	is.True(strings.Contains(invocation{terminal: true}.run(t, "get", "coloured").must(t).stdout, escape)) // a terminal: colours
	is.True(!strings.Contains(cmd(t, "get", "coloured").must(t).stdout, escape))                           // a pipe: none
	noColor := invocation{terminal: true, env: map[string]string{"NO_COLOR": "1"}}
	is.True(!strings.Contains(noColor.run(t, "get", "coloured").must(t).stdout, escape)) // NO_COLOR: none
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"no-such-command"},
		{"list", "--no-such-flag"},
		{"list", "--status", "sleeping"},
		{"get"},
		{"list", "-o", "xml"},
		{"executions", "list", "--since", "soon"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			r := cmd(t, args...)
			is.Equal(r.code, cli.ExitUsage)
			is.True(strings.HasPrefix(r.stderr, "workflow-runtime: error: "))
		})
	}
}

func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	run := func(shell string) string {
		return invocation{noAddr: true}.run(t, "completion", shell).must(t).stdout
	}
	is.True(strings.HasPrefix(run("bash"), "complete -C "))
	is.True(strings.Contains(run("zsh"), "bashcompinit"))
	is.True(strings.Contains(run("fish"), "complete -f -c workflow-runtime"))
	is.Equal(invocation{noAddr: true}.run(t, "completion", "tcsh").code, cli.ExitUsage)
}

// TestHelpHasExamples walks every command and checks that its --help shows an example.
func TestHelpHasExamples(t *testing.T) {
	t.Parallel()
	var paths [][]string
	var walk func(n *kong.Node, path []string)
	walk = func(n *kong.Node, path []string) {
		for _, c := range n.Children {
			if c.Hidden {
				continue
			}
			p := append(append([]string{}, path...), c.Name)
			paths = append(paths, p)
			walk(c, p)
		}
	}
	walk(parser(t, io.Discard, io.Discard).Model.Node, nil)
	if len(paths) < 17 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, path := range paths {
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			r := invocation{noAddr: true}.run(t, append(path, "--help")...)
			is.Equal(r.code, 0)
			is.True(strings.Contains(r.stdout, "Examples:"))             // an example section
			is.True(strings.Contains(r.stdout, "    workflow-runtime ")) // with a command line in it
		})
	}
}
