package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

// watchGate is what a workflow's http node calls: each request is held until the gate opens;
// arrived says that one came, i.e. the execution is RUNNING on a worker's engine.
type watchGate struct {
	url     string
	arrived chan struct{}
	opened  chan struct{}
	once    sync.Once
}

func newWatchGate(t *testing.T) *watchGate {
	t.Helper()
	g := &watchGate{arrived: make(chan struct{}, 10), opened: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		select {
		case <-g.opened:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.open) // runs first: held requests return
	g.url = srv.URL
	return g
}

func (g *watchGate) open() { g.once.Do(func() { close(g.opened) }) }

// receiveWatch returns the next message of s; its context bounds the wait.
func receiveWatch(t *testing.T, s *connect.ServerStreamForClient[v1.WatchExecutionsResponse]) *v1.WatchExecutionsResponse {
	t.Helper()
	if !s.Receive() {
		t.Fatalf("the watch ended: %v", s.Err())
	}
	return s.Msg()
}

// TestWatchAcrossProcesses: a watch on the api process sees the execution PENDING (no worker
// runs yet), then RUNNING and SUCCEEDED as a worker in another process writes them: the worker
// publishes each change on Redis, the api reads the row again and streams it. The watch is over
// gRPC (HTTP/2); the stream ends after the terminal state.
func TestWatchAcrossProcesses(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	g := newWatchGate(t)
	apiProc := c.start("api", "api")
	api := apiProc.client()
	deploy(t, api, workflow{
		id:     "watched",
		nodes:  []*v1.Node{node(t, "call", "http", map[string]any{"url": g.url})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_SKIP, 0),
	})
	e := mustTrigger(t, api, "watched")

	ctx, cancel := context.WithTimeout(t.Context(), terminalTimeout)
	defer cancel()
	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetUnencryptedHTTP2(true)
	grpcClient := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(&http.Client{Transport: transport}, "http://"+apiProc.addr, connect.WithGRPC())
	s, err := grpcClient.WatchExecutions(ctx, &v1.WatchExecutionsRequest{Target: &v1.WatchExecutionsRequest_ExecutionId{ExecutionId: e.GetId()}})
	is.NoErr(err)
	first := receiveWatch(t, s)
	is.True(first.GetSynced())
	is.Equal(first.GetExecution().GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_PENDING) // nobody runs it yet

	c.start("worker", "worker")
	select {
	case <-g.arrived:
	case <-ctx.Done():
		t.Fatal("the worker did not run the execution")
	}
	arrived := time.Now()
	running := receiveWatch(t, s)
	t.Logf("RUNNING streamed %s after the engine's call arrived", time.Since(arrived).Round(time.Millisecond))
	is.Equal(running.GetExecution().GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_RUNNING)
	is.Equal(running.GetExecution().GetAttempt(), int32(1))

	opened := time.Now()
	g.open()
	done := receiveWatch(t, s)
	t.Logf("SUCCEEDED streamed %s after the gate opened", time.Since(opened).Round(time.Millisecond))
	is.Equal(done.GetExecution().GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	is.True(!s.Receive()) // the stream ends after the terminal state
	is.NoErr(s.Err())

	got, err := getExecution(t, api, e.GetId())
	is.NoErr(err)
	is.Equal(got.GetFinishTime().AsTime(), done.GetExecution().GetFinishTime().AsTime()) // what the database says
}

// TestWatchDeploymentBurst: a watch of a deployment on one api process sees every execution of
// a burst of 200, triggered through another api process and run by two workers, reach a
// terminal state: none missed, none after its terminal state.
func TestWatchDeploymentBurst(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const burst = 200
	c := newCluster(t)
	watcher := c.start("api-watch", "api").client()
	api := c.start("api-trigger", "api").client()
	c.start("worker-a", "worker")
	c.start("worker-b", "worker")
	d := deploy(t, api, workflow{
		id:     "burst",
		nodes:  []*v1.Node{node(t, "nothing", "noop", map[string]any{})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})

	ctx, cancel := context.WithTimeout(t.Context(), terminalTimeout)
	defer cancel()
	s, err := watcher.WatchExecutions(ctx, &v1.WatchExecutionsRequest{Target: &v1.WatchExecutionsRequest_DeploymentId{DeploymentId: d.GetId()}})
	is.NoErr(err)
	defer func() { _ = s.Close() }()
	is.True(receiveWatch(t, s).GetSynced()) // a new deployment: nothing before the mark

	resps := triggerConcurrently(t, api, "burst", "", burst)
	want := map[string]bool{}
	for _, r := range resps {
		want[r.GetExecution().GetId()] = true
	}
	is.Equal(len(want), burst)

	final := map[string]v1.ExecutionStatus{}
	messages := 0
	for len(final) < burst {
		e := receiveWatch(t, s).GetExecution()
		if e == nil {
			continue
		}
		messages++
		is.True(want[e.GetId()]) // only the burst's executions
		if prev, ok := final[e.GetId()]; ok {
			t.Fatalf("execution %s: %s streamed after its terminal state %s", e.GetId(), e.GetStatus(), prev)
		}
		if terminal(e.GetStatus()) {
			final[e.GetId()] = e.GetStatus()
		}
	}
	t.Logf("%d executions terminal in %d messages", len(final), messages)
	for id := range want {
		is.Equal(final[id], v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	}
}
