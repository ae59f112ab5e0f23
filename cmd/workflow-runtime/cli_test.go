package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// The operator commands are tested in internal/cli; these tests check what only the binary
// does: the environment variables of the connection, the exit codes a shell sees, and shell
// completion.

// startService runs `serve` on a free loopback port with tokens (name admin: scope admin;
// reader: scope read) and returns its URL once it has logged that it is ready.
func startService(t *testing.T, b *testBundle) string {
	t.Helper()
	tokens := filepath.Join(b.dir, "tokens")
	if err := os.WriteFile(tokens, []byte("admin admin cli-test-admin-token-000001\nreader read cli-test-read-token-0000001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := b.command(context.Background(), []string{
		"WFR_ADDR=127.0.0.1:0",
		"WFR_DATABASE_URL=sqlite://" + filepath.Join(b.dir, "db.sqlite"),
		"WFR_AUTH_TOKENS_FILE=" + tokens,
		"WFR_SHUTDOWN_GRACE=5s",
		"WFR_LOG_FORMAT=json",
	}, "serve")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		t.Logf("serve stopped: %v", <-exited) // killed: the test is over
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "workflow-runtime ready" {
				ready <- entry.Addr
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-exited:
		t.Fatalf("serve exited before it was ready: %v", err)
	case <-time.After(2 * time.Minute): // generous: the machine is shared
		t.Fatal("serve not ready after 2 minutes")
	}
	return ""
}

// exitCode runs bin args with env and returns its exit code and output.
func exitCode(t *testing.T, b *testBundle, env []string, args ...string) (int, string) {
	t.Helper()
	out, err := b.command(t.Context(), env, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("%v: %v", args, err)
	return -1, ""
}

func testOperatorCommands(t *testing.T, b *testBundle) {
	is := is.New(t)
	url := startService(t, b)
	admin := []string{"WFR_API_URL=" + url, "WFR_TOKEN=cli-test-admin-token-000001"}
	reader := []string{"WFR_API_URL=" + url, "WFR_TOKEN=cli-test-read-token-0000001"}
	example, err := filepath.Abs("../../examples/deploy.json")
	is.NoErr(err)

	code, out := exitCode(t, b, admin, "deploy", "-f", example)
	is.Equal(code, 0) // the address and token from the environment
	is.True(strings.Contains(out, "hello"))
	code, out = exitCode(t, b, admin, "trigger", "hello", "--data", `{"name": "ada"}`, "--wait", "--protocol", "connect")
	is.Equal(code, 0)
	is.True(strings.Contains(out, "hello ada"))
	code, _ = exitCode(t, b, admin, "trigger", "hello", "--data", `{}`, "--wait")
	is.Equal(code, 4) // the execution failed

	code, _ = exitCode(t, b, []string{"WFR_API_URL=" + url}, "list")
	is.Equal(code, 6) // no token: unauthenticated
	code, _ = exitCode(t, b, reader, "list")
	is.Equal(code, 0) // a read token reads
	code, out = exitCode(t, b, reader, "pause", "hello")
	is.Equal(code, 6) // and does not deploy: permission_denied
	is.True(strings.Contains(out, "permission_denied"))
	code, _ = exitCode(t, b, admin, "get", "no-such-workflow")
	is.Equal(code, 3)
	code, _ = exitCode(t, b, admin, "list", "--status", "asleep")
	is.Equal(code, 2)
	code, _ = exitCode(t, b, []string{"WFR_API_URL=" + url, "WFR_PROTOCOL=carrier-pigeon"}, "list")
	is.Equal(code, 2) // a bad variable is a usage error too
}

func testShellCompletion(t *testing.T, b *testBundle) {
	is := is.New(t)
	complete := func(line string) []string {
		out, err := b.command(t.Context(), []string{"COMP_LINE=" + line}).Output()
		is.NoErr(err)
		return strings.Fields(string(out))
	}
	is.Equal(complete("workflow-runtime exec"), []string{"executions"})         // commands
	is.Equal(complete("workflow-runtime executions wa"), []string{"watch"})     // subcommands
	is.Equal(complete("workflow-runtime deploy --dry"), []string{"--dry-run"})  // flags
	is.Equal(complete("workflow-runtime list --status pa"), []string{"paused"}) // enum values
	is.Equal(complete("workflow-runtime completion f"), []string{"fish"})       // arguments

	out, err := b.command(t.Context(), nil, "completion", "bash").Output()
	is.NoErr(err)
	is.True(strings.HasPrefix(string(out), `complete -C "`)) // the binary answers its own completions
}

// testHelpHasExamples: every command's --help shows an example, the service's commands and
// the operator commands alike. The measurements under bench are left out: internal/bench
// describes them (bench itself has an example).
func testHelpHasExamples(t *testing.T, b *testBundle) {
	is := is.New(t)
	out, err := b.command(t.Context(), nil, "--help").Output()
	is.NoErr(err)
	var commands [][]string
	for line := range strings.Lines(string(out)) {
		// Command lines of the root help: "  deploy --filename=... [flags]", "  executions (execution,exec) list (ls) ...".
		if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") || strings.HasPrefix(line, "  -") {
			continue
		}
		var path []string
		for _, word := range strings.Fields(line) {
			if strings.HasPrefix(word, "(") || strings.HasPrefix(word, "-") || strings.HasPrefix(word, "<") || strings.HasPrefix(word, "[") {
				continue
			}
			path = append(path, word)
		}
		if len(path) > 0 && path[0] != "bench" {
			commands = append(commands, path)
		}
		if len(path) > 1 { // a group: its own help too ("executions", "config")
			commands = append(commands, path[:1])
		}
	}
	is.True(len(commands) > 20) // every command was found
	for _, path := range commands {
		out, err := b.command(t.Context(), nil, append(path, "--help")...).Output()
		is.NoErr(err)
		if !strings.Contains(string(out), "Examples:") {
			t.Errorf("workflow-runtime %s --help shows no example", strings.Join(path, " "))
		}
	}
}
