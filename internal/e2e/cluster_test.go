package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// binary is the workflow-runtime binary TestMain builds.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wfr-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	binary = filepath.Join(dir, "workflow-runtime")
	// TestMain has no test context to bound the build with.
	build := exec.CommandContext(context.Background(), "go", "build", "-o", binary, "github.com/workflow-runtime/workflow-runtime/cmd/workflow-runtime")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build workflow-runtime:", err)
		return 1
	}
	return m.Run()
}

// Bounds of the polling waits. They are generous: they only decide when a test gives up.
const (
	readyTimeout    = 30 * time.Second
	terminalTimeout = 60 * time.Second
)

// cluster is the processes of one test and what they share: a database and (unless embedded)
// a Redis database of their own.
type cluster struct {
	t           *testing.T
	dir         string
	databaseURL string // handed to the processes
	redisURL    string // handed to the processes; "" in embedded mode
	db          *store.DB
	procs       []*proc
}

// newCluster returns a cluster on PostgreSQL (a new schema) and Redis (a database of its own).
// Skips without WFR_TEST_DATABASE_URL or WFR_TEST_REDIS_URL (fails under CI=true).
func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), redisURL: testenv.RedisDatabase(t)}
	c.databaseURL, c.db = newSchema(t)
	c.dumpLogsOnFailure()
	return c
}

// newEmbeddedCluster returns a cluster on a SQLite file with no Redis: one `--role=all`
// process is all it can run.
func newEmbeddedCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir()}
	c.databaseURL = "sqlite://" + filepath.Join(c.dir, "wfr.db")
	c.dumpLogsOnFailure()
	return c
}

// dumpLogsOnFailure prints every process's log when the test failed. Registered before any
// process starts, so it runs after they were stopped.
func (c *cluster) dumpLogsOnFailure() {
	c.t.Cleanup(func() {
		if !c.t.Failed() {
			return
		}
		for _, p := range c.procs {
			c.t.Logf("==== log of %s (%s) ====\n%s", p.name, p.logPath, tail(p.log(), 64<<10))
		}
	})
}

// newSchema creates a schema in the baseURL database, returns the URL whose search_path is that
// schema and a store on it, and drops the schema when the test ends.
func newSchema(t *testing.T) (string, *store.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schemaURL := storetest.PostgresSchemaURL(t)
	db, err := store.Open(ctx, schemaURL, store.Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatalf("open the test schema: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() }) // runs before the drop
	// Migrated here, once, so that processes starting together do not race to create tables.
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate the test schema: %v", err)
	}
	return schemaURL, db
}

// proc is one workflow-runtime process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	addr    string // once ready

	done    chan struct{} // closed when the process exited
	waitErr error
}

// start runs `workflow-runtime serve` with role and the cluster's database and Redis, loopback
// allowlisted for http nodes (WFR_HTTP_ALLOW), plus env (which wins), waits until it is ready
// and returns it. The process is stopped when the test ends.
func (c *cluster) start(name, role string, env ...string) *proc {
	c.t.Helper()
	p := &proc{name: name, logPath: filepath.Join(c.dir, name+".log"), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		c.t.Fatalf("create log of %s: %v", name, err)
	}
	// Not the test's context: that is cancelled before the cleanups run, which would SIGKILL the
	// process; p.stop (a cleanup) stops it with SIGTERM, as an operator would.
	cmd := exec.CommandContext(context.Background(), binary, "serve")
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(cleanEnv(),
		"WFR_ROLE="+role,
		"WFR_ADDR=127.0.0.1:0",
		"WFR_DATABASE_URL="+c.databaseURL,
		"WFR_SHUTDOWN_GRACE=3s",
		"WFR_LOG_LEVEL=debug",
		// The probe the http nodes call listens on loopback, which the egress policy denies
		// by default.
		"WFR_HTTP_ALLOW=127.0.0.0/8",
	)
	if c.redisURL != "" {
		cmd.Env = append(cmd.Env, "WFR_REDIS_URL="+c.redisURL)
	}
	cmd.Env = append(cmd.Env, env...)
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		c.t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	c.t.Cleanup(func() { p.stop(c.t) })

	// The ready line is in the process's log file: polled.
	testenv.Poll(c.t, readyTimeout, func() error {
		select {
		case <-p.done:
			c.t.Fatalf("%s exited before it was ready: %v\n%s", name, p.waitErr, tail(p.log(), 16<<10))
		default:
		}
		if p.addr = p.readyAddr(); p.addr == "" {
			return fmt.Errorf("%s not ready\n%s", name, tail(p.log(), 16<<10))
		}
		return nil
	})
	return p
}

// cleanEnv is the test's environment without WFR_* variables, so the processes see only what
// the test sets.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WFR_") {
			env = append(env, kv)
		}
	}
	return env
}

// readyAddr is the address of the "workflow-runtime ready" log line, "" before it.
func (p *proc) readyAddr() string {
	for _, line := range p.logLines() {
		if line["msg"] == "workflow-runtime ready" {
			addr, _ := line["addr"].(string)
			return addr
		}
	}
	return ""
}

func (p *proc) log() []byte {
	b, _ := os.ReadFile(p.logPath)
	return b
}

// logLines parses the process's JSON log lines (others are ignored).
func (p *proc) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(p.log()))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// logHas reports whether a log line's message contains msg and its execution_id is id (any id
// when id is "").
func (p *proc) logHas(msg, id string) bool {
	for _, line := range p.logLines() {
		m, _ := line["msg"].(string)
		if strings.Contains(m, msg) && (id == "" || line["execution_id"] == id) {
			return true
		}
	}
	return false
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
}

// stop ends the process: SIGCONT (it may be stopped), SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Logf("%s did not stop within 10s of SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after SIGKILL", p.name)
	}
}

// client returns a WorkflowRuntimeService client (Connect protocol, binary, HTTP/2 cleartext)
// for the process.
func (p *proc) client() workflowruntimev1connect.WorkflowRuntimeServiceClient {
	return newClient("http://" + p.addr)
}

func newClient(baseURL string) workflowruntimev1connect.WorkflowRuntimeServiceClient {
	transport := &http.Transport{Protocols: new(http.Protocols), MaxIdleConnsPerHost: 128}
	transport.Protocols.SetUnencryptedHTTP2(true)
	return workflowruntimev1connect.NewWorkflowRuntimeServiceClient(&http.Client{Transport: transport}, baseURL)
}

// workflow is what deploy needs to know about a test workflow.
type workflow struct {
	id     string
	nodes  []*v1.Node
	config *v1.DeploymentConfig
}

// node returns a node of type typ with params (a JSON-like map).
func node(t *testing.T, id, typ string, params map[string]any) *v1.Node {
	t.Helper()
	s, err := structpb.NewStruct(params)
	if err != nil {
		t.Fatalf("node %s params: %v", id, err)
	}
	return &v1.Node{Id: id, Type: typ, Params: s}
}

// noRetry is a deployment config with one attempt and the given overlap policy and timeout
// (zero: the default).
func noRetry(policy v1.OverlapPolicy, timeout time.Duration) *v1.DeploymentConfig {
	cfg := &v1.DeploymentConfig{
		OverlapPolicy: policy,
		RetryPolicy:   &v1.RetryPolicy{MaxAttempts: 1},
	}
	if timeout > 0 {
		cfg.ExecutionTimeout = durationpb.New(timeout)
	}
	return cfg
}

// deploy deploys w through api and returns the deployment.
func deploy(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, w workflow) *v1.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := api.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: w.id, Name: w.id, Nodes: w.nodes},
		Config:     w.config,
	})
	if err != nil {
		t.Fatalf("deploy %s: %v", w.id, err)
	}
	return resp.GetDeployment()
}

// trigger triggers workflowID (with key, when not "") and returns the response.
func trigger(ctx context.Context, api workflowruntimev1connect.WorkflowRuntimeServiceClient, workflowID, key string) (*v1.TriggerWorkflowResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return api.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{
		Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: workflowID},
		IdempotencyKey: key,
	})
}

func mustTrigger(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, workflowID string) *v1.Execution {
	t.Helper()
	resp, err := trigger(t.Context(), api, workflowID, "")
	if err != nil {
		t.Fatalf("trigger %s: %v", workflowID, err)
	}
	return resp.GetExecution()
}

func getExecution(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, id string) (*v1.Execution, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := api.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: id})
	if err != nil {
		return nil, err
	}
	return resp.GetExecution(), nil
}

// waitExecution polls the execution until ok says so, and returns it; it fails the test after
// timeout. Polled rather than watched: the api may be the process a test restarts or cuts off.
func waitExecution(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, id string, timeout time.Duration, what string, ok func(*v1.Execution) bool) *v1.Execution {
	t.Helper()
	var last *v1.Execution
	var lastErr error
	testenv.Poll(t, timeout, func() error {
		e, err := getExecution(t, api, id)
		if err != nil {
			lastErr = err
		} else if last = e; ok(e) {
			return nil
		}
		notYet := fmt.Errorf("execution %s: not %s; last seen: status %s attempt %d error %q",
			id, what, last.GetStatus(), last.GetAttempt(), last.GetError())
		if lastErr != nil {
			return fmt.Errorf("%w (last rpc error: %w)", notYet, lastErr)
		}
		return notYet
	})
	return last
}

func terminal(s v1.ExecutionStatus) bool {
	switch s {
	case v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED, v1.ExecutionStatus_EXECUTION_STATUS_FAILED,
		v1.ExecutionStatus_EXECUTION_STATUS_CANCELLED, v1.ExecutionStatus_EXECUTION_STATUS_TIMED_OUT,
		v1.ExecutionStatus_EXECUTION_STATUS_SKIPPED:
		return true
	}
	return false
}

func isTerminal(e *v1.Execution) bool { return terminal(e.GetStatus()) }

// waitFor polls cond until it holds (testenv.Poll); it fails the test after timeout with what.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Poll(t, timeout, func() error {
		if !cond() {
			return errors.New("waiting for " + what)
		}
		return nil
	})
}

// fencingToken reads the execution's fencing token from the cluster's database.
func (c *cluster) fencingToken(t *testing.T, id string) int64 {
	t.Helper()
	var token *int64
	err := c.db.Bun().QueryRowContext(t.Context(), "SELECT fencing_token FROM executions WHERE id = ?", id).Scan(&token)
	if err != nil {
		t.Fatalf("read fencing token of %s: %v", id, err)
	}
	if token == nil {
		return 0
	}
	return *token
}

// triggerConcurrently sends n TriggerWorkflow calls at once (key "" for none) and returns the
// responses in no particular order; any error fails the test.
func triggerConcurrently(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, workflowID, key string, n int) []*v1.TriggerWorkflowResponse {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		out   []*v1.TriggerWorkflowResponse
		errs  []error
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			resp, err := trigger(t.Context(), api, workflowID, key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out = append(out, resp)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d of %d triggers failed: %v", len(errs), n, err)
	}
	return out
}

// waitAllTerminal waits until every execution is terminal and returns them by id. It asks
// every fourth PollInterval: one round asks once per execution not yet terminal.
func waitAllTerminal(t *testing.T, api workflowruntimev1connect.WorkflowRuntimeServiceClient, ids []string) map[string]*v1.Execution {
	t.Helper()
	out := map[string]*v1.Execution{}
	testenv.PollEvery(t, 4*testenv.PollInterval, terminalTimeout, func() error {
		pending := 0
		var last *v1.Execution
		for _, id := range ids {
			if e, ok := out[id]; ok && isTerminal(e) {
				continue
			}
			e, err := getExecution(t, api, id)
			if err != nil {
				var cerr *connect.Error
				if errors.As(err, &cerr) && cerr.Code() == connect.CodeNotFound {
					t.Fatalf("execution %s lost: %v", id, err)
				}
				pending++
				continue
			}
			out[id] = e
			if !isTerminal(e) {
				pending++
				last = e
			}
		}
		if pending > 0 {
			return fmt.Errorf("%d of %d executions not terminal; one: %s %s attempt %d", pending, len(ids), last.GetId(), last.GetStatus(), last.GetAttempt())
		}
		return nil
	})
	return out
}

func countStatuses(es map[string]*v1.Execution) map[v1.ExecutionStatus]int {
	out := map[v1.ExecutionStatus]int{}
	for _, e := range es {
		out[e.GetStatus()]++
	}
	return out
}

// tail returns the last max bytes of b.
func tail(b []byte, max int) string {
	if len(b) > max {
		return "…" + string(b[len(b)-max:])
	}
	return string(b)
}
