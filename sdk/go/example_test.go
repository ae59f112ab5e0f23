package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// The examples run against a live service (main_test.go): baseURL is its address and token
// an admin token of its tokens file.

// greeter is a workflow of one node: a CEL transform that greets the name in the trigger data.
func greeter(id string, triggers ...*v1.Trigger) *v1.DeployWorkflowRequest {
	params, err := structpb.NewStruct(map[string]any{"expression": "{'greeting': 'hello ' + input.name}"})
	if err != nil {
		log.Fatal(err)
	}
	return &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{
			Id:    id,
			Name:  "Greeter",
			Nodes: []*v1.Node{{Id: "greet", Type: "transform", Params: params}},
		},
		Triggers: triggers,
	}
}

// deploy deploys req or stops the example.
func deploy(client *runtime.Client, req *v1.DeployWorkflowRequest) {
	if _, err := client.DeployWorkflow(context.Background(), req); err != nil {
		log.Fatal(err)
	}
}

func ExampleNewClient() {
	client, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	health, err := client.GetSystemHealth(context.Background(), &v1.GetSystemHealthRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(health.GetStatus())
	// Output: healthy
}

// Every protocol reaches the same service on the same port: gRPC over h2c (the default),
// the Connect protocol and gRPC-Web over HTTP/1.1.
func ExampleWithProtocol() {
	for _, p := range []runtime.Protocol{runtime.ProtocolGRPC, runtime.ProtocolConnect, runtime.ProtocolGRPCWeb} {
		client, err := runtime.NewClient(baseURL, runtime.WithToken(token), runtime.WithProtocol(p))
		if err != nil {
			log.Fatal(err)
		}
		health, err := client.GetSystemHealth(context.Background(), &v1.GetSystemHealthRequest{})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p, health.GetStatus())
	}
	// Output:
	// grpc healthy
	// connect healthy
	// grpcweb healthy
}

func ExampleClient_DeployWorkflow() {
	client, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	params, err := structpb.NewStruct(map[string]any{"expression": "{'greeting': 'hello ' + input.name}"})
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.DeployWorkflow(context.Background(), &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{
			Id:    "hello",
			Name:  "Hello",
			Nodes: []*v1.Node{{Id: "greet", Type: "transform", Params: params}},
		},
		Triggers: []*v1.Trigger{{
			Id:   "nightly",
			Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{Expression: "0 2 * * *", Timezone: "Europe/Berlin"}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	d := res.GetDeployment()
	fmt.Println(d.GetWorkflowId(), d.GetStatus(), "revision", d.GetRevision(), "created", res.GetCreated())
	// Output: hello DEPLOYMENT_STATUS_DEPLOYED revision 1 created true
}

// With an idempotency key, a repeated trigger (a gateway's retry, or the client's own after
// unavailable) answers the first execution instead of running the workflow again.
func ExampleClient_TriggerWorkflow() {
	client, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	deploy(client, greeter("greeter-trigger"))

	req := &v1.TriggerWorkflowRequest{
		Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "greeter-trigger"},
		TriggerData:    `{"name": "ada"}`,
		IdempotencyKey: "order-1042",
	}
	first, err := client.TriggerWorkflow(context.Background(), req)
	if err != nil {
		log.Fatal(err)
	}
	again, err := client.TriggerWorkflow(context.Background(), req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first deduplicated:", first.GetDeduplicated())
	fmt.Println("again deduplicated:", again.GetDeduplicated())
	fmt.Println("same execution:", again.GetExecution().GetId() == first.GetExecution().GetId())
	// Output:
	// first deduplicated: false
	// again deduplicated: true
	// same execution: true
}

func ExampleClient_WaitExecution() {
	client, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	deploy(client, greeter("greeter-wait"))

	ctx := context.Background()
	res, err := client.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{
		Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "greeter-wait"},
		TriggerData:    `{"name": "grace"}`,
		IdempotencyKey: "wait-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	e, err := client.WaitExecution(ctx, res.GetExecution().GetId())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.GetStatus())
	fmt.Println(e.GetOutput())
	// Output:
	// EXECUTION_STATUS_SUCCEEDED
	// {"greet":{"greeting":"hello grace"}}
}

// A gateway that receives a provider's webhook forwards the raw body with the provider's
// delivery id; the client signs it with the trigger's secret. A redelivery runs nothing new.
func ExampleClient_TriggerWebhook() {
	secret := "whsec-example-0123456789abcdef"
	admin, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	deploy(admin, greeter("greeter-hook", &v1.Trigger{
		Id:   "hook",
		Kind: &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: "greeter/hook", Secret: secret}},
	}))

	gateway, err := runtime.NewClient(baseURL, runtime.WithWebhookSecret([]byte(secret)))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	body := []byte(`{"name": "linus"}`)
	first, err := gateway.TriggerWebhook(ctx, "greeter/hook", body, "evt_0001")
	if err != nil {
		log.Fatal(err)
	}
	again, err := gateway.TriggerWebhook(ctx, "greeter/hook", body, "evt_0001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("duplicate:", first.Duplicate, again.Duplicate)
	fmt.Println("same execution:", first.ExecutionID == again.ExecutionID)

	e, err := admin.WaitExecution(ctx, first.ExecutionID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.GetTriggerType(), e.GetIdempotencyKey(), e.GetStatus())
	// Output:
	// duplicate: false true
	// same execution: true
	// TRIGGER_TYPE_WEBHOOK evt_0001 EXECUTION_STATUS_SUCCEEDED
}

// invalid_argument names every field that broke a rule, and the rule: the proto's rules
// (checked before anything else) and the service's own checks alike.
func ExampleAsError() {
	client, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	for _, def := range []*v1.WorkflowDefinition{
		{Id: "Not A Valid Id", Nodes: []*v1.Node{{Id: "a", Type: "noop"}}},
		{Id: "cyclic", Nodes: []*v1.Node{
			{Id: "a", Type: "noop", DependsOn: []string{"b"}},
			{Id: "b", Type: "noop", DependsOn: []string{"a"}},
		}},
	} {
		_, err := client.DeployWorkflow(context.Background(), &v1.DeployWorkflowRequest{Definition: def})
		if rerr, ok := runtime.AsError(err); ok && rerr.Code == connect.CodeInvalidArgument {
			for _, v := range rerr.FieldViolations {
				fmt.Printf("%s [%s]: %s\n", v.Field, v.Rule, v.Message)
			}
		}
	}
	// Output:
	// definition.id [string.pattern]: does not match regex pattern `^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`
	// definition.nodes [nodes.acyclic]: the graph has a cycle: a -> b -> a
}

// Executions pages through GetExecutionHistory: newest first, two per call here.
func ExampleClient_Executions() {
	client, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	deploy(client, greeter("greeter-history"))
	ctx := context.Background()
	for _, name := range []string{"ada", "grace", "linus"} {
		_, err := client.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{
			Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "greeter-history"},
			TriggerData:    fmt.Sprintf(`{"name": %q}`, name),
			IdempotencyKey: "history-" + name,
		})
		if err != nil {
			log.Fatal(err)
		}
	}

	for e, err := range client.Executions(ctx, &v1.GetExecutionHistoryRequest{WorkflowId: "greeter-history", PageSize: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.GetIdempotencyKey())
	}
	// Output:
	// history-linus
	// history-grace
	// history-ada
}

func ExampleClient_Deployments() {
	client, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"listed-c", "listed-a", "listed-b"} {
		deploy(client, greeter(id))
	}

	ctx := context.Background()
	for d, err := range client.Deployments(ctx, &v1.ListDeploymentsRequest{PageSize: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		if strings.HasPrefix(d.GetWorkflowId(), "listed-") { // other examples deploy too
			fmt.Println(d.GetWorkflowId())
		}
	}
	// Output:
	// listed-a
	// listed-b
	// listed-c
}

// The generated client is there for anything the methods do not cover; it has the same
// token, deadline and retries, and returns connect's errors.
func ExampleClient_Raw() {
	client, err := runtime.NewClient(baseURL, runtime.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.Raw().GetExecution(context.Background(), &v1.GetExecutionRequest{
		ExecutionId: "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b",
	})
	var cerr *connect.Error
	fmt.Println(errors.As(err, &cerr), connect.CodeOf(err))
	// Output: true not_found
}
