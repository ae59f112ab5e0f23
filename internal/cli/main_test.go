package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// The tests run the commands in this process against the real service, also started in this
// process (internal/app, every role, SQLite in a temporary directory, a free loopback port,
// no authentication as on loopback), the way an operator runs them against a service.

// serviceURL is the service every test calls.
var serviceURL string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wfr-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = "sqlite://" + filepath.Join(dir, "wfr.db")
	cfg.ShutdownGrace = 5 * time.Second
	a, err := app.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// TestMain has no test context; the service lives as long as the tests.
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(ctx)
		fmt.Fprintln(os.Stderr, "start the service:", err)
		return 1
	}
	serviceURL = "http://" + a.Addr()
	code := m.Run()
	if err := a.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "stop the service:", err)
		code = max(code, 1)
	}
	return code
}

// result is what one command did.
type result struct {
	stdout, stderr string
	code           int
}

// invocation is one run of the command line, with what it reads.
type invocation struct {
	stdin    string
	terminal bool // stdin, stdout and stderr are terminals
	env      map[string]string
	ctx      context.Context
	stdout   io.Writer // instead of a buffer, for commands that run until stopped
	noAddr   bool      // do not add --addr of the test service (commands without it)
}

// parser is the command line of the tests: the operator commands, as the binary has them.
func parser(t *testing.T, stdout, stderr io.Writer) *kong.Kong {
	t.Helper()
	var root struct {
		cli.Commands `embed:""`
	}
	p, err := kong.New(&root, append([]kong.Option{
		kong.Name("workflow-runtime"),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitPanic(code)) }),
	}, cli.Options()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// exitPanic is how kong's exit (after --help) ends a test run of the command line.
type exitPanic int

// cmd runs the command line with args against the test service.
func cmd(t *testing.T, args ...string) result {
	t.Helper()
	return invocation{}.run(t, args...)
}

func (in invocation) run(t *testing.T, args ...string) (res result) {
	t.Helper()
	var stdout, stderr syncBuffer
	out := io.Writer(&stdout)
	if in.stdout != nil {
		out = in.stdout
	}
	env := &cli.Env{
		Stdin:          strings.NewReader(in.stdin),
		Stdout:         out,
		Stderr:         &stderr,
		StdinTerminal:  in.terminal,
		StdoutTerminal: in.terminal,
		StderrTerminal: in.terminal,
		LookupEnv: func(k string) (string, bool) {
			v, ok := in.env[k]
			return v, ok
		},
		Location: time.UTC,
	}
	ctx := in.ctx
	if ctx == nil {
		ctx = t.Context()
	}
	if !in.noAddr && !hasFlag(args, "--addr") {
		args = append(args, "--addr", serviceURL)
	}
	defer func() {
		if p := recover(); p != nil {
			code, ok := p.(exitPanic)
			if !ok {
				panic(p)
			}
			res = result{stdout: stdout.String(), stderr: stderr.String(), code: int(code)}
		}
	}()
	code := cli.Run(ctx, parser(t, &stdout, &stderr), env, args)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// must fails the test unless the command exited 0.
func (r result) must(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return r
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
