// Public entry point of @workflow-runtime/sdk: the generated messages and service descriptor
// (src/gen, written by protoc-gen-es; do not edit), a ready-made client for browsers and Node.js,
// and what a caller needs to read the service's validation errors.
import { ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcWebTransport,
  type ConnectTransportOptions,
} from "@connectrpc/connect-web";
import type { FieldPath } from "./gen/buf/validate/validate_pb.js";
import { ViolationsSchema } from "./gen/buf/validate/validate_pb.js";
import { WorkflowRuntimeService } from "./gen/workflowruntime/v1/workflow_runtime_service_pb.js";

export * from "./gen/workflowruntime/v1/workflow_pb.js";
export * from "./gen/workflowruntime/v1/workflow_runtime_service_pb.js";
// The error detail the service sends with every invalid_argument (fieldViolations reads it).
export {
  ViolationsSchema,
  ViolationSchema,
  FieldPathSchema,
  FieldPathElementSchema,
  type Violations,
  type Violation,
  type FieldPath,
  type FieldPathElement,
} from "./gen/buf/validate/validate_pb.js";
// The error class every call throws, and its codes.
export { ConnectError, Code } from "@connectrpc/connect";

/** A typed client for workflowruntime.v1.WorkflowRuntimeService. */
export type WorkflowRuntimeClient = Client<typeof WorkflowRuntimeService>;

/** Options of {@link createRuntimeClient}. */
export interface RuntimeClientOptions {
  /**
   * The wire protocol over fetch: "connect" (the Connect protocol, the default) or
   * "grpc-web". The service serves both on the same port.
   */
  transport?: "connect" | "grpc-web";
  /**
   * A bearer token of the service's tokens file, sent as `Authorization: Bearer <token>` on
   * every call. A dashboard's token needs the scope `read`. Default: none.
   */
  token?: string;
  /** Interceptors run on every call, after the token is set. Default: none. */
  interceptors?: Interceptor[];
  /** Deadline of a call that gives none, in milliseconds. Default: none. */
  defaultTimeoutMs?: number;
  /** Binary protobuf instead of JSON on the wire. Default: false (JSON). */
  useBinaryFormat?: boolean;
  /** The fetch to use. Default: the global fetch (browsers, Node.js >= 20). */
  fetch?: typeof globalThis.fetch;
}

/**
 * Creates a client for the WorkflowRuntimeService served at baseUrl (for example
 * "http://localhost:8080"), over fetch: in browsers and in Node.js >= 20 alike.
 *
 * ```ts
 * const client = createRuntimeClient("http://localhost:8080", { token, transport: "grpc-web" });
 * const { deployments } = await client.listDeployments({});
 * ```
 */
export function createRuntimeClient(
  baseUrl: string,
  options: RuntimeClientOptions = {},
): WorkflowRuntimeClient {
  const { transport = "connect", token, interceptors = [], ...rest } = options;
  const all: Interceptor[] = token === undefined ? [...interceptors] : [bearer(token), ...interceptors];
  const common = { ...rest, baseUrl, interceptors: all };
  switch (transport) {
    case "connect":
      return createClient(WorkflowRuntimeService, createConnectTransport(common));
    case "grpc-web":
      return createClient(WorkflowRuntimeService, createGrpcWebTransport(common));
    default:
      throw new Error(`unknown transport ${String(transport)}: want "connect" or "grpc-web"`);
  }
}

/** An interceptor that sends token as a bearer token. */
function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
}

/**
 * Options for {@link createWorkflowRuntimeClient}: every Connect-Web transport option except
 * baseUrl (interceptors, fetch, useBinaryFormat, defaultTimeoutMs, …). The defaults are
 * Connect's: JSON encoding, the global fetch, no interceptors.
 */
export type WorkflowRuntimeClientOptions = Omit<ConnectTransportOptions, "baseUrl">;

/**
 * Creates a client for the WorkflowRuntimeService served at baseUrl, speaking the Connect
 * protocol over fetch with any Connect-Web transport option. {@link createRuntimeClient} is the
 * shorter way for the usual cases (a token, gRPC-Web).
 */
export function createWorkflowRuntimeClient(
  baseUrl: string,
  options: WorkflowRuntimeClientOptions = {},
): WorkflowRuntimeClient {
  const transport = createConnectTransport({ ...options, baseUrl });
  return createClient(WorkflowRuntimeService, transport);
}

/** One broken rule of one request field, as {@link fieldViolations} returns it. */
export interface FieldViolation {
  /** The field's path in the request, e.g. "definition.nodes[1].depends_on"; "" for a rule on the whole message. */
  field: string;
  /** The rule's id, e.g. "string.pattern", "nodes.acyclic", "required". */
  rule: string;
  /** What is wrong, for people. */
  message: string;
}

/**
 * The fields of the request that broke a rule, from the buf.validate.Violations detail the
 * service sends with invalid_argument (the proto's rules and the service's own checks alike).
 * Empty for any other error. Takes a ConnectError or whatever a call threw (which goes through
 * ConnectError.from).
 *
 * ```ts
 * try {
 *   await client.deployWorkflow(request);
 * } catch (err) {
 *   for (const v of fieldViolations(err)) console.log(`${v.field}: ${v.message} [${v.rule}]`);
 * }
 * ```
 */
export function fieldViolations(err: unknown): FieldViolation[] {
  const cerr = err instanceof ConnectError ? err : ConnectError.from(err);
  return cerr.findDetails(ViolationsSchema).flatMap((vs) =>
    vs.violations.map((v) => ({
      field: fieldPathString(v.field),
      rule: v.ruleId,
      message: v.message,
    })),
  );
}

/** Renders a buf.validate.FieldPath as protovalidate prints it: nodes[1].depends_on, labels["team"]. */
export function fieldPathString(path: FieldPath | undefined): string {
  return (path?.elements ?? [])
    .map((el) => {
      const s = el.subscript;
      switch (s.case) {
        case "index":
        case "intKey":
        case "uintKey":
          return `${el.fieldName}[${s.value.toString()}]`;
        case "boolKey":
          return `${el.fieldName}[${String(s.value)}]`;
        case "stringKey":
          return `${el.fieldName}[${JSON.stringify(s.value)}]`;
        default:
          return el.fieldName;
      }
    })
    .join(".");
}
