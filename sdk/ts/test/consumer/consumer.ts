// A program that uses @workflow-runtime/sdk as installed from its tarball, in a project of its
// own (test/pack.test.mjs copies it there and type-checks it with tsc): it must compile with
// nothing but the SDK's own dependencies.
import {
  Code,
  ConnectError,
  DeploymentStatus,
  ExecutionStatus,
  ViolationsSchema,
  createRuntimeClient,
  createWorkflowRuntimeClient,
  fieldViolations,
  type Execution,
  type FieldViolation,
  type Violations,
  type WorkflowRuntimeClient,
} from "@workflow-runtime/sdk";

export async function dashboard(baseUrl: string, token: string): Promise<string[]> {
  const client: WorkflowRuntimeClient = createRuntimeClient(baseUrl, { token });
  const lines: string[] = [];
  const { deployments } = await client.listDeployments({
    statuses: [DeploymentStatus.DEPLOYED],
    pageSize: 50,
  });
  for (const d of deployments) lines.push(`${d.workflowId} rev ${d.revision}`);
  const { executions } = await client.getExecutionHistory({
    workflowId: "nightly-report",
    statuses: [ExecutionStatus.FAILED],
  });
  const failed: Execution[] = executions;
  for (const e of failed) lines.push(`${e.id}: ${e.error}`);
  return lines;
}

export async function deploy(baseUrl: string, token: string): Promise<FieldViolation[]> {
  const client = createRuntimeClient(baseUrl, { transport: "grpc-web", token, defaultTimeoutMs: 5000 });
  try {
    await client.deployWorkflow({
      definition: { id: "report", nodes: [{ id: "a", type: "noop" }] },
    });
    return [];
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.InvalidArgument) {
      const details: Violations[] = err.findDetails(ViolationsSchema);
      void details;
    }
    return fieldViolations(err);
  }
}

export const legacy: WorkflowRuntimeClient = createWorkflowRuntimeClient("http://localhost:8080", {
  useBinaryFormat: true,
});

// @ts-expect-error gRPC needs HTTP/2 trailers, which fetch does not give: not a transport here.
createRuntimeClient("http://localhost:8080", { transport: "grpc" });
