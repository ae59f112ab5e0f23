package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

// deployYAML deploys one YAML document and fails the test unless it worked.
func deployYAML(t *testing.T, doc string) {
	t.Helper()
	cmd(t, "deploy", "-f", writeFile(t, t.TempDir(), "deploy.yaml", doc)).must(t)
}

// greeter deploys a workflow that greets input.name, with a webhook at id/in.
func greeter(t *testing.T, id string) {
	t.Helper()
	deployYAML(t, `definition:
  id: `+id+`
  nodes:
    - id: greet
      type: transform
      params: {expression: "{'greeting': 'hello ' + input.name}"}
triggers:
  - {id: hook, webhook: {path: `+id+`/in}}
config: {overlapPolicy: OVERLAP_POLICY_ALLOW_ALL}
`)
}

func TestTriggerWait(t *testing.T) {
	t.Parallel()
	greeter(t, "trigger-wait")

	t.Run("succeeded", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		r := cmd(t, "trigger", "trigger-wait", "--data", `{"name": "ada"}`, "--wait", "-o", "json").must(t)
		res := parse(t, r.stdout, &v1.TriggerWorkflowResponse{})
		is.Equal(res.GetExecution().GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
		var out map[string]map[string]string
		is.NoErr(json.Unmarshal([]byte(res.GetExecution().GetOutput()), &out))
		is.Equal(out["greet"]["greeting"], "hello ada") // the outcome, as the engine made it
	})
	t.Run("failed exits 4", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		r := cmd(t, "trigger", "trigger-wait", "--data", `{"nome": "ada"}`, "--wait")
		is.Equal(r.code, cli.ExitExecutionFailed)
		is.True(strings.Contains(r.stdout, "FAILED"))      // the outcome, for people
		is.True(strings.Contains(r.stdout, "no such key")) // and why
		is.True(strings.Contains(r.stderr, "ended FAILED"))
	})
	t.Run("by webhook path, input from stdin, with a key", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		in := invocation{stdin: `{"name": "bob"}`}
		first := parse(t, in.run(t, "trigger", "--webhook-path", "trigger-wait/in", "--data-file", "-", "--idempotency-key", "k-1", "-o", "json").must(t).stdout, &v1.TriggerWorkflowResponse{})
		is.Equal(first.GetExecution().GetTriggerType(), v1.TriggerType_TRIGGER_TYPE_WEBHOOK)
		is.True(!first.GetDeduplicated())
		again := parse(t, in.run(t, "trigger", "--webhook-path", "trigger-wait/in", "--data-file", "-", "--idempotency-key", "k-1", "-o", "json").must(t).stdout, &v1.TriggerWorkflowResponse{})
		is.True(again.GetDeduplicated()) // one execution per key
		is.Equal(again.GetExecution().GetId(), first.GetExecution().GetId())

		file := writeFile(t, t.TempDir(), "input.json", `{"name": "cy"}`)
		out := cmd(t, "trigger", "trigger-wait", "--data-file", file).must(t).stdout
		is.True(strings.Contains(out, "execution ")) // for people: the id and status
	})
	t.Run("by deployment id", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		d := parse(t, cmd(t, "get", "trigger-wait", "-o", "json").must(t).stdout, &v1.GetDeploymentStatusResponse{})
		r := cmd(t, "trigger", d.GetDeployment().GetId(), "--data", `{"name": "dee"}`, "--wait").must(t)
		is.True(strings.Contains(r.stdout, "SUCCEEDED"))
	})
	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			args []string
			code int
			says string
		}{
			{"input not JSON", []string{"trigger-wait", "--data", "{name: ada}"}, cli.ExitUsage, "not JSON"},
			{"both inputs", []string{"trigger-wait", "--data", "{}", "--data-file", "x.json"}, cli.ExitUsage, "not both"},
			{"no target", nil, cli.ExitUsage, "deployment is required"},
			{"two targets", []string{"trigger-wait", "--webhook-path", "a/b"}, cli.ExitUsage, "not both"},
			{"unknown workflow", []string{"no-such-workflow"}, cli.ExitNotFound, "not_found"},
			{"unknown deployment id", []string{"0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b"}, cli.ExitNotFound, "no deployment"},
			{"a key the API refuses", []string{"trigger-wait", "--idempotency-key", "with space"}, cli.ExitUsage, "idempotency_key"},
			{"missing data file", []string{"trigger-wait", "--data-file", "/nonexistent/input.json"}, cli.ExitUsage, "--data-file"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				is := is.New(t)
				r := cmd(t, append([]string{"trigger"}, tc.args...)...)
				is.Equal(r.code, tc.code)
				is.True(strings.Contains(r.stderr, tc.says))
			})
		}
	})
}

func TestExecutionsListAndGet(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	greeter(t, "exec-list")
	ok := parse(t, cmd(t, "trigger", "exec-list", "--data", `{"name": "a"}`, "--wait", "-o", "json").must(t).stdout, &v1.TriggerWorkflowResponse{})
	r := cmd(t, "trigger", "exec-list", "--data", `{}`, "--wait", "-o", "json")
	is.Equal(r.code, cli.ExitExecutionFailed)
	failed := parse(t, r.stdout, &v1.TriggerWorkflowResponse{}) // -o json prints the outcome all the same

	all := parse(t, cmd(t, "executions", "list", "exec-list", "-o", "json").must(t).stdout, &v1.GetExecutionHistoryResponse{})
	is.Equal(len(all.GetExecutions()), 2)
	is.Equal(all.GetExecutions()[0].GetId(), failed.GetExecution().GetId()) // newest first

	only := parse(t, cmd(t, "exec", "ls", "exec-list", "--status", "failed", "--trigger-type", "manual", "--since=-1h", "-o", "json").must(t).stdout, &v1.GetExecutionHistoryResponse{})
	is.Equal(len(only.GetExecutions()), 1)
	is.Equal(only.GetExecutions()[0].GetId(), failed.GetExecution().GetId())
	none := parse(t, cmd(t, "executions", "list", "exec-list", "--until", "2000-01-01", "-o", "json").must(t).stdout, &v1.GetExecutionHistoryResponse{})
	is.Equal(len(none.GetExecutions()), 0)

	depID := ok.GetExecution().GetDeploymentId()
	limited := parse(t, cmd(t, "executions", "list", depID, "--limit", "1", "-o", "json").must(t).stdout, &v1.GetExecutionHistoryResponse{})
	is.Equal(len(limited.GetExecutions()), 1) // by deployment id, at most --limit

	table := cmd(t, "executions", "list", "exec-list").must(t).stdout
	is.True(strings.Contains(table, "SUCCEEDED") && strings.Contains(table, "FAILED"))

	got := parse(t, cmd(t, "executions", "get", ok.GetExecution().GetId(), "-o", "json").must(t).stdout, &v1.GetExecutionResponse{})
	is.Equal(got.GetExecution().GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	is.True(strings.Contains(cmd(t, "executions", "get", ok.GetExecution().GetId()).must(t).stdout, "Output:"))

	r = cmd(t, "executions", "get", "not-an-id")
	is.Equal(r.code, cli.ExitUsage)
	is.True(strings.Contains(r.stderr, "execution_id")) // the field
	is.True(strings.Contains(r.stderr, "string.uuid"))  // and the rule
	r = cmd(t, "executions", "get", "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b")
	is.Equal(r.code, cli.ExitNotFound)

	r = cmd(t, "executions", "cancel", ok.GetExecution().GetId())
	is.Equal(r.code, cli.ExitConflict) // it has ended: failed_precondition
}

// lines hands the lines a command writes to a channel, as it writes them.
func lines(t *testing.T) (io.Writer, <-chan string) {
	t.Helper()
	r, w := io.Pipe()
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	t.Cleanup(func() { _ = w.Close() })
	return w, ch
}

// nextExecution reads JSON lines of a watch until one of execution id in a status that
// matches; it fails the test when the watch ends first.
func nextExecution(t *testing.T, ch <-chan string, id string, match func(v1.ExecutionStatus) bool) *v1.Execution {
	t.Helper()
	for line := range ch {
		e := parse(t, line, &v1.GetExecutionResponse{}).GetExecution()
		if e.GetId() == id && match(e.GetStatus()) {
			return e
		}
	}
	t.Fatalf("the watch ended before execution %s got there", id)
	return nil
}

func TestExecutionsWatch(t *testing.T) {
	t.Parallel()
	// A deployment whose executions wait an hour, until cancelled.
	deployYAML(t, `definition:
  id: watch-slow
  nodes: [{id: wait, type: delay, params: {duration: 1h}}]
config: {overlapPolicy: OVERLAP_POLICY_ALLOW_ALL}
`)
	greeter(t, "watch-quick")

	t.Run("a deployment, until interrupted", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		first := parse(t, cmd(t, "trigger", "watch-slow", "-o", "json").must(t).stdout, &v1.TriggerWorkflowResponse{}).GetExecution()

		out, ch := lines(t)
		ctx, interrupt := context.WithCancel(t.Context())
		done := make(chan result, 1)
		go func() {
			done <- invocation{ctx: ctx, stdout: out}.run(t, "executions", "watch", "-d", "watch-slow", "-o", "json")
		}()
		unfinished := func(s v1.ExecutionStatus) bool {
			return s == v1.ExecutionStatus_EXECUTION_STATUS_PENDING || s == v1.ExecutionStatus_EXECUTION_STATUS_RUNNING
		}
		ended := func(s v1.ExecutionStatus) bool { return s == v1.ExecutionStatus_EXECUTION_STATUS_CANCELLED }

		nextExecution(t, ch, first.GetId(), unfinished) // the watch starts with what is unfinished
		cmd(t, "executions", "cancel", first.GetId(), "--reason", "test done").must(t)
		e := nextExecution(t, ch, first.GetId(), ended) // and sees it end
		is.True(e.GetError() != "")                     // why it ended

		second := parse(t, cmd(t, "trigger", "watch-slow", "-o", "json").must(t).stdout, &v1.TriggerWorkflowResponse{}).GetExecution()
		nextExecution(t, ch, second.GetId(), unfinished) // and what starts after it
		cmd(t, "executions", "cancel", second.GetId()).must(t)
		nextExecution(t, ch, second.GetId(), ended)

		interrupt() // Ctrl-C
		r := <-done
		is.Equal(r.code, cli.ExitInterrupted)
	})
	t.Run("one execution, until it ends", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		e := parse(t, cmd(t, "trigger", "watch-quick", "--data", `{"name": "w"}`, "-o", "json").must(t).stdout, &v1.TriggerWorkflowResponse{}).GetExecution()
		r := cmd(t, "executions", "watch", e.GetId(), "-o", "json").must(t)
		var last *v1.Execution
		for line := range strings.Lines(r.stdout) { // one JSON line per change
			last = parse(t, line, &v1.GetExecutionResponse{}).GetExecution()
			is.Equal(last.GetId(), e.GetId())
		}
		is.Equal(last.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // the last line is the end

		out := cmd(t, "executions", "watch", e.GetId()).must(t).stdout
		is.True(strings.Contains(out, "SUCCEEDED")) // for people, a line per change

		failed := parse(t, cmd(t, "trigger", "watch-quick", "--data", `{}`, "-o", "json").must(t).stdout, &v1.TriggerWorkflowResponse{}).GetExecution()
		r = cmd(t, "executions", "watch", failed.GetId(), "-o", "yaml")
		is.Equal(r.code, cli.ExitExecutionFailed) // ended without succeeding
		is.True(strings.Contains(r.stdout, "EXECUTION_STATUS_FAILED"))
	})
	t.Run("a deployment for a while", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		r := cmd(t, "executions", "watch", "-d", "watch-quick", "--wait-timeout", "1s").must(t) // exit 0 at the end
		is.True(strings.Contains(r.stderr, "watching the executions of watch-quick"))
	})
	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		is.Equal(cmd(t, "executions", "watch").code, cli.ExitUsage)                                                      // neither
		is.Equal(cmd(t, "executions", "watch", "x", "-d", "y").code, cli.ExitUsage)                                      // both
		is.Equal(cmd(t, "executions", "watch", "-d", "no-such-deployment").code, cli.ExitNotFound)                       // unknown
		is.Equal(cmd(t, "executions", "watch", "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b").code, cli.ExitNotFound)           // unknown
		is.Equal(cmd(t, "executions", "watch", "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b", "-o", "xml").code, cli.ExitUsage) // bad flag value
	})
}
