package app_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// runHTTPNode deploys workflow id with the one http node params, triggers it and returns the
// execution once it has ended.
func runHTTPNode(t *testing.T, client workflowruntimev1connect.WorkflowRuntimeServiceClient, id string, params map[string]any) *v1.Execution {
	t.Helper()
	p, err := structpb.NewStruct(params)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id: id, Nodes: []*v1.Node{{Id: "call", Type: "http", Params: p}},
	}}); err != nil {
		t.Fatalf("deploy %s: %v", id, err)
	}
	res, err := client.TriggerWorkflow(t.Context(), &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: id}})
	if err != nil {
		t.Fatalf("trigger %s: %v", id, err)
	}
	return waitExecution(t, client, res.GetExecution().GetId())
}

// waitExecution follows the execution with WatchExecutions until it has ended, for at most
// 30s, and returns it.
func waitExecution(t *testing.T, client workflowruntimev1connect.WorkflowRuntimeServiceClient, id string) *v1.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := client.WatchExecutions(ctx, &v1.WatchExecutionsRequest{Target: &v1.WatchExecutionsRequest_ExecutionId{ExecutionId: id}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	var last *v1.Execution
	for s.Receive() {
		last = s.Msg().GetExecution()
		switch last.GetStatus() {
		case v1.ExecutionStatus_EXECUTION_STATUS_PENDING, v1.ExecutionStatus_EXECUTION_STATUS_RUNNING:
		default:
			return last
		}
	}
	t.Fatalf("execution %s is %s: the watch ended before the execution did: %v", id, last.GetStatus(), s.Err())
	return nil
}

// TestHTTPNodeCannotReachTheService: with the embedded default configuration (no
// WFR_HTTP_ALLOW), a deployed workflow's http node reaches neither the service's own /metrics
// and /health, nor its profiler, nor its API (DeleteDeployment of another deployment). With
// 127.0.0.0/8 allowlisted the same call does reach /health, so the refusal is the policy's.
func TestHTTPNodeCannotReachTheService(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0") // a free port for the profiler
	is.NoErr(err)
	pprofAddr := ln.Addr().String()
	is.NoErr(ln.Close())

	cfg := config.Default()
	cfg.DatabaseURL = "sqlite::memory:"
	cfg.PprofAddr = pprofAddr
	a := startConfig(t, cfg)
	base := "http://" + a.Addr()
	client := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(h2cClient(), base)

	victim, err := client.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id: "victim", Nodes: []*v1.Node{{Id: "n", Type: "noop"}},
	}})
	is.NoErr(err)
	victimID := victim.GetDeployment().GetId()

	targets := map[string]map[string]any{
		"metrics":         {"url": base + "/metrics"},
		"health":          {"url": base + "/health"},
		"metrics-by-name": {"url": strings.Replace(base, "127.0.0.1", "localhost", 1) + "/metrics"},
		"pprof":           {"url": "http://" + pprofAddr + "/debug/pprof/heap"},
		"delete": {
			"method":  "POST",
			"url":     base + "/workflowruntime.v1.WorkflowRuntimeService/DeleteDeployment",
			"headers": map[string]any{"Content-Type": "application/json"},
			"body":    map[string]any{"deployment_id": victimID},
		},
	}
	for name, params := range targets {
		ex := runHTTPNode(t, client, "ssrf-"+name, params)
		t.Logf("%-16s %s: %s", name, ex.GetStatus(), ex.GetError())
		is.Equal(ex.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
		is.True(strings.Contains(ex.GetError(), "not allowed by the egress policy")) // refused before connecting
	}
	got, err := client.GetDeploymentStatus(t.Context(), &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: victimID}})
	is.NoErr(err)
	is.Equal(got.GetDeployment().GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED) // not archived

	// The control: allowlisted, the same calls get through, and the DeleteDeployment call does
	// archive the other deployment.
	allowed := config.Default()
	allowed.DatabaseURL = "sqlite::memory:"
	allowed.HTTPAllow = []string{"127.0.0.0/8"}
	b := startConfig(t, allowed)
	bBase := "http://" + b.Addr()
	bClient := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(h2cClient(), bBase)
	ex := runHTTPNode(t, bClient, "allowed-health", map[string]any{"url": bBase + "/health"})
	is.Equal(ex.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // allowlisted: reached
	victim, err = bClient.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id: "victim", Nodes: []*v1.Node{{Id: "n", Type: "noop"}},
	}})
	is.NoErr(err)
	del := targets["delete"]
	del["url"] = bBase + "/workflowruntime.v1.WorkflowRuntimeService/DeleteDeployment"
	del["body"] = map[string]any{"deployment_id": victim.GetDeployment().GetId()}
	ex = runHTTPNode(t, bClient, "allowed-delete", del)
	is.Equal(ex.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	got, err = bClient.GetDeploymentStatus(t.Context(), &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: victim.GetDeployment().GetId()}})
	is.NoErr(err)
	is.Equal(got.GetDeployment().GetStatus(), v1.DeploymentStatus_DEPLOYMENT_STATUS_ARCHIVED) // what the policy prevents
}
