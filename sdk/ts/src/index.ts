// Public entry point of @workflow-runtime/sdk: the generated messages and service descriptor
// (src/gen, written by protoc-gen-es; do not edit) plus a ready-made Connect-Web client.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, type ConnectTransportOptions } from "@connectrpc/connect-web";
import { WorkflowRuntimeService } from "./gen/workflowruntime/v1/workflow_runtime_service_pb.js";

export * from "./gen/workflowruntime/v1/workflow_pb.js";
export * from "./gen/workflowruntime/v1/workflow_runtime_service_pb.js";

/** A typed client for workflowruntime.v1.WorkflowRuntimeService. */
export type WorkflowRuntimeClient = Client<typeof WorkflowRuntimeService>;

/**
 * Options for {@link createWorkflowRuntimeClient}: every Connect-Web transport option except
 * baseUrl (interceptors, fetch, useBinaryFormat, defaultTimeoutMs, …). The defaults are
 * Connect's: JSON encoding, the global fetch, no interceptors.
 */
export type WorkflowRuntimeClientOptions = Omit<ConnectTransportOptions, "baseUrl">;

/**
 * Creates a client for the WorkflowRuntimeService served at baseUrl (for example
 * "http://localhost:8080"), speaking the Connect protocol over fetch.
 */
export function createWorkflowRuntimeClient(
  baseUrl: string,
  options: WorkflowRuntimeClientOptions = {},
): WorkflowRuntimeClient {
  const transport = createConnectTransport({ ...options, baseUrl });
  return createClient(WorkflowRuntimeService, transport);
}
