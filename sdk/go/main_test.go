package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The examples and the live tests run against the real service: TestMain builds
// `workflow-runtime` from this repository (../../cmd/workflow-runtime) and starts it
// with every role in one process, on SQLite in a temporary directory, listening on a free
// loopback port, with bearer-token authentication and signed webhooks on.
var (
	// baseURL is the service the examples call.
	baseURL string
	// binary is the built workflow-runtime, for tests that start a service of their own.
	binary string
)

// The tokens file of the services started here: token (admin) is what the examples use.
const (
	token        = "sdk-example-admin-token-0001"
	readToken    = "sdk-example-read-token-00001"
	tokensFile   = "examples admin " + token + "\ndashboard read " + readToken + "\n"
	webhookKey   = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes
	readyTimeout = 2 * time.Minute                                // generous: CI machines are shared
	buildTimeout = 10 * time.Minute
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wfr-sdk-go-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdk/go tests:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if binary, err = build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "sdk/go tests: build workflow-runtime:", err)
		return 1
	}
	srv, err := startService(dir, "examples")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdk/go tests:", err)
		return 1
	}
	baseURL = srv.url
	code := m.Run()
	if err := srv.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "sdk/go tests: stop workflow-runtime:", err)
		if code == 0 {
			code = 1
		}
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- log of workflow-runtime (last 8 KiB)\n%s\n", srv.tail(8<<10))
	}
	return code
}

// build compiles the service of the repository this module sits in.
func build(dir string) (string, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "workflow-runtime")); err != nil {
		return "", fmt.Errorf("the tests need the service's source next to the SDK (%s): %w", root, err)
	}
	out := filepath.Join(dir, "workflow-runtime")
	// TestMain has no test context to bound the build with.
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/workflow-runtime")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return out, cmd.Run()
}

// service is one running `workflow-runtime serve --role=all`.
type service struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done is closed

	mu      sync.Mutex
	log     bytes.Buffer // stdout and stderr
	scanned int          // bytes of log looked at for the ready line
	sent    bool         // ready has had the address
	ready   chan string
}

// startService starts the service in a directory of its own under dir, with env on top of the
// defaults, and returns once it has logged that it is ready (the address it listens on).
func startService(dir, name string, env ...string) (*service, error) {
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
		"WFR_WEBHOOKS=true",
		"WFR_WEBHOOK_SECRET_KEY="+webhookKey,
		"WFR_SHUTDOWN_GRACE=5s",
		"WFR_LOG_FORMAT=json",
	)
	cmd.Env = append(cmd.Env, env...)
	stopWithParent(cmd)
	s := &service{cmd: cmd, done: make(chan struct{}), ready: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = s.writer(), s.writer()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start workflow-runtime: %w", err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	select {
	case addr := <-s.ready:
		s.url = "http://" + addr
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("workflow-runtime exited before it was ready: %w\n%s", s.err, s.tail(8<<10))
	case <-time.After(readyTimeout):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("workflow-runtime not ready after %s\n%s", readyTimeout, s.tail(8<<10))
	}
}

// logWriter keeps the service's output and sends the address of its "workflow-runtime ready"
// log line on ready, once.
type logWriter struct{ s *service }

func (w logWriter) Write(p []byte) (int, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := s.log.Write(p)
	for !s.sent {
		rest := s.log.Bytes()[s.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		s.scanned += i + 1
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(rest[:i], &entry) == nil && entry.Msg == "workflow-runtime ready" {
			s.ready <- entry.Addr
			s.sent = true
		}
	}
	return n, nil
}

func (s *service) writer() io.Writer { return logWriter{s} }

func (s *service) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.log.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// stop ends the service with SIGTERM and waits for it, killing it if it takes too long.
func (s *service) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("workflow-runtime did not stop within a minute of SIGTERM")
	}
	var exit *exec.ExitError
	if errors.As(s.err, &exit) {
		return fmt.Errorf("workflow-runtime exited: %w", s.err)
	}
	return nil
}

// startOwn starts a service for one test, stopped when the test ends.
func startOwn(t *testing.T, env ...string) *service {
	t.Helper()
	s, err := startService(t.TempDir(), "service", env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("%v\n%s", err, s.tail(8<<10))
		}
	})
	return s
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
