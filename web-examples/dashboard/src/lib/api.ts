// The connection to the service: settings kept in localStorage, the client built from them with
// the SDK, and errors turned into words.
import {
  Code,
  ConnectError,
  createRuntimeClient,
  fieldViolations,
  type FieldViolation,
  type WorkflowRuntimeClient,
} from "@workflow-runtime/sdk";

export type Transport = "connect" | "grpc-web";

/** What the settings panel edits. */
export interface Settings {
  /** The service's base URL, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** Connect (JSON over HTTP) or gRPC-Web. */
  transport: Transport;
  /** A bearer token of the service's tokens file; empty for none. */
  token: string;
}

const settingsKey = "wfr.settings";

/**
 * The base URL to use when none is saved: the page's own origin when the service serves the
 * dashboard (at /ui/), else the service's default address.
 */
export function defaultBaseUrl(): string {
  if (location.pathname.startsWith("/ui")) return location.origin;
  return "http://127.0.0.1:8080";
}

export function loadSettings(): Settings {
  const fallback: Settings = { baseUrl: defaultBaseUrl(), transport: "connect", token: "" };
  try {
    const raw = localStorage.getItem(settingsKey);
    if (!raw) return fallback;
    const s = JSON.parse(raw) as Partial<Settings>;
    return {
      baseUrl: typeof s.baseUrl === "string" && s.baseUrl ? s.baseUrl : fallback.baseUrl,
      transport: s.transport === "grpc-web" ? "grpc-web" : "connect",
      token: typeof s.token === "string" ? s.token : "",
    };
  } catch {
    return fallback;
  }
}

export function saveSettings(s: Settings): void {
  localStorage.setItem(settingsKey, JSON.stringify(s));
}

/** Whether text is an http(s) URL without a path beyond "/", as the settings panel accepts it. */
export function checkBaseUrl(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return "Enter a URL such as http://127.0.0.1:8080.";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "The URL must start with http:// or https://.";
  return undefined;
}

export function makeClient(s: Settings): WorkflowRuntimeClient {
  return createRuntimeClient(s.baseUrl.replace(/\/+$/, ""), {
    transport: s.transport,
    token: s.token ? s.token : undefined,
    defaultTimeoutMs: 30_000,
  });
}

/** An error of a call, in words. */
export interface Problem {
  /** The Connect code's name, e.g. "invalid_argument"; "" for an error that is not a call's. */
  code: string;
  /** What happened, for people: "The request was refused as invalid". */
  title: string;
  /** The server's message (or the browser's). */
  message: string;
  /** What to do about it, when there is something to say. */
  hint?: string;
  /** The request fields that broke a rule (invalid_argument). */
  violations: FieldViolation[];
}

const codeNames: Record<number, string> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** Whether err is a call that the browser could not make at all (network, CORS, wrong URL). */
function unreachable(err: ConnectError): boolean {
  const m = err.rawMessage.toLowerCase();
  return m.includes("failed to fetch") || m.includes("networkerror") || m.includes("load failed");
}

export function describeError(err: unknown): Problem {
  if (!(err instanceof ConnectError) && !(err instanceof Error && err.name === "ConnectError")) {
    const message = err instanceof Error ? err.message : String(err);
    return { code: "", title: "Something went wrong", message, violations: [] };
  }
  const cerr = ConnectError.from(err);
  const code = codeNames[cerr.code] ?? String(cerr.code);
  const violations = fieldViolations(cerr);
  const message = cerr.rawMessage;
  switch (cerr.code) {
    case Code.InvalidArgument:
      return {
        code,
        title: "The request was refused as invalid",
        message,
        hint: violations.length ? "Correct the fields named here and try again." : undefined,
        violations,
      };
    case Code.NotFound:
      return { code, title: "Not found", message, hint: "It may have been deleted, or the link is wrong.", violations };
    case Code.AlreadyExists:
      return { code, title: "It exists already", message, violations };
    case Code.FailedPrecondition:
      return { code, title: "Not possible in the current state", message, violations };
    case Code.Unauthenticated:
      return {
        code,
        title: "Not signed in",
        message,
        hint: "The service needs a bearer token: set one in Settings (press ,).",
        violations,
      };
    case Code.PermissionDenied:
      return {
        code,
        title: "Not allowed",
        message,
        hint: "The token in Settings lacks the scope this needs (read, trigger or deploy).",
        violations,
      };
    case Code.ResourceExhausted:
      return { code, title: "Too many requests or too large", message, hint: "Wait a moment and try again.", violations };
    case Code.DeadlineExceeded:
      return { code, title: "The service took too long to answer", message, violations };
    case Code.Unimplemented:
      return {
        code,
        title: "The service does not offer this",
        message,
        hint: "The server may be an older version, or the base URL points at something else.",
        violations,
      };
    case Code.Canceled:
      return { code, title: "Cancelled", message, violations };
    case Code.Unavailable:
    case Code.Unknown:
      if (unreachable(cerr)) {
        return {
          code,
          title: "Cannot reach the service",
          message,
          hint:
            "Check the base URL in Settings (press ,) and that the service runs. From another origin " +
            "the service must allow this page's origin: WFR_CORS_ALLOWED_ORIGINS=" +
            location.origin +
            ".",
          violations,
        };
      }
      return {
        code,
        title: cerr.code === Code.Unavailable ? "The service or a dependency is unavailable" : "Unexpected answer",
        message,
        hint: cerr.code === Code.Unavailable ? "Try again in a moment; the System page shows the dependencies." : undefined,
        violations,
      };
    default:
      return { code, title: "The service reported an error", message, violations };
  }
}

/** Whether err is a call that ended because it was aborted (a newer request replaced it). */
export function isAbort(err: unknown): boolean {
  if (err instanceof DOMException && err.name === "AbortError") return true;
  return err instanceof ConnectError && err.code === Code.Canceled;
}

/** Whether the service does not implement the method (an older server). */
export function isUnimplemented(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.Unimplemented;
}
