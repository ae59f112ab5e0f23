package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// testVersion is stamped into the binary with -ldflags, as a release build does.
const testVersion = "v0.0.0-test"

// testBundle is the built binary and a working directory of its own.
type testBundle struct {
	bin string
	dir string // the process's working directory, with its SQLite file
}

// TestBinary builds the command once, with the version stamped as a release build does, and
// runs it in each subtest.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "workflow-runtime")
	build := exec.CommandContext(t.Context(), "go", "build",
		"-ldflags", "-X github.com/workflow-runtime/workflow-runtime/internal/app.Version="+testVersion,
		"-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for name, test := range map[string]func(t *testing.T, b *testBundle){
		"ServeRunsAWorkflowAndStopsOnSIGTERM": testServeRunsAWorkflowAndStopsOnSIGTERM,
		"ServeHelpListsSettingsWithDefaults":  testServeHelpListsSettingsWithDefaults,
		"Version":                             testVersionCommand,
		"ServeRejectsBadConfig":               testServeRejectsBadConfig,
		"ConfigDocs":                          testConfigDocs,
		"OperatorCommands":                    testOperatorCommands,
		"ShellCompletion":                     testShellCompletion,
		"HelpHasExamples":                     testHelpHasExamples,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, &testBundle{bin: bin, dir: t.TempDir()})
		})
	}
}

// command returns bin args, run in b.dir with env on top of the environment without any WFR_*.
func (b *testBundle) command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Dir = b.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WFR_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// freeAddr returns a loopback address with a port nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// get sends a GET of url within the test's context. The caller closes the body.
func get(t *testing.T, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// call posts a Connect unary request as plain JSON, as curl would, and decodes the answer.
func call(t *testing.T, base, method string, req, resp any) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	hreq, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		base+"/workflowruntime.v1.WorkflowRuntimeService/"+method, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hres, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer func() { _ = hres.Body.Close() }()
	out, _ := io.ReadAll(hres.Body)
	if hres.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", method, hres.Status, out)
	}
	if err := json.Unmarshal(out, resp); err != nil {
		t.Fatalf("%s: decode %s: %v", method, out, err)
	}
}

// syncBuffer collects the process's output; the exec copier writes while the test reads.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written testenv.Signal // fired after each write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	defer s.written.Fire()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func testServeRunsAWorkflowAndStopsOnSIGTERM(t *testing.T, b *testBundle) {
	is := is.New(t)
	addr := freeAddr(t)
	base := "http://" + addr

	var output syncBuffer
	cmd := b.command(context.Background(), []string{
		"WFR_ADDR=" + addr,
		"WFR_DATABASE_URL=sqlite://" + filepath.Join(b.dir, "db.sqlite"),
		"WFR_SHUTDOWN_GRACE=5s",
	}, "serve")
	cmd.Stdout, cmd.Stderr = &output, &output
	is.NoErr(cmd.Start())
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		output.written.Fire() // wakes the wait for readiness of a process that died first
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			t.Logf("server killed at cleanup: %v", <-exited) // only when the test ended early
		}
		if t.Failed() {
			t.Logf("server output:\n%s", output.String())
		}
	})

	// Ready when it logs so (bounded).
	output.written.Await(t, 10*time.Second, func() error {
		select {
		case err := <-exited:
			t.Fatalf("server exited before it was ready: %v", err)
		default:
		}
		if !strings.Contains(output.String(), `"msg":"workflow-runtime ready"`) {
			return errors.New("server not ready")
		}
		return nil
	})

	var deployed struct {
		Deployment struct {
			ID       string `json:"id"`
			Revision int    `json:"revision"`
			Status   string `json:"status"`
		} `json:"deployment"`
		Created bool `json:"created"`
	}
	call(t, base, "DeployWorkflow", map[string]any{
		"definition": map[string]any{
			"id": "hello",
			"nodes": []any{
				map[string]any{"id": "greet", "type": "noop", "params": map[string]any{"value": "hi"}},
			},
		},
	}, &deployed)
	is.True(deployed.Created) // a new deployment
	is.Equal(deployed.Deployment.Revision, 1)
	is.Equal(deployed.Deployment.Status, "DEPLOYMENT_STATUS_DEPLOYED")

	type execution struct {
		Execution struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Output string `json:"output"`
		} `json:"execution"`
	}
	var triggered execution
	call(t, base, "TriggerWorkflow", map[string]any{"workflowId": "hello", "triggerData": `{"n":1}`}, &triggered)
	is.Equal(triggered.Execution.Status, "EXECUTION_STATUS_PENDING")

	// Another process, asked as curl would: polled.
	var got execution
	testenv.Poll(t, 10*time.Second, func() error {
		call(t, base, "GetExecution", map[string]any{"executionId": triggered.Execution.ID}, &got)
		if got.Execution.Status != "EXECUTION_STATUS_SUCCEEDED" {
			return fmt.Errorf("execution is %s", got.Execution.Status)
		}
		return nil
	})
	is.Equal(got.Execution.Output, `{"greet":"hi"}`) // the sink node's output

	res, err := get(t, base+"/health")
	is.NoErr(err)
	var report struct {
		Status       string    `json:"status"`
		Timestamp    time.Time `json:"timestamp"`
		Version      string    `json:"version"`
		Dependencies map[string]struct {
			Status string `json:"status"`
		} `json:"dependencies"`
	}
	is.NoErr(json.NewDecoder(res.Body).Decode(&report))
	_ = res.Body.Close()
	is.Equal(res.Header.Get("Content-Type"), "application/json")
	is.Equal(report.Status, "healthy")
	is.True(!report.Timestamp.IsZero())
	is.Equal(report.Version, testVersion) // stamped by -ldflags
	is.Equal(report.Dependencies["database"].Status, "healthy")

	_, err = os.Stat(filepath.Join(b.dir, "db.sqlite"))
	is.NoErr(err) // the database is where WFR_DATABASE_URL says

	is.NoErr(cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		is.NoErr(err) // exit status 0 after SIGTERM
	case <-time.After(7 * time.Second): // the 5 s grace plus slack
		t.Fatal("server did not exit within the grace period after SIGTERM")
	}
	is.True(strings.Contains(output.String(), "workflow-runtime stopped")) // a clean shutdown, logged
}

func testServeHelpListsSettingsWithDefaults(t *testing.T, b *testBundle) {
	is := is.New(t)
	out, err := b.command(t.Context(), nil, "serve", "--help").CombinedOutput()
	is.NoErr(err)
	help := strings.Join(strings.Fields(string(out)), " ") // kong wraps lines
	for _, want := range []string{
		"Default 127.0.0.1:8080 ($WFR_ADDR)",
		"Default sqlite://data/workflow-runtime.db ($WFR_DATABASE_URL)",
		"Default empty: in-process lock and queue ($WFR_REDIS_URL)",
	} {
		is.True(strings.Contains(help, want)) // want
	}
}

func testVersionCommand(t *testing.T, b *testBundle) {
	is := is.New(t)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := b.command(t.Context(), nil, args...).Output()
		is.NoErr(err)
		is.Equal(strings.TrimSpace(string(out)), testVersion) // args
	}
}

func testServeRejectsBadConfig(t *testing.T, b *testBundle) {
	is := is.New(t)
	out, err := b.command(t.Context(), []string{"WFR_ADDR=not-an-address"}, "serve").CombinedOutput()
	var exitErr *exec.ExitError
	is.True(errors.As(err, &exitErr))                                // a non-zero exit
	is.True(strings.Contains(string(out), "WFR_ADDR"))               // the error names the variable
	is.True(!strings.Contains(string(out), "http server listening")) // nothing served
}
