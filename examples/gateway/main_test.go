package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests run the gateway in front of the real runtime: TestMain builds workflow-runtime from
// this repository (../../cmd/workflow-runtime) and starts it with every role in one
// process, on SQLite in a temporary directory, on a free loopback port, with bearer tokens
// (the approach of sdk/go/main_test.go).
var (
	runtimeURL string // the runtime the tests share
	binary     string // the built workflow-runtime, for tests that start one of their own
)

// The runtime's tokens: admin for the tests' own calls, trigger for the gateway (what it needs
// in production), read for a gateway given the wrong token.
const (
	adminToken   = "gateway-test-admin-token-0001"
	triggerToken = "gateway-test-trigger-token-01"
	readToken    = "gateway-test-read-token-00001"
	tokensFile   = "tests admin " + adminToken + "\ngateway trigger " + triggerToken + "\nreader read " + readToken + "\n"
	readyTimeout = 2 * time.Minute // generous: CI machines are shared
	buildTimeout = 10 * time.Minute
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wfr-gateway-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway tests:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if binary, err = build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gateway tests: build workflow-runtime:", err)
		return 1
	}
	rt, err := startRuntime(dir, "shared")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway tests:", err)
		return 1
	}
	runtimeURL = rt.url
	code := m.Run()
	if err := rt.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway tests: stop workflow-runtime:", err)
		code = max(code, 1)
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- log of workflow-runtime (last 8 KiB)\n%s\n", rt.tail(8<<10))
	}
	return code
}

// build compiles the runtime of the repository this module sits in.
func build(dir string) (string, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "workflow-runtime")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/workflow-runtime")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return out, cmd.Run()
}

// runtimeProcess is one running `workflow-runtime serve --role=all`.
type runtimeProcess struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // its exit, once done is closed

	mu    sync.Mutex
	log   bytes.Buffer // stdout and stderr
	ready chan string  // the address, from the "workflow-runtime ready" log line
}

// startRuntime starts the runtime in dir/name with env on top of the defaults and returns once
// it has logged that it is ready.
func startRuntime(dir, name string, env ...string) (*runtimeProcess, error) {
	home := filepath.Join(dir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	tokens := filepath.Join(home, "tokens")
	if err := os.WriteFile(tokens, []byte(tokensFile), 0o600); err != nil {
		return nil, err
	}
	// Not bound to a test's context: stop ends it with SIGTERM, as an operator would.
	cmd := exec.CommandContext(context.Background(), binary, "serve")
	cmd.Dir = home
	cmd.Env = append(withoutWFR(os.Environ()),
		"WFR_ROLE=all",
		"WFR_ADDR=127.0.0.1:0",
		"WFR_DATABASE_URL=sqlite://"+filepath.Join(home, "wfr.db"),
		"WFR_AUTH_TOKENS_FILE="+tokens,
		"WFR_SHUTDOWN_GRACE=5s",
		"WFR_LOG_FORMAT=json",
	)
	cmd.Env = append(cmd.Env, env...)
	stopWithParent(cmd)
	p := &runtimeProcess{cmd: cmd, done: make(chan struct{}), ready: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = (*logWriter)(p), (*logWriter)(p)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start workflow-runtime: %w", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case addr := <-p.ready:
		p.url = "http://" + addr
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("workflow-runtime exited before it was ready: %w\n%s", p.err, p.tail(8<<10))
	case <-time.After(readyTimeout):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("workflow-runtime not ready after %s\n%s", readyTimeout, p.tail(8<<10))
	}
}

// logWriter keeps the runtime's output and sends the address of its ready line on ready.
type logWriter runtimeProcess

func (w *logWriter) Write(b []byte) (int, error) {
	p := (*runtimeProcess)(w)
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.log.Len()
	n, _ := p.log.Write(b)
	// Lines may arrive in pieces: look at every complete line that ends in what came now.
	from := bytes.LastIndexByte(p.log.Bytes()[:start], '\n') + 1
	for line := range bytes.Lines(p.log.Bytes()[from:]) {
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "workflow-runtime ready" {
			select {
			case p.ready <- entry.Addr:
			default:
			}
		}
	}
	return n, nil
}

func (p *runtimeProcess) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.log.Bytes()
	return string(b[max(len(b)-n, 0):])
}

// stop ends the runtime with SIGTERM and waits for it, killing it if it takes too long.
func (p *runtimeProcess) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("workflow-runtime did not stop within a minute of SIGTERM")
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return fmt.Errorf("workflow-runtime exited: %w", p.err)
	}
	return nil
}

// startOwnRuntime starts a runtime for one test, stopped when the test ends.
func startOwnRuntime(t *testing.T, env ...string) *runtimeProcess {
	t.Helper()
	p, err := startRuntime(t.TempDir(), "runtime", env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("%v\n%s", err, p.tail(8<<10))
		}
	})
	return p
}

func withoutWFR(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "WFR_") {
			out = append(out, kv)
		}
	}
	return out
}
