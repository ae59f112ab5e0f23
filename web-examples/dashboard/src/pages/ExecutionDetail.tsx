// One execution: status, input, output, error, attempts, timings and a timeline; followed live
// until it finishes.
import { useState } from "preact/hooks";
import { ExecutionStatus, type Execution } from "@workflow-runtime/sdk";
import { ConfirmDialog } from "../components/Dialog";
import { Timeline } from "../components/Timeline";
import { Badge, ErrorBox, Loading, RelTime, Stat } from "../components/ui";
import { useApp } from "../lib/app";
import { dateTime, duration, ms, prettyJson, shortId } from "../lib/format";
import { useNow, useQuery } from "../lib/hooks";
import { executionStatusLabel, executionStatusName, executionTone, isTerminal, triggerTypeLabel } from "../lib/labels";
import { href } from "../lib/router";
import { useExecutionWatch } from "../lib/watch";

export function ExecutionDetailPage({ id }: { id: string }) {
  const { client, toast } = useApp();
  const now = useNow(1000);
  const [cancelling, setCancelling] = useState(false);
  const [finished, setFinished] = useState(false);
  // Followed by WatchExecutions until it finishes; fetched every second instead when the service
  // lacks the stream or while the stream reconnects.
  const [streamed, setStreamed] = useState<Execution>();
  const watch = useExecutionWatch({ case: "executionId", value: id }, !finished, setStreamed);
  const polling = watch.mode === "unsupported" || watch.mode === "retrying";
  const q = useQuery((signal) => client.getExecution({ executionId: id }, { signal }), ["execution", id], {
    refreshMs: polling ? 1000 : undefined,
    paused: finished,
  });
  const fetched = q.data?.execution;
  const e =
    streamed && streamed.id === id && (!fetched || (ms(streamed.updateTime) ?? 0) >= (ms(fetched.updateTime) ?? 0))
      ? streamed
      : fetched;
  if (e && isTerminal(e.status) && !finished) setFinished(true);

  if (q.error !== undefined && !e) {
    return (
      <>
        <div class="crumbs">
          <a href={href("/executions")}>Executions</a> /
        </div>
        <ErrorBox error={q.error} onRetry={q.reload} />
      </>
    );
  }
  if (!e) return <Loading what="the execution" />;
  const created = ms(e.createTime);
  const scheduled = ms(e.scheduledTime);
  const started = ms(e.startTime);
  const ended = ms(e.finishTime);
  const running = !isTerminal(e.status);
  const tone = executionTone(e.status);
  const queuedFrom = created ?? scheduled;
  return (
    <>
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={href("/executions")}>Executions</a> /{" "}
            <a href={href("/executions", { deployment: e.deploymentId, workflow: e.workflowId })}>{e.workflowId}</a> /
          </div>
          <h1>
            <span class="mono" style={{ fontSize: "19px" }} title={e.id}>
              {shortId(e.id)}
            </span>
            <Badge tone={tone} live={e.status === ExecutionStatus.RUNNING}>
              <span data-testid="execution-status" data-status={executionStatusName(e.status)}>
                {executionStatusLabel(e.status)}
              </span>
            </Badge>
          </h1>
          <div class="sub">
            <a href={href(`/deployments/${e.deploymentId}`)}>{e.workflowId}</a> revision {e.revision} ·{" "}
            {triggerTypeLabel(e.triggerType)}
            {e.triggerId ? ` (${e.triggerId})` : ""} ·{" "}
            {!running ? "finished" : watch.mode === "streaming" ? "following live (stream)" : "following live"}
          </div>
        </div>
        <div class="actions">
          {running && (
            <button class="danger" onClick={() => setCancelling(true)}>
              Cancel execution
            </button>
          )}
        </div>
      </div>
      {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} />}
      <div class="stats">
        <Stat label="Attempt" value={e.attempt || "—"} hint={e.attempt > 1 ? "retried" : e.attempt === 1 ? "first attempt" : "not run yet"} />
        <Stat
          label="Queued"
          value={queuedFrom !== undefined && (started !== undefined || running) ? duration((started ?? now) - queuedFrom) : "—"}
          hint="created → started"
        />
        <Stat
          label={running ? "Running for" : "Ran"}
          value={started !== undefined ? duration((ended ?? now) - started) : "—"}
          hint="started → finished"
        />
        <Stat label="Created" value={<RelTime at={created} now={now} />} hint={dateTime(created)} />
      </div>
      <section class="card" aria-labelledby="tl-h" style={{ marginBottom: "16px" }}>
        <h2 id="tl-h">Timeline</h2>
        <div class="card-body">
          <Timeline
            scheduled={scheduled}
            created={created}
            started={started}
            finished={ended}
            now={now}
            tone={tone === "ok" ? "ok" : tone === "err" ? "err" : ""}
          />
        </div>
      </section>
      {e.error && (
        <section class="card" aria-labelledby="err-h" style={{ marginBottom: "16px" }}>
          <h2 id="err-h">Error</h2>
          <div class="card-body">
            <pre class="block err" data-testid="execution-error">
              {e.error}
            </pre>
          </div>
        </section>
      )}
      <div class="grid grid-2">
        <section class="card" aria-labelledby="in-h">
          <h2 id="in-h">Input</h2>
          <div class="card-body">
            {e.triggerData && e.triggerData !== "{}" ? (
              <pre class="block" data-testid="execution-input">
                {prettyJson(e.triggerData)}
              </pre>
            ) : (
              <p class="muted">No input{e.triggerType === 1 ? " (cron fires carry none)" : ""}.</p>
            )}
          </div>
        </section>
        <section class="card" aria-labelledby="out-h">
          <h2 id="out-h">Output</h2>
          <div class="card-body">
            {e.output ? (
              <pre class="block" data-testid="execution-output">
                {prettyJson(e.output)}
              </pre>
            ) : (
              <p class="muted">{running ? "Not finished yet." : "No output."}</p>
            )}
          </div>
        </section>
      </div>
      <section class="card" aria-labelledby="det-h">
        <h2 id="det-h">Details</h2>
        <div class="card-body">
          <dl class="kv">
            <dt>Execution</dt>
            <dd class="mono">{e.id}</dd>
            <dt>Deployment</dt>
            <dd class="mono">
              <a href={href(`/deployments/${e.deploymentId}`)}>{e.deploymentId}</a>
            </dd>
            <dt>Trigger</dt>
            <dd>
              {triggerTypeLabel(e.triggerType)}
              {e.triggerId ? ` · ${e.triggerId}` : ""}
            </dd>
            <dt>Idempotency key</dt>
            <dd>{e.idempotencyKey ? <code>{e.idempotencyKey}</code> : <span class="faint">none</span>}</dd>
            <dt>Scheduled</dt>
            <dd>{dateTime(scheduled)}</dd>
            <dt>Created</dt>
            <dd>{dateTime(created)}</dd>
            <dt>Started</dt>
            <dd>{dateTime(started)}</dd>
            <dt>Finished</dt>
            <dd>{dateTime(ended)}</dd>
            <dt>Last change</dt>
            <dd>{dateTime(ms(e.updateTime))}</dd>
          </dl>
        </div>
      </section>
      {cancelling && (
        <ConfirmDialog
          title="Cancel this execution?"
          confirmLabel="Cancel execution"
          danger
          action={async () => {
            await client.cancelExecution({ executionId: e.id, reason: "cancelled from the dashboard" });
            toast({ kind: "ok", text: `Execution ${shortId(e.id)} cancelled.` });
            q.reload();
          }}
          onClose={() => setCancelling(false)}
        >
          <p>A pending execution will not run; a running one is stopped on its engine. It ends CANCELLED.</p>
        </ConfirmDialog>
      )}
    </>
  );
}
