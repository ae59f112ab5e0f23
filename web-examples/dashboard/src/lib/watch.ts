// Live executions over the WatchExecutions server stream, with the refresh to fall back on when
// the service does not offer the stream (an older server answers unimplemented).
import { useEffect, useRef, useState } from "preact/hooks";
import type { Execution } from "@workflow-runtime/sdk";
import { useApp } from "./app";
import { isAbort, isUnimplemented } from "./api";

export type WatchTarget = { case: "deploymentId"; value: string } | { case: "executionId"; value: string };

/**
 * What the watch is doing: "connecting" until the stream has sent its initial state,
 * "streaming" after, "retrying" after an error (with growing pauses), "ended" once a watched
 * execution finished, "unsupported" when the service lacks the stream (refresh instead), "off"
 * when not asked to watch.
 */
export type WatchMode = "off" | "connecting" | "streaming" | "retrying" | "ended" | "unsupported";

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Calls onExecution with every execution the stream sends for target, while enabled. */
export function useExecutionWatch(
  target: WatchTarget | undefined,
  enabled: boolean,
  onExecution: (e: Execution) => void,
): { mode: WatchMode; error?: unknown } {
  const { client, reportConnection } = useApp();
  const [mode, setMode] = useState<WatchMode>("off");
  const [error, setError] = useState<unknown>();
  const handler = useRef(onExecution);
  handler.current = onExecution;
  const key = target ? `${target.case}:${target.value}` : "";

  useEffect(() => {
    if (!enabled || !target) {
      setMode("off");
      return;
    }
    const ctrl = new AbortController();
    void (async () => {
      let failures = 0;
      while (!ctrl.signal.aborted) {
        setMode(failures === 0 ? "connecting" : "retrying");
        try {
          const stream = client.watchExecutions(
            { target, heartbeatInterval: { seconds: 25n, nanos: 0 } },
            { signal: ctrl.signal, timeoutMs: 0 },
          );
          for await (const msg of stream) {
            if (msg.synced) {
              setMode("streaming");
              setError(undefined);
              reportConnection(true);
              failures = 0;
            }
            if (msg.execution) handler.current(msg.execution);
          }
          if (target.case === "executionId") {
            setMode("ended"); // the execution finished: nothing more will change
            return;
          }
          // A deployment's stream ended without an error (the server shut down): watch again.
        } catch (err) {
          if (ctrl.signal.aborted || isAbort(err)) return;
          if (isUnimplemented(err)) {
            setMode("unsupported");
            return;
          }
          setError(err);
          failures++;
          await pause(Math.min(30_000, 500 * 2 ** failures), ctrl.signal);
        }
      }
    })();
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, enabled, client]);

  return { mode, error };
}
