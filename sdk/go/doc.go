// Package runtime is the Go client of workflow-runtime's WorkflowRuntimeService, for API
// gateways and tools: the generated connect client (Client.Raw) with what a caller needs
// around it.
//
//	import runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
//
//	client, err := runtime.NewClient("http://127.0.0.1:8080", runtime.WithToken(token))
//	res, err := client.TriggerWorkflow(ctx, &v1.TriggerWorkflowRequest{
//		Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "nightly-report"},
//		TriggerData:    `{"requestedBy": "gateway"}`,
//		IdempotencyKey: requestID,
//	})
//	done, err := client.WaitExecution(ctx, res.GetExecution().GetId())
//
// The module depends on connect, protobuf, the generated code
// (github.com/workflow-runtime/workflow-runtime/gen) and a backoff library, and on nothing of
// the service: no database driver, no Redis client, no telemetry.
//
// # Protocol
//
// gRPC by default (HTTP/2; h2c for http:// URLs), the Connect protocol or gRPC-Web with
// WithProtocol. The messages are the generated ones (package workflowruntimev1, imported here
// as v1).
//
// # Deadlines
//
// A call whose context has no deadline gets WithTimeout's (DefaultTimeout, 30s), which
// covers every attempt of the call.
//
// # Retries
//
// A call is retried only when repeating it cannot do its work twice:
//
//   - reads (the RPCs declared NO_SIDE_EFFECTS: Get…, List…) and BackfillDeployment (declared
//     IDEMPOTENT): always;
//   - TriggerWorkflow: only when the request carries an idempotency_key, with which the
//     service answers a repeat with the first execution (deduplicated);
//   - TriggerWebhook: always, as a delivery id is required and plays the same part;
//   - DeployWorkflow, UpdateDeployment, DeleteDeployment, CancelExecution, and TriggerWorkflow
//     without a key: never.
//
// and only after errors that a later attempt may not meet: unavailable (the service, one of
// its dependencies or the network is down for a moment), and resource_exhausted when it
// carries a google.rpc.RetryInfo detail (the trigger rate limit says when to come back; a
// resource_exhausted without one is a size limit, which a repeat meets again). Attempts are
// spaced by exponential backoff with jitter (RetryPolicy), or by the RetryInfo delay when
// there is one; a wait that would pass the deadline is not started, and the call ends with
// the last error.
//
// # Errors
//
// Every method returns its errors as *Error: Code, Message, FieldViolations (decoded from the
// buf.validate.Violations detail the service sends with invalid_argument, naming each field
// and rule) and RetryDelay. AsError does the same for errors of the generated client.
//
// # Waiting and listing
//
// WaitExecution returns an execution once it has ended; WatchExecution yields each state of
// one execution until it ends, WatchDeployment each change of a deployment's executions
// (on the WatchExecutions stream, opened again when it ends early; polled on a service
// without it). Deployments, Executions and Fires
// iterate over every page of the list RPCs (iter.Seq2, for range loops).
package runtime
