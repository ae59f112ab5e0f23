package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// childSpec describes a process the bench starts: the baseline server of `bench trigger`, or
// a `serve` process of `bench workers`.
type childSpec struct {
	// name says which process it is in errors ("baseline", "worker 2").
	name string
	// command is the argv; env, when set, is added to this process's environment (later
	// entries win).
	command []string
	env     []string
	// addr is the loopback host:port it listens on (see freeAddr).
	addr string
	// ready is the path that answers 200 once the process is ready ("/health", "/readyz").
	ready string
	// readyTimeout bounds the wait for ready.
	readyTimeout time.Duration
}

// child is a running process started by startChild. Its stdout and stderr go to a temporary
// file, removed when it stops.
type child struct {
	name    string
	url     string // http://addr
	cmd     *exec.Cmd
	logFile *os.File
	exited  chan error // receives Wait's result once
	waited  error
	stopped bool
}

// freeAddr returns a loopback host:port nobody listens on now.
func freeAddr(ctx context.Context) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}

// startChild starts spec's process and waits until spec.ready answers 200. A process that
// exits first, or is not ready in time, is stopped and reported with the end of its output.
func startChild(ctx context.Context, spec childSpec) (*child, error) {
	logFile, err := os.CreateTemp("", "wfr-bench-*.log")
	if err != nil {
		return nil, err
	}
	// Not bound to ctx: stop ends it with an interrupt, as an operator would, even when ctx is
	// already cancelled.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), spec.command[0], spec.command[1:]...) //nolint:gosec // the bench's own executable
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if spec.env != nil {
		cmd.Env = append(os.Environ(), spec.env...)
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		_ = os.Remove(logFile.Name())
		return nil, fmt.Errorf("start %s process: %w", spec.name, err)
	}
	c := &child{name: spec.name, url: "http://" + spec.addr, cmd: cmd, logFile: logFile, exited: make(chan error, 1)}
	go func() { c.exited <- cmd.Wait() }()

	deadline := time.Now().Add(spec.readyTimeout)
	for {
		select {
		case err := <-c.exited:
			c.exited <- err // for stop
			out := c.tail(4 << 10)
			_ = c.stop()
			return nil, fmt.Errorf("%s process exited: %w: %s", spec.name, err, out)
		case <-ctx.Done():
			_ = c.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if answers(ctx, c.url+spec.ready) {
			return c, nil
		}
		if time.Now().After(deadline) {
			out := c.tail(4 << 10)
			_ = c.stop()
			return nil, fmt.Errorf("%s process not ready (%s) within %s: %s", spec.name, spec.ready, spec.readyTimeout, out)
		}
	}
}

// pid is the process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// tail is the last n bytes of the process's output so far, trimmed.
func (c *child) tail(n int64) []byte {
	b, _ := os.ReadFile(c.logFile.Name())
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return bytes.TrimSpace(b)
}

// stop interrupts the process (its graceful shutdown), kills it after 30 s, waits for it and
// removes its output. It returns Wait's error: nil when the process stopped cleanly.
// Idempotent.
func (c *child) stop() error {
	if c.stopped {
		return c.waited
	}
	c.stopped = true
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case c.waited = <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		c.waited = errors.Join(errors.New(c.name+" process killed: not stopped 30s after an interrupt"), <-c.exited)
	}
	_ = c.logFile.Close()
	_ = os.Remove(c.logFile.Name())
	return c.waited
}

// answers reports whether GET url answers 200.
func answers(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer func() { _ = res.Body.Close() }()
	return res.StatusCode == http.StatusOK
}
