package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// crashExpression is the transform that ended the process in json.Marshal of the engine result
// and again after every restart: about 1 KB of CEL whose result (a list of lists sharing one
// string) encodes to about 50 MB of JSON.
var crashExpression = `lists.range(50).map(i, lists.range(1000).map(j, "` + strings.Repeat("x", 960) + `"))`

// TestOutputBoundEndsExecution: on the embedded default, the crash expression ends FAILED at its
// first attempt with a size reason (the default retry policy allows three), the process stays up
// and serves the next execution, and after a restart on the same database the execution is still
// FAILED at attempt 1 and the restarted process runs new work. Needs no server: always runs.
func TestOutputBoundEndsExecution(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newEmbeddedCluster(t)
	p := c.start("all", "all")
	api := p.client()

	deploy(t, api, workflow{id: "bound-crash", nodes: []*v1.Node{node(t, "big", "transform", map[string]any{"expression": crashExpression})}})
	deploy(t, api, workflow{id: "bound-ok", nodes: []*v1.Node{node(t, "ok", "noop", map[string]any{"value": "fine"})}})

	crash := mustTrigger(t, api, "bound-crash")
	e := waitExecution(t, api, crash.GetId(), 30*time.Second, "terminal", isTerminal)
	t.Logf("status %s, attempt %d, error %q", e.GetStatus(), e.GetAttempt(), e.GetError())
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
	is.True(strings.Contains(e.GetError(), "output too large")) // the size reason
	is.Equal(e.GetAttempt(), int32(1))                          // not retried

	ok := mustTrigger(t, api, "bound-ok")
	is.Equal(waitExecution(t, api, ok.GetId(), 30*time.Second, "terminal", isTerminal).GetStatus(),
		v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // the process is up and serving
	select {
	case <-p.done:
		t.Fatalf("the process exited: %v", p.waitErr)
	default:
	}

	// Restart on the same database: nothing re-runs the failed execution, and the new process
	// runs the crash expression again without dying.
	p.stop(t)
	p2 := c.start("all-restarted", "all")
	api = p2.client()
	again := mustTrigger(t, api, "bound-crash")
	is.Equal(waitExecution(t, api, again.GetId(), 30*time.Second, "terminal", isTerminal).GetStatus(),
		v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
	ok = mustTrigger(t, api, "bound-ok")
	is.Equal(waitExecution(t, api, ok.GetId(), 30*time.Second, "terminal", isTerminal).GetStatus(),
		v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	e, err := getExecution(t, api, crash.GetId())
	is.NoErr(err)
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED) // still FAILED
	is.Equal(e.GetAttempt(), int32(1))                                  // never re-run
	select {
	case <-p2.done:
		t.Fatalf("the restarted process exited: %v", p2.waitErr)
	default:
	}
}
