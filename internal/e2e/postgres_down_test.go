package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// TestPostgresDown: with PostgreSQL stopped, the api answers unavailable (which gateways retry
// with the same idempotency key), not internal, and says it is not ready; once PostgreSQL is
// back, the retry of a trigger is recorded once.
func TestPostgresDown(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	pg := testenv.StartPostgres(t)
	c := newCluster(t)
	c.databaseURL = pg.URL() // a server of its own, to stop; migrated by the processes
	apiProc := c.start("api", "api")
	api := apiProc.client()
	c.start("worker", "worker")
	deploy(t, api, workflow{
		id:     "pg-outage",
		nodes:  []*v1.Node{node(t, "nothing", "noop", map[string]any{})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	e := mustTrigger(t, api, "pg-outage")

	pg.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := trigger(ctx, api, "pg-outage", "during")
	t.Logf("TriggerWorkflow with PostgreSQL down: %v", err)
	is.Equal(connect.CodeOf(err), connect.CodeUnavailable) // not internal
	_, err = getExecution(t, api, e.GetId())
	is.Equal(connect.CodeOf(err), connect.CodeUnavailable)
	_, err = api.ListDeployments(ctx, &v1.ListDeploymentsRequest{})
	is.Equal(connect.CodeOf(err), connect.CodeUnavailable)
	is.Equal(readyz(t, apiProc), http.StatusServiceUnavailable) // the api needs its database

	pg.Start()
	var resp *v1.TriggerWorkflowResponse
	waitFor(t, readyTimeout, "the retried trigger to be recorded", func() bool {
		resp, err = trigger(ctx, api, "pg-outage", "during")
		return err == nil
	})
	again, err := trigger(ctx, api, "pg-outage", "during")
	is.NoErr(err)
	is.True(again.GetDeduplicated())
	is.Equal(again.GetExecution().GetId(), resp.GetExecution().GetId()) // one execution for the key
	done := waitExecution(t, api, resp.GetExecution().GetId(), terminalTimeout, "terminal", isTerminal)
	is.Equal(done.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
}
