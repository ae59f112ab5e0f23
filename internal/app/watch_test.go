package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"

	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// TestWatchEmbeddedAndStop: in the embedded mode (role all, in-process notifications) a watch
// of a deployment sees its execution succeed; Stop ends the open stream with unavailable at
// once, without waiting for the shutdown grace.
func TestWatchEmbeddedAndStop(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := start(t, config.RoleAll)
	client := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(http.DefaultClient, "http://"+a.Addr())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dep, err := client.DeployWorkflow(ctx, &workflowruntimev1.DeployWorkflowRequest{Definition: &workflowruntimev1.WorkflowDefinition{
		Id: "watched", Nodes: []*workflowruntimev1.Node{{Id: "n", Type: "noop"}},
	}})
	is.NoErr(err)
	s, err := client.WatchExecutions(ctx, &workflowruntimev1.WatchExecutionsRequest{
		Target: &workflowruntimev1.WatchExecutionsRequest_DeploymentId{DeploymentId: dep.GetDeployment().GetId()},
	})
	is.NoErr(err)
	is.True(s.Receive() && s.Msg().GetSynced())
	tr, err := client.TriggerWorkflow(ctx, &workflowruntimev1.TriggerWorkflowRequest{
		Target: &workflowruntimev1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "watched"},
	})
	is.NoErr(err)
	for s.Receive() {
		if e := s.Msg().GetExecution(); e.GetId() == tr.GetExecution().GetId() && e.GetStatus() == workflowruntimev1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
			break
		}
	}

	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	is.True(!s.Receive())
	is.Equal(connect.CodeOf(s.Err()), connect.CodeUnavailable) // watch again, elsewhere
	is.NoErr(<-stopped)
}
